#include "ganaug/classifier.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <sstream>

#include "batchnorm_pool.hpp"
#include "batchnorm_stats.hpp"
#include "flat_optimizer.hpp"
#include "gan_checkpoint.hpp"
#include "ganaug/error.hpp"
#include "ganaug/file_io.hpp"
#include "ganaug/gan.hpp"
#include "ganaug/models.hpp"
#include "ganaug/runtime.hpp"
#include "ganaug/schemes.hpp"
#include "memory_format.hpp"
#include "script_network.hpp"

namespace ganaug {

namespace nn = torch::nn;

void ClassifierOptions::validate(const FieldNames& names) const {
  const auto name = [&](const char* field) { return names ? names(field) : std::string(field); };
  GANAUG_CHECK(num_outputs() >= 2, "a classifier needs at least 2 outputs, got ", num_outputs());
  GANAUG_CHECK(image_size() >= 8 && image_size() % 4 == 0, "classifier image size ", image_size(),
               " must be a multiple of 4, at least 8");
  GANAUG_CHECK(channels() == 1 || channels() == 3, "images must have 1 or 3 channels");
  GANAUG_CHECK(epochs() >= 1, name("epochs"), " must be positive, got ", epochs());
  GANAUG_CHECK(batch_size() >= 1, name("batch_size"), " must be positive, got ", batch_size());
  GANAUG_CHECK(lr() >= 0 && std::isfinite(lr()), name("lr"),
               " must be positive (or 0: the optimizer's own), got ", lr());
  GANAUG_CHECK(momentum() > 0 && momentum() < 1, name("momentum"), " must lie in (0, 1), got ",
               momentum());
  GANAUG_CHECK(ema_decay() >= 0 && ema_decay() < 1, name("ema_decay"),
               " (the weight average's decay) must lie in [0, 1), got ", ema_decay());
  GANAUG_CHECK(synthetic_share() >= 0 && synthetic_share() < 1, name("synthetic_share"),
               " must lie in [0, 1), got ", synthetic_share());
  GANAUG_CHECK(synthetic_weight() >= 0 && std::isfinite(synthetic_weight()),
               name("synthetic_weight"), " must be 0 or positive, got ", synthetic_weight());
  GANAUG_CHECK(dynamic_weight() >= 0 && std::isfinite(dynamic_weight()), name("dynamic_weight"),
               " must be 0 or positive, got ", dynamic_weight());
  GANAUG_CHECK(width() >= 0 && width() <= 4096, name("width"),
               " must lie in [1, 4096] (or be 0: the network's own), got ", width());
  GANAUG_CHECK(weight_decay() >= 0 && std::isfinite(weight_decay()), name("weight_decay"),
               " must be 0 or positive, got ", weight_decay());
  GANAUG_CHECK(warmup_share() >= 0 && warmup_share() < 1, name("warmup_share"),
               " (the dynamic argmax warm-up) must lie in [0, 1), got ", warmup_share());
  GANAUG_CHECK(threads() >= 0, name("threads"), " must be 0 (leave as is) or positive, got ",
               threads());
  GANAUG_CHECK(pool_weight() >= 0 && std::isfinite(pool_weight()), name("pool_weight"),
               " (the unlabeled pool's weight) must be 0 or positive, got ", pool_weight());
  GANAUG_CHECK(pool_threshold() > 0 && pool_threshold() <= 1, name("pool_threshold"),
               " (the unlabeled pool's confidence threshold) must lie in (0, 1], got ",
               pool_threshold());
  GANAUG_CHECK(pool_ratio() > 0 && pool_ratio() <= 64, name("pool_ratio"),
               " (the unlabeled pool's images per step, a multiple of the batch) must lie in "
               "(0, 64], got ",
               pool_ratio());
  GANAUG_CHECK(pool_ramp_share() >= 0 && pool_ramp_share() < 1, name("pool_ramp_share"),
               " must lie in [0, 1), got ", pool_ramp_share());
  GANAUG_CHECK(prefetch() >= 0 && prefetch() <= 64, name("prefetch"),
               " (steps prepared ahead) must lie in [0, 64], got ", prefetch());
}

ClassifierArchitecture ClassifierOptions::network() const {
  if (custom()) return ClassifierArchitecture::kCustom;
  if (architecture() != ClassifierArchitecture::kAuto) return architecture();
  return channels() == 3 ? ClassifierArchitecture::kResnet : ClassifierArchitecture::kCnn;
}

int64_t ClassifierOptions::network_width() const {
  if (custom()) return 0;
  if (width() > 0) return width();
  return network() == ClassifierArchitecture::kResnet ? 32 : 24;
}

double ClassifierOptions::learning_rate() const {
  if (lr() > 0) return lr();
  return optimizer() == ClassifierOptimizer::kSgd ? 0.03 : 1e-3;
}

std::string to_string(ClassifierOptimizer optimizer) {
  return optimizer == ClassifierOptimizer::kSgd ? "sgd" : "adam";
}

ClassifierOptions pool_recipe(ClassifierOptions options) {
  return options.optimizer(ClassifierOptimizer::kSgd)
      .weight_decay(5e-4)
      .ema_decay(0.99)
      .epochs(450)
      .pool_ratio(3);
}

ClassifierOptimizer parse_classifier_optimizer(const std::string& name) {
  if (name == "adam") return ClassifierOptimizer::kAdam;
  if (name == "sgd") return ClassifierOptimizer::kSgd;
  GANAUG_FAIL("unknown optimizer '", name, "': use adam or sgd");
}

std::string to_string(ClassifierArchitecture architecture) {
  switch (architecture) {
    case ClassifierArchitecture::kAuto:
      return "auto";
    case ClassifierArchitecture::kCnn:
      return "cnn";
    case ClassifierArchitecture::kCnnStrided:
      return "cnn-strided";
    case ClassifierArchitecture::kResnet:
      return "resnet";
    case ClassifierArchitecture::kCustom:
      return "custom";
  }
  GANAUG_FAIL("invalid ClassifierArchitecture ", static_cast<int>(architecture));
}

ClassifierArchitecture parse_classifier_architecture(const std::string& name) {
  for (const auto a : {ClassifierArchitecture::kAuto, ClassifierArchitecture::kCnnStrided,
                       ClassifierArchitecture::kCnn, ClassifierArchitecture::kResnet})
    if (name == to_string(a)) return a;
  GANAUG_FAIL("unknown classifier '", name,
              "': use auto, cnn-strided, cnn, resnet or a TorchScript file");
}

std::string to_string(LrSchedule schedule) {
  return schedule == LrSchedule::kConstant ? "constant" : "cosine";
}

LrSchedule parse_lr_schedule(const std::string& name) {
  if (name == "cosine") return LrSchedule::kCosine;
  if (name == "constant") return LrSchedule::kConstant;
  GANAUG_FAIL("unknown learning-rate schedule '", name, "': use cosine or constant");
}

namespace {

// A 3x3 residual block (He et al. 2016), with a 1x1 projection when the shape changes.
class ResidualBlockImpl : public nn::Module {
 public:
  ResidualBlockImpl(int64_t in, int64_t out, int64_t stride) {
    conv1_ = register_module(
        "conv1", nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)));
    bn1_ = register_module("bn1", nn::BatchNorm2d(out));
    conv2_ =
        register_module("conv2", nn::Conv2d(nn::Conv2dOptions(out, out, 3).padding(1).bias(false)));
    bn2_ = register_module("bn2", nn::BatchNorm2d(out));
    if (in != out || stride != 1) {
      shortcut_ = register_module(
          "shortcut",
          nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)),
                         nn::BatchNorm2d(out)));
    }
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto h = torch::relu(bn1_(conv1_(x)));
    h = bn2_(conv2_(h));
    return torch::relu(h + (shortcut_ ? shortcut_->forward(x) : x));
  }

 private:
  nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr};
  nn::Sequential shortcut_{nullptr};
};
TORCH_MODULE(ResidualBlock);

using detail::channels_last;

// Refuses a custom network that does not fit `o`, before anything trains, naming it and what
// was expected: a probe batch of two images in evaluation mode (no autograd, so batch-norm
// statistics stay as they are), then training mode.
void check_custom_network(torch::nn::Module& module, torch::nn::AnyModule& network,
                          const ClassifierOptions& o) {
  const auto& name = o.custom().name.empty() ? std::string("(custom)") : o.custom().name;
  bool trainable = false;
  for (const auto& p : module.parameters()) {
    trainable = trainable || p.requires_grad();
    GANAUG_CHECK(p.scalar_type() == torch::kFloat32, "the classifier ", name,
                 " has parameters of type ", p.scalar_type(), "; ganaug trains float32 ones");
  }
  GANAUG_CHECK(trainable, "the classifier ", name,
               " has no trainable parameters (none requires a gradient)");
  const int64_t c = o.channels(), s = o.image_size();
  auto generator = make_cpu_generator(0);
  const auto probe = torch::rand({2, c, s, s}, generator, torch::dtype(torch::kFloat32)) * 2 - 1;
  torch::Tensor logits;
  {
    torch::NoGradGuard no_grad;
    module.eval();
    try {
      logits = network.forward(probe);
    } catch (const std::exception& e) {
      GANAUG_FAIL("the classifier ", name, " does not take 2 x ", c, " x ", s, " x ", s,
                  " images (N x C x H x W, values in [-1, 1]): ", first_line(e));
    }
  }
  const auto outputs = o.num_outputs();
  GANAUG_CHECK(logits.dim() == 2 && logits.size(0) == 2 && logits.size(1) == outputs,
               "the classifier ", name, " gives ", logits.sizes(),
               " logits for 2 images; expected 2 x ", outputs,
               " (one logit per class; the newclass scheme needs one more, for the synthetic "
               "images' class)");
  GANAUG_CHECK(torch::isfinite(logits).all().item<bool>(), "the classifier ", name,
               " gives NaN or infinite logits for images in [-1, 1]");
  module.train();
}

}  // namespace

SeededDropoutImpl::SeededDropoutImpl(double p) : p_(p), generator_(make_cpu_generator(0)) {
  GANAUG_CHECK(p >= 0 && p < 1, "the dropout rate must lie in [0, 1), got ", p);
}

void SeededDropoutImpl::reseed(uint64_t seed) {
  seed_ = seed;
  generator_ = make_cpu_generator(seed);
}

torch::Tensor SeededDropoutImpl::forward(const torch::Tensor& x) {
  if (!is_training() || p_ == 0) return x;
  if (generator_.device() != x.device()) generator_ = make_generator(x.device(), seed_);
  // The mask is drawn where x lives and scaled so that the expected activation stays the same
  // (inverted dropout, as torch::nn::Dropout).
  const auto keep =
      torch::empty(x.sizes(), x.options().dtype(torch::kFloat32)).bernoulli_(1 - p_, generator_);
  return x * keep.div_(1 - p_).to(x.scalar_type());
}

ClassifierImpl::ClassifierImpl(const ClassifierOptions& options_) : options(options_) {
  options.validate();
  options.architecture(options.network()).width(options.network_width());
  if (options.custom()) {
    custom_ = options.custom().make();
    GANAUG_CHECK(!custom_.is_empty(), "the classifier ", options.custom().name, " made no network");
    register_module("custom", custom_.ptr());
    check_custom_network(*this, custom_, options);
    return;
  }
  const int64_t w = options.width(), c = options.channels(), s = options.image_size();
  features_ = nn::Sequential();
  head_ = nn::Sequential();
  if (options.architecture() != ClassifierArchitecture::kResnet) {
    // Pooling before the ReLU (the two commute) runs the ReLU on a quarter of the values. The
    // features are flattened in the channels-last order they are stored in (a view, not a copy;
    // the gradient comes back channels-last, which LibTorch's pooling backward needs to avoid
    // two copies per call). "cnn-strided" reaches the same 7x7 grid with a quarter of the
    // second convolution's arithmetic (its outputs on every other row and column).
    const bool strided = options.architecture() == ClassifierArchitecture::kCnnStrided;
    features_->push_back(nn::Conv2d(nn::Conv2dOptions(c, w, 3).padding(1)));
    features_->push_back(nn::BatchNorm2d(w));
    features_->push_back(nn::MaxPool2d(2));
    features_->push_back(nn::ReLU());
    features_->push_back(
        nn::Conv2d(nn::Conv2dOptions(w, 2 * w, 3).stride(strided ? 2 : 1).padding(1)));
    features_->push_back(nn::BatchNorm2d(2 * w));
    if (!strided) features_->push_back(nn::MaxPool2d(2));
    features_->push_back(nn::ReLU());
    features_->push_back(nn::Functional([](const torch::Tensor& x) {
      return x.permute({0, 2, 3, 1}).flatten(1);
    }));
    head_->push_back(nn::Linear(2 * w * (s / 4) * (s / 4), 128));
    head_->push_back(nn::ReLU());
    dropout_ = SeededDropout(0.3);
    head_->push_back(dropout_);
    output_ = nn::Linear(128, options.num_outputs());
  } else {
    features_->push_back(nn::Conv2d(nn::Conv2dOptions(c, w, 3).padding(1).bias(false)));
    features_->push_back(nn::BatchNorm2d(w));
    features_->push_back(nn::ReLU());
    features_->push_back(ResidualBlock(w, w, 1));
    features_->push_back(ResidualBlock(w, 2 * w, 2));
    features_->push_back(ResidualBlock(2 * w, 4 * w, 2));
    features_->push_back(nn::AdaptiveAvgPool2d(1));
    features_->push_back(nn::Flatten());
    output_ = nn::Linear(4 * w, options.num_outputs());
  }
  register_module("features", features_);
  register_module("head", head_);
  register_module("output", output_);
  detail::use_channels_last(*this);
}

void ClassifierImpl::reset_parameters(uint64_t seed) {
  if (!custom_.is_empty()) {
    torch::manual_seed(mix_seed(seed, streams::kClassifierDropout));
    return;
  }
  ganaug::reset_parameters(*this, mix_seed(seed, streams::kClassifierInit));
  if (dropout_) dropout_->reseed(mix_seed(seed, streams::kClassifierDropout));
}

torch::Tensor ClassifierImpl::embed(const torch::Tensor& images) {
  if (!custom_.is_empty()) return custom_.forward(images);
  // In training on the CPU, batch norm, pooling and ReLU run as one pass (the same arithmetic).
  auto x = detail::forward_fusing_batchnorm_pool_relu(features_, channels_last(images));
  return head_->is_empty() ? x : head_->forward(x);
}

torch::Tensor ClassifierImpl::forward(const torch::Tensor& images) {
  if (!custom_.is_empty()) return custom_.forward(images);
  return output_(embed(images));
}

namespace {

// What train_classifier trains on, where each part lives, and how much of it a step takes.
// The data stay where the batches are made: on the training device, so that a step copies
// nothing from the host; on the CPU only where an augmentation hook (OpenCV) needs them there,
// and then each batch is copied once, after augmentation.
struct TrainingSet {
  TrainingSet(const LabeledDataset& real, const LabeledDataset* synthetic,
              const ClassifierOptions& options, const ClassifierHooks& hooks,
              const torch::Device& device)
      : device(device),
        real_device(hooks.augment ? host : device),
        synthetic_device(hooks.augment && hooks.augment_synthetic ? host : device) {
    const int64_t outputs = options.num_outputs();
    const auto labelled = torch::nonzero(real.labels >= 0).flatten();
    real_images = real.images.index_select(0, labelled).to(real_device);
    real_targets = torch::nn::functional::one_hot(real.labels.index_select(0, labelled), outputs)
                       .to(real_device, torch::kFloat32);
    n_real = real_images.size(0);
    GANAUG_CHECK(n_real > 0, "no labelled images to train the classifier on in ", real.source);
    use_synthetic = synthetic && synthetic->size() > 0 && options.synthetic_share() > 0;
    const int64_t batch = options.batch_size();
    if (use_synthetic) {
      synthetic_images = synthetic->images.to(synthetic_device);
      synthetic_targets = synthetic->targets.to(synthetic_device, torch::kFloat32).clone();
      synthetic_per_batch = std::max<int64_t>(
          1, std::llround(batch * options.synthetic_share() / (1 - options.synthetic_share())));
    }
    // The unlabeled pool: images labelled -1, kept on the host for the augmenters.
    const auto pool_index = torch::nonzero(real.labels < 0).flatten();
    use_pool = options.pool_weight() > 0 && pool_index.numel() > 0;
    if (use_pool) {
      pool_images = real.images.index_select(0, pool_index).to(host);
      pool_per_batch = std::max<int64_t>(1, std::llround(batch * options.pool_ratio()));
    }
  }

  const torch::Device host{torch::kCPU};
  torch::Device device, real_device, synthetic_device;
  torch::Tensor real_images, real_targets;            // labelled real images, one-hot targets
  torch::Tensor synthetic_images, synthetic_targets;  // soft targets
  torch::Tensor pool_images;                          // on the host
  int64_t n_real = 0, synthetic_per_batch = 0, pool_per_batch = 0;
  bool use_synthetic = false, use_pool = false;
};

// The random draws of one step, made in step order: its labelled images, its synthetic and
// pool picks, and the seed its augmentation hooks get.
struct StepPlan {
  torch::Tensor index, synthetic_pick, pool_pick;
  uint64_t batch_seed = 0;
  bool synthetic = false;
};

// One step's inputs: the labelled batch (the real images, augmented, then the synthetic ones)
// with its targets and loss weights, and the pool's weak and strong views.
struct Batch {
  torch::Tensor images, targets, weights, weak, strong;
  int64_t n_real = 0;
  bool synthetic = false;
};

// Makes the steps' plans in step order: each epoch's batch order and synthetic picks from
// generators seeded by (seed, epoch), on the devices their data live on; its pool picks from a
// third. Dynamic argmax leaves the synthetic images out of the first warmup_steps steps.
class StepPlanner {
 public:
  StepPlanner(const TrainingSet& set, const ClassifierOptions& options, int64_t warmup_steps)
      : set_(set),
        seed_(options.seed()),
        batch_(options.batch_size()),
        warmup_steps_(warmup_steps),
        per_epoch_((set.n_real + batch_ - 1) / batch_) {}

  int64_t steps_per_epoch() const { return per_epoch_; }

  StepPlan plan(int64_t step) {
    const int64_t epoch = step / per_epoch_;
    const int64_t first = step % per_epoch_ * batch_;
    if (first == 0) start_epoch(epoch);
    StepPlan p;
    p.batch_seed = mix_seed(seed_, static_cast<uint64_t>(epoch * 100003 + first));
    p.index = order_.slice(0, first, std::min(first + batch_, set_.n_real));
    p.synthetic = set_.use_synthetic && step >= warmup_steps_;
    const auto long_type = torch::TensorOptions().dtype(torch::kInt64);
    if (p.synthetic)
      p.synthetic_pick = torch::randint(set_.synthetic_images.size(0), {set_.synthetic_per_batch},
                                        *synthetic_rng_, long_type.device(set_.synthetic_device));
    if (set_.use_pool)
      p.pool_pick = torch::randint(set_.pool_images.size(0), {set_.pool_per_batch}, *pool_rng_,
                                   long_type.device(set_.host));
    return p;
  }

 private:
  void start_epoch(int64_t epoch) {
    const uint64_t epoch_seed = mix_seed(seed_, static_cast<uint64_t>(epoch));
    rng_ = make_generator(set_.real_device, epoch_seed);
    synthetic_rng_ = set_.synthetic_device == set_.real_device
                         ? *rng_
                         : make_generator(set_.synthetic_device, ~epoch_seed);
    pool_rng_ = make_generator(set_.host, mix_seed(epoch_seed, streams::kClassifierPoolDraw));
    order_ = torch::randperm(set_.n_real, *rng_,
                             torch::TensorOptions().dtype(torch::kInt64).device(set_.real_device));
  }

  const TrainingSet& set_;
  uint64_t seed_;
  int64_t batch_, warmup_steps_, per_epoch_;
  std::optional<at::Generator> rng_, synthetic_rng_, pool_rng_;
  torch::Tensor order_;
};

// A step's inputs from its plan: the hooks' augmentation on the host, then one copy each to
// the training device. Reads only `set` and the plan, so it may run on another thread.
Batch build_step(const TrainingSet& set, const StepPlan& plan, double synthetic_weight,
                 const ClassifierHooks& hooks) {
  const auto float_on_device = torch::TensorOptions().dtype(torch::kFloat32).device(set.device);
  Batch b;
  b.images = set.real_images.index_select(0, plan.index);
  if (hooks.augment) b.images = hooks.augment(b.images, plan.batch_seed).to(set.device);
  b.targets = set.real_targets.index_select(0, plan.index).to(set.device);
  b.n_real = b.images.size(0);
  b.weights = torch::ones({b.n_real}, float_on_device);
  b.synthetic = plan.synthetic;
  if (plan.synthetic) {
    auto extra = set.synthetic_images.index_select(0, plan.synthetic_pick);
    if (hooks.augment && hooks.augment_synthetic) extra = hooks.augment(extra, plan.batch_seed + 1);
    b.images = torch::cat({b.images, extra.to(set.device)});
    b.targets = torch::cat(
        {b.targets, set.synthetic_targets.index_select(0, plan.synthetic_pick).to(set.device)});
    b.weights = torch::cat(
        {b.weights, torch::full({set.synthetic_per_batch}, synthetic_weight, float_on_device)});
  }
  if (set.use_pool) {
    const auto unlabeled = set.pool_images.index_select(0, plan.pool_pick);
    const auto& weak_view = hooks.weak_augment ? hooks.weak_augment : hooks.augment;
    b.weak = (weak_view ? weak_view(unlabeled, plan.batch_seed + 2) : unlabeled).to(set.device);
    b.strong = hooks.strong_augment(unlabeled, plan.batch_seed + 3).to(set.device);
  }
  return b;
}

// Prepares each step on the training thread when it is taken (no feeder, or prefetch 0).
class InlineFeeder final : public StepFeeder {
 public:
  void start(int64_t, Task plan, Task build) override {
    plan_ = std::move(plan);
    build_ = std::move(build);
  }
  void take(int64_t step) override {
    plan_(step);
    build_(step);
  }

 private:
  Task plan_, build_;
};

// The batch's weighted cross-entropy: real and synthetic images in separate forward passes
// when asked (batch statistics of a single image mean little: such a part goes through with
// the other); under dynamic argmax the synthetic targets are the network's own predictions.
torch::Tensor labelled_loss(Classifier& model, Batch& b, const ClassifierOptions& options,
                            int64_t num_classes, int64_t step, const ClassifierHooks& hooks) {
  torch::Tensor logits;
  if (b.synthetic && options.separate_synthetic_batches() && b.n_real >= 2 &&
      b.images.size(0) - b.n_real >= 2) {
    logits =
        torch::cat({model(b.images.slice(0, 0, b.n_real)), model(b.images.slice(0, b.n_real))});
  } else {
    logits = model(b.images);
  }
  if (b.synthetic && options.dynamic_argmax()) {
    // The paper's dynamic argmax: each synthetic image is trained towards the network's own
    // current prediction over the real classes, from this very forward pass (detached).
    const auto own = logits.slice(0, b.n_real).detach().slice(1, 0, num_classes).argmax(1);
    b.targets = torch::cat(
        {b.targets.slice(0, 0, b.n_real),
         torch::nn::functional::one_hot(own, options.num_outputs()).to(torch::kFloat32)});
  }
  if (b.synthetic && hooks.on_synthetic_batch)
    hooks.on_synthetic_batch(step, logits.slice(0, b.n_real).detach(),
                             b.targets.slice(0, b.n_real));
  const auto losses = soft_cross_entropy(logits, b.targets);
  return (losses * b.weights).sum() / static_cast<double>(b.images.size(0));
}

// What the pool's loss keeps from step to step.
struct PoolDraws {
  torch::Tensor confident;                     // the epoch's summed share of targets
  detail::DistributionAlignment* alignment{};  // when the targets are aligned
};

// FixMatch's consistency loss on the step's pool images: the weak view's confident prediction
// is the strong view's hard target. Adds the step's share of confident images to
// draws.confident.
torch::Tensor pool_loss(Classifier& model, const Batch& b, const ClassifierOptions& options,
                        int64_t num_classes, PoolDraws& draws) {
  torch::Tensor guess;
  {
    torch::NoGradGuard no_grad;
    guess = torch::softmax(model(b.weak).slice(1, 0, num_classes), 1);
    if (draws.alignment) guess = draws.alignment->align(guess);
  }
  const auto [probability, predicted] = guess.max(1);
  const auto mask = probability.ge(options.pool_threshold()).to(torch::kFloat32);
  const auto targets =
      torch::nn::functional::one_hot(predicted, options.num_outputs()).to(torch::kFloat32);
  draws.confident.add_(mask.mean());
  return (soft_cross_entropy(model(b.strong), targets) * mask).mean();
}

void check_training_inputs(const LabeledDataset& real, const LabeledDataset* synthetic,
                           const ClassifierOptions& options, const ClassifierHooks& hooks) {
  options.validate();
  real.validate();
  const int64_t outputs = options.num_outputs();
  const int64_t k = real.num_classes();
  GANAUG_CHECK(outputs == k || outputs == k + 1, "a classifier for ", k, " classes needs ", k,
               " or ", k + 1, " outputs, not ", outputs);
  GANAUG_CHECK(real.channels() == options.channels() && real.height() == options.image_size() &&
                   real.width() == options.image_size(),
               "the classifier was set up for ", options.channels(), "x", options.image_size(), "x",
               options.image_size(), " images but ", real.source, " holds ", real.channels(), "x",
               real.height(), "x", real.width());
  if (synthetic && synthetic->size() > 0 && options.synthetic_share() > 0) {
    GANAUG_CHECK(synthetic->targets.defined() && synthetic->targets.size(1) == outputs,
                 "synthetic images need soft targets with ", outputs, " entries");
    GANAUG_CHECK(synthetic->images.sizes().slice(1) == real.images.sizes().slice(1),
                 "synthetic and real images differ in shape");
  }
  GANAUG_CHECK(options.pool_weight() <= 0 || (real.labels < 0).sum().item<int64_t>() == 0 ||
                   hooks.strong_augment,
               "consistency training on an unlabeled pool needs ClassifierHooks::strong_augment");
}

// The optimizer options ask for, over the model's parameters.
std::unique_ptr<detail::FlatOptimizer> make_optimizer(Classifier& model,
                                                      const ClassifierOptions& options) {
  // A custom network's frozen parameters (no gradient asked) stay as they are.
  std::vector<torch::Tensor> parameters;
  for (const auto& p : model->parameters())
    if (p.requires_grad()) parameters.push_back(p);
  if (options.optimizer() == ClassifierOptimizer::kAdam)
    return std::make_unique<detail::FlatAdam>(parameters, options.weight_decay());
  // Decay the convolution and linear weights (2-D and up), not biases or batch norm (1-D).
  std::vector<bool> decayed;
  for (const auto& p : parameters) decayed.push_back(p.dim() > 1);
  return std::make_unique<detail::FlatSgd>(parameters, decayed, options.weight_decay(),
                                           options.momentum(), true);
}

// The pool's targets aligned to the labeled images' class shares, when asked.
std::unique_ptr<detail::DistributionAlignment> make_alignment(const TrainingSet& set,
                                                              const ClassifierOptions& options,
                                                              int64_t num_classes) {
  if (!set.use_pool || !options.distribution_alignment()) return nullptr;
  const auto shares = set.real_targets.slice(1, 0, num_classes).mean(0).to(set.device);
  return std::make_unique<detail::DistributionAlignment>(shares);
}

// One call of train_classifier: the model, its optimizer and weight average, the data, and
// the steps as the feeder prepares them (step i's plan and batch in slot i % slots).
class TrainingRun {
 public:
  TrainingRun(const LabeledDataset& real, const LabeledDataset* synthetic,
              const ClassifierOptions& options, const ClassifierHooks& hooks)
      : options_(options),
        hooks_(hooks),
        k_(real.num_classes()),
        device_(select_device(options.device())),
        model_(options),
        set_(real, synthetic, options, hooks, device_),
        dynamic_(set_.use_synthetic && options.dynamic_argmax()),
        synthetic_weight_(dynamic_ ? options.dynamic_weight() : options.synthetic_weight()),
        total_steps_((set_.n_real + options.batch_size() - 1) / options.batch_size() *
                     options.epochs()),
        // Dynamic argmax trains on the real images alone for the first warmup_share of the steps.
        planner_(set_, options,
                 dynamic_ ? static_cast<int64_t>(std::ceil(options.warmup_share() *
                                                           static_cast<double>(total_steps_)))
                          : 0),
        ramp_steps_(options.pool_ramp_share() * static_cast<double>(total_steps_)) {
    model_->reset_parameters(options.seed());
    model_->to(device_);
    optimizer_ = make_optimizer(model_, options);
    if (options.ema_decay() > 0) average_.emplace(optimizer_->values(), options.ema_decay());
    alignment_ = make_alignment(set_, options, k_);
  }

  Classifier train() {
    const int64_t ahead = hooks_.feeder ? options_.prefetch() : 0;
    plans_.resize(static_cast<size_t>(ahead + 1));
    batches_.resize(plans_.size());
    std::unique_ptr<StepFeeder> feeder;
    if (ahead > 0) feeder = hooks_.feeder(ahead);
    if (!feeder) feeder = std::make_unique<InlineFeeder>();
    feeder->start(
        total_steps_, [this](int64_t step) { plans_[slot(step)] = planner_.plan(step); },
        [this](int64_t step) {
          batches_[slot(step)] = build_step(set_, plans_[slot(step)], synthetic_weight_, hooks_);
        });
    const auto start = std::chrono::steady_clock::now();
    for (int64_t epoch = 0; epoch < options_.epochs(); ++epoch) {
      auto progress = train_epoch(epoch, *feeder);
      progress.seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (hooks_.on_epoch) hooks_.on_epoch(progress);
    }
    feeder.reset();
    return finish();
  }

 private:
  size_t slot(int64_t step) const { return static_cast<size_t>(step) % plans_.size(); }

  ClassifierProgress train_epoch(int64_t epoch, StepFeeder& feeder) {
    model_->train();
    // Summed on the device and read once per epoch.
    const auto float64_on_device = torch::TensorOptions().dtype(torch::kFloat64).device(device_);
    auto loss_sum = torch::zeros({}, float64_on_device);
    PoolDraws pool{torch::zeros({}, float64_on_device), alignment_.get()};
    const int64_t batches = planner_.steps_per_epoch();
    for (int64_t i = 0; i < batches; ++i, ++step_) {
      if (hooks_.should_stop && hooks_.should_stop())
        throw Interrupted("classifier training interrupted");
      feeder.take(step_);
      auto& b = batches_[slot(step_)];
      auto loss = labelled_loss(model_, b, options_, k_, step_, hooks_);
      if (set_.use_pool) {
        const double ramp =
            ramp_steps_ > 0 ? std::min(1.0, static_cast<double>(step_) / ramp_steps_) : 1.0;
        loss = loss + options_.pool_weight() * ramp * pool_loss(model_, b, options_, k_, pool);
      }
      optimizer_->zero_grad();
      loss.backward();
      optimizer_->step(scheduled_learning_rate(options_, step_, total_steps_));
      if (average_) average_->update(optimizer_->values());
      loss_sum.add_(loss.detach());
    }
    ClassifierProgress progress;
    progress.epoch = epoch + 1;
    progress.epochs = options_.epochs();
    progress.loss = loss_sum.item<double>() / static_cast<double>(batches);
    GANAUG_CHECK(std::isfinite(progress.loss), "classifier training diverged in epoch ", epoch + 1,
                 "; lower the learning rate");
    if (set_.use_pool) progress.pool_confident = pool.confident.item<double>() / batches;
    return progress;
  }

  Classifier finish();

  const ClassifierOptions& options_;
  const ClassifierHooks& hooks_;
  int64_t k_;
  torch::Device device_;
  Classifier model_;
  std::unique_ptr<detail::FlatOptimizer> optimizer_;
  std::optional<detail::WeightAverage> average_;
  const TrainingSet set_;
  std::unique_ptr<detail::DistributionAlignment> alignment_;
  bool dynamic_;
  double synthetic_weight_;
  int64_t total_steps_;
  StepPlanner planner_;
  double ramp_steps_;
  std::vector<StepPlan> plans_;
  std::vector<Batch> batches_;
  int64_t step_ = 0;
};

// The trained model: the weight average when kept, batch norm recalibrated when asked.
Classifier TrainingRun::finish() {
  if (average_) {
    torch::NoGradGuard no_grad;
    optimizer_->values().copy_(average_->average());
  }
  optimizer_->release();
  if (options_.recalibrate_batchnorm()) recalibrate_batchnorm(model_, set_.real_images);
  model_->eval();
  return model_;
}

}  // namespace

Classifier train_classifier(const LabeledDataset& real, const LabeledDataset* synthetic,
                            const ClassifierOptions& options, const ClassifierHooks& hooks) {
  check_training_inputs(real, synthetic, options, hooks);
  if (options.threads() > 0) configure_threads(options.threads());
  return TrainingRun(real, synthetic, options, hooks).train();
}

void recalibrate_batchnorm(Classifier& classifier, const torch::Tensor& images,
                           int64_t batch_size) {
  GANAUG_CHECK(images.size(0) > 0 && batch_size > 0,
               "batch-norm recalibration needs images and a positive batch size");
  const auto device = classifier->parameters().front().device();
  // Batch `index`, or false past the last (one image's statistics would skew the average).
  const auto forward_batch = [&](int64_t index) {
    const int64_t first = index * batch_size;
    const int64_t last = std::min(first + batch_size, images.size(0));
    if (first >= images.size(0) || (last - first < 2 && first > 0)) return false;
    classifier(images.slice(0, first, last).to(device));
    return true;
  };
  detail::reestimate_batchnorm(*classifier, [&] {
    for (int64_t i = 0; forward_batch(i); ++i) {
    }
  });
  for (auto& child : classifier->modules(/*include_self=*/false))
    if (auto* script = child->as<detail::ScriptNetwork>())
      detail::reestimate_script_batchnorm(script->script(), forward_batch);
  classifier->eval();
}

namespace {

// What a classifier file must match: the network and the shapes it was built for.
std::vector<int64_t> classifier_shape(const ClassifierOptions& o) {
  return {o.network_width(), o.num_outputs(), o.image_size(), o.channels()};
}

std::string describe_shape(const std::string& network, const std::vector<int64_t>& shape) {
  return network + " at width " + std::to_string(shape[0]) + " with " + std::to_string(shape[1]) +
         " outputs for " + std::to_string(shape[3]) + "x" + std::to_string(shape[2]) + "x" +
         std::to_string(shape[2]) + " images";
}

}  // namespace

void save_classifier(const Classifier& classifier, const std::string& path) {
  const auto& o = classifier->options;
  torch::serialize::OutputArchive archive;
  archive.write("network", c10::IValue(to_string(o.network())));
  archive.write("shape", c10::IValue(c10::List<int64_t>(classifier_shape(o))));
  torch::serialize::OutputArchive weights;
  classifier->save(weights);
  archive.write("classifier", weights);
  detail::write_checkpoint_file(archive, path, detail::kClassifierFile);
}

void load_classifier(Classifier& classifier, const std::string& path) {
  const auto device = classifier->parameters().front().device();
  detail::CheckpointReader reader(path, device, detail::kClassifierFile);
  const auto& o = classifier->options;
  const auto network = reader.text("network");
  const auto stored = reader.value("shape");
  GANAUG_CHECK(stored.isIntList(), "classifier file ", path,
               " is damaged: its shape is not a list");
  const auto shape = stored.toIntList().vec();
  GANAUG_CHECK(shape.size() == 4, "classifier file ", path, " is damaged: its shape has ",
               shape.size(), " entries, not 4");
  const auto asked = to_string(o.network());
  GANAUG_CHECK(network == asked && shape == classifier_shape(o), "classifier file ", path,
               " holds a ", describe_shape(network, shape), ", not the ",
               describe_shape(asked, classifier_shape(o)), " asked for");
  reader.load("classifier", *classifier);
  reader.check_finite_weights(*classifier, "classifier");
  classifier->to(device);
  classifier->eval();
}

void save_classifier_script(const Classifier& classifier, const std::string& path) {
  detail::ScriptNetworkImpl* script = nullptr;
  for (auto& child : classifier->modules(/*include_self=*/false))
    if (auto* found = child->as<detail::ScriptNetwork>()) script = found;
  GANAUG_CHECK(script, "only a classifier built on a TorchScript module saves as TorchScript; ",
               path, " not written");
  // A copy on the CPU: the file loads in Python on a machine without a GPU.
  auto copy = script->script().deepcopy();
  copy.to(torch::kCPU);
  std::ostringstream bytes;
  copy.save(bytes);
  const auto text = bytes.str();
  write_file_atomic(path, text.data(), text.size());
}

double scheduled_learning_rate(const ClassifierOptions& options, int64_t step,
                               int64_t total_steps) {
  if (options.lr_schedule() != LrSchedule::kCosine || total_steps <= 0)
    return options.learning_rate();
  const double progress = std::min(1.0, static_cast<double>(step) / total_steps);
  return options.learning_rate() * 0.5 * (1 + std::cos(std::acos(-1.0) * progress));
}

torch::Tensor predict_probabilities(Classifier& classifier, const torch::Tensor& images,
                                    int64_t num_classes, int64_t batch_size) {
  GANAUG_CHECK(num_classes <= classifier->options.num_outputs(), "asked for ", num_classes,
               " classes from a classifier with ", classifier->options.num_outputs(), " outputs");
  torch::NoGradGuard no_grad;
  classifier->eval();
  const auto device = classifier->parameters().front().device();
  auto out = torch::empty({images.size(0), num_classes});
  for (int64_t first = 0; first < images.size(0); first += batch_size) {
    const int64_t last = std::min(first + batch_size, images.size(0));
    const auto logits =
        classifier(images.slice(0, first, last).to(device)).slice(1, 0, num_classes);
    out.slice(0, first, last).copy_(torch::softmax(logits, 1).to(torch::kCPU));
  }
  return out;
}

}  // namespace ganaug
