// Internal to the ganaug library: the range of a numeric option field (GanField,
// ClassifierField: `low`, `high`, `low_open`, `high_open`), one test and one wording for both.
#pragma once

#include <cmath>
#include <sstream>
#include <string>

namespace ganaug::detail {

/// Whether `x` is finite and lies in `field`'s range.
template <typename Field>
bool in_field_range(const Field& field, double x) {
  const bool above = !field.low || (field.low_open ? x > *field.low : x >= *field.low);
  const bool below = !field.high || (field.high_open ? x < *field.high : x <= *field.high);
  return above && below && std::isfinite(x);
}

/// What a value of `field` must do, after "must ": "lie in [0, 1)", "be positive", "be 0 or
/// positive", "be at least 2", "be above 0.5", "be at most 8".
template <typename Field>
std::string field_range_phrase(const Field& field, bool integer) {
  std::ostringstream range;
  if (field.low && field.high) {
    range << "lie in " << (field.low_open ? "(" : "[") << *field.low << ", " << *field.high
          << (field.high_open ? ")" : "]");
  } else if (!field.low) {
    range << "be " << (field.high_open ? "below " : "at most ") << *field.high;
  } else if (*field.low == 0 && field.low_open) {
    range << "be positive";
  } else if (*field.low == 0) {
    range << "be 0 or positive";
  } else if (integer && *field.low == 1) {
    range << "be positive";
  } else {
    range << "be " << (field.low_open ? "above " : "at least ") << *field.low;
  }
  return range.str();
}

}  // namespace ganaug::detail
