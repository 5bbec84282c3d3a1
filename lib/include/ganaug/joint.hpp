#pragma once
/// A GAN whose game the classifier takes part in: trained together with a conditional generator,
/// so that generated images teach it where the classes are not. Three published forms:
///
/// - kKPlus1: the classifier is the discriminator, its K logits with an implicit fake class,
///   D(x) = Z / (Z + 1), Z = sum_k exp(l_k) (Odena 2016; Salimans et al. 2016, "Improved
///   Techniques for Training GANs"); the generator trained by feature matching on the
///   classifier's penultimate layer. The paper's newclass scheme done jointly.
/// - kTwoK: DADA (Zhang et al. 2018): the classifier has 2K outputs, "real, class k" and
///   "generated, class k"; the generator is trained to make its images count as real ones of
///   the class asked for. It predicts over its K real outputs.
/// - kTriple: Triple-GAN (Li et al. 2017; V2's projection discriminator and hinge loss): a
///   classifier, the generator and ganaug's projection discriminator. The discriminator sees
///   labeled pairs as real, generated pairs (G(z, y), y) and pool pairs (x, C(x)) as fake; the
///   classifier also learns from generated pairs and from the discriminator's verdict on its pool
///   labels (the expectation over its class probabilities of log(1 - D(x, y)), weighted 1/2 as
///   D weighs pool pairs), both ramped in after it has trained on the labeled images alone.
///
/// The losses are those of joint_losses.hpp. Every draw comes from generators seeded by (seed,
/// iteration): a run resumed from a checkpoint continues exactly as an uninterrupted one on the
/// same device.

#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ganaug/classifier.hpp"
#include "ganaug/dataset.hpp"
#include "ganaug/gan.hpp"
#include "ganaug/run_context.hpp"
#include "ganaug/schemes.hpp"

namespace ganaug {

/// The classifier's outputs under `form` for K classes: K, or 2K for kTwoK.
int64_t joint_outputs(JointForm form, int64_t num_classes);

/// A joint run. Its classifier is trained by the classifier's own engine (the optimizer and
/// weight average of train_classifier). The classifier options give its network (architecture,
/// width), its optimizer (Adam, or SGD with Nesterov momentum and weight decay on the convolution
/// and linear weights only), learning rate and schedule, weight decay, the labeled images per
/// step (batch_size) and the weight average that is the trained classifier (ema_decay, the same
/// debiased average as train_classifier's; 0 takes the last step's weights),
/// recalibrate_batchnorm, and with a pool the consistency loss's pool_ratio, pool_threshold,
/// pool_ramp_share, pool_target_dropout and distribution_alignment; pool_one_pass is refused;
/// their num_outputs, image size, channels, epochs, seed, device, threads and other fields are
/// not read (the run's own fields and the data decide them). The GAN options give the generator
/// (latent_dim, g_width, g_lr, ema_decay, and mode_seeking: MSGAN's term against one image per
/// class, added to the generator's loss in every form, as in GanTrainer), Adam's betas for every
/// network, the generated and pool images per step (batch_size), and for kTriple the discriminator
/// (d_width, spectral_norm, projection, minibatch_std, d_lr, the hinge or BCE loss) and
/// DiffAugment; their num_classes, image size, channels, iterations, seed, device, threads and
/// output fields are not read.
struct JointOptions {
  /// Images default to 1 x 28 x 28 of `num_classes` classes.
  explicit JointOptions(int64_t num_classes, int64_t image_size = 28, int64_t channels = 1)
      : num_classes_(num_classes), image_size_(image_size), channels_(channels) {}
  /// For images of `shape` (image_shape(data) gives a data set's).
  JointOptions(int64_t num_classes, const ImageShape& shape)
      : JointOptions(num_classes, shape.size, shape.channels) {}
  /// image_size and channels as one.
  JointOptions& shape(const ImageShape& shape) {
    image_size_ = shape.size;
    channels_ = shape.channels;
    return *this;
  }
  ImageShape shape() const { return {image_size_, channels_}; }
  /// K, the image side (as the GAN allows) and channels.
  TORCH_ARG(int64_t, num_classes);
  TORCH_ARG(int64_t, image_size);
  TORCH_ARG(int64_t, channels);
  /// The form (default K + 1).
  TORCH_ARG(JointForm, form) = JointForm::kKPlus1;
  /// The classifier's network and schedule (see above). Weight averaging on by default.
  TORCH_ARG(ClassifierOptions, classifier) = ClassifierOptions(2).ema_decay(0.999);
  /// The generator's (and kTriple's discriminator's) settings (see above).
  TORCH_ARG(GanOptions, gan) = GanOptions(1).beta1(0.5);
  /// Steps in all, each one classifier (and discriminator) step and one generator step; a
  /// resumed run counts those already done.
  TORCH_ARG(int64_t, iterations) = 6000;
  /// Weight of the terms on pool and generated images in the classifier's loss (kKPlus1 and
  /// kTwoK: the unsupervised GAN terms; kTriple: its loss on generated pairs and the
  /// discriminator's verdict on its pool labels), relative to the labeled images'
  /// cross-entropy (1 in the papers).
  TORCH_ARG(double, unsupervised_weight) = 1.0;
  /// Weight of FixMatch's consistency loss on the pool images in the classifier's loss (the
  /// pool arm's, ClassifierOptions::pool_weight): each step draws classifier().pool_ratio() x
  /// classifier().batch_size() pool images (FixMatch's mu, apart from the GAN terms' pool
  /// batch of gan().batch_size()); each gets a weak view (JointTrainer::weak_augment, else augment,
  /// else the image) whose confident prediction over the K classes (top probability at least
  /// classifier().pool_threshold()) is the hard target of a strong view
  /// (JointTrainer::strong_augment); ramped in linearly over classifier().pool_ramp_share() of
  /// the steps. 0 (the default) adds none; without pool images it has nothing to act on.
  TORCH_ARG(double, consistency_weight) = 0.0;
  /// kTriple: share of the steps, in [0, 0.5), on the labeled images alone before the classifier's
  /// other terms ramp in linearly over as many steps again (Triple-GAN pre-trains C).
  TORCH_ARG(double, warmup_share) = 0.1;
  /// The run's seed (it draws the initial weights and every step's draws; checkpoints store it),
  /// device, threads and output folder: set by the trainer from its RunContext. Deprecated as
  /// fields (removed in 0.7): a trainer given a run refuses other values, and only the
  /// JointTrainer built without a run reads them.
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(std::string, device) = "auto";
  TORCH_ARG(int, threads) = 0;
  TORCH_ARG(std::string, out_dir) = "";
  /// A checkpoint every this many steps (0: only at the end and when stopped).
  TORCH_ARG(int64_t, checkpoint_every) = 0;
  /// A log.csv row, the NaN/Inf check and on_progress every this many steps (at least 1).
  TORCH_ARG(int64_t, log_every) = 50;

 public:
  /// Throws ganaug::Error naming the first bad value: an unsupported shape, a custom classifier
  /// network (the joint forms train the built-in ones), iterations or intervals out of range, a
  /// weight that is negative or not finite, warmup_share outside [0, 0.5); and what the classifier
  /// and GAN options' own validation refuses.
  void validate() const;
  /// The options the classifier is built with: classifier() with the outputs of the form, the
  /// shape, seed, device and threads of the run.
  ClassifierOptions classifier_options() const;
  /// The options the generator (and discriminator) are built with: gan() with the run's shape,
  /// iterations, seed, device and threads, and no outputs of its own.
  GanOptions gan_options() const;
};

/// One progress report of joint training.
struct JointProgress {
  int64_t iteration = 0, iterations = 0;  ///< steps done and planned
  /// The classifier's (or the discriminator-classifier's) loss of the last step, its
  /// cross-entropy on the labeled images, the generator's loss, and kTriple's discriminator loss
  /// (0 for the other forms).
  double c_loss = 0, labeled_loss = 0, g_loss = 0, d_loss = 0;
  double seconds = 0;  ///< training time in this process
};

/// Trains a classifier and a conditional generator together (see the file's comment).
class JointTrainer {
 public:
  /// Validates `options` and builds the networks on run.device(), their initial weights from
  /// run.seed() alone; training writes log.csv and checkpoints to run.out_dir() (nothing when
  /// empty). Sets LibTorch's process-wide thread count when run.threads() > 0. Throws
  /// ganaug::Error for invalid options, an unavailable device, options that set a deprecated run
  /// field to another value than the run's, or a class-name count other than num_classes.
  JointTrainer(const RunContext& run, JointOptions options, std::vector<std::string> class_names);
  /// Deprecated (removed in 0.7): the trainer of the run that options' seed, device, threads and
  /// out_dir describe.
  GANAUG_DEPRECATED("pass a ganaug::RunContext: JointTrainer(run, options, class_names)")
  JointTrainer(JointOptions options, std::vector<std::string> class_names);
  ~JointTrainer();
  JointTrainer(JointTrainer&&) noexcept;
  JointTrainer& operator=(JointTrainer&&) noexcept;

  /// Trains until options.iterations() steps are done or should_stop returns true (polled
  /// before every step; a checkpoint is then written when out_dir is set). Returns whether all
  /// steps are done. `labeled`'s images labeled -1, and every image of `pool` when given, are
  /// the unlabeled pool; the pool's labels are never read. Without pool images, kKPlus1 takes
  /// the labeled images as its unlabeled real ones (as Salimans et al. do), and the other
  /// forms train without pool terms. With an out_dir it removes temporary files a killed run
  /// left there, starts log.csv afresh at step 0 or appends to it, and writes checkpoint.pt
  /// every checkpoint_every steps and at the end. Throws ganaug::Error for data of another
  /// shape or classes, no labeled image, or a loss or weight that becomes NaN/Inf (checked
  /// every log_every steps; the last checkpoint stays).
  bool train(const LabeledDataset& labeled, const LabeledDataset* pool = nullptr);

  /// Loads a checkpoint written by save_checkpoint: weights, averages, optimizer moments and
  /// the step count. Throws ganaug::Error naming the file when it is missing, damaged, not a
  /// joint checkpoint, of another form, architecture or class names, holds NaN/Inf weights, or
  /// has trained more steps than options().iterations(). Checkpoints of format v1 (written
  /// before the classifier moved onto its own engine) are read too: their optimizer state as it
  /// was, their classifier average carried on as the average of the steps taken.
  void resume(const std::string& path);
  /// Writes the whole training state atomically (a temporary file, then a rename), creating the
  /// parent folders. Throws ganaug::Error when a weight holds NaN/Inf or the file cannot be
  /// written (a previous file at `path` stays intact).
  void save_checkpoint(const std::string& path) const;

  /// The trained classifier: the weight average when enabled (batch norm recalibrated from the
  /// labeled and pool images of the last train() call when recalibrate_batchnorm is on), else
  /// the classifier being trained; in evaluation mode. Its outputs are joint_outputs(form, K):
  /// predict_probabilities(classifier, images, K) gives the class probabilities of every form.
  /// A copy: training on does not change it.
  Classifier classifier();
  /// The generator for sampling: its moving average when gan().ema_decay() > 0 (batch-norm
  /// statistics from its own samples), else the generator being trained; evaluation mode. A
  /// handle shared with the trainer.
  Generator sampling_generator();
  /// kTriple's discriminator (a handle shared with the trainer); nullptr for the other forms.
  Discriminator discriminator() const;
  /// Steps done (including those loaded by resume()).
  int64_t iteration() const;
  const JointOptions& options() const;
  /// The device the networks live on.
  torch::Device device() const;

  /// Called every log_every steps and at the end, on the thread that called train().
  std::function<void(const JointProgress&)> on_progress;
  /// Polled before every step; true stops training (see train()).
  std::function<bool()> should_stop;
  /// Applied to the labeled images of every step (classical augmentation) with a seed drawn
  /// from the step's seed; runs on the calling thread. Empty: the images as they are.
  BatchAugmenter augment;
  /// The weak and strong views of pool images for the consistency loss
  /// (JointOptions::consistency_weight), on the host, with seeds drawn from the step's seed;
  /// weak_augment empty takes augment. train() refuses a consistency weight above 0 with pool
  /// images and no strong_augment.
  BatchAugmenter weak_augment, strong_augment;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace ganaug
