#pragma once
/// The one call for the common case: a labeled dataset in memory in, synthetic images with their
/// pseudo-label targets out. Trains the conditional GAN (or loads one), trains the labelling
/// classifier when the scheme needs one, generates and labels. Writes nothing unless asked.

#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ganaug/classifier.hpp"
#include "ganaug/dataset.hpp"
#include "ganaug/gan.hpp"
#include "ganaug/run_context.hpp"
#include "ganaug/schemes.hpp"

namespace ganaug {

/// Options of synthesize(). Defaults are those of the `augment` tool.
///
/// Example:
/// \code
///   auto options = ganaug::SynthesizeOptions().scheme(ganaug::Scheme::kSmooth).n(2000);
///   ganaug::SyntheticSet extra = ganaug::synthesize(ganaug::RunContext().seed(7), train, options);
/// \endcode
struct SynthesizeOptions {
  /// How the synthetic images are labeled (see schemes.hpp).
  TORCH_ARG(Scheme, scheme) = Scheme::kSmooth;
  /// Synthetic images to make, balanced over the classes (image i is conditioned on i % K).
  TORCH_ARG(int64_t, n) = 5000;
  /// How the GAN trains (ignored with `generator`): its steps (1500 here), widths, learning
  /// rates, loss, DiffAugment, unlabeled share, ... Its classes, image size and channels come
  /// from the data; its seed, device and folder (log.csv and checkpoint.pt) from the run. Its
  /// own seed, device and threads are not read; its out_dir (deprecated) is the run's folder for
  /// the synthesize without a run, and refused by the one with a run unless empty or the run's.
  TORCH_ARG(GanOptions, gan) = GanOptions(1).iterations(1500);
  /// A GAN checkpoint (GanTrainer::save_checkpoint) to sample from instead of training a GAN;
  /// its classes must be the dataset's.
  TORCH_ARG(std::string, generator) = "";
  /// Epochs of the labelling classifier (the teacher) trained on the labeled images for the
  /// argmax scheme and for an unlabeled pool.
  TORCH_ARG(int64_t, teacher_epochs) = ClassifierOptions(2).epochs();
  /// Images of the data labeled -1 are an unlabeled pool: the teacher labels them, and those it
  /// gives a class with at least this probability train the GAN with that class (a
  /// semi-supervised conditional GAN). In [0, 1]; 0 gives no pool image a class. The others
  /// stay labeled -1: set GanOptions::unlabeled_share (in `gan`) to train the GAN
  /// on them too, by the discriminator's unconditional term.
  TORCH_ARG(double, pool_confidence) = 0.9;
  /// Images per generation batch.
  TORCH_ARG(int64_t, batch_size) = 250;
  /// Deprecated (removed in 0.7): the run's device, threads and seed, now RunContext's; read
  /// only by the synthesize without a run.
  TORCH_ARG(std::string, device) = "auto";
  TORCH_ARG(int, threads) = 0;
  TORCH_ARG(uint64_t, seed) = 0;

 public:
  /// Throws ganaug::Error naming the first option out of range (the GAN's too).
  void validate() const;
};

/// One progress report of synthesize().
struct SynthesisProgress {
  /// "gan" (generator steps), "teacher" (classifier epochs) or "generate" (images).
  std::string stage;
  int64_t done = 0, total = 0;
};

/// Hooks into synthesize(); both optional. They run on the calling thread.
struct SynthesizeCallbacks {
  std::function<void(const SynthesisProgress&)> on_progress;
  /// Polled between steps; true stops the call, which throws ganaug::Interrupted.
  std::function<bool()> should_stop;
};

/// Synthetic images and their pseudo-labels.
struct SyntheticSet {
  /// N x C x S x S float32 in [-1, 1], on the CPU.
  torch::Tensor images;
  /// N int64: the class each image was generated for.
  torch::Tensor classes;
  /// N x target_width(scheme, K) float32 soft targets, rows summing to 1.
  torch::Tensor targets;
  /// N int64 hard labels (hard_labels): -1 where the target is uniform (smooth), K for newclass.
  torch::Tensor labels;
  /// The dataset's class names (K).
  std::vector<std::string> class_names;
  Scheme scheme = Scheme::kSmooth;
  /// Generator steps behind the images (trained now, or read from the checkpoint).
  int64_t gan_iterations = 0;
  /// Unlabeled pool images that trained the GAN with the teacher's labels (0 without a pool).
  int64_t pool_images_used = 0;

  int64_t size() const { return images.defined() ? images.size(0) : 0; }
  /// As a LabeledDataset for train_classifier's `synthetic` argument: the images, the targets,
  /// and labels in [0, K) where the scheme gives a real class, -1 elsewhere.
  LabeledDataset dataset() const;
};

/// Trains a conditional GAN on `data` (or loads options.generator()), generates options.n()
/// images balanced over the classes and labels them under options.scheme(); for argmax, and
/// when `data` holds an unlabeled pool (images labeled -1, see pool_confidence), it first
/// trains a classifier on the labeled images (ClassifierOptions' defaults, teacher_epochs).
///
/// Everything runs in `run`: its seed draws the GAN's weights and batches, the teacher and the
/// generated noise; deterministic for a seed on the CPU with a fixed thread count. Does not seed
/// LibTorch's global generator, prints nothing, writes nothing unless run.out_dir() is set (the
/// GAN's log.csv and checkpoint.pt), and changes the process-wide thread count only when
/// run.threads() > 0. Safe to call from several threads at once on different data. Throws
/// ganaug::Error for invalid options or data (every class must have images), options that set a
/// deprecated run field to another value than the run's, a checkpoint that does not fit the
/// data, or a diverged GAN; ganaug::Interrupted when should_stop asks.
SyntheticSet synthesize(const RunContext& run, const LabeledDataset& data,
                        const SynthesizeOptions& options = {},
                        const SynthesizeCallbacks& callbacks = {});
/// Deprecated (removed in 0.7): synthesize in the run that options' seed, device and threads
/// and gan().out_dir() describe.
GANAUG_DEPRECATED("pass a ganaug::RunContext: synthesize(run, data, options)")
SyntheticSet synthesize(const LabeledDataset& data, const SynthesizeOptions& options = {},
                        const SynthesizeCallbacks& callbacks = {});

}  // namespace ganaug
