#pragma once
// Internal to the ganaug library: the range check of ClassifierOptions' table
// (classifier_fields()), which ClassifierOptions::validate runs.

#include <functional>
#include <string>

#include "ganaug/classifier.hpp"

namespace ganaug::detail {

/// Throws ganaug::Error naming (by `name`) the first field of `o` outside its range.
void check_classifier_ranges(const ClassifierOptions& o,
                             const std::function<std::string(const char*)>& name);

}  // namespace ganaug::detail
