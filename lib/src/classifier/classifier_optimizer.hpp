// Internal to the ganaug library: the classifier's optimizer, one for its own training
// (train_classifier) and for the joint trainer's classifier.
#pragma once

#include <memory>

#include "ganaug/classifier.hpp"
#include "training/flat_optimizer.hpp"

namespace ganaug::detail {

/// The optimizer `options` ask for over `model`'s parameters that ask for a gradient (a custom
/// network's frozen ones stay as they are): FlatAdam with L2 weight decay on every parameter, or
/// FlatSgd with Nesterov momentum and weight decay on the convolution and linear weights (2-D and
/// up), not biases or batch norm. Adam's betas: `beta1` and `beta2` (the joint trainer gives the
/// GAN's).
std::unique_ptr<FlatOptimizer> make_classifier_optimizer(Classifier& model,
                                                         const ClassifierOptions& options,
                                                         double beta1 = 0.9, double beta2 = 0.999);

}  // namespace ganaug::detail
