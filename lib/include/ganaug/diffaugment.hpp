#pragma once
/// Differentiable augmentation (Zhao et al., NeurIPS 2020) applied to real and fake images before
/// the discriminator, so that a GAN trained on few images does not let D memorise them.

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <optional>
#include <string>

namespace ganaug {

/// Which DiffAugment transforms to apply.
struct DiffAugmentPolicy {
  /// Random translation by up to 1/8 of the image size, zero padded.
  bool translation = false;
  /// A random square of half the image size set to zero.
  bool cutout = false;
  /// Random brightness, saturation and contrast (saturation only changes color images).
  bool color = false;

  /// Whether any transform is on.
  bool any() const { return translation || cutout || color; }
  /// Parses "off", "none", "" or a comma list of translation, cutout, color. Throws
  /// ganaug::Error on an unknown name.
  static DiffAugmentPolicy parse(const std::string& text);
  /// The comma list parse() reads back, in the order translation, cutout, color; "off" if none.
  std::string to_string() const;
};

/// A DiffAugment choice as GanOptions::diffaugment holds it: "auto" (nullopt: the trainer picks
/// for the data) or a policy (DiffAugmentPolicy::parse). Throws ganaug::Error on an unknown name.
std::optional<DiffAugmentPolicy> parse_diffaugment_choice(const std::string& text);
/// The text parse_diffaugment_choice() reads back: "auto", or the policy's canonical list.
std::string to_string(const std::optional<DiffAugmentPolicy>& choice);

/// Applies `policy` to a batch N x C x H x W (color, then translation, then cutout), each image
/// with its own draws, on the images' device; the random draws come from `rng` (advanced by the
/// call), which must be a generator of that device (make_generator), so that nothing is copied
/// from the host. Differentiable in `images`; returns `images` itself when no transform is on.
torch::Tensor diff_augment(const torch::Tensor& images, const DiffAugmentPolicy& policy,
                           at::Generator& rng);

}  // namespace ganaug
