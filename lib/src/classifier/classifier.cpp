#include "ganaug/classifier.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <sstream>

#include "classifier/classifier_fields.hpp"
#include "gan/gan_checkpoint.hpp"
#include "ganaug/choices.hpp"
#include "ganaug/error.hpp"
#include "ganaug/file_io.hpp"
#include "ganaug/gan.hpp"
#include "ganaug/models.hpp"
#include "ganaug/runtime.hpp"
#include "ganaug/schemes.hpp"
#include "models/script_network.hpp"
#include "runtime/memory_format.hpp"
#include "training/batchnorm_pool.hpp"
#include "training/batchnorm_stats.hpp"
#include "training/flat_optimizer.hpp"

namespace ganaug {

namespace nn = torch::nn;

void ClassifierOptions::validate(const FieldNames& names) const {
  const auto name = [&](const char* field) { return names ? names(field) : std::string(field); };
  GANAUG_CHECK(num_outputs() >= 2, "a classifier needs at least 2 outputs, got ", num_outputs());
  GANAUG_CHECK(image_size() >= 8 && image_size() % 4 == 0, "classifier image size ", image_size(),
               " must be a multiple of 4, at least 8");
  GANAUG_CHECK(channels() == 1 || channels() == 3, "images must have 1 or 3 channels");
  detail::check_classifier_ranges(*this, name);
  GANAUG_CHECK(!pool_one_pass() || pool_target_dropout(), name("pool_one_pass"),
               " makes the pool's targets in the training pass itself, with its dropout: it "
               "cannot go with targets made without dropout (",
               name("pool_target_dropout"), ")");
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

int64_t ClassifierOptions::prefetch_steps(const torch::Device& device) const {
  if (prefetch() != kAutoPrefetch) return prefetch();
  if (device.is_cuda()) return 2;
  return torch::get_num_threads() < hardware_threads() ? 2 : 0;
}

double ClassifierOptions::learning_rate() const {
  if (lr() > 0) return lr();
  return optimizer() == ClassifierOptimizer::kSgd ? 0.03 : 1e-3;
}

namespace {
const Choices<ClassifierOptimizer>& optimizers() {
  static const Choices<ClassifierOptimizer> choices(
      "optimizer", {{ClassifierOptimizer::kAdam, "adam"}, {ClassifierOptimizer::kSgd, "sgd"}});
  return choices;
}
const Choices<LrSchedule>& lr_schedules() {
  static const Choices<LrSchedule> choices("learning-rate schedule",
                                           {{LrSchedule::kCosine, "cosine"},
                                            {LrSchedule::kConstant, "constant"},
                                            {LrSchedule::kFixMatchCosine, "fixmatch-cosine"}});
  return choices;
}
}  // namespace

std::string to_string(ClassifierOptimizer optimizer) { return optimizers().name(optimizer); }

ClassifierOptions pool_recipe(ClassifierOptions options) {
  return options.optimizer(ClassifierOptimizer::kSgd)
      .weight_decay(5e-4)
      .ema_decay(0.99)
      .epochs(450)
      .pool_ratio(3);
}

ClassifierOptimizer parse_classifier_optimizer(const std::string& name) {
  return optimizers().parse(name);
}

namespace {
const Choices<ClassifierArchitecture>& architectures() {
  static const Choices<ClassifierArchitecture> choices(
      "classifier",
      {{ClassifierArchitecture::kAuto, "auto"},
       {ClassifierArchitecture::kCnnStrided, "cnn-strided"},
       {ClassifierArchitecture::kCnn, "cnn"},
       {ClassifierArchitecture::kResnet, "resnet"},
       {ClassifierArchitecture::kCustom, "custom"}},
      "a TorchScript file", {ClassifierArchitecture::kCustom});
  return choices;
}
}  // namespace

std::string to_string(ClassifierArchitecture architecture) {
  return architectures().name(architecture);
}

ClassifierArchitecture parse_classifier_architecture(const std::string& name) {
  return architectures().parse(name);
}

std::string to_string(LrSchedule schedule) { return lr_schedules().name(schedule); }

LrSchedule parse_lr_schedule(const std::string& name) { return lr_schedules().parse(name); }

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

std::string custom_name(const ClassifierOptions& o) {
  return o.custom().name.empty() ? std::string("(custom)") : o.custom().name;
}

// A pass of the user's network on its own copy of `images`: a network that changes its input in
// place (`x -= 0.5`) would otherwise change ganaug's test set, pool or generated images. An
// error inside it is the user's network's, and named so: its first line, the whole of it (a
// LibTorch backtrace) in the source-location tail that the tools print only with --verbose.
torch::Tensor forward_custom(torch::nn::AnyModule& network, const ClassifierOptions& o,
                             const torch::Tensor& images) {
  try {
    return network.forward(images.clone());
  } catch (const Error&) {
    throw;  // ganaug's own (a stop request included)
  } catch (const std::exception& e) {
    std::string whole = e.what();  // the tail's brackets must balance
    std::replace(whole.begin(), whole.end(), '[', '(');
    std::replace(whole.begin(), whole.end(), ']', ')');
    detail::throw_error(__FILE__, __LINE__, whole.c_str(),
                        detail::concat("the classifier ", custom_name(o), " failed on a batch of ",
                                       images.size(0), " images: ", first_line(e)));
  }
}

// The logits of one probe pass: float32, one row per image and one column per output, finite;
// in training, carrying a gradient that reaches the parameters.
void check_probe_logits(const torch::Tensor& logits, const ClassifierOptions& o, int64_t n,
                        const char* mode) {
  const auto name = custom_name(o);
  const auto outputs = o.num_outputs();
  GANAUG_CHECK(logits.scalar_type() == torch::kFloat32, "the classifier ", name, " gives ",
               logits.scalar_type(), " logits in ", mode, " mode; ganaug trains on float32 ones");
  GANAUG_CHECK(logits.dim() == 2 && logits.size(0) == n && logits.size(1) == outputs,
               "the classifier ", name, " gives ", logits.sizes(), " logits for ", n, " images in ",
               mode, " mode; expected ", n, " x ", outputs,
               " (one logit per class; the newclass scheme needs one more, for the synthetic "
               "images' class)");
  GANAUG_CHECK(torch::isfinite(logits).all().item<bool>(), "the classifier ", name,
               " gives NaN or infinite logits for images in [-1, 1] in ", mode, " mode");
}

// Refuses a custom network that does not fit `o`, before anything trains, naming it and what
// was expected: a probe batch of 3 images in evaluation mode without autograd, then one of 5 in
// training mode with a backward pass (so that an output that depends on the batch size, NaN
// only in training, detached logits or an in-place operation that breaks backward are found
// now, not after a GAN has trained). The network's buffers (batch-norm statistics) and
// gradients are left as they were.
void check_custom_network(torch::nn::Module& module, torch::nn::AnyModule& network,
                          const ClassifierOptions& o) {
  const auto name = custom_name(o);
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
  // The logits of n random images in [-1, 1], checked.
  const auto probe = [&](int64_t n, const char* mode) -> torch::Tensor {
    torch::Tensor logits;
    try {
      logits = network.forward(
          torch::rand({n, c, s, s}, generator, torch::dtype(torch::kFloat32)) * 2 - 1);
    } catch (const std::exception& e) {
      GANAUG_FAIL("the classifier ", name, " does not take ", n, " x ", c, " x ", s, " x ", s,
                  " images (N x C x H x W, values in [-1, 1]) in ", mode, " mode: ", first_line(e));
    }
    check_probe_logits(logits, o, n, mode);
    return logits;
  };
  std::vector<torch::Tensor> buffers;
  for (const auto& b : module.buffers()) buffers.push_back(b.clone());
  {
    torch::NoGradGuard no_grad;
    module.eval();
    probe(3, "evaluation");
  }
  module.train();
  torch::AutoGradMode grad(true);  // also where the caller builds the classifier without autograd
  const auto logits = probe(5, "training");
  GANAUG_CHECK(logits.requires_grad(), "the classifier ", name,
               " gives logits that carry no gradient in training mode (detached, or computed "
               "without the parameters): it cannot be trained");
  try {
    logits.logsumexp(1).sum().backward();
  } catch (const std::exception& e) {
    GANAUG_FAIL("the classifier ", name,
                " cannot be trained: the backward pass through it fails (an in-place operation "
                "on a tensor autograd needs?): ",
                first_line(e));
  }
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters()) p.mutable_grad() = torch::Tensor();
  auto kept = buffers.begin();
  for (auto& b : module.buffers()) b.copy_(*kept++);
}

}  // namespace

SeededDropoutImpl::SeededDropoutImpl(double p) : p_(p), generator_(make_cpu_generator(0)) {
  GANAUG_CHECK(p >= 0 && p < 1, "the dropout rate must lie in [0, 1), got ", p);
}

void SeededDropoutImpl::reseed(uint64_t seed) {
  seed_ = seed;
  generator_ = make_cpu_generator(seed);
}

void SeededDropoutImpl::draw_from(std::optional<at::Generator> generator) {
  borrowed_ = std::move(generator);
}

torch::Tensor SeededDropoutImpl::forward(const torch::Tensor& x) {
  if (!is_training() || p_ == 0) return x;
  if (generator_.device() != x.device()) generator_ = make_generator(x.device(), seed_);
  auto& generator = borrowed_ ? *borrowed_ : generator_;
  // The mask is drawn where x lives and scaled so that the expected activation stays the same
  // (inverted dropout, as torch::nn::Dropout).
  const auto keep =
      torch::empty(x.sizes(), x.options().dtype(torch::kFloat32)).bernoulli_(1 - p_, generator);
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
  if (!custom_.is_empty()) return forward_custom(custom_, options, images);
  // In training on the CPU, batch norm, pooling and ReLU run as one pass (the same arithmetic).
  auto x = detail::forward_fusing_batchnorm_pool_relu(features_, channels_last(images));
  return head_->is_empty() ? x : head_->forward(x);
}

torch::Tensor ClassifierImpl::forward(const torch::Tensor& images) {
  if (!custom_.is_empty()) return forward_custom(custom_, options, images);
  return output_(embed(images));
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
  if (options.lr_schedule() == LrSchedule::kConstant || total_steps <= 0)
    return options.learning_rate();
  const double progress = std::min(1.0, static_cast<double>(step) / total_steps);
  const double pi = std::acos(-1.0);
  if (options.lr_schedule() == LrSchedule::kFixMatchCosine)
    return options.learning_rate() * std::cos(7 * pi * progress / 16);
  return options.learning_rate() * 0.5 * (1 + std::cos(pi * progress));
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
