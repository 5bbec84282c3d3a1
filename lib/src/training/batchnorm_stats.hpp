#pragma once
// Internal: batch-norm statistics re-estimated from chosen batches, for the classifier (from the
// real training images) and the EMA generator (from its own samples).

#include <torch/nn/module.h>

#include <functional>

namespace ganaug::detail {

/// Resets the running statistics of every BatchNorm2d layer of `module`, then runs
/// `forward_batches` with the module in training mode, without autograd and with the layers'
/// momentum unset, so that their statistics become the cumulative average over the batches it
/// forwards; restores the momentum and leaves the module in evaluation mode. Without a
/// BatchNorm2d layer it runs nothing. Returns whether it ran.
bool reestimate_batchnorm(torch::nn::Module& module, const std::function<void()>& forward_batches);

}  // namespace ganaug::detail
