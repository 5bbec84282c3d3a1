#include "flat_adam.hpp"

#include <cmath>

#include "ganaug/error.hpp"

namespace ganaug::detail {

FlatAdam::FlatAdam(std::vector<torch::Tensor> parameters, double weight_decay, double beta1,
                   double beta2, double eps)
    : parameters_(std::move(parameters)),
      weight_decay_(weight_decay),
      beta1_(beta1),
      beta2_(beta2),
      eps_(eps) {
  GANAUG_CHECK(!parameters_.empty(), "an optimizer needs parameters");
  int64_t total = 0;
  for (const auto& p : parameters_) {
    GANAUG_CHECK(
        p.is_non_overlapping_and_dense() && p.options().type_equal(parameters_.front().options()),
        "the parameters of one flat buffer must be dense and of one type and device");
    total += p.numel();
  }
  const auto options = parameters_.front().options();
  torch::NoGradGuard no_grad;
  values_ = torch::empty({total}, options);
  grads_ = torch::zeros({total}, options);
  exp_avg_ = torch::zeros({total}, options);
  exp_avg_sq_ = torch::zeros({total}, options);
  int64_t offset = 0;
  for (auto& p : parameters_) {
    // The same sizes and strides, in the flat buffer.
    auto value = values_.as_strided(p.sizes(), p.strides(), offset);
    value.copy_(p.detach());
    p.set_data(value);
    p.mutable_grad() = grads_.as_strided(p.sizes(), p.strides(), offset);
    offset += p.numel();
  }
}

void FlatAdam::zero_grad() { grads_.zero_(); }

void FlatAdam::step(double lr) {
  torch::NoGradGuard no_grad;
  ++steps_;
  // As torch::optim::Adam::step, on the whole buffer.
  auto grad = weight_decay_ != 0 ? grads_.add(values_, weight_decay_) : grads_;
  exp_avg_.mul_(beta1_).add_(grad, 1 - beta1_);
  exp_avg_sq_.mul_(beta2_).addcmul_(grad, grad, 1 - beta2_);
  const double bias_correction1 = 1 - std::pow(beta1_, static_cast<double>(steps_));
  const double bias_correction2 = 1 - std::pow(beta2_, static_cast<double>(steps_));
  const auto denom = (exp_avg_sq_.sqrt() / std::sqrt(bias_correction2)).add_(eps_);
  values_.addcdiv_(exp_avg_, denom, -lr / bias_correction1);
}

void FlatAdam::release() {
  torch::NoGradGuard no_grad;
  for (auto& p : parameters_) {
    p.set_data(p.detach().clone(torch::MemoryFormat::Preserve));
    p.mutable_grad() = torch::Tensor();
  }
}

}  // namespace ganaug::detail
