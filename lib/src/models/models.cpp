#include "ganaug/models.hpp"

#include <torch/torch.h>

#include <set>
#include <vector>

#include "ganaug/error.hpp"
#include "ganaug/runtime.hpp"
#include "runtime/memory_format.hpp"

namespace ganaug {

namespace F = torch::nn::functional;

using detail::channels_last;
using detail::use_channels_last;

bool gan_image_size_supported(int64_t size) {
  return (size >= 16 && size <= 64 && size % 4 == 0) || (size > 64 && size <= 128 && size % 8 == 0);
}

const char* const kGanImageSizes = "a multiple of 4 from 16 to 64 or of 8 from 72 to 128";

void check_model_shape(int64_t num_classes, int64_t image_size, int64_t channels) {
  GANAUG_CHECK(num_classes >= 1 && num_classes <= 100000,
               "a conditional GAN needs from 1 to 100000 classes, got ", num_classes);
  GANAUG_CHECK(gan_image_size_supported(image_size), "image size ", image_size,
               " is not supported: use ", kGanImageSizes, " (resize with --image-size)");
  GANAUG_CHECK(channels == 1 || channels == 3, "images must have 1 or 3 channels, got ", channels);
}

void reset_parameters(torch::nn::Module& model, uint64_t seed) {
  auto generator = make_cpu_generator(seed);
  torch::NoGradGuard no_grad;
  std::vector<torch::nn::Module*> modules{&model};
  for (const auto& child : model.modules(/*include_self=*/false)) modules.push_back(child.get());
  std::set<torch::nn::Module*> constant;  // the scale and shift tables of conditional batch norm
  for (auto* module : modules) {
    if (constant.count(module)) continue;
    if (auto* cbn = dynamic_cast<ConditionalBatchNormImpl*>(module)) {
      for (const auto& child : cbn->modules(/*include_self=*/false)) constant.insert(child.get());
    } else if (auto* linear = dynamic_cast<torch::nn::LinearImpl*>(module)) {
      detail::reset_uniform(linear->weight, linear->bias, generator);
    } else if (auto* conv = dynamic_cast<torch::nn::Conv2dImpl*>(module)) {
      detail::reset_uniform(conv->weight, conv->bias, generator);
    } else if (auto* embedding = dynamic_cast<torch::nn::EmbeddingImpl*>(module)) {
      embedding->weight.copy_(torch::randn(embedding->weight.sizes(), generator));
    } else if (auto* sn_linear = dynamic_cast<SNLinearImpl*>(module)) {
      sn_linear->reset_parameters(generator);
    } else if (auto* sn_conv = dynamic_cast<SNConv2dImpl*>(module)) {
      sn_conv->reset_parameters(generator);
    } else if (dynamic_cast<torch::nn::BatchNorm2dImpl*>(module) == nullptr) {
      GANAUG_CHECK(module->named_parameters(/*recurse=*/false).is_empty(),
                   "internal error: reset_parameters does not know the layer ", module->name(),
                   ", which has parameters");
    }
  }
}

int64_t parameter_count(torch::nn::Module& module) {
  int64_t count = 0;
  for (const auto& p : module.parameters()) count += p.numel();
  return count;
}

ConditionalBatchNormImpl::ConditionalBatchNormImpl(int64_t features, int64_t num_classes) {
  norm = register_module(
      "norm", torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(features).affine(false)));
  scale = register_module("scale", torch::nn::Embedding(num_classes, features));
  shift = register_module("shift", torch::nn::Embedding(num_classes, features));
  torch::NoGradGuard no_grad;
  scale->weight.fill_(1.0);
  shift->weight.zero_();
}

torch::Tensor ConditionalBatchNormImpl::forward(const torch::Tensor& x,
                                                const torch::Tensor& classes) {
  const int64_t n = x.size(0), c = x.size(1);
  auto gamma = scale(classes);
  auto beta = shift(classes);
  if (!is_training()) {
    // Sampling: fold the running statistics into the per-image scale and shift, so the whole
    // layer is one pass over the activations instead of three (normalise, scale, shift).
    const auto& o = norm->options;
    const auto inverse_std = (norm->running_var + o.eps()).rsqrt();
    gamma = gamma * inverse_std;
    beta = beta - norm->running_mean * gamma;
    return torch::addcmul(beta.view({n, c, 1, 1}), x, gamma.view({n, c, 1, 1}));
  }
  return torch::addcmul(beta.view({n, c, 1, 1}), norm(x), gamma.view({n, c, 1, 1}));
}

int64_t generator_extra_stages(int64_t image_size) {
  int64_t stages = 0;
  for (int64_t base = image_size / 4; base > 16; base /= 2) ++stages;
  return stages;
}

int64_t generator_base_size(int64_t image_size) {
  return image_size / 4 >> generator_extra_stages(image_size);
}

GeneratorImpl::GeneratorImpl(const GeneratorOptions& options_) : options(options_) {
  check_model_shape(options.num_classes(), options.image_size(), options.channels());
  GANAUG_CHECK(options.latent_dim() >= 1 && options.width() >= 4,
               "generator latent_dim and width must be positive (width at least 4)");
  const int64_t base = generator_base_size(options.image_size());
  const int64_t w = options.width();
  const int64_t k = options.num_classes();
  class_embedding_ =
      register_module("class_embedding", torch::nn::Embedding(k, options.latent_dim()));
  project_ =
      register_module("project", torch::nn::Linear(2 * options.latent_dim(), 2 * w * base * base));
  norm0_ = register_module("norm0", ConditionalBatchNorm(2 * w, k));
  // Both upsamplings are sub-pixel convolutions (a convolution to 4x the channels at the low
  // resolution, then pixel_shuffle): the same FLOPs as nearest upsampling + convolution, but no
  // full-resolution wide tensor, whose memory traffic dominated the step time on CPU.
  conv1_ = register_module("conv1",
                           torch::nn::Conv2d(torch::nn::Conv2dOptions(2 * w, 4 * w, 3).padding(1)));
  norm1_ = register_module("norm1", ConditionalBatchNorm(w, k));
  conv2_ =
      register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(w, w, 3).padding(1)));
  norm2_ = register_module("norm2", ConditionalBatchNorm(w, k));
  // Above 64 pixels, one more sub-pixel stage per doubling, so that the projection stays at 16
  // x 16 at most (none up to 64: those generators are as they were).
  for (int64_t i = 0; i < generator_extra_stages(options.image_size()); ++i) {
    const auto n = std::to_string(3 + i);
    up_convs_.push_back(register_module(
        "conv" + n, torch::nn::Conv2d(torch::nn::Conv2dOptions(w, 4 * w, 3).padding(1))));
    up_norms_.push_back(register_module("norm" + n, ConditionalBatchNorm(w, k)));
  }
  to_image_ = register_module(
      "to_image",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(w, 4 * options.channels(), 3).padding(1)));
  use_channels_last(*this);
}

torch::Tensor GeneratorImpl::forward(const torch::Tensor& noise, const torch::Tensor& classes) {
  const int64_t base = generator_base_size(options.image_size());
  auto h = project_(torch::cat({noise, class_embedding_(classes)}, 1));
  h = channels_last(h.view({noise.size(0), 2 * options.width(), base, base}));
  h = norm0_(h, classes).relu_();
  h = channels_last(torch::pixel_shuffle(conv1_(h), 2));
  h = norm1_(h, classes).relu_();
  h = norm2_(conv2_(h), classes).relu_();
  for (size_t i = 0; i < up_convs_.size(); ++i)
    h = up_norms_[i](channels_last(torch::pixel_shuffle(up_convs_[i](h), 2)), classes).relu_();
  return torch::tanh(torch::pixel_shuffle(to_image_(h), 2));
}

namespace {

// A convolution, spectrally normalised or plain.
torch::nn::AnyModule convolution(int64_t in, int64_t out, bool spectral, int64_t kernel,
                                 int64_t stride) {
  // k4 s2 p1 halves the size; k3 s1 p1 keeps it.
  if (spectral) {
    return torch::nn::AnyModule(
        SNConv2d(SNConv2dOptions(in, out, kernel).stride(stride).padding(1)));
  }
  return torch::nn::AnyModule(
      torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(1)));
}

}  // namespace

DiscriminatorImpl::DiscriminatorImpl(const DiscriminatorOptions& options_) : options(options_) {
  check_model_shape(options.num_classes(), options.image_size(), options.channels());
  GANAUG_CHECK(options.width() >= 4, "discriminator width must be at least 4");
  const bool sn = options.spectral_norm();
  features_ = torch::nn::Sequential();
  int64_t in = options.channels() + (options.projection() ? 0 : options.num_classes());
  int64_t out = options.width();
  int64_t size = options.image_size();
  // Halve the resolution while it stays even and above 8: 28->14->7, 32->16->8, 64->32->16->8.
  while (size > 8 && size % 2 == 0) {
    features_->push_back(convolution(in, out, sn, 4, 2));
    features_->push_back(
        torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(0.2).inplace(true)));
    in = out;
    out = std::min<int64_t>(2 * out, 8 * options.width());
    size /= 2;
  }
  if (options.minibatch_std()) features_->push_back(MinibatchStd());
  features_->push_back(convolution(in + (options.minibatch_std() ? 1 : 0), in, sn, 3, 1));
  features_->push_back(
      torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(0.2).inplace(true)));
  register_module("features", features_);
  const int64_t channels = in;
  const int64_t k = options.num_classes();
  if (sn) {
    sn_head_ = register_module("head", SNLinear(torch::nn::LinearOptions(channels, 1)));
    if (options.projection())
      sn_embedding_ =
          register_module("embedding", SNLinear(torch::nn::LinearOptions(k, channels).bias(false)));
  } else {
    plain_head_ = register_module("head", torch::nn::Linear(channels, 1));
    if (options.projection())
      plain_embedding_ = register_module(
          "embedding", torch::nn::Linear(torch::nn::LinearOptions(k, channels).bias(false)));
  }
  use_channels_last(*this);
}

torch::Tensor MinibatchStdImpl::forward(const torch::Tensor& x) {
  const int64_t n = x.size(0);
  int64_t group = 4;
  while (group > 1 && (n % (2 * group) != 0)) group /= 2;
  // N/g groups of g consecutive images: std over each group, averaged over features. The
  // features are taken in their stored (channels-last) order, a view rather than a copy; the
  // average does not depend on the order. The variance is written out: LibTorch 1.13's var()
  // over a short middle dimension took about 15x as long (forward and backward) on the CPU.
  const auto grouped = x.permute({0, 2, 3, 1}).reshape({n / group, group, -1});
  const auto centered = grouped - grouped.mean(1, /*keepdim=*/true);
  const auto std = (centered.square().mean(1) + 1e-8).sqrt().mean(1);  // N/g
  // Each group's value for each of its images (repeat_interleave, without its index kernel).
  const auto channel = std.view({n / group, 1})
                           .expand({n / group, group})
                           .reshape({n, 1, 1, 1})
                           .expand({n, 1, x.size(2), x.size(3)})
                           .to(x.dtype());
  return channels_last(torch::cat({x, channel}, 1));
}

torch::Tensor DiscriminatorImpl::forward(const torch::Tensor& images,
                                         const torch::Tensor& classes) {
  const int64_t k = options.num_classes();
  torch::Tensor x = channels_last(images);
  // Class -1: scored without a class (an unlabeled image in a semi-supervised GAN).
  const auto known = classes.ge(0);
  const auto indices = classes.clamp_min(0);
  if (!options.projection()) {
    const auto one_hot =
        F::one_hot(indices, k).to(images.dtype()) * known.unsqueeze(1).to(images.dtype());
    x = torch::cat(
        {images, one_hot.view({-1, k, 1, 1}).expand({-1, k, images.size(2), images.size(3)})}, 1);
  }
  // Global sum pooling, as in the projection discriminator paper.
  const auto h = features_->forward(channels_last(x)).sum({2, 3});
  auto score = sn_head_ ? sn_head_(h) : plain_head_(h);
  score = score.squeeze(1);
  if (options.projection()) {
    // <embed(y), h>: the embedding is the (normalised) weight of a bias-free K -> C linear map.
    const auto weight = sn_head_ ? sn_embedding_->normalised_weight() : plain_embedding_->weight;
    const auto embedding = weight.t().index_select(0, indices);
    score = score + (embedding * h).sum(1) * known.to(h.dtype());
  }
  return score;
}

}  // namespace ganaug

namespace ganaug {

int64_t forward_flops(const GeneratorOptions& o) {
  const int64_t base = o.image_size() / 4, half = o.image_size() / 2, w = o.width();
  int64_t flops = 2 * (2 * o.latent_dim()) * 2 * w * base * base;  // project
  flops += 2 * base * base * 4 * w * 2 * w * 9;                    // conv1
  flops += 2 * half * half * w * w * 9;                            // conv2
  flops += 2 * half * half * 4 * o.channels() * w * 9;             // to_image
  return flops;
}

int64_t forward_flops(const DiscriminatorOptions& o) {
  int64_t in = o.channels() + (o.projection() ? 0 : o.num_classes());
  int64_t out = o.width(), size = o.image_size(), flops = 0;
  while (size > 8 && size % 2 == 0) {
    size /= 2;
    flops += 2 * size * size * out * in * 16;
    in = out;
    out = std::min<int64_t>(2 * out, 8 * o.width());
  }
  flops += 2 * size * size * (in + (o.minibatch_std() ? 1 : 0)) * in * 9;
  flops += 2 * in * (o.projection() ? 2 : 1);
  return flops;
}

}  // namespace ganaug
