#pragma once
/// The conditional generator and the projection discriminator.
///
/// Both work on square images of `image_size` pixels (a multiple of 4 from 16 to 64, or of 8
/// from 72 to 128), 1 or 3
/// channels, and `num_classes` classes. The generator avoids ConvTranspose2d, whose backward is
/// 5-10x slower than nearest upsampling + 3x3 convolution on CPU (FACTS.md), and conditions
/// every normalisation on the class (conditional batch norm).

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

#include "ganaug/spectral_norm.hpp"

namespace ganaug {

/// Shape and width of a generator.
struct GeneratorOptions {
  /// Images default to 1 x 28 x 28. Checked when a Generator is built.
  GeneratorOptions(int64_t num_classes, int64_t image_size = 28, int64_t channels = 1)
      : num_classes_(num_classes), image_size_(image_size), channels_(channels) {}
  /// Number of classes the generator is conditioned on.
  TORCH_ARG(int64_t, num_classes);
  /// Side of the square output image; a multiple of 4 from 16 to 64, or of 8 from 72 to 128
  /// (one more upsampling stage per doubling above 64).
  TORCH_ARG(int64_t, image_size);
  /// 1 (gray) or 3 (RGB).
  TORCH_ARG(int64_t, channels);
  /// Length of the noise vector.
  TORCH_ARG(int64_t, latent_dim) = 64;
  /// Channels of the widest feature map (at image_size / 4) is 2 * width.
  TORCH_ARG(int64_t, width) = 32;
};

/// Conditional batch norm: BatchNorm2d without affine terms, then a per-class scale and shift.
class ConditionalBatchNormImpl : public torch::nn::Module {
 public:
  /// `features` channels, `num_classes` classes; every class starts with scale 1 and shift 0.
  ConditionalBatchNormImpl(int64_t features, int64_t num_classes);
  /// Normalises `x` (N x features x H x W) and applies the scale and shift of each image's class
  /// (`classes`, N int64). Batch statistics in training mode; in evaluation mode the running
  /// statistics, folded into the per-image scale and shift.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& classes);

  /// The affine-free batch norm.
  torch::nn::BatchNorm2d norm{nullptr};
  /// Per-class scale and shift tables (num_classes x features).
  torch::nn::Embedding scale{nullptr}, shift{nullptr};
};
TORCH_MODULE(ConditionalBatchNorm);

/// Maps (noise N x latent_dim, classes N int64) to images N x C x S x S in [-1, 1].
class GeneratorImpl : public torch::nn::Module {
 public:
  /// Builds the layers on the CPU (convolution weights channels-last); their initial weights
  /// come from LibTorch's global generator until ganaug::reset_parameters draws them again.
  /// Throws ganaug::Error for an unsupported shape (check_model_shape), latent_dim < 1 or
  /// width < 4.
  explicit GeneratorImpl(const GeneratorOptions& options);
  /// Images for `noise` and `classes` (int64 in [0, num_classes)), both on the model's device.
  torch::Tensor forward(const torch::Tensor& noise, const torch::Tensor& classes);

  /// The options it was built with.
  GeneratorOptions options;

 private:
  torch::nn::Embedding class_embedding_{nullptr};
  torch::nn::Linear project_{nullptr};
  ConditionalBatchNorm norm0_{nullptr}, norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, to_image_{nullptr};
  std::vector<torch::nn::Conv2d> up_convs_;  // above 64 pixels: "conv3", "conv4", ...
  std::vector<ConditionalBatchNorm> up_norms_;
};
TORCH_MODULE(Generator);

/// Shape and width of a discriminator.
struct DiscriminatorOptions {
  /// Images default to 1 x 28 x 28. Checked when a Discriminator is built.
  DiscriminatorOptions(int64_t num_classes, int64_t image_size = 28, int64_t channels = 1)
      : num_classes_(num_classes), image_size_(image_size), channels_(channels) {}
  /// Number of classes the scores are conditioned on.
  TORCH_ARG(int64_t, num_classes);
  /// Side of the square input images; a multiple of 4 from 16 to 64 or of 8 from 72 to 128.
  TORCH_ARG(int64_t, image_size);
  /// 1 (gray) or 3 (RGB).
  TORCH_ARG(int64_t, channels);
  /// Channels of the first convolution; each downsampling doubles them.
  TORCH_ARG(int64_t, width) = 32;
  /// Spectral normalisation on every layer (default on).
  TORCH_ARG(bool, spectral_norm) = true;
  /// Projection conditioning (Miyato & Koyama 2018); when false, the class is fed as extra
  /// one-hot input channels instead.
  TORCH_ARG(bool, projection) = true;
  /// A minibatch standard-deviation feature map before the last convolution (Karras et al.
  /// 2018), so the discriminator can see how varied a batch is and penalise a generator that
  /// draws the same image for every noise vector.
  TORCH_ARG(bool, minibatch_std) = true;
};

/// Appends one channel holding the mean standard deviation of the features over groups of up
/// to 4 consecutive images. Groups never straddle the middle of the batch (the group size
/// divides N / 2), so a batch of real images followed by as many fakes keeps the two apart.
/// With an odd N the groups are single images and the channel is constant. No parameters.
class MinibatchStdImpl : public torch::nn::Module {
 public:
  /// N x C x H x W in, N x (C + 1) x H x W (channels-last) out.
  torch::Tensor forward(const torch::Tensor& x);
};
TORCH_MODULE(MinibatchStd);

/// Maps (images N x C x S x S, classes N) to one realness score per image (N).
class DiscriminatorImpl : public torch::nn::Module {
 public:
  /// Builds the layers on the CPU (convolution weights channels-last); their initial weights
  /// come from LibTorch's global generator until ganaug::reset_parameters draws them again.
  /// Throws ganaug::Error for an unsupported shape (check_model_shape) or width < 4.
  explicit DiscriminatorImpl(const DiscriminatorOptions& options);
  /// Scores for `images` and their `classes` (int64 in [0, num_classes), or -1 for an image
  /// scored without a class: the projection term left out, or an all-zero class input without
  /// projection), both on the model's device. With spectral normalisation, training mode
  /// advances the power iteration.
  torch::Tensor forward(const torch::Tensor& images, const torch::Tensor& classes);

  /// The options it was built with.
  DiscriminatorOptions options;

 private:
  torch::nn::Sequential features_{nullptr};
  // Exactly one of each pair is set, by options.spectral_norm().
  SNLinear sn_head_{nullptr}, sn_embedding_{nullptr};
  torch::nn::Linear plain_head_{nullptr}, plain_embedding_{nullptr};
};
TORCH_MODULE(Discriminator);

/// Whether the GAN's models take square images of `size` pixels: a multiple of 4 from 16 to 64,
/// or of 8 from 72 to 128.
bool gan_image_size_supported(int64_t size);
/// Those sizes in words, for messages.
extern const char* const kGanImageSizes;

/// Throws ganaug::Error unless the size, channels and classes are ones the models support: 1 to
/// 100000 classes, a multiple of 4 from 16 to 64 (or of 8 from 72 to 128) pixels, 1 or 3 channels.
void check_model_shape(int64_t num_classes, int64_t image_size, int64_t channels);

/// Number of parameter values (elements) of a module and its submodules, counting those that
/// do not require gradients too.
int64_t parameter_count(torch::nn::Module& module);

/// Draws every randomly initialised weight of `model` and its submodules again, from a generator
/// seeded `seed` that this call owns, with LibTorch's default distributions:
/// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the weights and biases of Linear, Conv2d, SNLinear and
/// SNConv2d, N(0, 1) for embeddings, a random unit vector for spectral normalisation's power
/// iteration. Batch-norm and conditional batch-norm layers keep their constant initial values.
/// Afterwards the initial weights depend on `seed` alone: LibTorch's global generator, which
/// the layers' constructors drew from, is neither read for them nor seeded. Call it before
/// moving the model to another device. Throws ganaug::Error for a layer with parameters that
/// it does not know (so that no new layer is left initialised from the global generator).
void reset_parameters(torch::nn::Module& model, uint64_t seed);

}  // namespace ganaug

namespace ganaug {
/// Multiply-adds x 2 of one forward pass of the generator for one image (convolutions and
/// linear layers only), computed from the options alone.
int64_t forward_flops(const GeneratorOptions& options);
/// The same for the discriminator (including its projection's dot product).
int64_t forward_flops(const DiscriminatorOptions& options);
}  // namespace ganaug
