#pragma once
// Private to the jobs: wall-clock timing of stages for summaries and reports.

#include <chrono>

namespace ganaug::jobs::detail {

using Clock = std::chrono::steady_clock;

/// Seconds from `start` to now.
inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace ganaug::jobs::detail
