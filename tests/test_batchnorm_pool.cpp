// The fused batch norm + 2x2 max pooling + ReLU of the classifier's training step (internal to
// the library) against the three stock LibTorch layers.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>

#include "training/batchnorm_pool.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_batchnorm_pool {

namespace {

namespace nn = torch::nn;
using ganaug::detail::can_fuse_batchnorm_pool_relu;
using ganaug::detail::forward_fusing_batchnorm_pool_relu;

// The stock layers, with batch-norm weights of both signs (and one zero) and running statistics
// away from their initial values.
nn::Sequential stock_stage(int64_t channels, uint64_t seed) {
  torch::manual_seed(seed);
  nn::Sequential stage(nn::BatchNorm2d(channels), nn::MaxPool2d(2), nn::ReLU());
  auto* bn = stage->ptr(0)->as<nn::BatchNorm2d>();
  torch::NoGradGuard no_grad;
  bn->weight.uniform_(-1.5, 1.5);
  bn->weight[0] = 0;
  bn->bias.uniform_(-0.5, 0.5);
  bn->running_mean.uniform_(-1, 1);
  bn->running_var.uniform_(0.5, 2);
  return stage;
}

nn::BatchNorm2dImpl& norm_of(nn::Sequential& stage) {
  return *stage->ptr(0)->as<nn::BatchNorm2d>();
}

struct Pass {
  torch::Tensor output, grad_input, grad_weight, grad_bias;
};

// One forward and backward pass; `fused` picks the path. The upstream gradient is fixed.
Pass run(nn::Sequential& stage, const torch::Tensor& images, bool fused) {
  auto x = images.detach().clone(at::MemoryFormat::Preserve).requires_grad_();
  auto& bn = norm_of(stage);
  bn.weight.mutable_grad() = torch::Tensor();
  bn.bias.mutable_grad() = torch::Tensor();
  auto y = fused ? forward_fusing_batchnorm_pool_relu(stage, x) : stage->forward(x);
  const auto upstream = torch::sin(torch::arange(y.numel(), torch::kFloat32)).view(y.sizes());
  (y * upstream).sum().backward();
  return {y.detach(), x.grad(), bn.weight.grad(), bn.bias.grad()};
}

void expect_same(const Pass& fused, const Pass& stock, nn::Sequential& a, nn::Sequential& b) {
  EXPECT_TRUE(torch::allclose(fused.output, stock.output, 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(fused.grad_input, stock.grad_input, 1e-4, 1e-5))
      << (fused.grad_input - stock.grad_input).abs().max().item<float>();
  EXPECT_TRUE(torch::allclose(fused.grad_weight, stock.grad_weight, 1e-3, 1e-4))
      << fused.grad_weight << stock.grad_weight;
  EXPECT_TRUE(torch::allclose(fused.grad_bias, stock.grad_bias, 1e-3, 1e-4));
  EXPECT_EQ(fused.grad_input.suggest_memory_format(), at::MemoryFormat::ChannelsLast);
  auto &p = norm_of(a), &q = norm_of(b);
  EXPECT_TRUE(torch::allclose(p.running_mean, q.running_mean, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(p.running_var, q.running_var, 1e-5, 1e-6));
  EXPECT_EQ(p.num_batches_tracked.item<int64_t>(), q.num_batches_tracked.item<int64_t>());
}

torch::Tensor channels_last_images(int64_t n, int64_t c, int64_t h, int64_t w, double offset) {
  return (torch::randn({n, c, h, w}) * 2 + offset).contiguous(at::MemoryFormat::ChannelsLast);
}

TEST(BatchNormPool, FusedPassMatchesTheStockLayers) {
  for (const double offset : {0.0, 40.0}) {  // a large mean must not cost precision
    auto stock = stock_stage(6, 1), fused = stock_stage(6, 1);
    const auto images = channels_last_images(9, 6, 8, 6, offset);
    ASSERT_TRUE(can_fuse_batchnorm_pool_relu(norm_of(fused), images));
    for (int step = 0; step < 2; ++step)  // the running statistics move twice
      expect_same(run(fused, images, true), run(stock, images, false), fused, stock);
  }
}

TEST(BatchNormPool, CumulativeAverageWithoutMomentum) {
  // batch-norm recalibration sets the momentum to none: the running statistics are then the
  // average over the batches seen.
  auto stock = stock_stage(4, 2), fused = stock_stage(4, 2);
  for (auto* stage : {&stock, &fused}) {
    norm_of(*stage).options.momentum(c10::nullopt);
    norm_of(*stage).reset_running_stats();
  }
  for (int step = 0; step < 3; ++step) {
    const auto images = channels_last_images(5, 4, 4, 4, step);
    expect_same(run(fused, images, true), run(stock, images, false), fused, stock);
  }
}

TEST(BatchNormPool, TiesGoToTheFirstPositionAsMaxPooling) {
  // Whole numbers: many windows hold their maximum (or, for a negative weight, their minimum)
  // twice; the gradient goes where max pooling sends it.
  auto stock = stock_stage(3, 3), fused = stock_stage(3, 3);
  const auto images = torch::randint(0, 3, {6, 3, 6, 6}, torch::kFloat32)
                          .contiguous(at::MemoryFormat::ChannelsLast);
  expect_same(run(fused, images, true), run(stock, images, false), fused, stock);
}

TEST(BatchNormPool, TheSameBitsOnOneThreadAndOnTwo) {
  auto one = stock_stage(5, 4), two = stock_stage(5, 4);
  const auto images = channels_last_images(17, 5, 6, 6, 1.0);
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const auto a = run(one, images, true);
  at::set_num_threads(2);
  const auto b = run(two, images, true);
  at::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(a.output, b.output));
  EXPECT_TRUE(torch::equal(a.grad_input, b.grad_input));
  EXPECT_TRUE(torch::equal(a.grad_weight, b.grad_weight));
  EXPECT_TRUE(torch::equal(norm_of(one).running_var, norm_of(two).running_var));
}

TEST(BatchNormPool, NotANumberStaysNotANumber) {
  auto stage = stock_stage(2, 5);
  auto images = channels_last_images(2, 2, 4, 4, 0.0);
  images[0][1][0][0] = std::numeric_limits<float>::quiet_NaN();
  const auto y = forward_fusing_batchnorm_pool_relu(stage, images);
  EXPECT_TRUE(torch::isnan(y.select(1, 1)).all().item<bool>());
  EXPECT_FALSE(torch::isnan(y.select(1, 0)).any().item<bool>());
}

TEST(BatchNormPool, OtherCasesRunTheStockLayers) {
  auto stage = stock_stage(3, 6);
  auto& bn = norm_of(stage);
  const auto images = channels_last_images(4, 3, 6, 6, 0.0);
  EXPECT_TRUE(can_fuse_batchnorm_pool_relu(bn, images));
  EXPECT_FALSE(can_fuse_batchnorm_pool_relu(bn, images.contiguous()));  // NCHW
  EXPECT_FALSE(can_fuse_batchnorm_pool_relu(bn, channels_last_images(4, 3, 5, 6, 0.0)));
  EXPECT_FALSE(can_fuse_batchnorm_pool_relu(bn, images.to(torch::kFloat64)));
  stage->eval();
  EXPECT_FALSE(can_fuse_batchnorm_pool_relu(bn, images));
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(
      torch::allclose(forward_fusing_batchnorm_pool_relu(stage, images), stage->forward(images)));
  // An odd size goes through the stock layers, which drop the last row.
  stage->train();
  auto copy = stock_stage(3, 6);
  const auto odd = channels_last_images(4, 3, 5, 6, 0.0);
  EXPECT_TRUE(torch::equal(forward_fusing_batchnorm_pool_relu(stage, odd), copy->forward(odd)));
}

}  // namespace

}  // namespace ganaug_tests_batchnorm_pool
