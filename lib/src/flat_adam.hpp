// Internal to the ganaug library: Adam over parameters gathered into one buffer.
#pragma once

#include <torch/torch.h>

#include <vector>

namespace ganaug::detail {

/// Adam with L2 weight decay, as torch::optim::Adam (no AMSGrad) and element for element the
/// same arithmetic, for a small network: its parameters and their gradients become views of one
/// buffer each, so that a step runs 7 operations on one tensor instead of 7 on each parameter
/// (the classifier has 10 parameters; LibTorch 1.13's Adam spent about 1 ms of a 10 ms step in
/// launching small operations). Parameters keep their shapes and strides (channels-last
/// weights stay channels-last). release() gives every parameter its own memory back.
class FlatAdam {
 public:
  FlatAdam(std::vector<torch::Tensor> parameters, double weight_decay, double beta1 = 0.9,
           double beta2 = 0.999, double eps = 1e-8);
  FlatAdam(const FlatAdam&) = delete;
  FlatAdam& operator=(const FlatAdam&) = delete;

  /// Zeroes all gradients (one operation).
  void zero_grad();
  /// One Adam step with learning rate `lr`.
  void step(double lr);
  /// Each parameter gets a copy of its values in memory of its own, and no gradient.
  void release();

 private:
  std::vector<torch::Tensor> parameters_;
  torch::Tensor values_, grads_, exp_avg_, exp_avg_sq_;
  double weight_decay_, beta1_, beta2_, eps_;
  int64_t steps_ = 0;
};

}  // namespace ganaug::detail
