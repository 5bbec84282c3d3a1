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
#include "ganaug/error.hpp"
#include "ganaug/pipelines/load.hpp"
#include "ganaug/schemes.hpp"

namespace ganaug {

/// Everything an augment run needs; defaults are the documented command-line defaults.
struct AugmentOptions {
  /// Training data; by default Fashion-MNIST, 100 images per class.
  TORCH_ARG(DatasetSpec, data) = DatasetSpec().per_class(100);
  /// A test set of its own (any format load_dataset reads); empty: the dataset's test split when
  /// it has one, else a seeded stratified split of `test_fraction` of the data.
  TORCH_ARG(std::string, test_data) = "";
  TORCH_ARG(double, test_fraction) = 0.2;
  TORCH_ARG(Scheme, scheme) = Scheme::kSmooth;
  /// Synthetic images to write.
  TORCH_ARG(int64_t, n) = 5000;
  TORCH_ARG(std::string, out_dir) = "augment-out";
  /// GAN generator steps (ignored with `generator`).
  TORCH_ARG(int64_t, gan_iterations) = 1500;
  /// Write the GAN's checkpoint (DIR/gan/checkpoint.pt) every this many steps, so that an
  /// interrupted run resumes from there; it is always written at the end.
  TORCH_ARG(int64_t, gan_checkpoint_every) = 250;
  /// A GAN checkpoint to generate from instead of training one.
  TORCH_ARG(std::string, generator) = "";
  /// Images per generation batch (larger batches suit a GPU; an interruption stops within a few
  /// batches).
  TORCH_ARG(int64_t, generate_batch_size) = 250;
  /// Train the baseline and the augmented classifier and report the gain.
  TORCH_ARG(bool, retrain) = true;
  TORCH_ARG(std::string, device) = "auto";
  TORCH_ARG(int, threads) = 0;
  TORCH_ARG(uint64_t, seed) = 0;
  /// Continue a run in a non-empty out_dir.
  TORCH_ARG(bool, resume) = false;
  /// Empty a non-empty out_dir first.
  TORCH_ARG(bool, force) = false;
  /// The classifiers' schedule and synthetic mix; defaults: ClassifierOptions'.
  TORCH_ARG(int64_t, classifier_epochs) = ClassifierOptions(2).epochs();
  /// The classifiers' learning-rate schedule: cosine or constant.
  TORCH_ARG(std::string, lr_schedule) = ClassifierOptions(2).lr_schedule();
  TORCH_ARG(double, synthetic_share) = ClassifierOptions(2).synthetic_share();
  TORCH_ARG(double, synthetic_weight) = ClassifierOptions(2).synthetic_weight();
  /// Classical augmentation of the real images in both classifiers (baseline and retrained).
  TORCH_ARG(bool, classic) = false;
  TORCH_ARG(ClassicAugmentOptions, classic_options);

 public:
  /// Throws ganaug::Error naming the first option out of range (as its command-line flag), so
  /// that a run fails before any work rather than after the GAN trained.
  void validate() const;
};

/// Hooks for progress display and interruption.
struct AugmentCallbacks {
  /// (stage, done, total, detail): stage is load, gan, generate, baseline or retrain.
  std::function<void(const std::string&, double, double, const std::string&)> on_progress;
  /// Polled often; true stops the run at the next safe point and throws Interrupted.
  std::function<bool()> should_stop;
};

/// Runs the job, writes DIR/run.json (what made the folder: data, generator, scheme, seed, n,
/// image shape), DIR/images, DIR/labels.csv, DIR/gan/ and finally DIR/summary.json (atomically),
/// and returns the summary. Throws ganaug::Error, before any work, for invalid options, a
/// non-empty out_dir without resume or force, an out_dir that holds or lies inside the data (or
/// holds the generator, with force), a resume whose settings differ from the folder's run.json
/// (naming the difference), or too little free space; later for bad data or a failed stage.
/// With force the folder is emptied only after the data loaded.
nlohmann::json run_augment(const AugmentOptions& options, const AugmentCallbacks& callbacks = {});

}  // namespace ganaug
