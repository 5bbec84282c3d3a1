#include "ganaug/spectral_norm.hpp"

#include <torch/torch.h>

namespace ganaug {

namespace detail {

namespace {
torch::Tensor l2_normalise(const torch::Tensor& x) { return x / (x.norm() + 1e-12); }
}  // namespace

void SpectralNormState::init(torch::nn::Module& owner, const torch::Tensor& weight) {
  torch::NoGradGuard no_grad;
  const auto matrix = weight.reshape({weight.size(0), -1});
  // Deterministic given the global seed, like the layer's own weight initialisation.
  u_ = owner.register_buffer("u", l2_normalise(torch::randn({matrix.size(0)})));
  v_ = owner.register_buffer("v", l2_normalise(torch::mv(matrix.t(), u_)));
}

torch::Tensor SpectralNormState::normalise(const torch::Tensor& weight, bool update) {
  const auto matrix = weight.reshape({weight.size(0), -1});
  if (update) {
    torch::NoGradGuard no_grad;
    // In place, so that the buffers registered on the module (and saved) follow.
    v_.copy_(l2_normalise(torch::mv(matrix.t(), u_)));
    u_.copy_(l2_normalise(torch::mv(matrix, v_)));
  }
  // sigma = u^T W v, differentiable in W (u and v are constants), as in Miyato et al.
  const auto sigma = torch::dot(u_, torch::mv(matrix, v_));
  return weight / sigma;
}

}  // namespace detail

SNLinearImpl::SNLinearImpl(const torch::nn::LinearOptions& options_) : options(options_) {
  // Start from LibTorch's own initialisation of the plain layer.
  torch::nn::Linear plain(options);
  weight_orig = register_parameter("weight_orig", plain->weight.detach().clone());
  if (options.bias()) bias = register_parameter("bias", plain->bias.detach().clone());
  state_.init(*this, weight_orig);
}

torch::Tensor SNLinearImpl::forward(const torch::Tensor& input) {
  return torch::nn::functional::linear(input, state_.normalise(weight_orig, is_training()), bias);
}

torch::Tensor SNLinearImpl::normalised_weight() {
  return state_.normalise(weight_orig, is_training());
}

SNConv2dImpl::SNConv2dImpl(const SNConv2dOptions& options_) : options(options_) {
  torch::nn::Conv2d plain(
      torch::nn::Conv2dOptions(options.in_channels(), options.out_channels(), options.kernel_size())
          .bias(options.bias()));
  weight_orig = register_parameter("weight_orig", plain->weight.detach().clone());
  if (options.bias()) bias = register_parameter("bias", plain->bias.detach().clone());
  state_.init(*this, weight_orig);
}

torch::Tensor SNConv2dImpl::forward(const torch::Tensor& input) {
  return torch::conv2d(input, state_.normalise(weight_orig, is_training()), bias, options.stride(),
                       options.padding());
}

torch::Tensor SNConv2dImpl::normalised_weight() {
  return state_.normalise(weight_orig, is_training());
}

}  // namespace ganaug
