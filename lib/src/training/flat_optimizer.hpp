// Internal to the ganaug library: optimizers over parameters gathered into one buffer, and the
// weight averages and pool-label alignment of classifier training.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace ganaug::detail {

/// An optimizer for a small network whose parameters and gradients become views of one buffer
/// each, so that a step runs a few operations on one tensor instead of a few on each parameter
/// (the classifier has 10 parameters; LibTorch 1.13's Adam spent about 1 ms of a 10 ms step in
/// launching small operations). Parameters keep their shapes and strides (channels-last weights
/// stay channels-last). release() gives every parameter its own memory back.
class FlatOptimizer {
 public:
  /// Throws ganaug::Error for no parameters, or parameters of mixed types or devices.
  explicit FlatOptimizer(std::vector<torch::Tensor> parameters);
  virtual ~FlatOptimizer() = default;
  FlatOptimizer(const FlatOptimizer&) = delete;
  FlatOptimizer& operator=(const FlatOptimizer&) = delete;

  /// Zeroes all gradients (one operation).
  void zero_grad();
  /// One step with learning rate `lr`.
  virtual void step(double lr) = 0;
  /// The same step with everything it reads on the device: the learning rate `lr` (a float64
  /// scalar on the parameters' device) and any count of steps, so that the step can be captured
  /// in a CUDA graph and replayed. The first call takes over the counts of step(); once called,
  /// call only this one (it does not raise step()'s counts). Its arithmetic matches step()'s to
  /// rounding.
  virtual void step_on_device(const torch::Tensor& lr) = 0;
  /// Each parameter gets a copy of its values in memory of its own, and no gradient.
  void release();
  /// Every parameter's values, one after another: writing to it writes the parameters.
  const torch::Tensor& values() const { return values_; }
  /// Views of `flat` (a buffer laid out as values()) shaped as the parameters, in their order.
  std::vector<torch::Tensor> views(const torch::Tensor& flat) const;

  /// Writes the optimizer's state keyed by parameter index ("count", then "step_i", "exp_avg_i"
  /// and "exp_avg_sq_i", or "momentum_i", of each parameter once it has taken a step), as
  /// detail::save_adam writes torch::optim::Adam's (and ganaug 0.x's joint checkpoints wrote
  /// torch::optim::SGD's), so that those load here.
  virtual void save(torch::serialize::OutputArchive& archive) const = 0;
  /// Reads what save() wrote, or torch::optim's state saved that way; `stored[i]`, when given, is
  /// the index parameter i was written under (an optimizer whose parameter groups put them in
  /// another order). Returns what is wrong with it, or "" (the state is then the archive's).
  std::string load(torch::serialize::InputArchive& archive, const std::vector<size_t>& stored = {});

 protected:
  /// load()'s work: `stored` has one index per parameter.
  virtual std::string load_state(torch::serialize::InputArchive& archive,
                                 const std::vector<size_t>& stored) = 0;
  /// 1 over the elements of the parameters that `chosen` picks, 0 elsewhere (one flat buffer).
  torch::Tensor element_mask(const std::vector<bool>& chosen) const;

  std::vector<torch::Tensor> parameters_;
  torch::Tensor values_, grads_;
};

/// Adam with L2 weight decay on every parameter, as torch::optim::Adam (no AMSGrad) and element
/// for element the same arithmetic.
class FlatAdam : public FlatOptimizer {
 public:
  FlatAdam(std::vector<torch::Tensor> parameters, double weight_decay, double beta1 = 0.9,
           double beta2 = 0.999, double eps = 1e-8);
  void step(double lr) override;
  void step_on_device(const torch::Tensor& lr) override;
  void save(torch::serialize::OutputArchive& archive) const override;

 private:
  std::string load_state(torch::serialize::InputArchive& archive,
                         const std::vector<size_t>& stored) override;
  int64_t steps() const;

  torch::Tensor exp_avg_, exp_avg_sq_;
  torch::Tensor steps_on_device_;  // float64, from the first step_on_device
  double weight_decay_, beta1_, beta2_, eps_;
  int64_t steps_ = 0;
};

/// SGD with momentum (Nesterov's when asked) and L2 weight decay on the parameters `decayed`
/// picks (FixMatch decays the convolution and linear weights, not biases or batch norm), as
/// torch::optim::SGD without dampening, with the decayed and the other parameters in two
/// parameter groups.
class FlatSgd : public FlatOptimizer {
 public:
  /// `decayed` has one entry per parameter.
  FlatSgd(std::vector<torch::Tensor> parameters, const std::vector<bool>& decayed,
          double weight_decay, double momentum, bool nesterov);
  void step(double lr) override;
  void step_on_device(const torch::Tensor& lr) override;
  void save(torch::serialize::OutputArchive& archive) const override;

 private:
  std::string load_state(torch::serialize::InputArchive& archive,
                         const std::vector<size_t>& stored) override;
  // The step's direction: the gradient with weight decay and momentum (the buffer updated).
  torch::Tensor direction();

  torch::Tensor decay_, momentum_buffer_;
  double weight_decay_, momentum_;
  bool nesterov_;
};

/// An exponential moving average of a flat buffer of weights with its start-up bias removed:
/// after updates with w_1 ... w_t it is sum_s (1 - d) d^(t - s) w_s / (1 - d^t), the weights
/// the steps reached, recent ones counting most (Adam's bias correction; the starting weights
/// are not part of it).
class WeightAverage {
 public:
  /// `decay` d in (0, 1); `like` gives the shape and type.
  WeightAverage(const torch::Tensor& like, double decay);
  /// Adds the weights after a step: accumulate() and count().
  void update(const torch::Tensor& values);
  /// The device's share of update(): what a CUDA graph captures.
  void accumulate(const torch::Tensor& values);
  /// The host's share of update(): counts one more step (call after each replay).
  void count();
  /// The average so far; throws ganaug::Error before the first update.
  torch::Tensor average() const;
  /// Carries on from `average`, taken as the average of `updates` updates (an average kept
  /// another way, such as an older checkpoint's): the next update weighs it as this one would.
  void assume(const torch::Tensor& average, int64_t updates);
  /// Writes the average's state ("sum", "weight").
  void save(torch::serialize::OutputArchive& archive) const;
  /// Reads what save() wrote; returns what is wrong with it, or "".
  std::string load(torch::serialize::InputArchive& archive);

 private:
  torch::Tensor sum_;
  double decay_, weight_ = 0;  // weight_: 1 - d^t
};

/// ReMixMatch's distribution alignment (Berthelot et al., ICLR 2020): the model's class
/// probabilities for pool images scaled by the labeled images' class distribution over the
/// running mean of the model's pool predictions (the last `window` batches), and renormalised.
class DistributionAlignment {
 public:
  /// `labeled`: the labeled images' class shares (K, summing to 1).
  explicit DistributionAlignment(const torch::Tensor& labeled, int64_t window = 128);
  /// `probabilities` N x K aligned; records their mean first.
  torch::Tensor align(const torch::Tensor& probabilities);
  /// Writes the labeled shares and the window of recent means ("labeled", "history", "filled",
  /// "next"), so that a resumed run aligns as an uninterrupted one.
  void save(torch::serialize::OutputArchive& archive) const;
  /// Reads what save() wrote for the same classes and window; returns what is wrong, or "".
  std::string load(torch::serialize::InputArchive& archive);

 private:
  torch::Tensor labeled_, history_;
  int64_t filled_ = 0, next_ = 0;
};

}  // namespace ganaug::detail
