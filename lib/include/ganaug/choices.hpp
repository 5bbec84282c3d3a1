#pragma once
/// A closed set of named values (an enum's), each name written once: parsing a name, naming a
/// value, and the list that an error message offers. Every parse_* / to_string pair of an option
/// with a few named values is one of these.

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "ganaug/error.hpp"

namespace ganaug {

/// Names as a message lists them: "a, b or c".
inline std::string list_names(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i)
    out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return out;
}

template <typename Enum>
class Choices {
 public:
  /// `what` names the values in messages ("optimizer"); `names` gives each value its name, in
  /// the order messages list them. `otherwise` (optional) is what a user may give in place of a
  /// name, listed last ("a TorchScript file"); the values in `not_parsed` have a name that
  /// output shows but that parse() refuses (a value that only `otherwise` gives).
  Choices(std::string what, std::vector<std::pair<Enum, std::string>> names,
          std::string otherwise = {}, std::vector<Enum> not_parsed = {})
      : what_(std::move(what)),
        names_(std::move(names)),
        otherwise_(std::move(otherwise)),
        not_parsed_(std::move(not_parsed)) {}

  /// The value named `name`; throws ganaug::Error "unknown <what> '<name>': use a, b or c".
  Enum parse(const std::string& name) const {
    for (const auto& [value, known] : names_)
      if (known == name && !refused(value)) return value;
    GANAUG_FAIL("unknown ", what_, " '", name, "': use ", list());
  }
  /// The name of `value`; throws ganaug::Error for a value without one.
  const std::string& name(Enum value) const {
    for (const auto& [known, name] : names_)
      if (known == value) return name;
    GANAUG_FAIL("invalid ", what_, " ", static_cast<int>(value));
  }
  /// Every value, in the table's order.
  std::vector<Enum> values() const {
    std::vector<Enum> out;
    for (const auto& entry : names_) out.push_back(entry.first);
    return out;
  }
  /// What parse() accepts, as a message lists it: "a, b or c".
  std::string list() const {
    std::vector<std::string> names;
    for (const auto& [value, name] : names_)
      if (!refused(value)) names.push_back(name);
    if (!otherwise_.empty()) names.push_back(otherwise_);
    return list_names(names);
  }

 private:
  bool refused(Enum value) const {
    return std::find(not_parsed_.begin(), not_parsed_.end(), value) != not_parsed_.end();
  }

  std::string what_;
  std::vector<std::pair<Enum, std::string>> names_;
  std::string otherwise_;
  std::vector<Enum> not_parsed_;
};

}  // namespace ganaug
