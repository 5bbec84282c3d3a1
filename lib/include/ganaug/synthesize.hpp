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
#include "ganaug/schemes.hpp"

namespace ganaug {

/// Options of synthesize(). Defaults are those of the `augment` tool.
///
/// Example:
/// \code
///   auto options = ganaug::SynthesizeOptions().scheme(ganaug::Scheme::kSmooth).n(2000).seed(7);
///   ganaug::SyntheticSet extra = ganaug::synthesize(train, options);
/// \endcode
struct SynthesizeOptions {
  /// How the synthetic images are labeled (see schemes.hpp).
  TORCH_ARG(Scheme, scheme) = Scheme::kSmooth;
  /// Synthetic images to make, balanced over the classes (image i is conditioned on i % K).
  TORCH_ARG(int64_t, n) = 5000;
  /// How the GAN trains (ignored with `generator`): its steps (1500 here), widths, learning
  /// rates, loss, DiffAugment, unlabeled share, ..., and out_dir, a folder for its log.csv and
  /// checkpoint.pt (empty, the default, writes nothing). Its classes, image size and channels
  /// come from the data, its seed and device from these options; it leaves the thread count to
  /// `threads`.
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
  /// "auto" (CUDA when available), "cpu", "cuda" or "cuda:N".
  TORCH_ARG(std::string, device) = "auto";
  /// CPU threads for LibTorch: 0 leaves the process-wide setting alone; N > 0 sets it to N.
  TORCH_ARG(int, threads) = 0;
  /// Seeds everything: the GAN's weights and batches, the teacher, the generated noise.
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
/// Deterministic for a seed on the CPU with a fixed thread count. Does not seed LibTorch's
/// global generator, prints nothing, writes nothing unless gan().out_dir() is set, and changes the
/// process-wide thread count only when options.threads() > 0. Safe to call from several
/// threads at once on different data. Throws ganaug::Error for invalid options or data (every
/// class must have images), a checkpoint that does not fit the data, or a diverged GAN;
/// ganaug::Interrupted when should_stop asks.
SyntheticSet synthesize(const LabeledDataset& data, const SynthesizeOptions& options = {},
                        const SynthesizeCallbacks& callbacks = {});

}  // namespace ganaug
