// One process at a time in an output folder (internal to the jobs, and through the tools): a
// second run is refused naming the holder's PID, and nothing it would have done with --force
// happens; a killed run's lock does not block the next run.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <vector>

#include "output_lock.hpp"
#include "test_support.hpp"
#include "tiny_data.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_output_lock {

namespace fs = std::filesystem;
using ganaug::jobs::detail::OutputLock;

namespace {

// A child process that holds the lock of `folder` until it is killed.
class LockHolder {
 public:
  explicit LockHolder(const fs::path& folder) {
    int ready[2];
    EXPECT_EQ(::pipe(ready), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(ready[0]);
      try {
        OutputLock lock(folder);
        const char ok = 1;
        if (::write(ready[1], &ok, 1) != 1) ::_exit(2);
        for (;;) ::pause();
      } catch (...) {
        ::_exit(3);
      }
    }
    ::close(ready[1]);
    char ok = 0;
    EXPECT_EQ(::read(ready[0], &ok, 1), 1) << "the child could not take the lock";
    ::close(ready[0]);
  }
  ~LockHolder() { kill(); }
  // SIGKILL: no destructor runs in the child; the kernel drops its lock.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST(OutputLock, OneHolderAtATimeInThisProcess) {
  ganaug::testing::TempDir dir;
  const auto out = dir / "out";
  {
    OutputLock first(out);
    EXPECT_TRUE(first.held());
    EXPECT_TRUE(fs::is_directory(out));
    EXPECT_EQ(read_text(out / ".ganaug-lock"), std::to_string(::getpid()) + "\n");
    ganaug::testing::expect_error(
        [&] { OutputLock second(out); },
        {"output folder", out.string(), "in use by process " + std::to_string(::getpid()),
         "choose another --out"});
    // Moved, it stays held.
    OutputLock moved(std::move(first));
    EXPECT_FALSE(first.held());
    EXPECT_THROW(OutputLock again(out), ganaug::Error);
  }
  // Released: free again, and the PID is gone with its run.
  EXPECT_EQ(read_text(out / ".ganaug-lock"), "");
  EXPECT_NO_THROW(OutputLock again(out));
  EXPECT_TRUE(ganaug::jobs::detail::holds_nothing_but_lock(out));
}

TEST(OutputLock, AnotherProcessIsNamedAndAKilledOneBlocksNothing) {
  ganaug::testing::TempDir dir;
  const auto out = dir / "out";
  LockHolder holder(out);
  ganaug::testing::expect_error([&] { OutputLock mine(out); },
                                {"in use by process " + std::to_string(holder.pid())});
  holder.kill();
  EXPECT_NO_THROW(OutputLock mine(out));
}

TEST(OutputLock, EveryToolThatWritesAFolderWaitsItsTurn) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  const auto out = dir / "out";
  const std::string run = "--data " + (dir / "data").string() +
                          " --per-class 0 --gan-steps 2 --n 6 --no-retrain --device cpu --quiet";
  std::string output;
  ASSERT_EQ(
      ganaug::testing::run_program(GANAUG_AUGMENT_EXE, run + " --out " + out.string(), &output), 0)
      << output;
  const auto labels = read_text(out / "labels.csv");
  // Shards of a sampling run and of a grid, for the merges.
  fs::copy_file(out / "gan" / "checkpoint.pt", dir / "g.pt");
  std::vector<std::string> shards, bench_shards;
  for (const int k : {0, 1}) {
    const auto shard = " --shard " + std::to_string(k) + " --num-shards 2 --out ";
    shards.push_back((dir / ("s" + std::to_string(k))).string());
    ASSERT_EQ(ganaug::testing::run_program(
                  GANAUG_AUGMENT_EXE,
                  run + " --generator " + (dir / "g.pt").string() + shard + shards.back(), &output),
              0)
        << output;
    bench_shards.push_back((dir / ("b" + std::to_string(k))).string());
    ASSERT_EQ(ganaug::testing::run_program(GANAUG_BENCH_EXE,
                                           "--data " + (dir / "data").string() +
                                               " --sizes 3 --seeds 2 --schemes none --epochs 1 "
                                               "--reference-epochs 1 --device cpu --quiet" +
                                               shard + bench_shards.back(),
                                           &output),
              0)
        << output;
  }
  {
    LockHolder holder(out);
    const std::string in_use = "in use by process " + std::to_string(holder.pid());
    // --force, --resume: refused before anything in the folder changes.
    for (const char* mode : {" --force", " --resume"}) {
      EXPECT_EQ(ganaug::testing::run_program(
                    GANAUG_AUGMENT_EXE, run + " --seed 1 --out " + out.string() + mode, &output),
                1)
          << mode;
      EXPECT_NE(output.find(in_use), std::string::npos) << output;
      EXPECT_EQ(read_text(out / "labels.csv"), labels) << mode;
    }
    const std::string bench = "--data " + (dir / "data").string() +
                              " --sizes 3 --seeds 1 --schemes none --epochs 1 --device cpu "
                              "--force --out " +
                              out.string();
    EXPECT_EQ(ganaug::testing::run_program(GANAUG_BENCH_EXE, bench, &output), 1);
    EXPECT_NE(output.find(in_use), std::string::npos) << output;
    EXPECT_EQ(read_text(out / "labels.csv"), labels);
    // Both merges, with shards that would merge.
    EXPECT_EQ(ganaug::testing::run_program(
                  GANAUG_MERGE_EXE,
                  "--force --out " + out.string() + " " + shards[0] + " " + shards[1], &output),
              1);
    EXPECT_NE(output.find(in_use), std::string::npos) << output;
    EXPECT_EQ(ganaug::testing::run_program(GANAUG_BENCH_EXE,
                                           "--force --out " + out.string() + " --merge " +
                                               bench_shards[0] + " --merge " + bench_shards[1],
                                           &output),
              1);
    EXPECT_NE(output.find(in_use), std::string::npos) << output;
    EXPECT_EQ(read_text(out / "labels.csv"), labels);
  }
  // The holder was killed: the next run goes ahead; a folder holding only a lock file counts
  // as empty.
  EXPECT_EQ(ganaug::testing::run_program(GANAUG_AUGMENT_EXE,
                                         run + " --resume --out " + out.string(), &output),
            0)
      << output;
  fs::create_directories(dir / "fresh");
  { OutputLock once(dir / "fresh"); }
  EXPECT_EQ(ganaug::testing::run_program(GANAUG_AUGMENT_EXE,
                                         run + " --out " + (dir / "fresh").string(), &output),
            0)
      << output;
}

}  // namespace ganaug_tests_output_lock
