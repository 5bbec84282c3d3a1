#pragma once
/// A list of labeled image files, what the folder and CSV readers give and the loading pipeline
/// decodes.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ganaug {

/// One image file and its class.
struct ImageRecord {
  /// The image file (absolute, or relative to the working directory).
  std::filesystem::path path;
  /// Class index in [0, class_names.size()), or -1 for an image with only a soft target.
  int64_t label = -1;
  /// Soft target, one probability per entry; empty for a hard-labeled image.
  std::vector<float> target;
};

/// Labeled image files with their class names. Holds paths only; nothing is decoded.
struct ImageList {
  /// The images, in the order the loading pipeline writes them.
  std::vector<ImageRecord> records;
  /// One name per class; class k is class_names[k].
  std::vector<std::string> class_names;
  /// The folder or manifest the list came from, for messages and summaries.
  std::string source;

  /// Records per class; records labeled -1 are not counted. Every other label must be below
  /// class_names.size().
  std::vector<int64_t> class_counts() const {
    std::vector<int64_t> counts(class_names.size(), 0);
    for (const auto& record : records) {
      if (record.label >= 0) ++counts[static_cast<size_t>(record.label)];
    }
    return counts;
  }
};

}  // namespace ganaug
