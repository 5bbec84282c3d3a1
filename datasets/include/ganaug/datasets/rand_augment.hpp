#pragma once
/// RandAugment as FixMatch uses it for its strong view (Cubuk et al. 2020; Sohn et al., NeurIPS
/// 2020, table 12): every image gets `ops` operations drawn uniformly, with replacement, from
/// the list below, each at a magnitude drawn uniformly from its published range, then Cutout.

#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ganaug {

/// The operations of RandAugment and the ranges their magnitudes are drawn from. Images are
/// worked on as 8-bit pixels, as PIL does (posterize and solarize are defined on them), then
/// returned to [-1, 1].
enum class RandAugmentOp {
  kIdentity,
  kAutoContrast,  ///< each channel stretched to the full range (unchanged when flat)
  kEqualize,      ///< each channel's histogram equalized (OpenCV's equalizeHist)
  kRotate,        ///< by +-[0, 30] degrees about the centre, black fill, nearest pixel
  kSolarize,      ///< pixels at or above a threshold T * 256, T in [0, 1], inverted
  kColor,         ///< saturation factor in [0.05, 0.95] (RGB only: never drawn for gray images)
  kPosterize,     ///< keeps the top B bits of each pixel, B in {4, ..., 8}
  kContrast,      ///< blend towards the image's mean gray by a factor in [0.05, 0.95]
  kBrightness,    ///< blend towards black by a factor in [0.05, 0.95]
  kSharpness,     ///< blend towards PIL's SMOOTH-filtered image by a factor in [0.05, 0.95]
  kShearX,        ///< x += s * y, s in +-[0, 0.3], black fill, nearest pixel
  kShearY,        ///< y += s * x, likewise
  kTranslateX,    ///< by +-[0, 0.3] of the width, whole pixels, black fill
  kTranslateY,    ///< by +-[0, 0.3] of the height, likewise
};

/// The name of an operation as specs and messages write it ("autocontrast", "shear-x", ...).
std::string to_string(RandAugmentOp op);

/// The operations drawn for images of `channels` channels: all 14 for RGB, 13 (no color) for
/// gray.
std::vector<RandAugmentOp> rand_augment_ops(int64_t channels);

/// How strong the strong view is.
struct RandAugmentOptions {
  /// Operations per image (FixMatch: 2), each drawn uniformly from rand_augment_ops(); 0 leaves
  /// only Cutout.
  TORCH_ARG(int64_t, ops) = 2;
  /// Largest side of the Cutout square as a share of the image side (FixMatch: 0.5): the side
  /// is drawn uniformly from [0, cutout] x side, its centre anywhere in the image (the square
  /// clipped at the edges), filled with mid-gray (0). 0 disables Cutout.
  TORCH_ARG(double, cutout) = 0.5;
  /// Probability that each drawn operation is applied (the published FixMatch code,
  /// kekmodel/FixMatch-pytorch's RandAugmentMC: 0.5); 1 (the default) applies every one.
  TORCH_ARG(double, op_probability) = 1.0;
  /// Cutout's side is always `cutout` x side (the published code's CutoutAbs: half the image)
  /// rather than drawn from [0, cutout] x side (the default).
  TORCH_ARG(bool, fixed_cutout) = false;

 public:
  /// Parses "ops=2,cutout=0.5,p=0.5,fixed=1" (any subset; "default" or "" keeps the
  /// defaults). Throws ganaug::Error naming the bad key or value.
  static RandAugmentOptions parse(const std::string& spec);
  /// The spec that parse() turns back into these options.
  std::string to_string() const;
  /// Throws ganaug::Error unless ops lies in [0, 8] and cutout and p in [0, 1].
  void validate() const;
};

/// One operation at a given magnitude on one C x H x W float image in [-1, 1] (C = 1 or 3):
/// `magnitude` in [0, 1] picks the point of the op's range (0 its start, 1 its end: -30 and
/// +30 degrees for kRotate, 4 and 8 bits for kPosterize, ...); ops without a magnitude ignore
/// it. For tests and for users composing their own policies. Throws ganaug::Error for another
/// shape or a magnitude outside [0, 1].
torch::Tensor apply_rand_augment_op(const torch::Tensor& image, RandAugmentOp op, double magnitude);

/// Cutout on one C x H x W float image: the square of side `side` pixels centred at (`cy`,
/// `cx`), clipped at the edges, set to 0 (mid-gray). Returns a new tensor.
torch::Tensor cutout(const torch::Tensor& image, int64_t side, int64_t cy, int64_t cx);

/// N x C x H x W float32 images in [-1, 1] each transformed by RandAugment then Cutout; image i
/// draws its ops, magnitudes and square from mix_seed(seed, i), so a batch repeats per seed.
/// Runs on the CPU with OpenCV; returns a new tensor on the images' device. Throws
/// ganaug::Error for invalid options or images that are not 4-D float32 with 1 or 3 channels.
torch::Tensor rand_augment(const torch::Tensor& images, uint64_t seed,
                           const RandAugmentOptions& options = {});

}  // namespace ganaug
