#include "training/flat_optimizer.hpp"

#include <cmath>

#include "ganaug/error.hpp"
#include "runtime/cuda_graph.hpp"

namespace ganaug::detail {

namespace {

// Whether `archive` says it holds the state of `n` parameters (save_adam's "count").
bool stores_state_of(torch::serialize::InputArchive& archive, size_t n) {
  c10::IValue count;
  return archive.try_read("count", count) && count.isInt() &&
         count.toInt() == static_cast<int64_t>(n);
}

// Copies the tensor stored under `key` into `target`; returns what is wrong, or "".
std::string read_into(torch::serialize::InputArchive& archive, const std::string& key,
                      torch::Tensor target) {
  torch::Tensor stored;
  if (!archive.try_read(key, stored)) return "it lacks " + key;
  if (!stored.sizes().equals(target.sizes()))
    return "its " + key + " does not fit the parameter it belongs to";
  torch::NoGradGuard no_grad;
  target.copy_(stored);
  return "";
}

// Reads "<prefix><stored[i]>" into each `targets[i]`; "" and `found` 0 when none is stored, a
// problem when only some are.
std::string read_each(torch::serialize::InputArchive& archive, const std::string& prefix,
                      const std::vector<torch::Tensor>& targets, const std::vector<size_t>& stored,
                      size_t& found) {
  found = 0;
  for (size_t i = 0; i < targets.size(); ++i) {
    const auto key = prefix + std::to_string(stored[i]);
    torch::Tensor probe;
    if (!archive.try_read(key, probe)) continue;
    const auto problem = read_into(archive, key, targets[i]);
    if (!problem.empty()) return problem;
    ++found;
  }
  if (found != 0 && found != targets.size())
    return "its optimizer state covers only some of the parameters";
  return "";
}

constexpr const char* kCountProblem = "its optimizer state is for another number of parameters";

}  // namespace

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
  // The same sizes and strides, in the flat buffers.
  const auto values = views(values_), grads = views(grads_);
  for (size_t i = 0; i < parameters_.size(); ++i) {
    auto& p = parameters_[i];
    values[i].copy_(p.detach());
    p.set_data(values[i]);
    p.mutable_grad() = grads[i];
  }
}

std::vector<torch::Tensor> FlatOptimizer::views(const torch::Tensor& flat) const {
  GANAUG_CHECK(flat.dim() == 1 && flat.is_contiguous() && flat.numel() == values_.numel(),
               "a flat buffer of ", values_.numel(), " elements was expected, got ", flat.sizes());
  std::vector<torch::Tensor> out;
  int64_t offset = flat.storage_offset();
  for (const auto& p : parameters_) {
    out.push_back(flat.as_strided(p.sizes(), p.strides(), offset));
    offset += p.numel();
  }
  return out;
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

std::string FlatOptimizer::load(torch::serialize::InputArchive& archive,
                                const std::vector<size_t>& stored) {
  if (!stores_state_of(archive, parameters_.size())) return kCountProblem;
  std::vector<size_t> order(stored);
  if (order.empty())
    for (size_t i = 0; i < parameters_.size(); ++i) order.push_back(i);
  GANAUG_CHECK(order.size() == parameters_.size(), "a stored order needs one index per parameter");
  return load_state(archive, order);
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

int64_t FlatAdam::steps() const {
  return steps_on_device_.defined() ? static_cast<int64_t>(steps_on_device_.item<double>())
                                    : steps_;
}

void FlatAdam::save(torch::serialize::OutputArchive& archive) const {
  archive.write("count", c10::IValue(static_cast<int64_t>(parameters_.size())));
  const int64_t steps = this->steps();
  if (steps == 0) return;  // as torch::optim's: no state before the first step
  const auto first = views(exp_avg_), second = views(exp_avg_sq_);
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const auto index = std::to_string(i);
    archive.write("step_" + index, c10::IValue(steps));
    archive.write("exp_avg_" + index, first[i]);
    archive.write("exp_avg_sq_" + index, second[i]);
  }
}

std::string FlatAdam::load_state(torch::serialize::InputArchive& archive,
                                 const std::vector<size_t>& stored) {
  int64_t steps = 0;
  for (const size_t index : stored) {
    c10::IValue step;
    if (!archive.try_read("step_" + std::to_string(index), step)) continue;
    if (!step.isInt() || step.toInt() < 1 || (steps != 0 && step.toInt() != steps))
      return "its optimizer state has uneven or invalid step counts";
    steps = step.toInt();
  }
  size_t first = 0, second = 0;
  torch::NoGradGuard no_grad;
  exp_avg_.zero_();
  exp_avg_sq_.zero_();
  for (const auto& problem :
       {read_each(archive, "exp_avg_", views(exp_avg_), stored, first),
        read_each(archive, "exp_avg_sq_", views(exp_avg_sq_), stored, second)})
    if (!problem.empty()) return problem;
  if (first != second || (first == 0) != (steps == 0))
    return "its optimizer state has step counts and moments that do not match";
  steps_ = steps;
  steps_on_device_ = torch::Tensor();
  return "";
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

void FlatSgd::save(torch::serialize::OutputArchive& archive) const {
  archive.write("count", c10::IValue(static_cast<int64_t>(parameters_.size())));
  if (!momentum_buffer_.defined()) return;  // before the first step, or without momentum
  const auto momentum = views(momentum_buffer_);
  for (size_t i = 0; i < parameters_.size(); ++i)
    archive.write("momentum_" + std::to_string(i), momentum[i]);
}

std::string FlatSgd::load_state(torch::serialize::InputArchive& archive,
                                const std::vector<size_t>& stored) {
  auto buffer = torch::zeros_like(values_);
  size_t found = 0;
  const auto problem = read_each(archive, "momentum_", views(buffer), stored, found);
  if (!problem.empty()) return problem;
  momentum_buffer_ = found > 0 ? buffer : torch::Tensor();
  return "";
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

void WeightAverage::assume(const torch::Tensor& average, int64_t updates) {
  GANAUG_CHECK(average.sizes().equals(sum_.sizes()) && updates >= 0,
               "a weight average can only carry on from an average of its own shape");
  torch::NoGradGuard no_grad;
  weight_ = 1 - std::pow(decay_, static_cast<double>(updates));
  sum_.copy_(average).mul_(weight_);
}

void WeightAverage::save(torch::serialize::OutputArchive& archive) const {
  archive.write("sum", sum_);
  archive.write("weight", c10::IValue(weight_));
}

std::string WeightAverage::load(torch::serialize::InputArchive& archive) {
  c10::IValue weight;
  // 1 - d^t: rounds to 1 after enough updates.
  if (!archive.try_read("weight", weight) || !weight.isDouble() || weight.toDouble() < 0 ||
      weight.toDouble() > 1)
    return "its weight average lacks a weight in [0, 1]";
  const auto problem = read_into(archive, "sum", sum_);
  if (!problem.empty()) return problem;
  weight_ = weight.toDouble();
  return "";
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

void DistributionAlignment::save(torch::serialize::OutputArchive& archive) const {
  archive.write("labeled", labeled_);
  archive.write("history", history_);
  archive.write("filled", c10::IValue(filled_));
  archive.write("next", c10::IValue(next_));
}

std::string DistributionAlignment::load(torch::serialize::InputArchive& archive) {
  c10::IValue filled, next;
  if (!archive.try_read("filled", filled) || !archive.try_read("next", next) || !filled.isInt() ||
      !next.isInt() || filled.toInt() < 0 || filled.toInt() > history_.size(0) ||
      next.toInt() < 0 || next.toInt() >= history_.size(0))
    return "its distribution alignment lacks a valid window position";
  for (const auto& [key, target] :
       {std::pair<const char*, torch::Tensor>{"labeled", labeled_}, {"history", history_}}) {
    const auto problem = read_into(archive, key, target);
    if (!problem.empty()) return problem;
  }
  filled_ = filled.toInt();
  next_ = next.toInt();
  return "";
}

}  // namespace ganaug::detail
