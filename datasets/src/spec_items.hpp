#pragma once
// Private to the datasets layer: the "key=value,key=value" specs of the augmentations
// (ClassicAugmentOptions::parse, RandAugmentOptions::parse), read one way.

#include <cmath>
#include <functional>
#include <sstream>
#include <string>

#include "ganaug/error.hpp"

namespace ganaug::detail {

/// Calls `on_item(key, value)` for each comma-separated "key=value" of `spec`, in order;
/// nothing for "" or "default". Throws ganaug::Error for an item without '=', naming `what`
/// ("classical augmentation") and the keys it takes (`keys`).
inline void for_each_spec_item(
    const std::string& spec, const std::string& what, const std::string& keys,
    const std::function<void(const std::string& key, const std::string& value)>& on_item) {
  if (spec.empty() || spec == "default") return;
  std::stringstream items(spec);
  std::string item;
  while (std::getline(items, item, ',')) {
    const auto eq = item.find('=');
    GANAUG_CHECK(eq != std::string::npos, what, ": '", item, "' is not key=value (keys: ", keys,
                 ")");
    on_item(item.substr(0, eq), item.substr(eq + 1));
  }
}

/// `value` of `key` as a finite number; throws ganaug::Error naming `what` and `key` otherwise.
inline double spec_number(const std::string& what, const std::string& key,
                          const std::string& value) {
  try {
    size_t used = 0;
    const double v = std::stod(value, &used);
    if (used == value.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  GANAUG_FAIL(what, ": '", key, "' needs a number, got '", value, "'");
}

}  // namespace ganaug::detail
