#include "models/script_network.hpp"

#include <torch/torch.h>

#include <filesystem>
#include <optional>
#include <utility>
#include <vector>

#include "ganaug/custom_network.hpp"
#include "ganaug/error.hpp"

namespace ganaug {

namespace detail {

namespace {
// A registered name may not hold a dot: "layer1.0.conv1.weight" becomes "layer1__0__conv1__weight".
std::string registered_name(std::string name) {
  for (size_t at = name.find('.'); at != std::string::npos; at = name.find('.', at + 2))
    name.replace(at, 1, "__");
  return name;
}
}  // namespace

ScriptNetworkImpl::ScriptNetworkImpl(torch::jit::Module module) : module_(std::move(module)) {
  for (const auto& p : module_.named_parameters(/*recurse=*/true))
    register_parameter(registered_name(p.name), p.value, p.value.requires_grad());
  for (const auto& b : module_.named_buffers(/*recurse=*/true))
    register_buffer(registered_name(b.name), b.value);
  train(module_.is_training());
}

torch::Tensor ScriptNetworkImpl::forward(const torch::Tensor& images) {
  return module_.forward({images}).toTensor();
}

void ScriptNetworkImpl::train(bool on) {
  torch::nn::Module::train(on);
  module_.train(on);
}

namespace {

// One batch-norm layer of a script module and the sums of its batches' statistics.
struct ScriptBatchnorm {
  torch::jit::Module layer;
  std::optional<double> momentum;  // none: a cumulative average
  torch::Tensor mean_sum, var_sum, old_mean, old_var;
  torch::Tensor kept_mean, kept_var, kept_count;  // as they were, for a layer that never updates

  torch::Tensor get(const char* name) { return layer.attr(name).toTensor(); }
};

std::vector<ScriptBatchnorm> script_batchnorm_layers(torch::jit::Module& module) {
  std::vector<ScriptBatchnorm> layers;
  for (auto sub : module.modules()) {
    if (!sub.hasattr("running_mean") || !sub.hasattr("running_var") ||
        !sub.hasattr("num_batches_tracked") || !sub.attr("running_mean").isTensor())
      continue;
    ScriptBatchnorm bn;
    bn.layer = sub;
    if (const auto m = sub.type()->findConstant("momentum"); m && m->isDouble())
      bn.momentum = m->toDouble();
    layers.push_back(std::move(bn));
  }
  return layers;
}

}  // namespace

bool reestimate_script_batchnorm(torch::jit::Module& module,
                                 const std::function<bool(int64_t)>& forward_batch) {
  auto layers = script_batchnorm_layers(module);
  if (layers.empty()) return false;
  torch::NoGradGuard no_grad;
  for (auto& bn : layers) {
    bn.kept_mean = bn.get("running_mean").clone();
    bn.kept_var = bn.get("running_var").clone();
    bn.kept_count = bn.get("num_batches_tracked").clone();
    bn.get("running_mean").zero_();
    bn.get("running_var").fill_(1);
    bn.get("num_batches_tracked").zero_();
    bn.mean_sum = torch::zeros_like(bn.get("running_mean"));
    bn.var_sum = torch::zeros_like(bn.get("running_var"));
  }
  module.train(true);
  int64_t batches = 0;
  for (;; ++batches) {
    for (auto& bn : layers) {
      bn.old_mean = bn.get("running_mean").clone();
      bn.old_var = bn.get("running_var").clone();
    }
    if (!forward_batch(batches)) break;
    // A layer with momentum m keeps r' = (1 - m) r + m b: its batch's statistic b, recovered.
    for (auto& bn : layers) {
      if (!bn.momentum) continue;
      const double m = *bn.momentum;
      bn.mean_sum.add_((bn.get("running_mean") - (1 - m) * bn.old_mean) / m);
      bn.var_sum.add_((bn.get("running_var") - (1 - m) * bn.old_var) / m);
    }
  }
  // Without momentum the layers already hold the cumulative average of the batches. A layer
  // that never updated (one the forward does not reach, or a module traced in evaluation
  // mode) keeps the statistics it had.
  for (auto& bn : layers) {
    if (bn.get("num_batches_tracked").item<int64_t>() == 0) {
      bn.get("running_mean").copy_(bn.kept_mean);
      bn.get("running_var").copy_(bn.kept_var);
      bn.get("num_batches_tracked").copy_(bn.kept_count);
      continue;
    }
    if (!bn.momentum || batches == 0) continue;
    bn.get("running_mean").copy_(bn.mean_sum / static_cast<double>(batches));
    bn.get("running_var").copy_(bn.var_sum / static_cast<double>(batches));
  }
  module.train(false);
  return true;
}

}  // namespace detail

CustomNetwork script_network(const std::string& path) {
  std::error_code error;
  GANAUG_CHECK(std::filesystem::exists(path, error), "the classifier file ", path,
               " does not exist (a TorchScript module saved in Python with "
               "torch.jit.script(model).save(path))");
  GANAUG_CHECK(std::filesystem::is_regular_file(path, error), "the classifier file ", path,
               " is not a regular file (a folder, device or pipe); give the TorchScript file "
               "itself");
  torch::jit::Module loaded;
  try {
    loaded = torch::jit::load(path, torch::kCPU);
  } catch (const std::exception& e) {
    GANAUG_FAIL("the classifier file ", path,
                " is not a TorchScript module (save one in Python with "
                "torch.jit.script(model).save(path)): ",
                first_line(e));
  }
  CustomNetwork network;
  network.name = path;
  network.make = [loaded] {
    // A deep copy whose parameters are leaves (cloned without autograd: with it, each would
    // be the output of a copy, and no gradient would reach it) that ask for a gradient where
    // the file's do.
    torch::jit::Module copy;
    {
      torch::NoGradGuard no_grad;
      copy = loaded.deepcopy();  // the same class types and methods, new tensors
    }
    const auto original = loaded.parameters();
    auto from = original.begin();
    for (auto p : copy.parameters()) p.set_requires_grad((*from++).requires_grad());
    return torch::nn::AnyModule(detail::ScriptNetwork(copy));
  };
  return network;
}

}  // namespace ganaug
