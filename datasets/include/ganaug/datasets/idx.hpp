#pragma once
/// IDX files, the format of MNIST and Fashion-MNIST: a big-endian header (magic number, then one
/// 32-bit size per dimension) followed by unsigned bytes. Files may be raw or gzip-compressed;
/// compression is recognised by its magic bytes (1f 8b), not by the file name.

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "ganaug/dataset.hpp"

namespace ganaug {

/// The bytes of an IDX image file and its labels, checked against each other but not yet
/// converted to floats (the loading pipeline normalises them in parallel).
struct IdxContents {
  /// N x 1 x H x W uint8.
  torch::Tensor pixels;
  /// N int64.
  torch::Tensor labels;
  /// One name per class.
  std::vector<std::string> class_names;
  /// The images file, for messages.
  std::string source;
};

/// The pixels of an IDX image file (magic 0x00000803, gzipped or not) as N x 1 x H x W uint8,
/// without labels. Throws ganaug::Error naming the file for a missing, unreadable, truncated or
/// oversized file, a wrong magic number or a header with a zero size.
torch::Tensor read_idx_pixels(const std::filesystem::path& images_path);

/// Reads an IDX image file (magic 0x00000803) and its label file (magic 0x00000801).
/// Class names default to "0".."K-1" with K = largest label + 1; when `class_names` is given,
/// every label must index into it. Reads on the calling thread. Throws ganaug::Error naming the
/// file for a missing or unreadable file, a wrong magic number, a header with a zero size, a
/// truncated file or one with extra bytes, corrupt gzip data, differing image and label counts,
/// or a label out of range.
IdxContents read_idx_contents(const std::filesystem::path& images_path,
                              const std::filesystem::path& labels_path,
                              const std::vector<std::string>& class_names = {});

/// read_idx_contents() with the pixels converted to N x 1 x H x W float32 in [-1, 1]
/// (x / 127.5 - 1) on the calling thread. Throws as read_idx_contents() does.
LabeledDataset read_idx(const std::filesystem::path& images_path,
                        const std::filesystem::path& labels_path,
                        const std::vector<std::string>& class_names = {});

/// Writes `pixels` (N x H x W or N x 1 x H x W uint8) and `labels` (N integers in [0, 255]) as
/// IDX files; a path ending in ".gz" is gzip-compressed. Meant for fixtures and exports: the
/// files are written in place (not atomically; folders must exist), the images file first, so
/// a label out of range throws after it is written. Tensors may be on any device. Throws
/// ganaug::Error for bad shapes or types, labels outside [0, 255], and files that cannot be
/// written.
void write_idx(const std::filesystem::path& images_path, const std::filesystem::path& labels_path,
               const torch::Tensor& pixels, const torch::Tensor& labels);

/// The whole content of `path`, gunzipped when it starts with the gzip magic bytes.
/// Throws ganaug::Error naming the file when it is missing, unreadable or corrupt.
std::vector<uint8_t> read_maybe_gzipped(const std::filesystem::path& path);

}  // namespace ganaug
