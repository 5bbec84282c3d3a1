#pragma once
/// Classical data augmentation: the random shifts, crops, flips and small rotations that users
/// would otherwise reach for, applied per batch through ClassifierHooks::augment.

#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <string>

#include "ganaug/classifier.hpp"
#include "ganaug/datasets/rand_augment.hpp"

namespace ganaug {

/// What one random geometric transform of an image may do. Every image of a batch gets its own
/// transform: one affine warp (OpenCV) composed of a flip, a rotation, a zoom-in (a random crop
/// resized back) and a shift. The default is the usual small-image baseline, a random crop after
/// padding by 2 (a whole-pixel shift) and a left-right flip: with no rotation and no zoom the
/// warp copies pixels exactly, while rotations and zooms interpolate (bilinear) and so blur
/// images that the test set shows sharp, which on 28x28 Fashion-MNIST cost accuracy here.
struct ClassicAugmentOptions {
  /// What fills the pixels moved in from outside the image.
  enum class Border {
    kConstant,  ///< the value -1 (black): "constant" in specs
    kReflect,   ///< the image mirrored at its edge (OpenCV's BORDER_REFLECT_101): "reflect"
  };
  /// Largest shift in pixels along each axis; shifts are whole pixels.
  TORCH_ARG(int64_t, max_shift) = 2;
  /// Largest rotation in degrees, either way (e.g. 10).
  TORCH_ARG(double, max_rotation) = 0.0;
  /// Largest zoom-in factor: 1.15 crops a random square of about 87% of the side and resizes it
  /// back. 1 disables it.
  TORCH_ARG(double, max_zoom) = 1.0;
  /// Mirror left-right with probability 1/2 (clothing, natural images); turn off for digits
  /// and text.
  TORCH_ARG(bool, horizontal_flip) = true;
  /// Pixels moved in from outside the image.
  TORCH_ARG(Border, border) = Border::kConstant;
  /// Random erasing (Zhong et al., AAAI 2020; "cutout" with random values): with this
  /// probability an image, after the warp, gets one rectangle of 2-40% of its area (aspect ratio
  /// 0.3 to 3.3) filled with uniform random values in [-1, 1]. 0 disables it.
  TORCH_ARG(double, erase) = 0.0;
  /// After the warp (and erasing), RandAugment and Cutout (rand_augment() with its defaults):
  /// the strong augmentation of the labeled images that FixMatch's supervised baselines train
  /// with, a candidate for the strongest supervised arm. The weak view of pool images leaves it
  /// out, as it leaves out erasing.
  TORCH_ARG(bool, rand_augment) = false;

 public:
  /// Parses "shift=2,rotate=10,zoom=1.1,flip=1,border=constant,erase=0.5,randaugment=1" (any
  /// subset, any order; "default" or "" keeps the defaults). Throws ganaug::Error naming the bad
  /// key or value.
  static ClassicAugmentOptions parse(const std::string& spec);
  /// The spec that parse() turns back into these options.
  std::string to_string() const;
  /// Throws ganaug::Error unless max_shift >= 0, max_rotation lies in [0, 180], max_zoom in
  /// [1, 4], and erase lies in [0, 1].
  void validate() const;
};

/// N x C x H x W float32 images in [-1, 1] transformed as `options` says; image i gets a
/// transform drawn from mix_seed(seed, i), so a batch is reproducible. The warps run on the CPU
/// with OpenCV; returns a new tensor on the images' device. Throws ganaug::Error for invalid
/// options or images that are not 4-D float32.
torch::Tensor classic_augment(const torch::Tensor& images, uint64_t seed,
                              const ClassicAugmentOptions& options = {});

/// classic_augment() bound to a copy of `options`, for ClassifierHooks::augment. Validates the
/// options now: throws ganaug::Error for invalid ones.
BatchAugmenter classic_augmenter(const ClassicAugmentOptions& options = {});

/// The strong view of consistency training on an unlabeled pool (FixMatch's strong
/// augmentation, geometric and erasing): `weak` made stronger, shifts of at least 4 pixels,
/// rotations of at least 15 degrees, zoom-ins of at least 1.2 and random erasing on every
/// image; the flip and the border stay `weak`'s.
ClassicAugmentOptions strong_augment_options(const ClassicAugmentOptions& weak = {});

/// Which strong view consistency training on an unlabeled pool uses.
struct StrongViewOptions {
  enum class Kind {
    /// FixMatch's: the weak view's flip and shift (the classical setting without erasing, or
    /// the default classical setting), then RandAugment and Cutout (rand_augment()).
    kRandAugment,
    /// ganaug 0.4's: strong_augment_options() of the classical setting, geometric warps and
    /// random erasing, no photometric operation.
    kClassicWarp,
  };
  TORCH_ARG(Kind, kind) = Kind::kClassicWarp;
  /// RandAugment's settings (kind kRandAugment).
  TORCH_ARG(RandAugmentOptions, rand_augment) = {};

 public:
  /// Parses "classic", "randaugment" or "randaugment:ops=2,cutout=0.5" (a RandAugmentOptions
  /// spec after the colon); "default" or "" keeps the defaults. Throws ganaug::Error naming
  /// what is wrong.
  static StrongViewOptions parse(const std::string& spec);
  /// The spec that parse() turns back into these options.
  std::string to_string() const;
  /// Throws ganaug::Error for invalid RandAugment settings.
  void validate() const;
};

/// The strong view `strong` asks for, built on the classical setting `classic` (the default
/// classical setting when null), as a BatchAugmenter. Validates now.
BatchAugmenter strong_augmenter(const ClassicAugmentOptions* classic,
                                const StrongViewOptions& strong);

/// The weak view of consistency training on an unlabeled pool (FixMatch's weak augmentation):
/// `classic` without random erasing, whose rectangle would hide the evidence the pool image's
/// target is read from. Shifts, rotations, zoom, flip and border stay `classic`'s.
ClassicAugmentOptions weak_augment_options(const ClassicAugmentOptions& classic = {});

/// The views of classifier training: with `classic` (non-null), its augmentation of the real
/// images (ClassifierHooks::augment) and its weak view (weak_augment_options) for pool images;
/// always the strong view of pool images (strong_augmenter(classic, strong)). The other hooks
/// are left empty.
ClassifierHooks classic_hooks(const ClassicAugmentOptions* classic,
                              const StrongViewOptions& strong = {});

}  // namespace ganaug
