#include <dlfcn.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>

#include "ganaug/error.hpp"
#include "ganaug/runtime.hpp"
#include "test_support.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_runtime {

TEST(Runtime, ConfigureThreadsSetsTheCount) {
  EXPECT_EQ(ganaug::configure_threads(1), 1);
  EXPECT_EQ(torch::get_num_threads(), 1);
  EXPECT_EQ(ganaug::configure_threads(0), ganaug::default_threads());
  EXPECT_THROW(ganaug::configure_threads(-1), ganaug::Error);
}

TEST(Runtime, BlasThreadsFollowTheRequestWhenOpenBlasIsLoaded) {
  using GetThreads = int (*)();
  const auto get = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  if (!get) {
    EXPECT_FALSE(ganaug::set_blas_threads(1));
    GTEST_SKIP() << "the BLAS in use is not OpenBLAS";
  }
  ganaug::configure_threads(0);
  if (std::getenv("OPENBLAS_NUM_THREADS") == nullptr) {
    EXPECT_EQ(get(), 1) << "configure_threads keeps OpenBLAS on one thread";
  }
  ASSERT_TRUE(ganaug::set_blas_threads(2));
  EXPECT_EQ(get(), std::min(2, ganaug::hardware_threads()));
  ASSERT_TRUE(ganaug::set_blas_threads(1));
  EXPECT_EQ(get(), 1);
}

TEST(Runtime, DeviceSelection) {
  EXPECT_EQ(ganaug::select_device("cpu"), torch::Device(torch::kCPU));
  EXPECT_THROW(ganaug::select_device("tpu"), ganaug::Error);
  if (!ganaug::cuda_available()) {
    EXPECT_THROW(ganaug::select_device("cuda"), ganaug::Error);
  }
}

TEST(Runtime, DeviceGeneratorsAreOwnedAndSeeded) {
  const auto before = at::globalContext().defaultGenerator(torch::kCPU).current_seed();
  auto a = ganaug::make_generator(torch::kCPU, 7), b = ganaug::make_cpu_generator(7);
  auto c = ganaug::make_generator(torch::kCPU, 8);
  const auto x = torch::randn({64}, a), y = torch::randn({64}, b), z = torch::randn({64}, c);
  EXPECT_TRUE(torch::equal(x, y)) << "on the CPU the same stream as make_cpu_generator";
  EXPECT_FALSE(torch::equal(x, z));
  EXPECT_EQ(at::globalContext().defaultGenerator(torch::kCPU).current_seed(), before);
}

TEST(Runtime, DeviceGeneratorsAreOwnedAndSeeded_CUDA) {
  if (!ganaug::cuda_available()) GTEST_SKIP() << "no CUDA device";
  // A GPU number past the last is refused by name, not by a CUDA error later.
  const auto count = static_cast<int64_t>(torch::cuda::device_count());
  EXPECT_EQ(ganaug::select_device("cuda:" + std::to_string(count - 1)).index(), count - 1);
  ganaug::testing::expect_error(
      [&] { ganaug::select_device("cuda:" + std::to_string(count)); },
      {"cuda:" + std::to_string(count), "this machine has " + std::to_string(count) + " CUDA"});
  const torch::Device cuda(torch::kCUDA);
  const auto before = at::globalContext().defaultGenerator(cuda).current_seed();
  auto a = ganaug::make_generator(cuda, 7), b = ganaug::make_generator(cuda, 7);
  const auto options = torch::TensorOptions().device(cuda);
  const auto x = torch::randn({64}, a, options), y = torch::randn({64}, b, options);
  EXPECT_TRUE(x.is_cuda());
  EXPECT_TRUE(torch::equal(x, y));
  EXPECT_EQ(at::globalContext().defaultGenerator(cuda).current_seed(), before);
}

TEST(Runtime, DeterministicModeIsSwitchedOnAndOff) {
  const bool was = ganaug::deterministic_algorithms();
  ganaug::use_deterministic_algorithms(true);
  EXPECT_TRUE(ganaug::deterministic_algorithms());
  EXPECT_TRUE(at::globalContext().deterministicCuDNN());
  ASSERT_NE(std::getenv("CUBLAS_WORKSPACE_CONFIG"), nullptr);
  ganaug::use_deterministic_algorithms(false);
  EXPECT_FALSE(ganaug::deterministic_algorithms());
  ganaug::use_deterministic_algorithms(was);
}

TEST(Runtime, TheDefaultThreadCountFollowsOmpNumThreadsElseTheAffinityMask) {
  const char* saved = std::getenv("OMP_NUM_THREADS");
  const std::string was = saved ? saved : "";
  unsetenv("OMP_NUM_THREADS");
  EXPECT_EQ(ganaug::default_threads(), ganaug::hardware_threads());
  setenv("OMP_NUM_THREADS", "3", 1);
  EXPECT_EQ(ganaug::default_threads(), 3);
  EXPECT_EQ(ganaug::configure_threads(0), 3);
  setenv("OMP_NUM_THREADS", "lots", 1);
  EXPECT_EQ(ganaug::default_threads(), ganaug::hardware_threads());
  if (saved) {
    setenv("OMP_NUM_THREADS", was.c_str(), 1);
  } else {
    unsetenv("OMP_NUM_THREADS");
  }
  ganaug::configure_threads(1);
}

}  // namespace ganaug_tests_runtime
