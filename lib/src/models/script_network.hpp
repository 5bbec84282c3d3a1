#pragma once
// Internal: a TorchScript module as a torch::nn::Module, so that a classifier trains, moves,
// saves and averages it like its own layers.

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/script.h>

#include <functional>
#include <string>

namespace ganaug::detail {

// Registers the script module's parameters and buffers as its own (the same tensors, so an
// update through either is seen by both); forward runs the script module's forward; train()
// and eval() reach the script module too.
class ScriptNetworkImpl : public torch::nn::Module {
 public:
  explicit ScriptNetworkImpl(torch::jit::Module module);
  torch::Tensor forward(const torch::Tensor& images);
  void train(bool on = true) override;
  // The script module, with the current weights: what save_classifier_script writes.
  torch::jit::Module& script() { return module_; }

 private:
  torch::jit::Module module_;
};
TORCH_MODULE(ScriptNetwork);

// Recomputes the running statistics of every batch-norm layer of `module` (a script module's
// submodules with running_mean, running_var and num_batches_tracked) as the average of the
// batch statistics of the batches forward_batch(0), forward_batch(1), ... run, until it returns
// false. Runs without autograd in training mode and leaves `module` in evaluation mode.
// Returns whether there was such a layer (without one, it runs nothing).
bool reestimate_script_batchnorm(torch::jit::Module& module,
                                 const std::function<bool(int64_t batch)>& forward_batch);

}  // namespace ganaug::detail
