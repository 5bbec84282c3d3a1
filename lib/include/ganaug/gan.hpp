#pragma once
/// Training, checkpointing and sampling of the conditional GAN.

#include <ATen/core/ivalue.h>
#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ganaug/dataset.hpp"
#include "ganaug/diffaugment.hpp"
#include "ganaug/distributed.hpp"
#include "ganaug/models.hpp"
#include "ganaug/run_context.hpp"
#include "ganaug/runtime.hpp"
#include "ganaug/seed_streams.hpp"

namespace ganaug {

/// The adversarial loss.
enum class GanLoss {
  kHinge,  ///< hinge loss (Lim & Ye 2017; SNGAN, BigGAN); the default
  kBce,    ///< non-saturating binary cross-entropy (Goodfellow et al. 2014)
};
/// Parses "hinge" or "bce"; throws ganaug::Error naming the valid ones otherwise.
GanLoss parse_gan_loss(const std::string& name);
/// The loss's name as parse_gan_loss() reads it.
std::string to_string(GanLoss loss);

/// Everything that defines a GAN run. Architecture fields must match to resume a checkpoint;
/// training fields may change between runs.
struct GanOptions {
  /// Images default to 1 x 28 x 28. Nothing is checked until validate().
  explicit GanOptions(int64_t num_classes, int64_t image_size = 28, int64_t channels = 1)
      : num_classes_(num_classes), image_size_(image_size), channels_(channels) {}
  /// For images of `shape` (image_shape(data) gives a data set's).
  GanOptions(int64_t num_classes, const ImageShape& shape)
      : GanOptions(num_classes, shape.size, shape.channels) {}
  /// image_size and channels as one.
  GanOptions& shape(const ImageShape& shape) {
    image_size_ = shape.size;
    channels_ = shape.channels;
    return *this;
  }
  ImageShape shape() const { return {image_size_, channels_}; }
  // -- architecture --
  /// Number of classes (K), from 1 to 100000.
  TORCH_ARG(int64_t, num_classes);
  /// Side of the square images, a multiple of 4 from 16 to 64 or of 8 from 72 to 128.
  TORCH_ARG(int64_t, image_size);
  /// 1 or 3.
  TORCH_ARG(int64_t, channels);
  /// Length of the noise vector, from 1 to 4096.
  TORCH_ARG(int64_t, latent_dim) = 64;
  /// Generator width (its widest layer has 2 * g_width channels).
  TORCH_ARG(int64_t, g_width) = 32;
  /// Discriminator width (its first layer's channels).
  TORCH_ARG(int64_t, d_width) = 32;
  /// Spectral normalisation on the discriminator.
  TORCH_ARG(bool, spectral_norm) = true;
  /// Projection discriminator; false feeds the class as one-hot input channels.
  TORCH_ARG(bool, projection) = true;
  /// A minibatch standard-deviation feature in the discriminator (see DiscriminatorOptions).
  TORCH_ARG(bool, minibatch_std) = true;
  // -- training --
  /// The adversarial loss.
  TORCH_ARG(GanLoss, loss) = GanLoss::kHinge;
  /// Generator steps in all (a resumed run counts those already done); 0 trains nothing.
  TORCH_ARG(int64_t, iterations) = 2000;
  /// Real and fake images per discriminator step; fake images per generator step.
  TORCH_ARG(int64_t, batch_size) = 64;
  /// The generator's Adam learning rate (fixed when the trainer is built).
  TORCH_ARG(double, g_lr) = 2e-4;
  /// The discriminator's Adam learning rate (fixed when the trainer is built).
  TORCH_ARG(double, d_lr) = 2e-4;
  /// Adam's beta1 for both networks, in [0, 1) (fixed when the trainer is built).
  TORCH_ARG(double, beta1) = 0.5;
  /// Adam's beta2 for both networks, in [0, 1) (fixed when the trainer is built).
  TORCH_ARG(double, beta2) = 0.999;
  /// Discriminator steps per generator step.
  TORCH_ARG(int64_t, d_steps) = 1;
  /// The DiffAugment transforms; nullopt (the default, "auto" in checkpoints and on command
  /// lines) picks translation and cutout for data under 10000 images, plus color for color
  /// images, and none otherwise.
  TORCH_ARG(std::optional<DiffAugmentPolicy>, diffaugment) = std::nullopt;
  /// Decay of the exponential moving average of the generator's weights (0 disables it).
  TORCH_ARG(double, ema_decay) = 0.999;
  /// Weight of the mode-seeking term (Mao et al. 2019, MSGAN): each generator batch is two
  /// halves with the same classes and different noise, and the generator is rewarded for
  /// making their images differ. Fights the conditional GAN's habit of drawing one image per
  /// class. 0 disables it.
  TORCH_ARG(double, mode_seeking) = 0.1;
  /// Images of the training data labeled -1 (an unlabeled pool) take part when above 0: this
  /// share of every real batch is drawn from them and scored by the discriminator without a
  /// class (the projection discriminator's unconditional term), against as many fakes also
  /// scored without their class (the generator still draws them conditioned). A semi-supervised
  /// conditional GAN whose pool images need no pseudo-labels. In [0, 1); 0 ignores images
  /// labeled -1.
  TORCH_ARG(double, unlabeled_share) = 0.0;
  /// The run's seed: it draws the initial weights and every iteration's batches, noise, classes
  /// and DiffAugment, and checkpoints store it. Set by the trainer from its RunContext (the
  /// field itself is deprecated, removed in 0.7: a trainer given a run refuses another value).
  TORCH_ARG(uint64_t, seed) = 0;
  /// Deprecated (removed in 0.7): the run's device and threads, now RunContext's; read only by
  /// the GanTrainer built without a run.
  TORCH_ARG(std::string, device) = "auto";
  TORCH_ARG(int, threads) = 0;
  /// On a CUDA device, after a few eager iterations, the whole iteration (discriminator steps,
  /// generator step, moving average) is captured once as a CUDA graph and replayed: one launch
  /// instead of hundreds. The same draws and arithmetic as the eager steps (to rounding: cuDNN
  /// may choose other kernels). Ignored on the CPU, with several processes, and where LibTorch
  /// has no CUDA; false runs every iteration eagerly.
  TORCH_ARG(bool, cuda_graphs) = true;
  /// The arithmetic of the training steps' forward passes: float32 (the default), or on a CUDA
  /// device autocast to bfloat16 (Precision::kBFloat16; weights, optimizer and the sampling
  /// generator stay float32). The trainer refuses kBFloat16 on the CPU.
  TORCH_ARG(Precision, precision) = Precision::kFloat32;
  // -- outputs (all optional) --
  /// Deprecated (removed in 0.7): the run's folder for log.csv and checkpoint.pt, now
  /// RunContext::out_dir.
  TORCH_ARG(std::string, out_dir) = "";
  /// Write a checkpoint every this many iterations (0: only at the end).
  TORCH_ARG(int64_t, checkpoint_every) = 0;
  /// Call on_samples every this many iterations (0: never).
  TORCH_ARG(int64_t, sample_every) = 0;
  /// Append a row to log.csv and call on_progress every this many iterations (at least 1).
  TORCH_ARG(int64_t, log_every) = 50;

 public:
  /// The generator's share of the architecture fields.
  GeneratorOptions generator_options() const;
  /// The discriminator's share of the architecture fields.
  DiscriminatorOptions discriminator_options() const;
  /// Throws ganaug::Error for values out of range: an unsupported shape (check_model_shape),
  /// latent_dim outside [1, 4096] or widths outside [4, 4096]; negative iterations, threads,
  /// checkpoint or sample intervals; batch size, learning rates, d_steps or log_every not
  /// positive; a negative or non-finite mode_seeking; betas or ema_decay outside [0, 1). The
  /// device is checked when the trainer is built.
  void validate() const;
  /// validate() for options a job holds before it has its data: every field but the three the
  /// data sets (num_classes, image_size, channels).
  void validate_settings() const;
};

/// One progress report from training.
struct GanProgress {
  int64_t iteration = 0;   ///< generator steps done
  int64_t iterations = 0;  ///< generator steps planned
  /// Losses of the last discriminator step and the last generator step.
  double d_loss = 0, g_loss = 0;
  double d_real = 0, d_fake = 0;  ///< mean discriminator scores of the last step
  double seconds = 0;             ///< training time so far in this process
  double images_per_second = 0;   ///< batch_size * steps / seconds, this process
};

/// Trains a conditional GAN.
///
/// Owns a generator, a discriminator, the generator's moving average and their optimisers. All
/// randomness is drawn from generators seeded by (seed, iteration), so training resumed from a
/// checkpoint continues exactly as an uninterrupted run would on the same device.
class GanTrainer {
 public:
  /// Validates `options` and builds the models on run.device(), their initial weights drawn
  /// from run.seed() alone; training writes to run.out_dir() (nothing when empty). Sets
  /// LibTorch's process-wide thread count when run.threads() > 0. Throws ganaug::Error for
  /// invalid options, an unavailable device, options that set a deprecated run field to another
  /// value than the run's, or a class-name count other than num_classes.
  GanTrainer(const RunContext& run, GanOptions options, std::vector<std::string> class_names);
  /// Deprecated (removed in 0.7): the trainer of the run that options' seed, device, threads and
  /// out_dir describe.
  GANAUG_DEPRECATED("pass a ganaug::RunContext: GanTrainer(run, options, class_names)")
  GanTrainer(GanOptions options, std::vector<std::string> class_names);
  /// Releases the trainer's state; module handles obtained from it stay valid.
  ~GanTrainer();
  /// Movable, not copyable; a moved-from trainer must not be used.
  GanTrainer(GanTrainer&&) noexcept;
  GanTrainer& operator=(GanTrainer&&) noexcept;

  /// Trains on `data` (labels in [0, num_classes)) until options.iterations() generator steps
  /// are done, or until should_stop returns true (checked every step; a checkpoint is then
  /// written if out_dir is set). Returns true when all iterations are done. Throws ganaug::Error
  /// on a shape mismatch or when a loss or weight becomes NaN/Inf (the last checkpoint stays).
  ///
  /// Only the labeled images are used (-1 is skipped; there must be some); they are copied to
  /// the device for the call. With an out_dir it creates the folder, removes temporary files
  /// a killed run left there, starts log.csv afresh at iteration 0 or appends to it, and writes
  /// checkpoint.pt every checkpoint_every steps and at the end. Callbacks run on the calling
  /// thread. Throws ganaug::Error also when data is invalid, log.csv cannot be opened or a
  /// checkpoint cannot be written.
  bool train(const LabeledDataset& data);

  /// Loads the state of a checkpoint written by save_checkpoint into this trainer: the weights,
  /// the moving average, the optimisers' moments and the iteration count. The trainer keeps
  /// its own training options (iterations, learning rates, ...). Throws ganaug::Error naming the
  /// file when it is missing, damaged, not a ganaug checkpoint, holds NaN/Inf weights, was
  /// trained with a different architecture or on other class names.
  void resume(const std::string& path);
  /// Writes the whole training state atomically (a temporary file, then a rename), creating the
  /// parent folders: a header line with a checksum, then a LibTorch archive. Throws
  /// ganaug::Error when a weight holds NaN/Inf or the file cannot be written (a previous file
  /// at `path` stays intact).
  void save_checkpoint(const std::string& path) const;

  /// Trains data-parallel over `group` (see distributed.hpp), one trainer per process, each
  /// with the same options and data: train() first copies rank 0's weights and buffers to
  /// every rank; every iteration each rank takes its share (batch_size / world size, which must
  /// divide evenly) of one global batch drawn from (seed, iteration), the gradients of both
  /// networks are averaged over the ranks after each backward pass, and rank 0's batch-norm
  /// statistics are copied to all (as DistributedDataParallel does; batch statistics are per
  /// rank, there is no synchronised batch norm). Only rank 0 writes out_dir (log, checkpoints).
  /// Every rank must call train() the same number of times; a stop request must reach all of
  /// them (a rank that stops alone makes the others fail after the group's timeout). nullptr:
  /// single process again.
  void distribute(std::shared_ptr<ProcessGroup> group);

  /// The generator used for sampling: the moving average when enabled (evaluation mode, no
  /// gradients), its batch-norm statistics recomputed from its own samples first (a few batches
  /// of forward passes; checkpoints save them too); with ema_decay 0 the trained generator
  /// itself, in whatever mode training left it (generate() switches to evaluation mode). A
  /// handle shared with the trainer, not a copy.
  Generator sampling_generator() const;
  /// The generator and the discriminator being trained (handles shared with the trainer).
  Generator generator() const;
  Discriminator discriminator() const;
  /// Generator steps done (including those loaded by resume()).
  int64_t iteration() const;
  /// The options, holding the run's seed, device, threads and out_dir. Changing architecture
  /// fields, learning rates, betas, device or threads after construction has no effect; the
  /// other training and output fields (the seed and out_dir included) are read by the next
  /// train().
  const GanOptions& options() const;
  GanOptions& options();
  /// One name per class, as given to the constructor.
  const std::vector<std::string>& class_names() const;
  /// The device the models live on.
  torch::Device device() const;

  /// Called every log_every iterations and at the end, on the thread that called train().
  std::function<void(const GanProgress&)> on_progress;
  /// Called every sample_every iterations with samples of the sampling generator (a fixed seed,
  /// so calls compare): 8 per class, class by class (K * 8 x C x S x S on the CPU, in [-1, 1]).
  std::function<void(int64_t iteration, const torch::Tensor& samples)> on_samples;
  /// Polled before every iteration; returning true stops training early (train() writes a
  /// checkpoint if out_dir is set and returns false).
  std::function<bool()> should_stop;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// A generator loaded from a checkpoint, with what the checkpoint says about it.
struct GeneratorCheckpoint {
  Generator generator{nullptr};  ///< evaluation mode, the moving average when it was enabled
  /// The options stored in the checkpoint, with device() set to the one asked for; fields a
  /// checkpoint does not store (threads, out_dir, the intervals) keep their defaults.
  GanOptions options{1};
  /// One name per class.
  std::vector<std::string> class_names;
  /// Generator steps done when the checkpoint was written.
  int64_t iteration = 0;
};

/// Loads the sampling generator of a checkpoint onto `device` ("auto", "cpu", "cuda" or
/// "cuda:N"). Throws ganaug::Error naming the file when it is missing, damaged, not a ganaug GAN
/// checkpoint, or holds NaN/Inf weights; also for an unavailable device.
GeneratorCheckpoint load_generator(const std::string& path, const std::string& device = "auto");

/// What identifies a GAN's training, as (what, value) pairs in a fixed order: the data's image
/// shape, classes, size and a hash of its images and labels, then every option a checkpoint
/// stores (seed, budget, architecture, losses, ...). Trainings with equal facts train the same
/// networks on one device type; the first differing pair says why two do not.
std::vector<std::pair<std::string, std::string>> gan_training_facts(const LabeledDataset& data,
                                                                    const GanOptions& options);
/// The facts of `options` trained in `run` (its seed; a trainer given the run stores it).
std::vector<std::pair<std::string, std::string>> gan_training_facts(const RunContext& run,
                                                                    const LabeledDataset& data,
                                                                    const GanOptions& options);

/// The options a checkpoint stores (architecture and training fields, the seed included) whose
/// values differ between `options` and `reference`: (field name, value in `options`) pairs in
/// the checkpoint's order, integers and flags as int64, reals as double, choices (loss,
/// DiffAugment) by name. For records that must tell two runs' settings apart.
std::vector<std::pair<std::string, c10::IValue>> gan_option_differences(
    const GanOptions& options, const GanOptions& reference);

/// Throws ganaug::Error naming `path` unless the loaded generator was trained on `data`'s class
/// names and makes images of its shape (channels x height x width).
void check_generator_fits(const GeneratorCheckpoint& loaded, const LabeledDataset& data,
                          const std::string& path);

/// The noise of images [first, first + count) of a generation seeded `seed`: image i's noise
/// depends only on (seed, i), so shards of a generation reproduce the whole one. Returns
/// count x latent_dim float32 N(0, 1) values on the CPU.
torch::Tensor latent_noise(uint64_t seed, int64_t first, int64_t count, int64_t latent_dim);

/// Classes for images [first, first + count) balanced over `num_classes`: image i gets i % K.
/// Returns count int64 on the CPU. Throws ganaug::Error when num_classes < 1.
torch::Tensor balanced_classes(int64_t first, int64_t count, int64_t num_classes);

/// The classes of a sample grid: `per_class` images of each of the K classes, class by class
/// (K * per_class int64 on the CPU).
torch::Tensor sample_grid_classes(int64_t num_classes, int64_t per_class = 8);

/// Generates one image per entry of `classes` (images first_index, first_index+1, ...) in
/// batches of `batch_size`, without autograd. Returns N x C x S x S in [-1, 1] on the CPU.
/// Image i's noise is latent_noise(seed, i); runs on the generator's device and leaves it in
/// evaluation mode. Throws ganaug::Error when batch_size < 1.
torch::Tensor generate(Generator& generator, const torch::Tensor& classes, uint64_t seed,
                       int64_t first_index = 0, int64_t batch_size = 500);

/// Decides which generated images to keep: a bool (or 0/1) tensor with one entry per image, given
/// the images (N x C x S x S in [-1, 1], CPU) and the classes they were generated for.
using ImageFilter =
    std::function<torch::Tensor(const torch::Tensor& images, const torch::Tensor& classes)>;

/// Generated images that passed a filter, and their classes.
struct AcceptedImages {
  torch::Tensor images;   ///< N x C x S x S in [-1, 1], CPU, round by round in index order
  torch::Tensor classes;  ///< N int64 (N is less than asked when classes end up short)
  int64_t drawn = 0;      ///< images generated to find them
};

/// `count` images whose classes are balanced as balanced_classes(0, count, K), each class filled
/// with the first images of the generation seeded `seed` (images 0, 1, 2, ...) that `keep`
/// accepts. Draws rounds of `count` images, at most `max_rounds`; when the generator rarely makes
/// images `keep` accepts, some classes end up short. Without `keep`: generate(classes, seed).
/// `keep` runs on the calling thread, once per round. Throws ganaug::Error when count or
/// max_rounds is below 1, or when `keep` does not return one entry per image.
AcceptedImages generate_accepted(Generator& generator, int64_t count, uint64_t seed,
                                 const ImageFilter& keep, int64_t max_rounds = 8);

}  // namespace ganaug
