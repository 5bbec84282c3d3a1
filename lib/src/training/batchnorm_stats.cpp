#include "training/batchnorm_stats.hpp"

#include <torch/torch.h>

#include <utility>
#include <vector>

namespace ganaug::detail {

bool reestimate_batchnorm(torch::nn::Module& module, const std::function<void()>& forward_batches) {
  // c10::optional in LibTorch 1.x, std::optional in 2.x.
  using Momentum = std::decay_t<decltype(std::declval<torch::nn::BatchNormOptions>().momentum())>;
  std::vector<std::pair<torch::nn::BatchNorm2dImpl*, Momentum>> layers;
  for (auto& child : module.modules(/*include_self=*/false)) {
    if (auto* bn = child->as<torch::nn::BatchNorm2d>()) {
      layers.emplace_back(bn, bn->options.momentum());
      bn->reset_running_stats();
      bn->options.momentum(Momentum());  // a cumulative average over the batches
    }
  }
  if (layers.empty()) return false;
  {
    torch::NoGradGuard no_grad;
    module.train();
    forward_batches();
  }
  for (auto& [bn, momentum] : layers) bn->options.momentum(momentum);
  module.eval();
  return true;
}

}  // namespace ganaug::detail
