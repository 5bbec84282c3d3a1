#pragma once
/// The downstream classifier: trained on real (+ synthetic) data with soft targets, evaluated on
/// a held-out test set.

#include <ATen/core/ivalue.h>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ganaug/custom_network.hpp"
#include "ganaug/dataset.hpp"
#include "ganaug/run_context.hpp"

namespace ganaug {

/// How ClassifierOptions::validate names a field in its messages: given the field's name
/// ("synthetic_share"), the name the user knows it by (a tool's flag, "--synthetic-share").
/// Empty: the field's own name.
using FieldNames = std::function<std::string(const std::string& field)>;

/// How the classifier's weights are updated.
enum class ClassifierOptimizer {
  /// Adam (betas 0.9, 0.999), L2 weight decay on every parameter.
  kAdam,
  /// SGD with Nesterov momentum and L2 weight decay on the convolution and linear weights only,
  /// not on biases or batch norm: FixMatch's optimizer (Sohn et al., NeurIPS 2020).
  kSgd,
};

/// "adam" or "sgd".
std::string to_string(ClassifierOptimizer optimizer);
/// The optimizer named "adam" or "sgd"; throws ganaug::Error naming `name` otherwise.
ClassifierOptimizer parse_classifier_optimizer(const std::string& name);

/// The classifier's network.
enum class ClassifierArchitecture {
  /// ClassifierOptions::network() picks: kResnet for 3 channels, else kCnn.
  kAuto,
  /// Two stages of 3x3 convolution, batch norm, 2x2 max pooling and ReLU, then two fully
  /// connected layers.
  kCnn,
  /// kCnn with the second convolution at stride 2 in place of the second pooling: 0.36x the
  /// arithmetic for a lower accuracy (docs/defaults.md).
  kCnnStrided,
  /// Three residual stages (He et al. 2016).
  kResnet,
  /// The user's network, ClassifierOptions::custom (what network() says when one is set).
  kCustom,
};

/// "auto", "cnn", "cnn-strided", "resnet" or "custom".
std::string to_string(ClassifierArchitecture architecture);
/// The network named "auto", "cnn", "cnn-strided" or "resnet"; throws ganaug::Error naming
/// `name` otherwise.
ClassifierArchitecture parse_classifier_architecture(const std::string& name);

/// How the classifier's learning rate changes over a run.
enum class LrSchedule {
  /// Decays to 0 over the run, step by step: the last epochs average out the noise of small
  /// batches.
  kCosine,
  /// The starting rate throughout.
  kConstant,
  /// FixMatch's (Sohn et al. 2020, and its published code): lr cos(7 pi k / (16 K)) at step k
  /// of K, which ends at about a fifth of the starting rate rather than at 0.
  kFixMatchCosine,
};

/// "cosine", "constant" or "fixmatch-cosine".
std::string to_string(LrSchedule schedule);
/// The schedule named "cosine", "constant" or "fixmatch-cosine"; throws ganaug::Error naming
/// `name` otherwise.
LrSchedule parse_lr_schedule(const std::string& name);

/// ClassifierOptions::prefetch's automatic value: see ClassifierOptions::prefetch_steps().
inline constexpr int64_t kAutoPrefetch = -1;

/// Classifier architecture and training schedule. Nothing is checked until validate() (which
/// the Classifier constructor and train_classifier call).
struct ClassifierOptions {
  /// `num_outputs` is K, or K + 1 for the newclass scheme; images default to 1 x 28 x 28.
  explicit ClassifierOptions(int64_t num_outputs, int64_t image_size = 28, int64_t channels = 1)
      : num_outputs_(num_outputs), image_size_(image_size), channels_(channels) {}
  /// For images of `shape` (image_shape(data) gives a data set's).
  ClassifierOptions(int64_t num_outputs, const ImageShape& shape)
      : ClassifierOptions(num_outputs, shape.size, shape.channels) {}
  /// image_size and channels as one.
  ClassifierOptions& shape(const ImageShape& shape) {
    image_size_ = shape.size;
    channels_ = shape.channels;
    return *this;
  }
  ImageShape shape() const { return {image_size_, channels_}; }
  /// Logits per image: K, or K + 1 for newclass; at least 2.
  TORCH_ARG(int64_t, num_outputs);
  /// Side of the square input images: a multiple of 4, at least 8 (default 28).
  TORCH_ARG(int64_t, image_size);
  /// 1 (gray, the default) or 3 (RGB).
  TORCH_ARG(int64_t, channels);
  /// The network (default kAuto: kResnet for 3 channels, else kCnn); ignored when custom is set.
  TORCH_ARG(ClassifierArchitecture, architecture) = ClassifierArchitecture::kAuto;
  /// The user's network in place of the built-in ones (a TorchScript file: script_network()).
  /// It keeps its own starting weights (no seeded initialisation) and is not made channels-last;
  /// its dropout layers, if any, draw from LibTorch's global generator, which train_classifier
  /// then seeds from seed(). width is ignored.
  TORCH_ARG(CustomNetwork, custom);
  /// Channels of the first convolution; 0 (the default) takes the network's own: 24 for "cnn"
  /// and "cnn-strided" (32 before ganaug 0.3; why: docs/defaults.md), 32 for "resnet".
  TORCH_ARG(int64_t, width) = 0;
  /// Passes over the real images.
  TORCH_ARG(int64_t, epochs) = 150;
  /// Real images per batch.
  TORCH_ARG(int64_t, batch_size) = 64;
  /// How the weights are updated: Adam (the default) or SGD with Nesterov momentum.
  TORCH_ARG(ClassifierOptimizer, optimizer) = ClassifierOptimizer::kAdam;
  /// The learning rate (the starting rate of the cosine schedule); 0 (the default) takes the
  /// optimizer's own: 1e-3 for Adam, 0.03 for SGD (FixMatch's).
  TORCH_ARG(double, lr) = 0.0;
  /// SGD's momentum (Nesterov's), in (0, 1); Adam ignores it.
  TORCH_ARG(double, momentum) = 0.9;
  /// How the learning rate changes over the run (default: cosine decay to 0).
  TORCH_ARG(LrSchedule, lr_schedule) = LrSchedule::kCosine;
  /// Weight decay, an L2 penalty: on every parameter with Adam, on the convolution and linear
  /// weights with SGD (FixMatch: 5e-4); 0 = none.
  TORCH_ARG(double, weight_decay) = 0.0;
  /// The evaluated and returned model is an exponential moving average of the weights over the
  /// training steps with this decay (FixMatch: 0.999), its start-up bias removed (see
  /// train_classifier); 0 (the default) returns the last step's weights. Batch-norm statistics
  /// are those of the training network, recomputed for the averaged weights when
  /// recalibrate_batchnorm is on (the default).
  TORCH_ARG(double, ema_decay) = 0.0;
  /// Weight of the synthetic images' loss relative to the real ones' (LSRO's default is 1).
  TORCH_ARG(double, synthetic_weight) = 1.0;
  /// Share of each batch that is synthetic, in [0, 1): 0.25 adds 1 synthetic per 3 real images.
  TORCH_ARG(double, synthetic_share) = 0.25;
  /// Real and synthetic images go through the network in separate forward passes, so that batch
  /// normalisation normalises each with its own statistics and the real images' features are
  /// never shifted by the synthetic ones' (as AdvProp keeps adversarial examples apart).
  TORCH_ARG(bool, separate_synthetic_batches) = true;
  /// After training, recompute every batch-norm layer's running statistics from the real
  /// training images alone (un-augmented), the distribution the test images come from. Applied
  /// to every classifier, with or without synthetic images, so comparisons stay fair.
  TORCH_ARG(bool, recalibrate_batchnorm) = true;
  /// The paper's dynamic argmax (Zheng et al.'s official code): every synthetic image of a batch
  /// is trained towards the one-hot argmax, over the real classes, of the network's own output
  /// for it in that same forward pass (detached), after a warm-up on the real images alone,
  /// with weight `dynamic_weight`. The synthetic set's own targets are not used then.
  TORCH_ARG(bool, dynamic_argmax) = false;
  /// Share of the training steps, in [0, 1), on the real images alone before dynamic argmax
  /// adds the synthetic ones.
  TORCH_ARG(double, warmup_share) = 0.25;
  /// Weight of the synthetic images' loss under dynamic argmax (replaces synthetic_weight).
  TORCH_ARG(double, dynamic_weight) = 0.1;
  /// Consistency training on the images of the real set labeled -1 (an unlabeled pool), as in
  /// FixMatch (Sohn et al., NeurIPS 2020): every step draws pool_ratio x batch_size pool images;
  /// the network's prediction for a weakly augmented view of each (ClassifierHooks::augment, or
  /// the image itself), without gradient, becomes the hard target of a strongly augmented view
  /// (ClassifierHooks::strong_augment) where its top probability over the real classes reaches
  /// pool_threshold. This weight (ramped up linearly over the first pool_ramp_share of the steps)
  /// scales that loss, averaged over all the step's pool images; 0 ignores the pool.
  TORCH_ARG(double, pool_weight) = 0.0;
  /// Confidence a weak view's prediction needs to become a target, in (0, 1].
  TORCH_ARG(double, pool_threshold) = 0.95;
  /// Pool images per step as a multiple of batch_size (FixMatch uses 7; 1 keeps a CPU step
  /// about twice the plain one).
  TORCH_ARG(double, pool_ratio) = 1.0;
  /// Share of the steps, in [0, 1), over which pool_weight ramps up from 0 (published
  /// FixMatch: 0, the full weight from the first step).
  TORCH_ARG(double, pool_ramp_share) = 0.1;
  /// Whether the weak view's pass, which makes the pool's targets, runs with the network's
  /// dropout active (as every training pass does, the default) or with the dropout layers off
  /// (false): FixMatch's networks have no dropout, so its targets come from the whole network.
  /// Batch norm trains on the weak view either way. A user's network keeps its own modes. The
  /// joint trainer's consistency term (JointOptions::consistency_weight) follows it too.
  TORCH_ARG(bool, pool_target_dropout) = true;
  /// The step's labeled images (real, and synthetic unless separate_synthetic_batches puts
  /// them apart) and its pool's weak and strong views go through the network in one pass, so
  /// that every batch-norm statistic mixes them, as in the published FixMatch code (which
  /// interleaves them); false (the default): three passes, each with its own statistics. The
  /// weak view's targets then come from that pass, with its dropout (pool_target_dropout must
  /// stay true). The joint trainer's consistency term keeps its own passes.
  TORCH_ARG(bool, pool_one_pass) = false;
  /// ReMixMatch's distribution alignment of the pool's targets: the weak view's probabilities
  /// are multiplied by the labeled images' class shares over the mean of the network's pool
  /// predictions in the last 128 steps, and renormalised, before the threshold and the argmax.
  TORCH_ARG(bool, distribution_alignment) = false;
  /// Deprecated (removed in 0.7): the run's seed, device and threads, now RunContext's, which
  /// train_classifier(run, ...) takes; read only by the train_classifier and
  /// train_stage_classifier without a run. The seed
  /// draws the initial weights, the dropout masks, the batch order, the synthetic picks and the
  /// seeds handed to ClassifierHooks::augment.
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(std::string, device) = "auto";
  TORCH_ARG(int, threads) = 0;
  /// Steps whose batches (random draws, then augmented views) are prepared ahead of the step
  /// that trains on them, by ClassifierHooks::feeder when one is set; 0 prepares each step on
  /// the training thread when it comes; kAutoPrefetch (the default) decides by the device, see
  /// prefetch_steps(). The batches are the same either way.
  TORCH_ARG(int64_t, prefetch) = kAutoPrefetch;
  /// On a CUDA device, after a few eager steps, a whole training step (forward and backward
  /// passes, the optimizer's update, the weight average) is captured once as a CUDA graph and
  /// replayed for every full batch: one launch instead of hundreds. Steps of other shapes (an
  /// epoch's last, short batch) run eagerly with the same device-side arithmetic. Steps run
  /// eagerly throughout with an unlabeled pool, dynamic argmax, a custom network or a
  /// ClassifierHooks::on_synthetic_batch hook, on the CPU and where LibTorch has no CUDA. With
  /// graphs on CUDA, the dropout masks come from the device's default generator reseeded for
  /// each step (restored afterwards), so the run is not the same draw for draw as with false.
  TORCH_ARG(bool, cuda_graphs) = true;

 public:
  /// Throws ganaug::Error naming the first bad value (by `names`, the field's own name by
  /// default): num_outputs < 2, an image size that is not a multiple of 4 from 8, channels
  /// other than 1 or 3, epochs, batch size or lr not
  /// positive, synthetic_share outside [0, 1), a negative or non-finite weight, weight decay,
  /// warm-up or thread count, a width outside [0, 4096], pool settings outside their ranges.
  void validate(const FieldNames& names = {}) const;
  /// The network built: kCustom when custom() is set, else architecture() with kAuto resolved
  /// for channels() (never kAuto).
  ClassifierArchitecture network() const;
  /// The width built: width(), or the network's own when 0; 0 for a custom network.
  int64_t network_width() const;
  /// The learning rate used: lr(), or the optimizer's own when 0.
  double learning_rate() const;
  /// The steps prepared ahead on `device`: prefetch(), or for kAutoPrefetch 2 on CUDA (the
  /// host prepares batches while the device trains) and on a CPU where LibTorch's threads leave
  /// a core free, else 0: on a CPU whose cores all run the network, a preparing thread takes
  /// one of them (docs/defaults.md).
  int64_t prefetch_steps(const torch::Device& device) const;
};

/// One hyperparameter of ClassifierOptions in the one table (classifier_fields()) that
/// validate(), run records (classifier_option_differences) and the tools' messages read, so that
/// a new option is described once.
struct ClassifierField {
  const char* name;         ///< the setter's name, and its key in run records
  const char* description;  ///< how messages explain it ("the weight average's decay"); or null
  /// Run records note it when it differs from the default (a training setting no other record
  /// key holds already).
  bool recorded;
  /// Its value: integers as int64, switches as bool, reals as double, choices by name.
  c10::IValue (*get)(const ClassifierOptions&);
  /// The range validate() checks for a number, [low, high] (open at an end when asked), and one
  /// value outside it that means something of its own (`special`, explained by
  /// `special_meaning`); none for switches and choices.
  std::optional<double> low, high;
  bool low_open = false, high_open = false;
  std::optional<double> special;
  const char* special_meaning = nullptr;
};

/// ClassifierOptions' hyperparameters (not the image shape, the network file or the run's
/// seed, device and threads' bookkeeping), in one table.
const std::vector<ClassifierField>& classifier_fields();

/// The recorded fields (ClassifierField::recorded) whose values differ between `options` and
/// `reference`: (field name, value in `options`) pairs in the table's order.
std::vector<std::pair<std::string, c10::IValue>> classifier_option_differences(
    const ClassifierOptions& options, const ClassifierOptions& reference);

/// `options` with the settings of consistency training on an unlabeled pool that were chosen on
/// Fashion-MNIST's validation split (docs/defaults.md): FixMatch's
/// SGD with Nesterov momentum, weight decay 5e-4 on the convolution and linear weights, an
/// exponential moving average of the weights (decay 0.99) as the model, 450 epochs, and 3 pool
/// images per labeled image in a step. The
/// tools apply it under the flags a user gives whenever a pool is trained on by consistency
/// (`augment --pseudo`, `augment-bench` with a pseudo scheme and a pool); their strong view is
/// then RandAugment.
ClassifierOptions pool_recipe(ClassifierOptions options);

/// Inverted dropout whose masks come from a generator the layer owns (seeded with reseed), not
/// from LibTorch's global generator. Identity in evaluation mode.
class SeededDropoutImpl : public torch::nn::Module {
 public:
  /// `p` is the share of activations zeroed, in [0, 1); throws ganaug::Error otherwise. The
  /// generator starts seeded 0.
  explicit SeededDropoutImpl(double p = 0.5);
  /// Replaces the mask generator with a fresh one seeded `seed`.
  void reseed(uint64_t seed);
  /// Draws the masks from `generator` in place of the layer's own, until called with nullopt
  /// (a training step captured as a CUDA graph draws from the device's default generator).
  void draw_from(std::optional<at::Generator> generator);
  /// In training mode, `x` with a share p of its elements zeroed and the rest scaled by
  /// 1 / (1 - p); the mask is drawn on x's device, from a generator of that device seeded as
  /// the layer was (made on the first call on a new device). Otherwise `x` itself.
  torch::Tensor forward(const torch::Tensor& x);

 private:
  double p_;
  uint64_t seed_ = 0;
  at::Generator generator_;
  std::optional<at::Generator> borrowed_;
};
TORCH_MODULE(SeededDropout);

/// A small CNN or ResNet, or the user's network (ClassifierOptions::custom), mapping
/// N x C x S x S images to N x num_outputs logits.
///
/// The constructor's initial weights are provisional (drawn by LibTorch's layers from its global
/// generator); train_classifier calls reset_parameters(seed) so that they depend on the seed.
class ClassifierImpl : public torch::nn::Module {
 public:
  /// Builds the network on the CPU (built-in convolution weights channels-last). Throws
  /// ganaug::Error for invalid options (see ClassifierOptions::validate), and for a custom
  /// network that does not fit them, naming it and what was expected: one that fails on (or
  /// gives other than N x num_outputs finite logits for) a batch of C x S x S images in
  /// evaluation mode, has no trainable parameter, or has parameters other than float32.
  explicit ClassifierImpl(const ClassifierOptions& options);
  /// Draws the initial weights and seeds the dropout masks from `seed` (see
  /// ganaug::reset_parameters); a custom network keeps its weights, and LibTorch's global
  /// generator (its dropout's) is seeded instead. Call before moving the model to another device.
  void reset_parameters(uint64_t seed);
  /// Logits N x num_outputs for images N x C x S x S on the model's device.
  torch::Tensor forward(const torch::Tensor& images);
  /// The penultimate layer's activations (N x D): what the output layer sees. For the Fréchet
  /// classifier distance. A custom network's logits (its layers are unknown).
  torch::Tensor embed(const torch::Tensor& images);

  /// The options it was built with (validated; architecture() and width() resolved: network()
  /// and network_width()).
  ClassifierOptions options;

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Sequential head_{nullptr};
  torch::nn::Linear output_{nullptr};
  SeededDropout dropout_{nullptr};
  torch::nn::AnyModule custom_;
};
TORCH_MODULE(Classifier);

/// A batch transform for classical augmentation: (images N x C x H x W, seed) -> images.
using BatchAugmenter = std::function<torch::Tensor(const torch::Tensor& images, uint64_t seed)>;

/// Progress of classifier training, once per epoch.
struct ClassifierProgress {
  /// Epochs done (1 after the first) and planned.
  int64_t epoch = 0, epochs = 0;
  /// The epoch's mean batch loss (real and weighted synthetic images).
  double loss = 0;
  /// Seconds since training started.
  double seconds = 0;
  /// With an unlabeled pool (pool_weight > 0): the epoch's share of pool images whose weak view
  /// gave a confident prediction (a target); 0 before the pool is used.
  double pool_confident = 0;
  /// With ClassifierHooks::pool_truth: the share of the epoch's targets whose class is the pool
  /// image's true one (the pseudo-labels' accuracy); none when no image passed the threshold.
  std::optional<double> pool_accuracy;
};

/// Prepares a training run's steps ahead of the step that trains on them. train_classifier calls
/// start() once, then take(0), take(1), ... in order, from the training thread. A feeder runs
/// plan(i) for i = 0, 1, ... in order, one at a time (a step's random draws), and build(i) after
/// plan(i) (its augmented batch), possibly on other threads and at the same time as later plans
/// and other builds, never planning a step more than `ahead` beyond the one last taken (its
/// constructor's choice). When it is destroyed, no plan or build is running or will run.
/// Without one, train_classifier plans and builds each step when it takes it; pipelines'
/// make_prefetch_feeder runs them in a oneTBB flow graph.
class StepFeeder {
 public:
  using Task = std::function<void(int64_t step)>;
  virtual ~StepFeeder() = default;
  /// Starts preparing steps [0, count).
  virtual void start(int64_t count, Task plan, Task build) = 0;
  /// Returns once `step` (the one after the step last taken) is built; the step before it is
  /// done with from here on. Rethrows what its plan or build threw.
  virtual void take(int64_t step) = 0;
};

/// Optional hooks into classifier training.
struct ClassifierHooks {
  /// Applied to the real images of every batch (and the synthetic ones too when
  /// augment_synthetic is true), before they move to the training device, with a seed derived
  /// from ClassifierOptions::seed, the epoch and the batch.
  BatchAugmenter augment;
  /// Also augment the synthetic images of each batch (default off).
  bool augment_synthetic = false;
  /// The strong view of an unlabeled pool image under consistency training
  /// (ClassifierOptions::pool_weight > 0); required then.
  BatchAugmenter strong_augment;
  /// The weak view of an unlabeled pool image, whose confident prediction becomes the strong
  /// view's target; when empty, `augment` (or the image itself when that is empty too).
  BatchAugmenter weak_augment;
  /// Called after every epoch.
  std::function<void(const ClassifierProgress&)> on_epoch;
  /// Called after the forward pass of every step that trains on synthetic images, with the step
  /// (from 0), the synthetic images' logits (detached) and the targets they are trained towards
  /// (for diagnostics and tests).
  std::function<void(int64_t step, const torch::Tensor& logits, const torch::Tensor& targets)>
      on_synthetic_batch;
  /// For measurement only, where the pool's true classes are known (a bench's pool drawn from
  /// labeled data): one class per pool image, in the order the images labeled -1 stand in the
  /// real set. Training never reads it; it gives ClassifierProgress::pool_accuracy.
  torch::Tensor pool_truth;
  /// Polled before every batch; true stops training by throwing ganaug::Interrupted
  /// ("classifier training interrupted").
  std::function<bool()> should_stop;
  /// Makes the feeder that prepares steps ahead (ClassifierOptions::prefetch of them, the
  /// argument) when prefetch > 0; the augmentation hooks then run on the feeder's threads and
  /// must not share unguarded state. Empty, or returning nullptr: each step is prepared on the
  /// training thread when it comes.
  std::function<std::unique_ptr<StepFeeder>(int64_t ahead)> feeder;
};

/// Trains a classifier on `real` (hard labels) plus, when `synthetic` is given, its images with
/// their soft targets (`synthetic->targets`, num_outputs wide). Real labels become one-hot
/// targets over num_outputs; real images labeled -1 are skipped, or with pool_weight > 0 are
/// the unlabeled pool of consistency training (their labels are never read). Synthetic images are
/// used only when `synthetic` is non-null and non-empty and synthetic_share > 0; `synthetic` is
/// only read during the call. Deterministic for a seed on the CPU.
///
/// Trains on run.device() and returns the model there, in evaluation mode (batch norm
/// recalibrated when asked); its weights, dropout masks, batches and augmentation seeds come from
/// run.seed(). Sets LibTorch's process-wide thread count only when run.threads() > 0; writes
/// nothing (run.out_dir() is not read). Hooks run on the calling thread, the augmentation hooks on
/// the feeder's when there is one. Throws ganaug::Error for invalid options or data, num_outputs
/// other than K or K + 1, images of another size than the options', synthetic targets of the wrong
/// width or images of another shape, no labeled real image, an unavailable device, options that set
/// a deprecated run field to another value than the run's, or a non-finite loss (divergence);
/// ganaug::Interrupted when should_stop asks.
Classifier train_classifier(const RunContext& run, const LabeledDataset& real,
                            const LabeledDataset* synthetic, const ClassifierOptions& options,
                            const ClassifierHooks& hooks = {});
/// Deprecated (removed in 0.7): train_classifier with the run that options' seed, device and
/// threads describe.
GANAUG_DEPRECATED("pass a ganaug::RunContext: train_classifier(run, real, synthetic, options)")
Classifier train_classifier(const LabeledDataset& real, const LabeledDataset* synthetic,
                            const ClassifierOptions& options, const ClassifierHooks& hooks = {});

/// The learning rate of optimizer step `step` (0-based) of `total_steps` under
/// options.lr_schedule(): constant options.learning_rate(), or cosine from it at step 0 down to
/// 0 after the last step.
double scheduled_learning_rate(const ClassifierOptions& options, int64_t step, int64_t total_steps);

/// Saves a classifier's weights and buffers with its shape (network, width, outputs, image size,
/// channels) to `path` atomically, behind a header line with a checksum of the contents (the
/// file format of GAN checkpoints). Throws ganaug::Error when the file cannot be written (a
/// previous file at `path` stays intact).
void save_classifier(const Classifier& classifier, const std::string& path);

/// Loads a file written by save_classifier into `classifier`, which must have been built with
/// the same shape, onto its device, and leaves it in evaluation mode. Throws ganaug::Error
/// naming the file when it is missing, damaged (its checksum), not a classifier file, holds
/// NaN/Inf weights, or was saved for another shape (saying which).
void load_classifier(Classifier& classifier, const std::string& path);

/// Writes a classifier whose network is a TorchScript module (ClassifierOptions::custom from
/// script_network()) as TorchScript with its current weights (in Python: torch.jit.load(path)),
/// atomically. Throws ganaug::Error for another network or a file that cannot be written.
void save_classifier_script(const Classifier& classifier, const std::string& path);

/// Recomputes the running mean and variance of every batch-norm layer of `classifier` from
/// `images` alone: the average of the per-batch statistics over batches of `batch_size`
/// (without autograd; one batch gives the images' exact mean; a last batch of one image is
/// skipped). Runs on the classifier's device and leaves it in evaluation mode. Throws
/// ganaug::Error when `images` is empty or batch_size is not positive.
void recalibrate_batchnorm(Classifier& classifier, const torch::Tensor& images,
                           int64_t batch_size = 256);

/// Softmax probabilities over the first `num_classes` outputs (the real classes: a newclass
/// classifier's extra output is dropped before the softmax), N x num_classes on the CPU.
/// Runs in batches of `batch_size` on the classifier's device without autograd and leaves it in
/// evaluation mode. Throws ganaug::Error when num_classes exceeds the classifier's outputs.
torch::Tensor predict_probabilities(Classifier& classifier, const torch::Tensor& images,
                                    int64_t num_classes, int64_t batch_size = 1000);

}  // namespace ganaug
