#pragma once
/// A small progress display: a live bar with rate and ETA on a terminal, plain periodic lines
/// otherwise, nothing when quiet. (Debian packages no C++ progress-bar library.)

#include <chrono>
#include <cstdio>
#include <string>

namespace ganaug::cli {

class Progress {
 public:
  enum class Mode { kBar, kLines, kQuiet };
  /// kBar when `stream` is a terminal, kLines otherwise; kQuiet when `quiet`.
  Progress(std::FILE* stream, bool quiet);
  /// Reports `done` of `total` for `stage`; `detail` is shown after the figures.
  void update(const std::string& stage, double done, double total, const std::string& detail);
  /// Ends the current stage's line.
  void finish();
  Mode mode() const { return mode_; }

 private:
  using Clock = std::chrono::steady_clock;
  std::FILE* stream_;
  Mode mode_;
  std::string stage_;
  Clock::time_point stage_start_, last_print_;
  double first_done_ = 0;
  bool open_line_ = false;
};

}  // namespace ganaug::cli
