#pragma once
/// The conditional generator and the projection discriminator.
///
/// Both work on square images of `image_size` pixels (a multiple of 4, 16 to 64), 1 or 3
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
  GeneratorOptions(int64_t num_classes, int64_t image_size = 28, int64_t channels = 1)
      : num_classes_(num_classes), image_size_(image_size), channels_(channels) {}
  /// Number of classes the generator is conditioned on.
  TORCH_ARG(int64_t, num_classes);
  /// Side of the square output image; a multiple of 4 from 16 to 64.
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
  ConditionalBatchNormImpl(int64_t features, int64_t num_classes);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& classes);

  torch::nn::BatchNorm2d norm{nullptr};
  torch::nn::Embedding scale{nullptr}, shift{nullptr};
};
TORCH_MODULE(ConditionalBatchNorm);

/// Maps (noise N x latent_dim, classes N int64) to images N x C x S x S in [-1, 1].
class GeneratorImpl : public torch::nn::Module {
 public:
  explicit GeneratorImpl(const GeneratorOptions& options);
  torch::Tensor forward(const torch::Tensor& noise, const torch::Tensor& classes);

  GeneratorOptions options;

 private:
  torch::nn::Embedding class_embedding_{nullptr};
  torch::nn::Linear project_{nullptr};
  ConditionalBatchNorm norm0_{nullptr}, norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, to_image_{nullptr};
};
TORCH_MODULE(Generator);

/// Shape and width of a discriminator.
struct DiscriminatorOptions {
  DiscriminatorOptions(int64_t num_classes, int64_t image_size = 28, int64_t channels = 1)
      : num_classes_(num_classes), image_size_(image_size), channels_(channels) {}
  TORCH_ARG(int64_t, num_classes);
  TORCH_ARG(int64_t, image_size);
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
class MinibatchStdImpl : public torch::nn::Module {
 public:
  torch::Tensor forward(const torch::Tensor& x);
};
TORCH_MODULE(MinibatchStd);

/// Maps (images N x C x S x S, classes N) to one realness score per image (N).
class DiscriminatorImpl : public torch::nn::Module {
 public:
  explicit DiscriminatorImpl(const DiscriminatorOptions& options);
  torch::Tensor forward(const torch::Tensor& images, const torch::Tensor& classes);

  DiscriminatorOptions options;

 private:
  torch::nn::Sequential features_{nullptr};
  // Exactly one of each pair is set, by options.spectral_norm().
  SNLinear sn_head_{nullptr}, sn_embedding_{nullptr};
  torch::nn::Linear plain_head_{nullptr}, plain_embedding_{nullptr};
};
TORCH_MODULE(Discriminator);

/// Throws ganaug::Error unless the size, channels and classes are ones the models support.
void check_model_shape(int64_t num_classes, int64_t image_size, int64_t channels);

/// Number of trainable parameters of a module.
int64_t parameter_count(torch::nn::Module& module);

}  // namespace ganaug

namespace ganaug {
/// Multiply-adds x 2 of one forward pass for one image (convolutions and linear layers only).
int64_t forward_flops(const GeneratorOptions& options);
int64_t forward_flops(const DiscriminatorOptions& options);
}  // namespace ganaug
