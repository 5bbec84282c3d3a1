// Internal to the ganaug library: batch norm, 2x2 max pooling and ReLU of a training step in
// one pass over the memory, on the CPU.
#pragma once

#include <torch/torch.h>

namespace ganaug::detail {

/// Whether `relu(max_pool2d(bn(x), 2))` can run fused: `bn` in training mode with an affine
/// transform, `x` a float32 channels-last CPU tensor of even height and width and more than one
/// value per channel. Otherwise the stock layers run.
bool can_fuse_batchnorm_pool_relu(const torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x);

/// `relu(max_pool2d(bn(x), 2))` of `bn` in training mode, with the same arithmetic and the same
/// running-statistics update as the three stock layers, and a backward pass. The stock layers
/// write and read the full-size normalized tensor four times (batch norm forward and backward,
/// pooling forward and backward, which also zeroes a full-size gradient); here a forward pass
/// reads `x` once (statistics and window selection together) and writes a quarter-size output,
/// and a backward pass reads `x` once and writes its gradient once. Batch norm is a per-channel
/// affine map `a x + b` with `a = gamma / std`: its maximum over a window is that of `x` where
/// gamma > 0 and the minimum of `x` where gamma < 0 (the first value where gamma = 0), so the
/// window is chosen on `x` directly. Sums run over fixed blocks of images: the result does not
/// depend on the thread count. Requires can_fuse_batchnorm_pool_relu(bn, x).
torch::Tensor batchnorm_pool_relu(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x);

/// `sequential`'s forward pass, each run of BatchNorm2d, MaxPool2d(2) (stride 2, no padding)
/// and ReLU fused where can_fuse_batchnorm_pool_relu allows. The modules of the sequential take
/// and return one tensor.
torch::Tensor forward_fusing_batchnorm_pool_relu(torch::nn::Sequential& sequential,
                                                 torch::Tensor x);

}  // namespace ganaug::detail
