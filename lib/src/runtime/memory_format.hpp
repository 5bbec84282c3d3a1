// Internal to the ganaug library: channels-last (NHWC) tensors for the convolutional models.
#pragma once

#include <torch/torch.h>

namespace ganaug::detail {

/// `x` (N x C x H x W) with channels-last strides. oneDNN runs 3x3 convolutions about 2x faster on
/// them on the CPU (32 channels, 14x14, batch 64, forward+backward: 25 ms -> 12 ms), and cuDNN
/// prefers them too. A 1-channel tensor counts as channels-last whatever its strides, so
/// `contiguous(ChannelsLast)` leaves it with NCHW strides, and LibTorch then chooses NCHW kernels
/// for the convolution that reads it and every layer after until the next convolution (the
/// classifier's whole first stage: its max pooling about 10x slower). Such a tensor is given
/// explicit NHWC strides instead: a view of the same memory, not a copy.
torch::Tensor channels_last(const torch::Tensor& x);

/// Converts every 4-dimensional parameter of `module` to channels-last strides, once.
void use_channels_last(torch::nn::Module& module);

}  // namespace ganaug::detail
