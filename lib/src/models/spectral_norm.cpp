#include "ganaug/spectral_norm.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace ganaug {

namespace detail {

namespace {
torch::Tensor l2_normalise(const torch::Tensor& x) { return x / (x.norm() + 1e-12); }
}  // namespace

void reset_uniform(torch::Tensor& weight, torch::Tensor& bias, at::Generator& generator) {
  torch::NoGradGuard no_grad;
  const int64_t fan_in =
      std::max<int64_t>(1, weight.numel() / std::max<int64_t>(1, weight.size(0)));
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  // Drawn in standard layout on the CPU, then copied element by element into the parameter.
  weight.copy_(torch::empty(weight.sizes(), torch::kFloat32).uniform_(-bound, bound, generator));
  if (bias.defined())
    bias.copy_(torch::empty(bias.sizes(), torch::kFloat32).uniform_(-bound, bound, generator));
}

void SpectralNormState::init(torch::nn::Module& owner, const torch::Tensor& weight) {
  torch::NoGradGuard no_grad;
  const auto matrix = weight.reshape({weight.size(0), -1});
  // Provisional: ganaug::reset_parameters draws u again from a generator the caller owns.
  u_ = owner.register_buffer("u", l2_normalise(torch::randn({matrix.size(0)})));
  v_ = owner.register_buffer("v", l2_normalise(torch::mv(matrix.t(), u_)));
}

void SpectralNormState::reset(const torch::Tensor& weight, at::Generator& generator) {
  torch::NoGradGuard no_grad;
  const auto matrix = weight.reshape({weight.size(0), -1});
  u_.copy_(l2_normalise(torch::randn({matrix.size(0)}, generator)));
  v_.copy_(l2_normalise(torch::mv(matrix.t(), u_)));
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

void SNLinearImpl::reset_parameters(at::Generator& generator) {
  detail::reset_uniform(weight_orig, bias, generator);
  state_.reset(weight_orig, generator);
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

void SNConv2dImpl::reset_parameters(at::Generator& generator) {
  detail::reset_uniform(weight_orig, bias, generator);
  state_.reset(weight_orig, generator);
}

}  // namespace ganaug
