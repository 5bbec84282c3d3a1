// Internal to the ganaug library: the steps a GAN's training shares with joint training
// (GanTrainer in gan.cpp, JointTrainer in joint.cpp).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <string>

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

/// The discriminator's loss terms on its scores of real and of fake images, and the generator's
/// on its scores of the generator's images: hinge relu(1 - s), relu(1 + s), -s, or the
/// non-saturating BCE softplus(-s), softplus(s), softplus(-s); each a mean over the batch.
torch::Tensor real_term(const torch::Tensor& scores, GanLoss loss);
torch::Tensor fake_term(const torch::Tensor& scores, GanLoss loss);
torch::Tensor generator_term(const torch::Tensor& scores, GanLoss loss);

/// The generator batch's classes for the mode-seeking term: a copy of `classes` whose rows
/// half + i take row i's class, so that images i and half + i differ only in noise.
torch::Tensor paired_classes(const torch::Tensor& classes, int64_t half);

/// A training run's log.csv in `out_dir` (nothing when it is empty): begun afresh with `header`
/// when missing or at iteration 0, else appended to; the folder is created and the temporary
/// files of a killed run removed. Names the run's checkpoint file too.
class RunLog {
 public:
  RunLog(const std::string& out_dir, const char* header, int64_t first_iteration);
  /// out_dir/checkpoint.pt, or empty when the run writes nothing.
  const std::string& checkpoint_path() const { return checkpoint_path_; }
  /// Writes the row "iteration,values..." and flushes it.
  void row(int64_t iteration, std::initializer_list<double> values);

 private:
  std::ofstream log_;
  std::string checkpoint_path_;
};

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
