#include "ganaug/pipelines/prefetch.hpp"

#include <tbb/concurrent_queue.h>
#include <tbb/flow_graph.h>
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <utility>

#include "flow_support.hpp"
#include "ganaug/error.hpp"

namespace ganaug {
namespace {

// A step on its way through the graph, with what its plan or build threw.
struct StepMessage {
  int64_t step = 0;
  std::exception_ptr error;
};

class FlowFeeder final : public StepFeeder {
 public:
  FlowFeeder(int64_t ahead, int workers)
      : arena_(workers, 0),  // no slot for the training thread: the builders are TBB workers
        source_(graph_, [this](tbb::flow_control& control) { return next_step(control); }),
        limiter_(graph_, static_cast<size_t>(ahead + 1)),
        admitted_(graph_, [](const StepMessage& m) { return static_cast<size_t>(m.step); }),
        planner_(graph_, tbb::flow::serial, [this](StepMessage m) { return plan(std::move(m)); }),
        builder_(graph_, static_cast<size_t>(workers),
                 [this](StepMessage m) { return build(std::move(m)); }),
        built_(graph_, [](const StepMessage& m) { return static_cast<size_t>(m.step); }),
        deliver_(graph_, tbb::flow::serial, [this](const StepMessage& m) { ready_.push(m); }) {
    tbb::flow::make_edge(source_, limiter_);
    tbb::flow::make_edge(limiter_, admitted_);
    tbb::flow::make_edge(admitted_, planner_);
    tbb::flow::make_edge(planner_, builder_);
    tbb::flow::make_edge(builder_, built_);
    tbb::flow::make_edge(built_, deliver_);
  }

  ~FlowFeeder() override {
    stopping_ = true;
    detail::wait_quietly(arena_, graph_);
  }

  void start(int64_t count, Task plan, Task build) override {
    count_ = count;
    plan_ = std::move(plan);
    build_ = std::move(build);
    arena_.execute([this] { graph_.reset(); });  // attaches the graph to the arena
    source_.activate();
  }

  void take(int64_t step) override {
    if (step > 0) limiter_.decrementer().try_put(tbb::flow::continue_msg());
    StepMessage m;
    ready_.pop(m);
    GANAUG_CHECK(m.step == step, "step ", m.step, " was prepared where step ", step,
                 " was taken (steps are taken in order)");
    if (m.error) std::rethrow_exception(m.error);
  }

 private:
  // The source node numbers the steps; the limiter admits one once the step ahead + 1 before it
  // is done with, and only then is it planned (in step order, one at a time).
  StepMessage next_step(tbb::flow_control& control) {
    if (stopping_ || failed_ || next_ >= count_) {
      control.stop();
      return {};
    }
    return StepMessage{next_++, nullptr};
  }

  StepMessage plan(StepMessage m) {
    if (failed_ || stopping_) return m;
    try {
      plan_(m.step);
    } catch (...) {
      m.error = std::current_exception();
      failed_ = true;
    }
    return m;
  }

  StepMessage build(StepMessage m) {
    if (m.error || stopping_) return m;
    try {
      build_(m.step);
    } catch (...) {
      m.error = std::current_exception();
    }
    return m;
  }

  Task plan_, build_;
  int64_t count_ = 0, next_ = 0;
  std::atomic<bool> failed_{false}, stopping_{false};
  tbb::concurrent_bounded_queue<StepMessage> ready_;
  tbb::task_arena arena_;
  tbb::flow::graph graph_;
  tbb::flow::input_node<StepMessage> source_;
  tbb::flow::limiter_node<StepMessage> limiter_;
  tbb::flow::sequencer_node<StepMessage> admitted_;
  tbb::flow::function_node<StepMessage, StepMessage> planner_;
  tbb::flow::function_node<StepMessage, StepMessage> builder_;
  tbb::flow::sequencer_node<StepMessage> built_;
  tbb::flow::function_node<StepMessage> deliver_;
};

}  // namespace

std::unique_ptr<StepFeeder> make_prefetch_feeder(int64_t ahead, int workers) {
  GANAUG_CHECK(ahead >= 1, "a prefetching feeder prepares at least 1 step ahead, not ", ahead);
  GANAUG_CHECK(workers >= 1, "a prefetching feeder needs at least 1 builder, not ", workers);
  // The builders run on TBB's worker threads only; with none to give, nothing would run them.
  const auto parallelism =
      tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism);
  if (parallelism < 2) return nullptr;
  return std::make_unique<FlowFeeder>(ahead, std::min(workers, static_cast<int>(parallelism) - 1));
}

ClassifierHooks with_prefetch(ClassifierHooks hooks, int workers) {
  hooks.feeder = [workers](int64_t ahead) { return make_prefetch_feeder(ahead, workers); };
  return hooks;
}

}  // namespace ganaug
