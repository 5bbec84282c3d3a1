#pragma once
// Private to the pipelines: how every pipeline runs its flow graph in its own arena, and keeping
// OpenCV from starting its own parallel loops inside our worker threads (its TBB backend would
// oversubscribe the arena the caller sized).

#include <tbb/flow_graph.h>
#include <tbb/task_arena.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <opencv2/core/utility.hpp>
#include <string>

#include "ganaug/error.hpp"

namespace ganaug::detail {

/// Runs `graph` to completion inside `arena`: resets it (which also attaches it to the arena),
/// calls `start` (typically a source node's activate()) and waits. When a node throws, the graph
/// is reset again inside the arena (cancelling what is left), `on_failure` runs, and the
/// exception goes on to the caller.
template <typename Start, typename OnFailure>
void run_graph_in_arena(tbb::task_arena& arena, tbb::flow::graph& graph, Start&& start,
                        OnFailure&& on_failure) {
  try {
    arena.execute([&] {
      graph.reset();
      start();
      graph.wait_for_all();
    });
  } catch (...) {
    arena.execute([&] { graph.reset(); });
    on_failure();
    throw;
  }
}

/// For a pipeline's destructor: lets every task still pending in `graph` finish while the nodes
/// it touches are alive (making edges spawns tasks even in a graph that never ran, and members
/// are destroyed before the graph), inside the arena the graph attached to. Never throws.
inline void wait_quietly(tbb::task_arena& arena, tbb::flow::graph& graph) noexcept {
  try {
    arena.execute([&] { graph.wait_for_all(); });
  } catch (...) {
  }
}

class SerialOpenCV {
 public:
  SerialOpenCV() : saved_(cv::getNumThreads()) { cv::setNumThreads(1); }
  ~SerialOpenCV() { cv::setNumThreads(saved_); }
  SerialOpenCV(const SerialOpenCV&) = delete;
  SerialOpenCV& operator=(const SerialOpenCV&) = delete;

 private:
  int saved_;
};

/// Refuses a data set that would take more than half of this machine's memory as floats, before
/// allocating it: one huge image listed first would otherwise fix the size of all of them.
inline void check_memory(int64_t count, int64_t channels, int64_t height, int64_t width,
                         const std::string& first) {
  const double bytes = 4.0 * static_cast<double>(count) * static_cast<double>(channels) *
                       static_cast<double>(height) * static_cast<double>(width);
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return;
  const double memory = static_cast<double>(pages) * static_cast<double>(page_size);
  GANAUG_CHECK(bytes <= memory / 2, count, " images of ", channels, " x ", height, " x ", width,
               " (the size of ", first, ") would take ", std::ceil(bytes / 1e9),
               " GB as floats, more than half of this machine's ", std::floor(memory / 1e9),
               " GB; set a smaller image size (--image-size)");
}

inline int arena_threads(int threads) { return threads > 0 ? threads : tbb::task_arena::automatic; }

}  // namespace ganaug::detail
