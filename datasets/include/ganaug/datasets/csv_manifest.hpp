#pragma once
/// CSV manifests of labeled images, in two forms:
///  - `path,label` rows, with an optional header row (recognised when its label field is
///    literally "label"); labels are class names or class indices;
///  - the manifest `augment` writes, `file,cond,label,p0,...,p{K-1}`, recognised by that header:
///    integer labels (-1 for none) and one soft target per row.
/// Paths are relative to the manifest's folder unless absolute.

#include <filesystem>
#include <string>
#include <vector>

#include "ganaug/datasets/image_list.hpp"

namespace ganaug {

/// Reads a manifest. Without `class_names`, the classes are "0".."K-1" (K = largest label + 1)
/// when every label is an integer, else the sorted distinct labels; for the soft-target form
/// they are "0".."K-1" for K target columns (K = largest label + 1 without them). With
/// `class_names`, a label must be one of them or an index into them. Records keep the row
/// order; the `cond` column is checked but not kept. Only checks that each image exists: no
/// image is decoded. Throws ganaug::Error naming the manifest and line for a missing or empty
/// manifest, a row with a missing or extra column, an unknown label, a malformed number, more
/// than 100000 classes, or an image path that does not exist, or (unless
/// `allow_outside_paths`) an image path that leads outside the manifest's folder (`../x.png`,
/// an absolute path elsewhere, a symbolic link out).
ImageList read_csv_manifest(const std::filesystem::path& manifest,
                            const std::vector<std::string>& class_names = {},
                            bool allow_outside_paths = false);

/// The image paths of a manifest as an unlabeled list (every label -1, `class_names` kept): the
/// column named "path" or "file" in a header row, else the first column; other columns (a label
/// among them) are not read. Paths are resolved and checked as read_csv_manifest() does. Throws
/// ganaug::Error naming the manifest and line for a missing or empty manifest, a row without
/// that column, or an image that does not exist or (unless `allow_outside_paths`) lies outside
/// the manifest's folder.
ImageList read_image_paths(const std::filesystem::path& manifest,
                           const std::vector<std::string>& class_names = {},
                           bool allow_outside_paths = false);

/// Splits one CSV line into fields; double-quoted fields may hold commas and "" for a quote.
/// Spaces around a field and a trailing carriage return are dropped (a quoted field keeps the
/// spaces inside its quotes).
std::vector<std::string> split_csv_line(const std::string& line);

/// `text` as one CSV field that split_csv_line() reads back: double-quoted (quotes doubled)
/// when it holds a comma, a quote, a line break or surrounding spaces, else as it is.
std::string csv_field(const std::string& text);

}  // namespace ganaug
