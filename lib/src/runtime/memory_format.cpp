#include "runtime/memory_format.hpp"

namespace ganaug::detail {

torch::Tensor channels_last(const torch::Tensor& x) {
  if (x.dim() != 4 || x.size(1) != 1) return x.contiguous(at::MemoryFormat::ChannelsLast);
  if (x.suggest_memory_format() == at::MemoryFormat::ChannelsLast) return x;
  // With one channel, NCHW and NHWC place every element at the same offset; only the stride
  // of the channel dimension differs, and it is what LibTorch reads the layout from.
  const auto dense = x.contiguous();
  const int64_t h = x.size(2), w = x.size(3);
  return dense.as_strided(dense.sizes(), {h * w, 1, w, 1});
}

void use_channels_last(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters()) {
    if (p.dim() == 4) p.set_data(channels_last(p.data()));
  }
}

}  // namespace ganaug::detail
