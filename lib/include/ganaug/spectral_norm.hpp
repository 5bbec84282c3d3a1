#pragma once
/// Spectrally normalised linear and convolution layers (Miyato et al., ICLR 2018).
///
/// LibTorch's C++ API has no spectral_norm, so these layers keep the raw weight as the parameter
/// `weight_orig`, estimate its largest singular value sigma by power iteration (one step per
/// forward in training mode, the vectors `u` and `v` kept as buffers), and compute with
/// `weight_orig / sigma`. In evaluation mode the stored vectors are reused without an update.

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/options/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

namespace ganaug {

namespace detail {
/// Draws `weight` and, when defined, `bias` from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in being
/// weight.numel() / weight.size(0): what LibTorch's Linear and Conv2d do at construction
/// (Kaiming-uniform with a = sqrt(5)), but from `generator` (a CPU generator, advanced). Writes
/// in place without autograd. Values do not depend on the weight's memory format or device.
void reset_uniform(torch::Tensor& weight, torch::Tensor& bias, at::Generator& generator);

/// The shared power-iteration state of a spectrally normalised layer.
class SpectralNormState {
 public:
  /// Registers `u` (weight.size(0) long) and `v` buffers on `owner`, which owns them; this state
  /// keeps handles to them. `u` is provisional, drawn from LibTorch's global generator: reset()
  /// draws it again.
  void init(torch::nn::Module& owner, const torch::Tensor& weight);
  /// Draws `u` again (a random unit vector from `generator`) and sets `v` from it and `weight`,
  /// in place and without autograd.
  void reset(const torch::Tensor& weight, at::Generator& generator);
  /// weight / sigma, with one power-iteration step first when `update` is true (updating `u`
  /// and `v` in place, without autograd). sigma = u^T W v is differentiable in the weight.
  torch::Tensor normalise(const torch::Tensor& weight, bool update);

 private:
  torch::Tensor u_, v_;
};
}  // namespace detail

/// A Linear layer with spectral normalisation. Options are LibTorch's LinearOptions.
class SNLinearImpl : public torch::nn::Module {
 public:
  /// Starts from the weights of a plain torch::nn::Linear built with `options` (LibTorch's
  /// global generator); call reset_parameters to draw them from a generator of one's own.
  explicit SNLinearImpl(const torch::nn::LinearOptions& options);
  /// input x (weight_orig / sigma)^T + bias; in training mode one power-iteration step first.
  torch::Tensor forward(const torch::Tensor& input);
  /// weight_orig / sigma, as forward uses it; in training mode one power-iteration step first.
  torch::Tensor normalised_weight();
  /// Draws the weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (LibTorch's default for
  /// the plain layer) and the power-iteration vector from `generator`.
  void reset_parameters(at::Generator& generator);

  /// The options it was built with.
  torch::nn::LinearOptions options;
  /// The raw weight (out x in) and the bias (undefined without one), registered parameters.
  torch::Tensor weight_orig, bias;

 private:
  detail::SpectralNormState state_;
};
TORCH_MODULE(SNLinear);

/// Options of SNConv2d: a square kernel with zero padding. (LibTorch's Conv2dOptions holds its
/// padding in a variant whose type differs between LibTorch 1.x and 2.x.)
struct SNConv2dOptions {
  /// Stride 1, no padding, with a bias unless changed.
  SNConv2dOptions(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  /// Channels of the input.
  TORCH_ARG(int64_t, in_channels);
  /// Channels of the output.
  TORCH_ARG(int64_t, out_channels);
  /// Side of the square kernel.
  TORCH_ARG(int64_t, kernel_size);
  /// Step in both directions.
  TORCH_ARG(int64_t, stride) = 1;
  /// Zero padding on every side.
  TORCH_ARG(int64_t, padding) = 0;
  /// Whether the layer has a bias.
  TORCH_ARG(bool, bias) = true;
};

/// A Conv2d layer with spectral normalisation (of the weight reshaped to out x in*kh*kw).
class SNConv2dImpl : public torch::nn::Module {
 public:
  /// Starts from the weights of a plain torch::nn::Conv2d of that shape (LibTorch's global
  /// generator); call reset_parameters to draw them from a generator of one's own.
  explicit SNConv2dImpl(const SNConv2dOptions& options);
  /// conv2d of `input` (N x in x H x W) with weight_orig / sigma, the stride and padding; in
  /// training mode one power-iteration step first.
  torch::Tensor forward(const torch::Tensor& input);
  /// weight_orig / sigma, as forward uses it; in training mode one power-iteration step first.
  torch::Tensor normalised_weight();
  /// Draws the weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (LibTorch's default for
  /// the plain layer) and the power-iteration vector from `generator`.
  void reset_parameters(at::Generator& generator);

  /// The options it was built with.
  SNConv2dOptions options;
  /// The raw weight (out x in x k x k) and the bias (undefined without one), registered
  /// parameters.
  torch::Tensor weight_orig, bias;

 private:
  detail::SpectralNormState state_;
};
TORCH_MODULE(SNConv2d);

}  // namespace ganaug
