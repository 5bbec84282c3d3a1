#include "progress.hpp"

#include <unistd.h>

#include <cmath>

namespace ganaug::cli {

namespace {
std::string clock_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const long s = std::lround(seconds);
  char text[32];
  std::snprintf(text, sizeof text, "%02ld:%02ld", s / 60, s % 60);
  return text;
}
}  // namespace

Progress::Progress(std::FILE* stream, bool quiet)
    : stream_(stream),
      mode_(quiet ? Mode::kQuiet : (isatty(fileno(stream)) ? Mode::kBar : Mode::kLines)) {}

void Progress::update(const std::string& stage, double done, double total,
                      const std::string& detail) {
  if (mode_ == Mode::kQuiet) return;
  const auto now = Clock::now();
  if (stage != stage_) {
    finish();
    stage_ = stage;
    stage_start_ = now;
    last_print_ = {};
    first_done_ = done;
  }
  const bool last = done >= total;
  const double elapsed = std::chrono::duration<double>(now - stage_start_).count();
  const double rate = elapsed > 0 ? (done - first_done_) / elapsed : 0;
  const double eta = rate > 0 ? (total - done) / rate : NAN;
  const double fraction = total > 0 ? std::min(1.0, done / total) : 1.0;
  if (mode_ == Mode::kBar) {
    if (!last && now - last_print_ < std::chrono::milliseconds(100)) return;
    constexpr int kWidth = 28;
    const int filled = static_cast<int>(fraction * kWidth);
    std::fprintf(stream_, "\r%-9s [%s%s] %3.0f%% %.0f/%.0f %.1f/s ETA %s %s\033[K", stage.c_str(),
                 std::string(filled, '#').c_str(), std::string(kWidth - filled, '.').c_str(),
                 fraction * 100, done, total, rate, clock_text(eta).c_str(), detail.c_str());
    open_line_ = true;
  } else {
    if (!last && now - last_print_ < std::chrono::seconds(5)) return;
    std::fprintf(stream_, "%s: %.0f/%.0f (%.0f%%), %.1f/s, elapsed %s, ETA %s %s\n", stage.c_str(),
                 done, total, fraction * 100, rate, clock_text(elapsed).c_str(),
                 clock_text(eta).c_str(), detail.c_str());
  }
  std::fflush(stream_);
  last_print_ = now;
}

void Progress::finish() {
  if (open_line_) std::fputc('\n', stream_);
  open_line_ = false;
}

}  // namespace ganaug::cli
