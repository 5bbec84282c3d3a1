#pragma once
/// The gains experiment behind `augment-bench`: a grid of datasets x labeled sizes x schemes x
/// synthetic multiples x seeds, each cell a classifier trained and tested, each (dataset, size,
/// seed) one GAN shared by every scheme, with generator quality (Fréchet classifier distance,
/// classification accuracy score, class faithfulness) and a report written as the grid runs.

#include <torch/arg.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ganaug/classifier.hpp"
#include "ganaug/datasets/classic_augment.hpp"
#include "ganaug/gan.hpp"
#include "ganaug/job.hpp"
#include "ganaug/joint.hpp"
#include "ganaug/pipelines/load.hpp"
#include "ganaug/schemes.hpp"

namespace ganaug::jobs {

/// Where the cells of a grid are scored.
enum class EvaluateOn {
  /// The test set.
  kTest,
  /// The share of the training data held out (ExperimentOptions::validation_fraction), so that
  /// settings can be tuned without looking at the test set.
  kValidation,
};
/// Parses "test" or "validation"; throws ganaug::Error naming the valid ones otherwise.
EvaluateOn parse_evaluate_on(const std::string& name);
/// The name parse_evaluate_on() reads back.
std::string to_string(EvaluateOn where);

/// A grid column: real data only ("none"), classical augmentation ("classic"), a pseudo-label
/// scheme ("cond", "newclass", "argmax", "smooth"; "argmax-dynamic": argmax retrained with the
/// paper's dynamic argmax), the unlabeled pool by consistency training ("pseudo"), the teacher's
/// confident pool images as labeled ones ("self") or a mix, in the order
/// classic+pseudo+<scheme or self> ("classic+smooth", "pseudo+cond", "classic+pseudo+self", ...).
struct ExperimentScheme {
  /// Classical augmentation of the real images.
  bool classic = false;
  /// Consistency training on the unlabeled pool (ClassifierOptions::pool_weight).
  bool pseudo = false;
  /// Self-training ("self"; "classic+pseudo+self"): the pool images the grid's pool teacher
  /// (ExperimentOptions::pool_teacher) labels with at least pool_confidence join in place of
  /// synthetic images, with its class, as cond's images would: the control of a GAN trained on
  /// those same labels (the GAN adds only what its images add to them). Needs a pool.
  bool self_training = false;
  /// The pseudo-label scheme of the synthetic images; none for real data only.
  std::optional<Scheme> synthetic;
  /// With argmax: retrain with dynamic argmax (ClassifierOptions::dynamic_argmax).
  bool dynamic = false;
  /// The classifier trained together with a GAN of its own (joint.hpp; "newclass-joint",
  /// "dada-joint", "triple-joint"), on the labeled images and the cell's pool when it has one;
  /// no synthetic images are drawn for it (synthetic stays none). With classic, its labeled
  /// images are augmented.
  std::optional<JointForm> joint;

  /// Parses a name as above; throws ganaug::Error listing the valid names otherwise.
  static ExperimentScheme parse(const std::string& name);
  /// The name parse() reads back.
  std::string name() const;
  /// Each of `names` parsed, in order (for lists as JSON and command lines hold them).
  static std::vector<ExperimentScheme> parse_all(const std::vector<std::string>& names);
  /// The names of `schemes`, in order.
  static std::vector<std::string> names(const std::vector<ExperimentScheme>& schemes);
};

/// none, classic, cond, newclass, argmax, smooth and classic+ each of the four.
std::vector<ExperimentScheme> default_experiment_schemes();

/// The grid and how each cell is trained. Defaults are augment-bench's documented defaults.
struct ExperimentOptions {
  /// Datasets (per_class and seed are set per cell, threads from this struct); default
  /// Fashion-MNIST.
  TORCH_ARG(std::vector<DatasetSpec>, datasets) = std::vector<DatasetSpec>{DatasetSpec()};
  /// A test set of its own (only with one dataset); empty: the dataset's own test split, else a
  /// stratified split of `test_fraction` seeded with first_seed (one test set for all cells).
  TORCH_ARG(std::string, test_data) = "";
  /// Share of the data held out as the test set when there is no other, in (0, 1).
  TORCH_ARG(double, test_fraction) = 0.2;
  /// Share of every class of the training data held out first (stratified, seeded with
  /// first_seed); the labeled subsets and the reference classifier come from the rest. 0: none.
  TORCH_ARG(double, validation_fraction) = 0.0;
  /// Where cells are scored. Generators depend only on the labeled subsets, so a tuning run
  /// (kValidation) and a final test run (kTest) with the same validation_fraction and seeds
  /// share them.
  TORCH_ARG(EvaluateOn, evaluate_on) = EvaluateOn::kTest;
  /// Labeled images per class.
  TORCH_ARG(std::vector<int64_t>, sizes) = std::vector<int64_t>{20, 50, 100, 500};
  /// Grid columns (distinct by name).
  TORCH_ARG(std::vector<ExperimentScheme>, schemes) = default_experiment_schemes();
  /// Synthetic images as a multiple of the real (labeled) count.
  TORCH_ARG(std::vector<double>, multiples) = std::vector<double>{5.0};
  /// Seeds first_seed, first_seed + 1, ...: each picks the labeled subset, the GAN's and the
  /// classifier's randomness.
  TORCH_ARG(int64_t, seeds) = 3;
  /// The first seed; it also seeds the test and validation splits and the reference classifier.
  TORCH_ARG(uint64_t, first_seed) = 0;
  /// How every GAN of the grid trains: its steps (1500 here, at least 1), checkpoints (every
  /// 250 steps here, so that an interrupted grid resumes), mode-seeking weight, minibatch-std
  /// feature, widths, learning rates, DiffAugment, ..., and unlabeled_share (0.5 here), the
  /// share of its real batches drawn from pool images without a class, used only by GANs with
  /// such images (pool_gan unconditional or both; then in (0, 1)). The grid sets the classes,
  /// image size and channels from the data, the seed from the cell's, device and threads from
  /// these options, and out_dir.
  TORCH_ARG(GanOptions,
            gan) = GanOptions(1).iterations(1500).checkpoint_every(250).unlabeled_share(0.5);
  /// How every classifier of the grid trains (each cell's, the teachers, the reference with its
  /// own epochs): network, width, epochs, schedule, synthetic share (in (0, 1) here) and
  /// weight, separate synthetic batches, batch-norm recalibration, the pool's threshold and
  /// ratio, ... The grid sets the outputs, image size, channels, seed, device and threads, and
  /// pool_weight (pool_weight below in the pseudo columns, 0 elsewhere).
  TORCH_ARG(ClassifierOptions, classifier) = ClassifierOptions(2);
  /// How the joint columns train (read only when the grid has one): the form comes from the
  /// column; the steps, weights and Polyak decay from here (the decay used when classifier()'s
  /// ema_decay is 0); the network, learning rate and batch from classifier(); the generator's
  /// settings from gan(). Their checkpoints, log and samples go to generators/<cell>/.
  TORCH_ARG(JointOptions, joint) = JointOptions(2);
  /// cond and argmax keep only synthetic images whose label the judge gives at least this
  /// probability (confident_mask), drawing more images until the synthetic count is reached; 0
  /// keeps every image. The judge (also argmax's labeller) is the "none" classifier of the same
  /// labeled subset, or in pool columns with pool_teacher kPseudo the pool teacher.
  TORCH_ARG(double, min_confidence) = 0.0;
  /// The classical augmentation of the "classic" columns (default: ClassicAugmentOptions()).
  TORCH_ARG(ClassicAugmentOptions, classic_options);
  /// Classical settings to choose from, none or at least two: for each (dataset, size), the
  /// bench trains a classifier with each on the labeled subset of every seed and scores it on
  /// the validation split (never the test set); the setting with the best mean accuracy
  /// (the first of equals) replaces classic_options in that size's "classic" columns and
  /// teachers. Needs validation_fraction > 0 and one process (num_shards 1).
  TORCH_ARG(std::vector<ClassicAugmentOptions>, classic_choices) = {};
  /// Unlabeled pool sizes, a grid axis: for each labeled subset, N images drawn (seeded) from
  /// the training data outside it and outside the validation split, their labels dropped
  /// (unlabeled_pool). With N > 0 the GAN schemes train their GAN on the labeled images plus the
  /// pool images the "classic" classifier labels with at least pool_confidence, and the pseudo
  /// columns train on the pool; 0 = no pool (GANs on the labeled images only). Columns that use
  /// neither run once.
  TORCH_ARG(std::vector<int64_t>, unlabeled) = std::vector<int64_t>{0};
  /// How pool images train a GAN (the teacher's labels count from pool_confidence).
  TORCH_ARG(PoolGan, pool_gan) = PoolGan::kTeacher;
  /// The teacher that labels a pool for its GAN and for the self-training columns: the
  /// "classic" classifier of the labeled subset (the default), or its "classic+pseudo"
  /// classifier trained on that pool (dual pseudo training: the pool-trained classifier labels
  /// the pool, the GAN learns from all of it, the classifier retrains on real and generated
  /// images). Either is trained once per (dataset, size, seed, pool) and is also that cell's
  /// classifier.
  TORCH_ARG(PoolTeacher, pool_teacher) = PoolTeacher::kClassic;
  /// Teacher confidence a pool image needs to train a GAN with a class, in (0, 1].
  TORCH_ARG(double, pool_confidence) = 0.9;
  /// ClassifierOptions::pool_weight of the pseudo columns, positive.
  TORCH_ARG(double, pool_weight) = 1.0;
  /// The strong view of the pool's images in the pseudo columns.
  TORCH_ARG(StrongViewOptions, strong_view) = {};
  /// Epochs of the reference classifier (trained on the full training set), the feature
  /// extractor of the Fréchet classifier distance and the judge of class faithfulness.
  TORCH_ARG(int64_t, reference_epochs) = 3;
  /// Generated and real images compared per generator (FCD, faithfulness).
  TORCH_ARG(int64_t, metric_samples) = 2000;
  /// The output folder.
  TORCH_ARG(std::string, out_dir) = "bench-out";
  /// Keep the finished cells of a previous run in out_dir and run only the others.
  TORCH_ARG(bool, resume) = false;
  /// Empty a non-empty out_dir first.
  TORCH_ARG(bool, force) = false;
  /// "auto" (CUDA when available), "cpu", "cuda" or "cuda:N", for the GANs and classifiers.
  TORCH_ARG(std::string, device) = "auto";
  /// Threads for loading and LibTorch; 0 = every CPU this process may use. Set process-wide
  /// for LibTorch by run_experiment.
  TORCH_ARG(int, threads) = 0;
  /// This process's share of the grid: (dataset, size, seed) units shard, shard + num_shards,
  /// ... in run order (a cluster job array; merge the shards' folders with merge_experiments).
  /// Not part of settings(): shards of one grid share their settings.
  TORCH_ARG(int64_t, shard) = 0;
  TORCH_ARG(int64_t, num_shards) = 1;

 public:
  /// The supervised candidates augment-bench chooses among by default when a grid holds out a
  /// validation split and is given no classical setting: "default" (shift and flip), random
  /// erasing ("erase=0.5") and RandAugment + Cutout on the labeled images ("randaugment=1"),
  /// so that every gain is stated against the strongest of them (the choice is per size).
  static std::vector<ClassicAugmentOptions> supervised_candidates();
  /// Throws ganaug::Error naming the first bad option, the device included (so that a typo
  /// fails before --force empties the output folder).
  void validate() const;
  /// The options that decide a cell's result (not the grid's extent): a resumed run must match.
  nlohmann::json settings() const;
  /// Whether a column of schemes() is a joint one.
  bool has_joint_column() const;
};

/// Hooks for progress lines and interruption.
struct ExperimentCallbacks {
  /// One line of text per event (loading, a finished cell, a measured generator), on the
  /// calling thread.
  std::function<void(const std::string& line)> on_progress;
  /// Polled often, on the calling thread; true stops at the next safe point (finished cells
  /// stay written) and throws ganaug::Interrupted. Once true it should stay true: a stage that
  /// stopped is told from a failure by polling it again.
  std::function<bool()> should_stop;
};

/// Runs the grid, writing into out_dir after every cell: results.json (its "classic_choice"
/// holds the classic_choices cells and the setting chosen per size), results.csv, report.md,
/// accuracy-<dataset>.png, reference-<dataset>.pt (the reference classifier, reused on
/// resume) and generators/<dataset>-n<size>-seed<seed>/ (checkpoint, log, samples.png).
/// Returns results.json's content. Throws ganaug::Error for invalid options, a non-empty
/// out_dir without resume or force, an out_dir that holds or lies inside the data, a resume
/// with other settings, or bad data; ganaug::Interrupted when should_stop asks. Sets
/// LibTorch's process-wide thread count (configure_threads(options.threads())) and leaves it
/// set.
nlohmann::json run_experiment(const ExperimentOptions& options,
                              const ExperimentCallbacks& callbacks = {});

/// Joins the folders of the shards of one grid (run with num_shards S, shards 0 to S-1) into
/// `out_dir`: results.json (cells in the order one process would have run them, "merged_from"
/// naming each shard's folder and machine), results.csv, report.md and the charts, plus the
/// shards' generators/ folders and reference classifiers. Throws ganaug::Error naming the
/// folder for a missing, doubled, unfinished or unreadable shard, a folder that is no shard, or
/// shards run with other settings or another grid; and for an out_dir that is not empty
/// (without `force`) or that holds or lies inside a shard. Returns results.json's content.
nlohmann::json merge_experiments(const std::string& out_dir,
                                 const std::vector<std::string>& shard_dirs, bool force = false);

/// Aggregates result cells over seeds: one row per (dataset, size, scheme, multiple) with the
/// accuracy's mean and standard deviation and the gains over "none" and "classic" as paired 95%
/// intervals (per-seed differences; only seeds both cells have). `cells` is results.json's
/// "cells" array; fields are read with nlohmann::json, whose exceptions a malformed cell throws.
nlohmann::json summarize_cells(const nlohmann::json& cells);

/// report.md for a results object as run_experiment writes it (settings, machine, summary,
/// generators); a malformed object throws nlohmann::json's exceptions.
std::string experiment_report(const nlohmann::json& results);

}  // namespace ganaug::jobs
