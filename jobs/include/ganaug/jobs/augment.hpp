#pragma once
/// The whole augment job: load -> train the GAN (or reuse a checkpoint) -> generate and label ->
/// retrain the classifier -> evaluate -> report.

#include <torch/arg.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "ganaug/classifier.hpp"
#include "ganaug/datasets/classic_augment.hpp"
#include "ganaug/distributed.hpp"
#include "ganaug/error.hpp"
#include "ganaug/gan.hpp"
#include "ganaug/job.hpp"
#include "ganaug/joint.hpp"
#include "ganaug/pipelines/load.hpp"
#include "ganaug/schemes.hpp"

namespace ganaug::jobs {

/// Everything an augment run needs; defaults are the documented command-line defaults.
struct AugmentOptions {
  /// Training data; by default Fashion-MNIST, 100 images per class. Its threads and seed are
  /// replaced by this struct's.
  TORCH_ARG(DatasetSpec, data) = DatasetSpec().per_class(100);
  /// A test set of its own (any format load_dataset reads); empty: the dataset's test split when
  /// it has one, else a seeded stratified split of `test_fraction` of the data.
  TORCH_ARG(std::string, test_data) = "";
  /// Share of the data held out as the test set when there is no other, in (0, 1).
  TORCH_ARG(double, test_fraction) = 0.2;
  /// How the synthetic images are labeled (see schemes.hpp).
  TORCH_ARG(Scheme, scheme) = Scheme::kSmooth;
  /// With Scheme::kArgmax: retrain with the paper's dynamic argmax (ClassifierOptions::
  /// dynamic_argmax), each synthetic batch relabeled by the classifier being trained; the
  /// written labels are the baseline classifier's, as for argmax ("argmax-dynamic" in the tools).
  TORCH_ARG(bool, dynamic_argmax) = false;
  /// Synthetic images to write.
  TORCH_ARG(int64_t, n) = 5000;
  /// The output folder (DIR below); must not be empty.
  TORCH_ARG(std::string, out_dir) = "augment-out";
  /// How the GAN trains (ignored with `generator`): its steps (1500 here), its batch (real
  /// images per step and as many fakes, split over the processes of a multi-process run, which
  /// must divide it evenly; larger batches suit a GPU, the default a CPU), how often it writes
  /// DIR/gan/checkpoint.pt so that an interrupted run resumes from there (every 250 steps here,
  /// and always at the end), widths, learning rates, loss, DiffAugment, ... The run sets its
  /// classes, image size and channels from the data, its seed, device and threads from these
  /// options, and its folder to DIR/gan (in the run it is given; its own seed, device,
  /// threads and out_dir, deprecated, are not read).
  TORCH_ARG(GanOptions, gan) = GanOptions(1).iterations(1500).checkpoint_every(250).log_every(25);
  /// Train the classifier together with the generator (joint.hpp) in place of a GAN and then a
  /// classifier retrained on its images: the joint form, steps and weights of these options.
  /// Their classifier and GAN settings are replaced by classifier() and gan() (the GAN's
  /// checkpoint and log intervals serve joint training: DIR/joint holds its checkpoint.pt,
  /// log.csv and samples.png), their shape, seed, device and threads by the run's; Polyak
  /// averaging is classifier()'s ema_decay when set, else these options' (0.999). The
  /// retrained classifier is the joint one; the images written are labeled by scheme():
  /// newclass for kKPlus1, cond for the other forms. With `unlabeled` the pool is the joint
  /// training's unlabeled images. nullopt (the default): no joint training.
  TORCH_ARG(std::optional<JointOptions>, joint) = std::nullopt;
  /// A GAN checkpoint to generate from instead of training one.
  TORCH_ARG(std::string, generator) = "";
  /// Images per generation batch (larger batches suit a GPU; an interruption stops within a few
  /// batches).
  TORCH_ARG(int64_t, generate_batch_size) = 250;
  /// Train the baseline and the augmented classifier and report the gain.
  TORCH_ARG(bool, retrain) = true;
  /// This process's shard (0-based) when the n images are split over `num_shards` processes.
  TORCH_ARG(int64_t, shard) = 0;
  /// Processes sharing the n images (a Slurm job array, say): each writes only its slice (see
  /// shard_range), with the images' global indices and seeds, so that merge_shards joins the
  /// folders into exactly the folder one process would write. Above 1 only with `generator` set
  /// and `retrain` off.
  TORCH_ARG(int64_t, num_shards) = 1;
  /// Data-parallel GAN training over several processes (world_size > 1; see distributed.hpp,
  /// distributed_from_environment()). Every rank runs run_augment with the same options; rank 0
  /// does the whole job and alone writes out_dir; the others train the GAN with it and return
  /// (reading out_dir/gan/checkpoint.pt on a resume, so out_dir must be on a shared file
  /// system). CUDA ranks use cuda:local_rank.
  TORCH_ARG(DistributedOptions, distributed);
  /// "auto" (CUDA when available), "cpu", "cuda" or "cuda:N", for the GAN and the classifiers.
  TORCH_ARG(std::string, device) = "auto";
  /// Threads for loading, LibTorch and generation; 0 = every CPU this process may use. Set
  /// process-wide for LibTorch by run_augment.
  TORCH_ARG(int, threads) = 0;
  /// Seeds everything: the per-class choice and test split, the GAN, the generated images and
  /// the classifiers.
  TORCH_ARG(uint64_t, seed) = 0;
  /// Continue a run in a non-empty out_dir.
  TORCH_ARG(bool, resume) = false;
  /// Empty a non-empty out_dir first.
  TORCH_ARG(bool, force) = false;
  /// How every classifier of the run trains (the baseline, which also labels the pool and the
  /// argmax images, and the retrained one): network, width, epochs, schedule, synthetic share
  /// and weight, ... The run sets its outputs, image size and channels, and trains it in the
  /// job's run (seed, device, threads; its own deprecated ones are not read);
  /// `pseudo` sets pool_weight (1) and `dynamic_argmax` dynamic_argmax for the retrained one.
  TORCH_ARG(ClassifierOptions, classifier) = ClassifierOptions(2);
  /// Classical augmentation of the real images in both classifiers (baseline and retrained).
  TORCH_ARG(bool, classic) = false;
  /// The classical augmentation used when `classic` is set (default: ClassicAugmentOptions()).
  TORCH_ARG(ClassicAugmentOptions, classic_options);
  /// An unlabeled pool (UnlabeledSpec::path: a folder, an IDX images file or a CSV of paths);
  /// empty = none. Its images are shaped like the labeled data's. The baseline classifier is
  /// then trained first and labels the pool: the images it gives a class with at least
  /// `pool_confidence` join the GAN's training data with that class (a semi-supervised
  /// conditional GAN).
  TORCH_ARG(std::string, unlabeled) = "";
  /// Teacher confidence a pool image needs to train the GAN, in (0, 1].
  TORCH_ARG(double, pool_confidence) = 0.9;
  /// Which classifier labels the pool for the GAN (the teacher). kClassic: the baseline.
  /// kPseudo (`--teacher`; needs `pseudo` and a GAN to train): dual pseudo training (You et al.,
  /// NeurIPS 2023) — a classifier trained first on the labeled images and the pool by
  /// consistency, as the retrained one is (the teacher, DIR/teacher.pt, reused on a resume),
  /// labels the pool; the GAN learns from the labeled images and the pool images it is
  /// confident of; the retrained classifier (the student) learns from the real and generated
  /// images and the pool. summary.json then holds "teacher" (its test metrics) beside
  /// "baseline" and "retrained", and "gan_share", the student's accuracy minus the teacher's.
  TORCH_ARG(PoolTeacher, pool_teacher) = PoolTeacher::kClassic;
  /// Also retrain on the pool by consistency training (FixMatch, ClassifierOptions::pool_weight
  /// 1): the "pseudo" use of the pool. Needs `unlabeled`.
  TORCH_ARG(bool, pseudo) = false;
  /// The strong view of the pool's images under `pseudo`.
  TORCH_ARG(StrongViewOptions, strong_view) = {};

 public:
  /// Throws ganaug::Error naming the first option out of range (as its command-line flag), so
  /// that a run fails before any work rather than after the GAN trained: also for more threads
  /// than CPUs, an unavailable device, or an image size the GAN does not support.
  void validate() const;
};

/// A shard's slice of the images: global indices first, ..., first + count - 1.
struct ShardRange {
  int64_t first = 0;  ///< global index of the shard's first image
  int64_t count = 0;  ///< images in the shard (0 when there are more shards than batches)
};

/// Shard `shard` of `num_shards` of n images generated in batches of `batch_size`: whole
/// batches, split as evenly as batches allow, in order, so that each batch is the one a single
/// process would generate (the same bytes). Throws ganaug::Error for values out of range.
ShardRange shard_range(int64_t n, int64_t batch_size, int64_t shard, int64_t num_shards);

/// Hooks for progress display and interruption.
///
/// Both run on the calling thread, except during generation, where they run on the generation
/// pipeline's threads (see GeneratePipeline) and may overlap each other.
struct AugmentCallbacks {
  /// (stage, done, total, detail): stage is load, gan, generate, baseline or retrain.
  std::function<void(const std::string&, double, double, const std::string&)> on_progress;
  /// Polled often; true stops the run at the next safe point and throws Interrupted. Once true
  /// it should stay true: a stage that stopped is told from a failure by polling it again.
  std::function<bool()> should_stop;
};

/// Runs the job, writes DIR/run.json (what made the folder: data, generator, scheme, seed, n,
/// image shape), DIR/images, DIR/labels.csv, DIR/gan/ and finally DIR/summary.json (atomically),
/// and returns the summary. Throws ganaug::Error, before any work, for invalid options, a
/// non-empty out_dir without resume or force, an out_dir that holds or lies inside the data (or
/// holds the generator, with force), a resume whose settings differ from the folder's run.json
/// (naming the difference), or too little free space; later for bad data or a failed stage.
/// With force the folder is emptied only after the data loaded. Throws ganaug::Interrupted when
/// should_stop asks; rerunning with resume continues. Sets LibTorch's process-wide thread count
/// (configure_threads(options.threads())) and leaves it set.
nlohmann::json run_augment(const AugmentOptions& options, const AugmentCallbacks& callbacks = {});

}  // namespace ganaug::jobs
