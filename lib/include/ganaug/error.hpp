#pragma once
/// Errors: every failure a user can cause is a ganaug::Error whose message names the file or
/// value at fault and what to do about it. Raised through GANAUG_CHECK, like TORCH_CHECK.

#include <sstream>
#include <stdexcept>
#include <string>

namespace ganaug {

/// The one exception type of ganaug. what() is a complete, user-facing sentence.
class Error : public std::runtime_error {
 public:
  /// `message` becomes what().
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

/// Thrown when a stop request (Ctrl-C, a should_stop hook) ended a run early; what was written
/// so far is consistent and a resumed run continues it.
class Interrupted : public Error {
 public:
  using Error::Error;
};

/// The first line of `e`'s message, for quoting another library's error inside a ganaug one
/// (LibTorch's errors without their C++ backtrace).
std::string first_line(const std::exception& e);

namespace detail {
/// Internal to GANAUG_CHECK: `parts` streamed one after another into one string.
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
/// Internal to GANAUG_CHECK and GANAUG_FAIL: throws ganaug::Error whose what() is `message`
/// followed by " [<file's base name>:<line>: <condition>]" (no condition when it is null).
[[noreturn]] void throw_error(const char* file, int line, const char* condition,
                              const std::string& message);
}  // namespace detail

}  // namespace ganaug

/// Throws ganaug::Error with the message parts streamed together when `condition` is false.
/// The message comes first; the source location and the failed condition follow in brackets.
#define GANAUG_CHECK(condition, ...)                                        \
  do {                                                                      \
    if (!(condition)) {                                                     \
      ::ganaug::detail::throw_error(__FILE__, __LINE__, #condition,         \
                                    ::ganaug::detail::concat(__VA_ARGS__)); \
    }                                                                       \
  } while (false)

/// Throws ganaug::Error unconditionally.
#define GANAUG_FAIL(...) \
  ::ganaug::detail::throw_error(__FILE__, __LINE__, nullptr, ::ganaug::detail::concat(__VA_ARGS__))
