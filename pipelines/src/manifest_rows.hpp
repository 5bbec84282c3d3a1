#pragma once
// Private to the pipelines: the one check of a generated folder's manifest rows, shared by the
// generate pipeline (resuming its own folder) and merge_shards (reading shards).

#include <filesystem>
#include <string>

#include "ganaug/error.hpp"
#include "ganaug/pipelines/generate.hpp"

namespace ganaug::detail {

/// Throws ganaug::Error unless `row` (row `row_number` of the manifest, counting its header as
/// row 1) lists image `index` and that image exists in `folder`. The message starts with
/// `where` (the manifest) and ends with `advice`.
inline void check_manifest_row(const std::filesystem::path& folder, const std::string& where,
                               const std::string& row, int64_t row_number, int64_t index,
                               const std::string& advice) {
  const std::string expected = image_file_name(index);
  GANAUG_CHECK(row.compare(0, expected.size() + 1, expected + ",") == 0, where, " row ", row_number,
               " should list ", expected, " but reads '", row.substr(0, 60), "'", advice);
  std::error_code error;
  GANAUG_CHECK(std::filesystem::is_regular_file(folder / expected, error), where, " lists ",
               expected, " but the file is missing", advice);
}

}  // namespace ganaug::detail
