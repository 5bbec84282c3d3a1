#include "ganaug/error.hpp"

#include <cstring>

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
