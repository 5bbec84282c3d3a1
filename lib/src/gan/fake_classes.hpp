#pragma once
// Internal to the ganaug library: how a GAN training step draws the classes of its fakes.

#include <torch/types.h>

#include <cstdint>

namespace ganaug::detail {

/// The classes of fake images in training steps, drawn with the data's class frequencies so
/// that a rare class is as rare among the fakes as among the real images (drawn uniformly, a
/// rare class would be mostly fake, and the discriminator could learn "rare class means fake");
/// uniform draws when every class has the same count. The counts are read once, here; a draw
/// copies nothing between host and device.
class FakeClasses {
 public:
  /// From the K class counts of the training data (int64). Throws ganaug::Error when there are
  /// none or every count is 0.
  FakeClasses(const torch::Tensor& class_counts, const torch::Device& device);
  /// `count` classes on the device, drawn from `rng` (a generator of that device).
  torch::Tensor draw(int64_t count, const at::Generator& rng) const;

 private:
  int64_t num_classes_ = 0;
  bool balanced_ = true;
  torch::Tensor weights_;  // float64 counts on the device, when not balanced
  torch::Device device_;
};

}  // namespace ganaug::detail
