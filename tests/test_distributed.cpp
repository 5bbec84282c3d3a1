// Data-parallel training over c10d Gloo: processes started on 127.0.0.1 (tests/dist_worker.cpp).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <future>
#include <thread>

#include "dist_support.hpp"
#include "ganaug/distributed.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_distributed {

namespace fs = std::filesystem;

namespace {

// A TCP port free on 127.0.0.1 right now.
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

struct Ranks {
  std::vector<int> codes;
  std::vector<std::string> outputs;
};

// Starts `ranks` of a world of `world` processes (at once, or each after its `delays` in
// seconds) and waits for them.
Ranks run_ranks(const std::string& mode, std::vector<int> ranks, int world, double timeout,
                const fs::path& out, const std::vector<double>& delays = {}) {
  const int port = free_port();
  std::vector<std::future<std::pair<int, std::string>>> running;
  for (size_t i = 0; i < ranks.size(); ++i) {
    const int rank = ranks[i];
    const double delay = i < delays.size() ? delays[i] : 0.0;
    running.push_back(std::async(std::launch::async, [=] {
      std::this_thread::sleep_for(std::chrono::duration<double>(delay));
      std::string output;
      const std::string arguments = mode + " " + std::to_string(rank) + " " +
                                    std::to_string(world) + " " + std::to_string(port) + " " +
                                    std::to_string(timeout) + " " + out.string();
      const int code = ganaug::testing::run_program(GANAUG_DIST_WORKER_EXE, arguments, &output);
      return std::make_pair(code, output);
    }));
  }
  Ranks result;
  for (auto& r : running) {
    auto [code, output] = r.get();
    result.codes.push_back(code);
    result.outputs.push_back(output);
  }
  return result;
}

std::vector<torch::Tensor> load(const fs::path& path) {
  std::vector<torch::Tensor> tensors;
  torch::load(tensors, path.string());
  return tensors;
}

}  // namespace

TEST(Distributed, TwoRanksEndWithTheSameWeights) {
  if (!ganaug::ProcessGroup::supported()) GTEST_SKIP() << "built without Gloo";
  ganaug::testing::TempDir dir;
  const auto ranks = run_ranks("train", {0, 1}, 2, 60, dir.path());
  ASSERT_EQ(ranks.codes, (std::vector<int>{0, 0})) << ranks.outputs[0] << ranks.outputs[1];
  const auto a = load(dir / "weights0.pt"), b = load(dir / "weights1.pt");
  ASSERT_EQ(a.size(), b.size());
  ASSERT_FALSE(a.empty());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "tensor " << i;
  // They trained (not the initial weights), and not as one process would: each rank saw its
  // half of every batch, with augmentations of its own, and the gradients were averaged.
  ganaug::GanTrainer fresh(ganaug::testing::dist_gan_options(4), {"left", "right"});
  EXPECT_FALSE(torch::equal(a[0], fresh.generator()->parameters()[0]));
  ASSERT_TRUE(fresh.train(ganaug::testing::dist_blobs()));
  EXPECT_FALSE(torch::equal(a[0], fresh.generator()->parameters()[0]));
}

TEST(Distributed, RanksOfAnotherJobAreRefusedBeforeTheyTrain) {
  if (!ganaug::ProcessGroup::supported()) GTEST_SKIP() << "built without Gloo";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"other-seed", "its seed (seed) is 12 where rank 0's is 11"},
      {"other-data", "its training data (--data, --per-class, --seed) is hash "},
      {"other-size",
       "its image shape (--image-size, --channels) is 1x32x32 where rank 0's is "
       "1x16x16"}};
  for (const auto& [mode, message] : cases) {
    ganaug::testing::TempDir dir;
    const auto ranks = run_ranks(mode, {0, 1}, 2, 60, dir.path());
    // Both fail with the same message, naming rank 1 and what differs; neither aborts.
    ASSERT_EQ(ranks.codes, (std::vector<int>{1, 1})) << ranks.outputs[0] << ranks.outputs[1];
    for (const auto& output : ranks.outputs) {
      EXPECT_NE(output.find("rank 1 of 2 runs another job than rank 0"), std::string::npos)
          << output;
      EXPECT_NE(output.find(message), std::string::npos) << output;
    }
    EXPECT_FALSE(fs::exists(dir / "weights0.pt"));
  }
}

TEST(Distributed, ARankStartedTwiceIsRefusedAtOnceAndTheOthersTrain) {
  if (!ganaug::ProcessGroup::supported()) GTEST_SKIP() << "built without Gloo";
  ganaug::testing::TempDir dir;
  const auto start = std::chrono::steady_clock::now();
  // Both rank-1 processes wait for rank 0's store, which comes 8 s later; rank 0 keeps it up
  // until the duplicate is refused (had the job ended before the duplicate's next connection
  // attempt, that one could only say the store is gone).
  const auto ranks = run_ranks("train-hold", {1, 1, 0}, 2, 30, dir.path(), {0, 0, 8});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // One of the two rank-1 processes is refused; rank 0 and the other train together.
  std::vector<int> codes = ranks.codes;
  std::sort(codes.begin(), codes.end());
  ASSERT_EQ(codes, (std::vector<int>{0, 0, 1}))
      << ranks.outputs[0] << ranks.outputs[1] << ranks.outputs[2];
  for (size_t i = 0; i < ranks.codes.size(); ++i) {
    if (ranks.codes[i] == 1) {
      EXPECT_NE(ranks.outputs[i].find("another process already joined as rank 1"),
                std::string::npos)
          << ranks.outputs[i];
    }
  }
  EXPECT_LT(seconds, 60) << "a duplicated rank must fail within the timeout";
  EXPECT_TRUE(fs::exists(dir / "weights0.pt"));
}

TEST(Distributed, ACheckpointOfOneProcessResumesOnTwoAndBack) {
  if (!ganaug::ProcessGroup::supported()) GTEST_SKIP() << "built without Gloo";
  // Checkpoints do not depend on the world size: one process writes, two resume and train on
  // (only rank 0 writes), and one process resumes from theirs.
  ganaug::testing::TempDir dir;
  const auto data = ganaug::testing::dist_blobs();
  ganaug::GanTrainer single(ganaug::testing::dist_gan_options(2), data.class_names);
  ASSERT_TRUE(single.train(data));
  single.save_checkpoint((dir / "start.pt").string());
  const auto ranks = run_ranks("resume", {0, 1}, 2, 60, dir.path());
  ASSERT_EQ(ranks.codes, (std::vector<int>{0, 0})) << ranks.outputs[0] << ranks.outputs[1];
  const auto a = load(dir / "weights0.pt"), b = load(dir / "weights1.pt");
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "tensor " << i;
  const auto written = ganaug::load_generator((dir / "gan" / "checkpoint.pt").string(), "cpu");
  EXPECT_EQ(written.iteration, 6);
  ganaug::GanTrainer back(ganaug::testing::dist_gan_options(8), data.class_names);
  back.resume((dir / "gan" / "checkpoint.pt").string());
  EXPECT_EQ(back.iteration(), 6);
  const auto params = back.generator()->parameters();
  for (size_t i = 0; i < params.size(); ++i) EXPECT_TRUE(torch::equal(params[i], a[i]));
  ASSERT_TRUE(back.train(data));
  EXPECT_EQ(back.iteration(), 8);
}

TEST(Distributed, AveragedGradientsAreTheMeanOfTheRanksLocalGradients) {
  if (!ganaug::ProcessGroup::supported()) GTEST_SKIP() << "built without Gloo";
  ganaug::testing::TempDir dir;
  const auto ranks = run_ranks("grads", {0, 1}, 2, 60, dir.path());
  ASSERT_EQ(ranks.codes, (std::vector<int>{0, 0})) << ranks.outputs[0] << ranks.outputs[1];
  // Recomputed here, in one process, on the same data.
  std::vector<std::vector<torch::Tensor>> local;
  for (int rank = 0; rank < 2; ++rank) {
    auto d = ganaug::testing::dist_discriminator();
    ganaug::testing::dist_discriminator_loss(d, rank, 2).backward();
    std::vector<torch::Tensor> grads;
    for (const auto& p : d->parameters()) grads.push_back(p.grad().clone());
    local.push_back(grads);
    const auto saved = load(dir / ("local" + std::to_string(rank) + ".pt"));
    for (size_t i = 0; i < grads.size(); ++i) EXPECT_TRUE(torch::allclose(saved[i], grads[i]));
  }
  for (int rank = 0; rank < 2; ++rank) {
    const auto averaged = load(dir / ("averaged" + std::to_string(rank) + ".pt"));
    ASSERT_EQ(averaged.size(), local[0].size());
    for (size_t i = 0; i < averaged.size(); ++i) {
      EXPECT_TRUE(torch::allclose(averaged[i], (local[0][i] + local[1][i]) / 2, 1e-5, 1e-7))
          << "rank " << rank << " tensor " << i;
    }
  }
}

TEST(Distributed, ARankThatNeverArrivesEndsTheOthersWithinTheTimeout) {
  if (!ganaug::ProcessGroup::supported()) GTEST_SKIP() << "built without Gloo";
  ganaug::testing::TempDir dir;
  const auto start = std::chrono::steady_clock::now();
  const auto ranks = run_ranks("train", {0}, 2, 2, dir.path());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(ranks.codes[0], 1);
  for (const char* part : {"rank 0 of 2", "rendezvous", "rank 1 did not arrive", "within 2 s"}) {
    EXPECT_NE(ranks.outputs[0].find(part), std::string::npos) << part << "\n" << ranks.outputs[0];
  }
  EXPECT_LT(seconds, 30);
}

TEST(Distributed, TheJobLayoutComesFromTorchrunOrSlurm) {
  EXPECT_EQ(ganaug::first_slurm_host("node[03-05,7],gpu1"), "node03");
  EXPECT_EQ(ganaug::first_slurm_host("a,b"), "a");
  EXPECT_EQ(ganaug::first_slurm_host("single"), "single");
  const std::vector<std::pair<const char*, const char*>> slurm_variables{
      {"SLURM_NTASKS", "4"},
      {"SLURM_PROCID", "3"},
      {"SLURM_LOCALID", "1"},
      {"SLURM_JOB_NODELIST", "gpu[12-13]"}},
      torchrun_variables{
          {"WORLD_SIZE", "2"}, {"RANK", "1"}, {"MASTER_ADDR", "10.0.0.1"}, {"MASTER_PORT", "1234"}};
  auto unset_all = [&] {
    unsetenv("LOCAL_RANK");
    for (const auto& list : {slurm_variables, torchrun_variables})
      for (const auto& [name, value] : list) unsetenv(name);
  };
  unset_all();
  EXPECT_EQ(ganaug::distributed_from_environment().world_size(), 1);
  for (const auto& [name, value] : slurm_variables) setenv(name, value, 1);
  auto slurm = ganaug::distributed_from_environment();
  EXPECT_EQ(slurm.world_size(), 4);
  EXPECT_EQ(slurm.rank(), 3);
  EXPECT_EQ(slurm.local_rank(), 1);
  EXPECT_EQ(slurm.master_addr(), "gpu12");
  EXPECT_EQ(slurm.master_port(), 29500);
  // torchrun's variables come first.
  for (const auto& [name, value] : torchrun_variables) setenv(name, value, 1);
  auto torchrun = ganaug::distributed_from_environment();
  EXPECT_EQ(torchrun.world_size(), 2);
  EXPECT_EQ(torchrun.master_addr(), "10.0.0.1");
  EXPECT_EQ(torchrun.master_port(), 1234);
  setenv("RANK", "2", 1);
  EXPECT_THROW(ganaug::distributed_from_environment(), ganaug::Error);
  setenv("RANK", "x", 1);
  EXPECT_THROW(ganaug::distributed_from_environment(), ganaug::Error);
  unset_all();
  // Half a launcher's pair is refused, naming what is missing: the process would otherwise
  // train alone, or write its output as rank 0.
  const std::vector<std::pair<std::pair<const char*, const char*>, std::string>> halves{
      {{"SLURM_NTASKS", "2"}, "SLURM_NTASKS is 2 but SLURM_PROCID is not set"},
      {{"SLURM_PROCID", "1"}, "SLURM_PROCID is 1 but SLURM_NTASKS is not set"},
      {{"WORLD_SIZE", "2"}, "WORLD_SIZE is 2 but RANK is not set"},
      {{"RANK", "1"}, "RANK is 1 but WORLD_SIZE is not set"}};
  for (const auto& [variable, message] : halves) {
    setenv(variable.first, variable.second, 1);
    ganaug::testing::expect_error([] { ganaug::distributed_from_environment(); }, {message});
    unset_all();
  }
  // One process's pair, or rank 0 alone, is no job of several.
  setenv("SLURM_NTASKS", "1", 1);
  EXPECT_EQ(ganaug::distributed_from_environment().world_size(), 1);
  unset_all();
  setenv("SLURM_PROCID", "0", 1);
  EXPECT_EQ(ganaug::distributed_from_environment().world_size(), 1);
  unset_all();
}

}  // namespace ganaug_tests_distributed
