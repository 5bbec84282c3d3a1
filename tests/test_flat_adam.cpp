// Adam over one flat buffer (internal to the library) against torch::optim::Adam.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "flat_adam.hpp"

namespace {

namespace nn = torch::nn;

// A small network with a channels-last convolution weight, as the classifier's.
nn::Sequential network() {
  torch::manual_seed(7);
  nn::Sequential net(nn::Conv2d(nn::Conv2dOptions(3, 4, 3).padding(1)), nn::BatchNorm2d(4),
                     nn::ReLU(), nn::Flatten(), nn::Linear(4 * 6 * 6, 5));
  torch::NoGradGuard no_grad;
  for (auto& p : net->parameters())
    if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
  return net;
}

torch::Tensor loss_of(nn::Sequential& net, int step) {
  torch::manual_seed(100 + step);
  const auto x = torch::randn({8, 3, 6, 6}).contiguous(at::MemoryFormat::ChannelsLast);
  return net->forward(x).square().mean();
}

TEST(FlatAdam, TheSameStepsAsLibTorchsAdam) {
  auto flat_net = network(), stock_net = network();
  ganaug::detail::FlatAdam flat(flat_net->parameters(), 5e-4);
  torch::optim::Adam stock(stock_net->parameters(),
                           torch::optim::AdamOptions(1e-2).weight_decay(5e-4));
  for (const auto& p : flat_net->parameters()) {
    ASSERT_TRUE(p.grad().defined());
    if (p.dim() == 4) {
      EXPECT_EQ(p.suggest_memory_format(), at::MemoryFormat::ChannelsLast);
    }
  }
  for (int step = 0; step < 5; ++step) {
    const double lr = 1e-2 * (1.0 - 0.1 * step);  // a schedule
    for (auto& group : stock.param_groups())
      static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
    flat.zero_grad();
    loss_of(flat_net, step).backward();
    flat.step(lr);
    stock.zero_grad();
    loss_of(stock_net, step).backward();
    stock.step();
    const auto a = flat_net->parameters(), b = stock_net->parameters();
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_TRUE(torch::allclose(a[i], b[i], 1e-5, 1e-7)) << "step " << step << " parameter " << i;
      EXPECT_TRUE(torch::allclose(a[i].grad(), b[i].grad(), 1e-5, 1e-7)) << "step " << step;
    }
  }
  // Released, each parameter owns its memory again and keeps its values and layout.
  const auto before = flat_net->parameters()[0].detach().clone();
  flat.release();
  const auto released = flat_net->parameters();
  EXPECT_TRUE(torch::equal(released[0], before));
  EXPECT_FALSE(released[0].grad().defined());
  EXPECT_EQ(released[0].suggest_memory_format(), at::MemoryFormat::ChannelsLast);
  EXPECT_NE(released[0].data_ptr(), released[1].data_ptr());
  EXPECT_EQ(released[1].storage().nbytes(), released[1].numel() * sizeof(float));
}

TEST(FlatAdam, RefusesParametersOfMixedTypes) {
  std::vector<torch::Tensor> mixed{
      torch::zeros({2}, torch::requires_grad()),
      torch::zeros({2}, torch::dtype(torch::kFloat64).requires_grad(true))};
  EXPECT_THROW(ganaug::detail::FlatAdam(mixed, 0), std::exception);
}

}  // namespace
