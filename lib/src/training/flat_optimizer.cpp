#include "training/flat_optimizer.hpp"

#include <cmath>

#include "ganaug/error.hpp"
#include "runtime/cuda_graph.hpp"

namespace ganaug::detail {

FlatOptimizer::FlatOptimizer(std::vector<torch::Tensor> parameters)
    : parameters_(std::move(parameters)) {
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

void FlatOptimizer::zero_grad() { grads_.zero_(); }

void FlatOptimizer::release() {
  torch::NoGradGuard no_grad;
  for (auto& p : parameters_) {
    p.set_data(p.detach().clone(torch::MemoryFormat::Preserve));
    p.mutable_grad() = torch::Tensor();
  }
}

torch::Tensor FlatOptimizer::element_mask(const std::vector<bool>& chosen) const {
  GANAUG_CHECK(chosen.size() == parameters_.size(), "a mask needs one entry per parameter, got ",
               chosen.size(), " for ", parameters_.size());
  auto mask = torch::zeros_like(values_);
  int64_t offset = 0;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const int64_t n = parameters_[i].numel();
    if (chosen[i]) mask.slice(0, offset, offset + n).fill_(1);
    offset += n;
  }
  return mask;
}

FlatAdam::FlatAdam(std::vector<torch::Tensor> parameters, double weight_decay, double beta1,
                   double beta2, double eps)
    : FlatOptimizer(std::move(parameters)),
      exp_avg_(torch::zeros_like(values_)),
      exp_avg_sq_(torch::zeros_like(values_)),
      weight_decay_(weight_decay),
      beta1_(beta1),
      beta2_(beta2),
      eps_(eps) {}

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

void FlatAdam::step_on_device(const torch::Tensor& lr) {
  torch::NoGradGuard no_grad;
  if (!steps_on_device_.defined())
    steps_on_device_ = torch::full({}, static_cast<double>(steps_), lr.options());
  steps_on_device_.add_(1);
  adam_update_on_device(values_, grads_, exp_avg_, exp_avg_sq_, steps_on_device_, lr, beta1_,
                        beta2_, eps_, weight_decay_);
}

FlatSgd::FlatSgd(std::vector<torch::Tensor> parameters, const std::vector<bool>& decayed,
                 double weight_decay, double momentum, bool nesterov)
    : FlatOptimizer(std::move(parameters)),
      weight_decay_(weight_decay),
      momentum_(momentum),
      nesterov_(nesterov) {
  GANAUG_CHECK(momentum >= 0 && momentum < 1, "SGD's momentum must lie in [0, 1), got ", momentum);
  GANAUG_CHECK(!nesterov || momentum > 0, "Nesterov's momentum needs a momentum above 0");
  decay_ = element_mask(decayed).mul_(weight_decay);
}

torch::Tensor FlatSgd::direction() {
  // As torch::optim::SGD::step (dampening 0), on the whole buffer.
  auto d = weight_decay_ != 0 ? grads_.addcmul(decay_, values_) : grads_;
  if (momentum_ == 0) return d;
  if (!momentum_buffer_.defined())
    momentum_buffer_ = d.clone();
  else
    momentum_buffer_.mul_(momentum_).add_(d);
  return nesterov_ ? d.add(momentum_buffer_, momentum_) : momentum_buffer_;
}

void FlatSgd::step(double lr) {
  torch::NoGradGuard no_grad;
  values_.add_(direction(), -lr);
}

void FlatSgd::step_on_device(const torch::Tensor& lr) {
  torch::NoGradGuard no_grad;
  values_.sub_(direction() * lr.to(values_.scalar_type()));
}

WeightAverage::WeightAverage(const torch::Tensor& like, double decay)
    : sum_(torch::zeros_like(like)), decay_(decay) {
  GANAUG_CHECK(decay > 0 && decay < 1, "a weight average's decay must lie in (0, 1), got ", decay);
}

void WeightAverage::update(const torch::Tensor& values) {
  accumulate(values);
  count();
}

void WeightAverage::accumulate(const torch::Tensor& values) {
  torch::NoGradGuard no_grad;
  sum_.mul_(decay_).add_(values, 1 - decay_);
}

void WeightAverage::count() { weight_ = 1 - (1 - weight_) * decay_; }

torch::Tensor WeightAverage::average() const {
  GANAUG_CHECK(weight_ > 0, "a weight average has no weights before its first update");
  return sum_ / weight_;
}

DistributionAlignment::DistributionAlignment(const torch::Tensor& labeled, int64_t window)
    : labeled_(labeled.to(torch::kFloat32)),
      history_(torch::zeros({window, labeled.size(0)}, labeled_.options())) {
  GANAUG_CHECK(window >= 1 && labeled.dim() == 1,
               "distribution alignment needs a window of at "
               "least 1 batch and one share per class");
}

torch::Tensor DistributionAlignment::align(const torch::Tensor& probabilities) {
  torch::NoGradGuard no_grad;
  history_[next_].copy_(probabilities.mean(0));
  next_ = (next_ + 1) % history_.size(0);
  filled_ = std::min(filled_ + 1, history_.size(0));
  const auto model = history_.slice(0, 0, filled_).mean(0).clamp_min(1e-6);
  const auto aligned = probabilities * (labeled_ / model);
  return aligned / aligned.sum(1, true);
}

}  // namespace ganaug::detail
