#pragma once
/// A closed set of named values (an enum's), each name written once: parsing a name, naming a
/// value, and the list that an error message offers. Every parse_* / to_string pair of an option
/// with a few named values is one of these.

#include <string>
#include <utility>
#include <vector>

#include "ganaug/error.hpp"

namespace ganaug {

template <typename Enum>
class Choices {
 public:
  /// `what` names the values in messages ("optimizer"); `names` gives each value its name, in
  /// the order messages list them.
  Choices(std::string what, std::vector<std::pair<Enum, std::string>> names)
      : what_(std::move(what)), names_(std::move(names)) {}

  /// The value named `name`; throws ganaug::Error "unknown <what> '<name>': use a, b or c".
  Enum parse(const std::string& name) const {
    for (const auto& [value, known] : names_)
      if (known == name) return value;
    GANAUG_FAIL("unknown ", what_, " '", name, "': use ", list());
  }
  /// The name of `value`; throws ganaug::Error for a value without one.
  const std::string& name(Enum value) const {
    for (const auto& [known, name] : names_)
      if (known == value) return name;
    GANAUG_FAIL("invalid ", what_, " ", static_cast<int>(value));
  }
  /// The names as a message lists them: "a, b or c".
  std::string list() const {
    std::string out;
    for (size_t i = 0; i < names_.size(); ++i)
      out += (i == 0 ? "" : i + 1 == names_.size() ? " or " : ", ") + names_[i].second;
    return out;
  }

 private:
  std::string what_;
  std::vector<std::pair<Enum, std::string>> names_;
};

}  // namespace ganaug
