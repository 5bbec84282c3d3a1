#include <gtest/gtest.h>
#include <tbb/global_control.h>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "blobs.hpp"
#include "ganaug/classifier.hpp"
#include "ganaug/error.hpp"
#include "ganaug/metrics.hpp"
#include "ganaug/pipelines/prefetch.hpp"
#include "ganaug/runtime.hpp"
#include "ganaug/schemes.hpp"
#include "test_support.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_prefetch {

namespace {

bool has_worker_threads() {
  return tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism) >= 2;
}

// What a feeder did with the steps of a run: the order of its plans, which were built before
// they were taken, and how far plans ran ahead of training.
struct FeederLog {
  std::mutex mutex;
  std::vector<int64_t> planned;
  std::vector<bool> built;
  std::atomic<int64_t> taken{-1}, furthest_ahead{0}, running{0};
  explicit FeederLog(int64_t count) : built(static_cast<size_t>(count), false) {}

  void plan(int64_t step) {
    ++running;
    furthest_ahead = std::max<int64_t>(furthest_ahead, step - taken);
    std::lock_guard<std::mutex> lock(mutex);
    planned.push_back(step);
    --running;
  }
  void build(int64_t step) {
    ++running;
    std::this_thread::sleep_for(std::chrono::microseconds(200 * (step % 3)));
    {
      std::lock_guard<std::mutex> lock(mutex);
      built[static_cast<size_t>(step)] = true;
    }
    --running;
  }
};

void start(ganaug::StepFeeder& feeder, FeederLog& log, int64_t count) {
  feeder.start(
      count, [&log](int64_t step) { log.plan(step); }, [&log](int64_t step) { log.build(step); });
}

// The blobs with a pool, a synthetic set and seeded augmentation hooks of every kind.
struct Run {
  ganaug::LabeledDataset real, synthetic, test;
  ganaug::ClassifierHooks hooks;
};
Run run_with_every_view() {
  using ganaug::testing::blobs;
  auto pool = blobs(20, 7);
  pool.labels.fill_(-1);
  Run r{ganaug::concatenate({blobs(5, 1), pool}), blobs(10, 6), blobs(10, 2), {}};
  r.synthetic.targets = ganaug::scheme_targets(ganaug::Scheme::kSmooth, r.synthetic.labels, 3);
  const auto noisy = [](double scale) {
    return [scale](const torch::Tensor& x, uint64_t seed) {
      auto rng = ganaug::make_cpu_generator(seed);
      return (x + scale * torch::randn(x.sizes(), rng, torch::TensorOptions())).clamp(-1, 1);
    };
  };
  r.hooks.augment = noisy(0.1);
  r.hooks.augment_synthetic = true;
  r.hooks.weak_augment = noisy(0.05);
  r.hooks.strong_augment = noisy(0.3);
  return r;
}

ganaug::ClassifierOptions pool_options() {
  return ganaug::ClassifierOptions(3, 8, 1)
      .width(4)
      .epochs(6)
      .batch_size(8)
      .device("cpu")
      .seed(3)
      .pool_weight(1)
      .pool_ratio(2)
      .pool_threshold(0.6);
}

}  // namespace

TEST(Prefetch, PlansInOrderBuildsBeforeTakingAndStaysWithinItsLead) {
  for (const int64_t ahead : {1, 3}) {
    for (const int workers : {1, 2}) {
      const int64_t count = 60;
      FeederLog log(count);
      auto feeder = ganaug::make_prefetch_feeder(ahead, workers);
      if (!feeder) GTEST_SKIP() << "oneTBB has no worker thread here (one CPU)";
      start(*feeder, log, count);
      for (int64_t step = 0; step < count; ++step) {
        feeder->take(step);
        log.taken = step;
        std::lock_guard<std::mutex> lock(log.mutex);
        EXPECT_TRUE(log.built[static_cast<size_t>(step)]) << "step " << step << " taken unbuilt";
      }
      feeder.reset();
      std::vector<int64_t> in_order(count);
      for (int64_t i = 0; i < count; ++i) in_order[static_cast<size_t>(i)] = i;
      EXPECT_EQ(log.planned, in_order);
      // Step s is planned only once step s - ahead - 1 is done with (taken is the last step
      // handed to training, still in use): at most ahead + 1 beyond the last taken.
      EXPECT_LE(log.furthest_ahead, ahead + 1) << "ahead " << ahead;
      EXPECT_EQ(log.running, 0);
    }
  }
  ganaug::testing::expect_error([] { ganaug::make_prefetch_feeder(0); }, {"at least 1 step"});
  ganaug::testing::expect_error([] { ganaug::make_prefetch_feeder(2, 0); }, {"builder"});
}

TEST(Prefetch, AnErrorReachesTheStepThatThrewAndStopsPlanning) {
  const int64_t count = 40;
  {  // A build that throws: the steps before it arrive, then its error.
    auto feeder = ganaug::make_prefetch_feeder(4);
    if (!feeder) GTEST_SKIP() << "oneTBB has no worker thread here (one CPU)";
    feeder->start(
        count, [](int64_t) {},
        [](int64_t step) {
          if (step == 5) throw ganaug::Error("augmenting step 5 failed");
        });
    for (int64_t step = 0; step < 5; ++step) feeder->take(step);
    ganaug::testing::expect_error([&] { feeder->take(5); }, {"augmenting step 5 failed"});
  }
  {  // A plan that throws: no step is planned after it.
    std::atomic<int64_t> last_planned{-1};
    auto feeder = ganaug::make_prefetch_feeder(4);
    feeder->start(
        count,
        [&](int64_t step) {
          last_planned = step;
          if (step == 3) throw std::runtime_error("no more draws");
        },
        [](int64_t) {});
    for (int64_t step = 0; step < 3; ++step) feeder->take(step);
    EXPECT_THROW(feeder->take(3), std::runtime_error);
    feeder.reset();
    EXPECT_EQ(last_planned, 3);
  }
}

TEST(Prefetch, StopsCleanlyWhenTrainingStopsEarly) {
  const int64_t count = 100000;
  FeederLog log(count);
  auto feeder = ganaug::make_prefetch_feeder(3);
  if (!feeder) GTEST_SKIP() << "oneTBB has no worker thread here (one CPU)";
  start(*feeder, log, count);
  for (int64_t step = 0; step < 4; ++step) {
    feeder->take(step);
    log.taken = step;
  }
  feeder.reset();  // returns once nothing runs, without preparing the rest
  EXPECT_EQ(log.running, 0);
  std::lock_guard<std::mutex> lock(log.mutex);
  const auto planned = log.planned.size();
  EXPECT_LE(planned, 4u + 4u);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(log.planned.size(), planned) << "nothing is planned after the feeder is gone";
}

TEST(Prefetch, TrainingOnPreparedStepsIsTrainingOnTheSameBatches) {
  auto r = run_with_every_view();
  // The augmentation hooks run off the training thread when steps are prepared ahead.
  const auto training_thread = std::this_thread::get_id();
  std::atomic<int64_t> off_thread{0};
  auto counted = r.hooks;
  const auto strong = r.hooks.strong_augment;
  counted.strong_augment = [&, strong](const torch::Tensor& x, uint64_t seed) {
    if (std::this_thread::get_id() != training_thread) ++off_thread;
    return strong(x, seed);
  };
  const auto options = pool_options();
  auto serial = ganaug::train_classifier(r.real, &r.synthetic, options, counted);
  EXPECT_EQ(off_thread, 0);
  for (const int64_t ahead : {1, 4}) {
    auto prefetched = ganaug::train_classifier(r.real, &r.synthetic,
                                               ganaug::ClassifierOptions(options).prefetch(ahead),
                                               ganaug::with_prefetch(counted, 2));
    EXPECT_TRUE(torch::equal(ganaug::predict_probabilities(serial, r.test.images, 3),
                             ganaug::predict_probabilities(prefetched, r.test.images, 3)))
        << "prefetch " << ahead;
  }
  if (has_worker_threads()) {
    EXPECT_GT(off_thread, 0);
  }
  // prefetch 0 prepares on the training thread even with a feeder.
  off_thread = 0;
  ganaug::train_classifier(r.real, &r.synthetic, ganaug::ClassifierOptions(options).prefetch(0),
                           ganaug::with_prefetch(counted));
  EXPECT_EQ(off_thread, 0);
}

TEST(Prefetch, TrainingStopsOnAnAugmentationErrorOrWhenAsked) {
  auto r = run_with_every_view();
  auto hooks = ganaug::with_prefetch(r.hooks);
  std::atomic<int64_t> views{0};
  const auto strong = r.hooks.strong_augment;
  hooks.strong_augment = [&, strong](const torch::Tensor& x, uint64_t seed) {
    if (++views == 7) throw ganaug::Error("pool image 7 cannot be read");
    return strong(x, seed);
  };
  ganaug::testing::expect_error(
      [&] { ganaug::train_classifier(r.real, &r.synthetic, pool_options(), hooks); },
      {"pool image 7 cannot be read"});
  // Ctrl-C: should_stop ends training with Interrupted, the feeder stopped with it.
  hooks.strong_augment = strong;
  int64_t polls = 0;
  hooks.should_stop = [&polls] { return ++polls > 5; };
  EXPECT_THROW(ganaug::train_classifier(r.real, &r.synthetic, pool_options(), hooks),
               ganaug::Interrupted);
  EXPECT_EQ(polls, 6);
}

// The automatic default prepares ahead where a core or a device is free for it: on CUDA, and
// on a CPU where LibTorch's threads leave a core; where the network's threads take every core,
// a preparing thread would take one of theirs (bench/RESULTS.md: the default job ~25% slower).
TEST(Prefetch, AutomaticPrefetchPreparesAheadOnlyWhereSomethingIsFree) {
  ganaug::ClassifierOptions options(3);
  EXPECT_EQ(options.prefetch(), ganaug::kAutoPrefetch);
  const int threads = torch::get_num_threads();
  torch::set_num_threads(ganaug::hardware_threads());
  EXPECT_EQ(options.prefetch_steps(torch::kCPU), 0);
  EXPECT_EQ(options.prefetch_steps(torch::Device(torch::kCUDA, 0)), 2);
  if (ganaug::hardware_threads() > 1) {
    torch::set_num_threads(1);
    EXPECT_EQ(options.prefetch_steps(torch::kCPU), 2);
  }
  torch::set_num_threads(threads);
  // A number is used as given, on every device.
  options.prefetch(0);
  EXPECT_EQ(options.prefetch_steps(torch::Device(torch::kCUDA, 0)), 0);
  options.prefetch(5);
  EXPECT_EQ(options.prefetch_steps(torch::kCPU), 5);
  EXPECT_NO_THROW(options.prefetch(ganaug::kAutoPrefetch).validate());
  ganaug::testing::expect_error([&] { options.prefetch(-2).validate(); },
                                {"prefetch", "[0, 64] (or be -1: automatic)", "-2"});
}

}  // namespace ganaug_tests_prefetch
