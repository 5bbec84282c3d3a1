#include <dlfcn.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>

#include "ganaug/error.hpp"
#include "ganaug/runtime.hpp"

TEST(Runtime, ConfigureThreadsSetsTheCount) {
  EXPECT_EQ(ganaug::configure_threads(1), 1);
  EXPECT_EQ(torch::get_num_threads(), 1);
  EXPECT_EQ(ganaug::configure_threads(0), ganaug::hardware_threads());
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
