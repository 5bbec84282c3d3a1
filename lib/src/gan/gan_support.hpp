// Internal to the ganaug library: the steps a GAN's training shares with joint training
// (GanTrainer in gan.cpp, JointTrainer in joint.cpp).
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "ganaug/gan.hpp"

namespace ganaug::detail {

/// Throws ganaug::Error naming the first weight of `module` (the `what`: "generator") that holds
/// NaN or Inf by `iteration`; one read from the device for all weights.
void check_finite(const torch::nn::Module& module, const char* what, int64_t iteration);

/// Copies the parameters and buffers of `from` into those of `to` (the same architecture).
void copy_state(torch::nn::Module& from, torch::nn::Module& to);

/// `average` becomes the moving average of `model`'s weights after step `step` (from 0), with a
/// warm-up: the decay is min(decay, (1 + step) / (10 + step)), so a short run does not average
/// in its random initial weights. Buffers (batch-norm statistics) are copied.
void update_moving_average(torch::nn::Module& model, torch::nn::Module& average, double decay,
                           int64_t step);

/// MSGAN's mode-seeking term (Mao et al. 2019) for a generator batch whose images i and half + i
/// share a class and differ in noise: 1 / (image distance / noise distance + 1e-5), mean
/// absolute distances between the two halves; the generator lowers it by making them differ.
torch::Tensor mode_seeking_term(const torch::Tensor& fake, const torch::Tensor& noise,
                                int64_t half);

/// The DiffAugment transforms a discriminator trained on `labeled_images` real images uses:
/// o.diffaugment(), or when that is "auto", translation and cutout under 10000 images (plus
/// color for color images) and none from 10000.
DiffAugmentPolicy diffaugment_policy(const GanOptions& o, int64_t labeled_images);

/// The EMA generator's batch-norm statistics, recomputed from its own samples (balanced classes,
/// noise seeded by o.seed() and `iteration`): its weights are an average over the run, so the
/// raw generator's statistics do not describe its activations. Depends only on the weights, the
/// seed and the iteration.
void recompute_batchnorm_statistics(Generator& generator, const GanOptions& o, int64_t iteration,
                                    const torch::Device& device);

}  // namespace ganaug::detail
