#pragma once
// Private to the pipelines: how every pipeline runs its flow graph in its own arena, and keeping
// OpenCV from starting its own parallel loops inside our worker threads (its TBB backend would
// oversubscribe the arena the caller sized).

#include <tbb/flow_graph.h>
#include <tbb/task_arena.h>

#include <opencv2/core/utility.hpp>

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
