#pragma once
// Private to the pipelines: keeps OpenCV from starting its own parallel loops inside our
// worker threads (its TBB backend would oversubscribe the arena the caller sized).

#include <tbb/task_arena.h>

#include <opencv2/core/utility.hpp>

namespace ganaug::detail {

class SerialOpenCV {
 public:
  SerialOpenCV() : saved_(cv::getNumThreads()) { cv::setNumThreads(1); }
  ~SerialOpenCV() { cv::setNumThreads(saved_); }
  SerialOpenCV(const SerialOpenCV&) = delete;
  SerialOpenCV& operator=(const SerialOpenCV&) = delete;

 private:
  int saved_;
};

inline int arena_threads(int threads) { return threads > 0 ? threads : tbb::task_arena::automatic; }

}  // namespace ganaug::detail
