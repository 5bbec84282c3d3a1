#pragma once
// Private to the readers: the class names of data sets that have numbers, not names.

#include <cstdint>
#include <string>
#include <vector>

namespace ganaug::detail {

/// "0", "1", ..., count - 1.
inline std::vector<std::string> numbered_class_names(int64_t count) {
  std::vector<std::string> names;
  for (int64_t k = 0; k < count; ++k) names.push_back(std::to_string(k));
  return names;
}

}  // namespace ganaug::detail
