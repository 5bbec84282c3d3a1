// Internal to the ganaug library: a classifier's dropout layers switched off for one pass.
#pragma once

#include <memory>
#include <vector>

#include "ganaug/classifier.hpp"

namespace ganaug::detail {

/// While it lives (when `off`), the built-in network's dropout layers (SeededDropout) that were
/// training are in eval mode; every other layer keeps its mode, and they train again when it
/// goes. A user's network has no such layers and keeps its own modes. Used for the pass that
/// makes the pool's targets (ClassifierOptions::pool_target_dropout).
class DropoutOff {
 public:
  DropoutOff(Classifier& model, bool off) {
    if (!off) return;
    for (const auto& m : model->modules(false)) {
      if (m->as<SeededDropoutImpl>() != nullptr && m->is_training()) {
        m->eval();
        switched_.push_back(m);
      }
    }
  }
  ~DropoutOff() {
    for (const auto& m : switched_) m->train();
  }
  DropoutOff(const DropoutOff&) = delete;
  DropoutOff& operator=(const DropoutOff&) = delete;

 private:
  std::vector<std::shared_ptr<torch::nn::Module>> switched_;
};

}  // namespace ganaug::detail
