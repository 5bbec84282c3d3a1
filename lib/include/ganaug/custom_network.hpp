#pragma once
/// A network of the user's as the downstream classifier: a TorchScript module saved in Python,
/// or any torch::nn::Module whose forward maps images to logits.

#include <torch/nn/modules/container/any.h>

#include <functional>
#include <string>

namespace ganaug {

/// How to make a user's classifier network (ClassifierOptions::custom). Every training run
/// trains a fresh network from make(), so a pretrained network starts from its saved weights
/// each time, and the baseline and the retrained classifier start alike.
struct CustomNetwork {
  /// Makes the network on the CPU with its starting weights: any module with a forward from
  /// N x C x S x S float images (values in [-1, 1]) to N x num_outputs logits, for instance
  /// torch::nn::AnyModule(MyNet()). Empty: the built-in networks.
  std::function<torch::nn::AnyModule()> make;
  /// What messages call it: the file it came from, or a name of the caller's choice.
  std::string name;

  /// Whether a network is set (make is not empty).
  explicit operator bool() const { return static_cast<bool>(make); }
};

/// The TorchScript module saved at `path` (in Python: torch.jit.script(model).save(path), or
/// torch.jit.trace) as a classifier network. Each make() is a deep copy of the module as
/// loaded, its weights included. Its batch-norm layers are recalibrated like the built-in
/// networks' (recalibrate_batchnorm); a traced module keeps the training or evaluation mode it
/// was traced in, so script a module with batch norm or dropout rather than trace it. Throws
/// ganaug::Error naming the file when it is missing or not a TorchScript module.
CustomNetwork script_network(const std::string& path);

}  // namespace ganaug
