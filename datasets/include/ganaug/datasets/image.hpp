#pragma once
/// Decoding image files into ganaug's tensor layout (C x H x W float32 in [-1, 1], RGB order) and
/// encoding tensors back to PNG.

#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "ganaug/file_io.hpp"

namespace ganaug {

/// The largest image side ganaug resizes to (ImageOptions::image_size): a guard against a typo
/// such as 100000 that would ask for 10^10 pixels per image.
constexpr int64_t kMaxImageSide = 4096;
/// The most pixels an image file may claim to be decoded (8192 x 8192).
constexpr int64_t kMaxDecodedPixels = int64_t{8192} * 8192;

/// How decoded images are shaped. Defaults keep each file's own size and channel count.
struct ImageOptions {
  /// Side of the square images are resized to (INTER_AREA when shrinking, bilinear when
  /// enlarging; non-square images are stretched); 0 keeps the native size.
  TORCH_ARG(int64_t, image_size) = 0;
  /// 1 (gray) or 3 (RGB); 0 keeps what the file holds (gray stays 1, color or alpha gives 3).
  TORCH_ARG(int64_t, channels) = 0;
};

/// Reads `path` with OpenCV and returns it as an 8-bit H x W x C cv::Mat shaped by `options`
/// (channels in RGB order; 16-bit images are scaled to 8 bits; alpha is dropped). Reads PNG,
/// JPEG and BMP files, told by their first bytes. Throws ganaug::Error naming the file when it
/// is missing, unreadable, corrupt, of another format, or claims more than kMaxDecodedPixels,
/// and for invalid options (channels other than 0, 1, 3; image_size outside [0, kMaxImageSide]).
cv::Mat decode_image_u8(const std::filesystem::path& path, const ImageOptions& options = {});

/// Converts an already decoded 8-bit image (1, 3 channels in BGR order as OpenCV decodes them,
/// or 4 with alpha) to the channels and size in `options`, returning RGB order. `source` names
/// the image in error messages. 16-bit and float images are scaled to 8 bits and gray + alpha
/// loses its alpha. `decoded` is never modified, but the result shares its pixels when nothing
/// needs converting (an 8-bit gray image kept gray at its size). Throws ganaug::Error for
/// invalid options, another pixel depth or channel count.
cv::Mat conform_image(const cv::Mat& decoded, const ImageOptions& options,
                      const std::string& source);

/// Writes an 8-bit H x W x C image as C x H x W floats x / 127.5 - 1 at `out` (C * H * W
/// values, owned by the caller). Plain loops, no LibTorch calls: safe on any worker thread.
void write_chw_normalized(const cv::Mat& image_u8, float* out);

/// decode_image_u8() as a C x H x W float32 CPU tensor in [-1, 1]. Throws as decode_image_u8().
torch::Tensor decode_image(const std::filesystem::path& path, const ImageOptions& options = {});

/// PNG bytes of a C x H x W (C = 1 or 3, RGB) image with values in [-1, 1]; values outside are
/// clamped and rounded to 8 bits. The tensor may be on any device and of any dtype (it
/// is copied to CPU float32 first). Throws ganaug::Error for another shape or a failed
/// encoding.
std::vector<uchar> encode_png(const torch::Tensor& chw_in_minus1_1);
/// The same from a contiguous float C x H x W buffer in [-1, 1] (no tensor per image: for
/// pipelines that encode thousands of small images). No LibTorch calls: safe on any worker
/// thread. Throws ganaug::Error for channels other than 1 or 3 or a failed encoding.
std::vector<uchar> encode_png(const float* chw_in_minus1_1, int channels, int height, int width);

/// Writes N x C x H x W images in [-1, 1] (C = 1 or 3, any device) as one PNG grid, `nrow`
/// images per row, separated by `padding` black pixels (atomically, see write_file_atomic();
/// the folder must exist). Throws ganaug::Error for another shape, no images, nrow < 1,
/// padding < 0, or a file that cannot be written.
void save_image_grid(const std::filesystem::path& path, const torch::Tensor& images,
                     int64_t nrow = 8, int64_t padding = 2);

/// `label` as OpenCV's Hershey fonts can draw it (printable ASCII): Latin-1 letters without their
/// accents (é -> e, ß -> ss), other characters as '?', at most `max_characters` characters (a
/// longer label ends in "..."). For the names in labeled grids.
std::string drawable_label(const std::string& label, size_t max_characters = 32);

/// PNG bytes of N x C x H x W images in [-1, 1] (C = 1 or 3, any device) in rows of `per_row`,
/// each scaled up by a whole factor (nearest neighbour) so that its side is at least `min_cell`
/// pixels, 2 white pixels between them; with `labels`, one per row (row i holds images
/// [i * per_row, (i + 1) * per_row)), each written in a white column left of its row (class
/// names beside a generator's samples; as drawable_label() gives them). Throws ganaug::Error for
/// another shape, no images, a count other than labels.size() x per_row (when labels are given),
/// per_row < 1 or min_cell < 0.
std::vector<uchar> encode_labeled_grid(const torch::Tensor& images,
                                       const std::vector<std::string>& labels, int64_t per_row,
                                       int64_t min_cell = 56);
/// encode_labeled_grid() written as a PNG, atomically (see write_file_atomic(); the folder must
/// exist). Throws as it does, and ganaug::Error for a file that cannot be written.
void save_labeled_grid(const std::filesystem::path& path, const torch::Tensor& images,
                       const std::vector<std::string>& labels, int64_t per_row = 8,
                       int64_t min_cell = 56);

/// The spellings of 0.5 and before, kept for a release.
[[deprecated("use encode_labeled_grid")]] inline std::vector<uchar> encode_labelled_grid(
    const torch::Tensor& images, const std::vector<std::string>& labels, int64_t per_row,
    int64_t min_cell = 56) {
  return encode_labeled_grid(images, labels, per_row, min_cell);
}
[[deprecated("use save_labeled_grid")]] inline void save_labelled_grid(
    const std::filesystem::path& path, const torch::Tensor& images,
    const std::vector<std::string>& labels, int64_t per_row = 8, int64_t min_cell = 56) {
  save_labeled_grid(path, images, labels, per_row, min_cell);
}

}  // namespace ganaug
