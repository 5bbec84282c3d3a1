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

namespace ganaug {

namespace detail {
/// The shared power-iteration state of a spectrally normalised layer.
class SpectralNormState {
 public:
  /// Registers `u` and `v` buffers on `owner` for a weight whose first dimension is `rows`.
  void init(torch::nn::Module& owner, const torch::Tensor& weight);
  /// weight / sigma, with one power-iteration step first when `update` is true.
  torch::Tensor normalise(const torch::Tensor& weight, bool update);

 private:
  torch::Tensor u_, v_;
};
}  // namespace detail

/// A Linear layer with spectral normalisation. Options are LibTorch's LinearOptions.
class SNLinearImpl : public torch::nn::Module {
 public:
  explicit SNLinearImpl(const torch::nn::LinearOptions& options);
  torch::Tensor forward(const torch::Tensor& input);
  /// weight_orig / sigma, as forward uses it; in training mode one power-iteration step first.
  torch::Tensor normalised_weight();

  torch::nn::LinearOptions options;
  torch::Tensor weight_orig, bias;

 private:
  detail::SpectralNormState state_;
};
TORCH_MODULE(SNLinear);

/// Options of SNConv2d: a square kernel with zero padding. (LibTorch's Conv2dOptions holds its
/// padding in a variant whose type differs between LibTorch 1.x and 2.x.)
struct SNConv2dOptions {
  SNConv2dOptions(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, kernel_size);
  TORCH_ARG(int64_t, stride) = 1;
  /// Zero padding on every side.
  TORCH_ARG(int64_t, padding) = 0;
  TORCH_ARG(bool, bias) = true;
};

/// A Conv2d layer with spectral normalisation (of the weight reshaped to out x in*kh*kw).
class SNConv2dImpl : public torch::nn::Module {
 public:
  explicit SNConv2dImpl(const SNConv2dOptions& options);
  torch::Tensor forward(const torch::Tensor& input);
  torch::Tensor normalised_weight();

  SNConv2dOptions options;
  torch::Tensor weight_orig, bias;

 private:
  detail::SpectralNormState state_;
};
TORCH_MODULE(SNConv2d);

}  // namespace ganaug
