#include "ganaug/error.hpp"

#include <c10/util/Exception.h>

#include <cstring>

namespace ganaug {

std::string first_line(const std::exception& e) {
  const auto* torch_error = dynamic_cast<const c10::Error*>(&e);
  std::string text = torch_error ? torch_error->what_without_backtrace() : e.what();
  return text.substr(0, text.find('\n'));
}

}  // namespace ganaug

namespace ganaug::detail {

void throw_error(const char* file, int line, const char* condition, const std::string& message) {
  const char* base = std::strrchr(file, '/');
  std::ostringstream out;
  out << message << " [" << (base ? base + 1 : file) << ":" << line;
  if (condition) out << ": " << condition;
  out << "]";
  throw Error(out.str());
}

}  // namespace ganaug::detail
