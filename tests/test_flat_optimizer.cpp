// Optimizers over one flat buffer (internal to the library) against LibTorch's, the weight
// average and distribution alignment of classifier training.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>

#include "gan/gan_checkpoint.hpp"
#include "training/flat_optimizer.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_flat_optimizer {

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

// Five steps of `flat` and of LibTorch's `stock` on the same losses under a decaying rate
// (from `lr`): the same weights and gradients after every step.
template <typename StockOptions>
void expect_same_steps(ganaug::detail::FlatOptimizer& flat, nn::Sequential& flat_net,
                       torch::optim::Optimizer& stock, nn::Sequential& stock_net, double lr) {
  for (int step = 0; step < 5; ++step) {
    const double rate = lr * (1.0 - 0.1 * step);
    for (auto& group : stock.param_groups()) static_cast<StockOptions&>(group.options()).lr(rate);
    flat.zero_grad();
    loss_of(flat_net, step).backward();
    flat.step(rate);
    stock.zero_grad();
    loss_of(stock_net, step).backward();
    stock.step();
    const auto a = flat_net->parameters(), b = stock_net->parameters();
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_TRUE(torch::allclose(a[i], b[i], 1e-5, 1e-7)) << "step " << step << " parameter " << i;
      EXPECT_TRUE(torch::allclose(a[i].grad(), b[i].grad(), 1e-5, 1e-7)) << "step " << step;
    }
  }
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
  expect_same_steps<torch::optim::AdamOptions>(flat, flat_net, stock, stock_net, 1e-2);
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

TEST(FlatSgd, TheSameStepsAsLibTorchsNesterovSgdWithDecayOnWeightsOnly) {
  auto flat_net = network(), stock_net = network();
  std::vector<bool> decayed;
  std::vector<torch::Tensor> weights, others;
  for (const auto& p : stock_net->parameters()) (p.dim() > 1 ? weights : others).push_back(p);
  for (const auto& p : flat_net->parameters()) decayed.push_back(p.dim() > 1);
  ASSERT_EQ(weights.size(), 2u);  // the convolution's and the linear layer's
  ganaug::detail::FlatSgd flat(flat_net->parameters(), decayed, 5e-4, 0.9, true);
  const auto sgd = [](double decay) {
    return std::make_unique<torch::optim::SGDOptions>(
        torch::optim::SGDOptions(0.03).momentum(0.9).nesterov(true).weight_decay(decay));
  };
  torch::optim::SGD stock({torch::optim::OptimizerParamGroup(weights, sgd(5e-4)),
                           torch::optim::OptimizerParamGroup(others, sgd(0))},
                          torch::optim::SGDOptions(0.03));
  expect_same_steps<torch::optim::SGDOptions>(flat, flat_net, stock, stock_net, 0.03);
  // Decay on every parameter is not what happened: the biases would have moved otherwise.
  const auto one_step = [&](const std::vector<bool>& which) {
    auto net = network();
    ganaug::detail::FlatSgd sgd_step(net->parameters(), which, 0.5, 0.9, true);
    sgd_step.zero_grad();
    loss_of(net, 0).backward();
    sgd_step.step(0.03);
    return net->parameters()[1].detach().clone();
  };
  const auto bias_a = one_step(std::vector<bool>(decayed.size(), true)), bias_b = one_step(decayed);
  ASSERT_EQ(bias_a.dim(), 1);
  EXPECT_FALSE(torch::allclose(bias_a, bias_b));
}

// Two steps by step(), then three by step_on_device() (which takes over the step count) against
// five by step(): the same weights, to float rounding. Without a batch norm: the gradient of a
// bias before one is pure rounding noise, which Adam turns into steps of either sign.
template <typename Make>
void expect_device_steps_are_host_steps(Make make) {
  const auto plain = [] {
    torch::manual_seed(7);
    return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(3, 4, 3).padding(1)), nn::ReLU(),
                          nn::Flatten(), nn::Linear(4 * 6 * 6, 5));
  };
  auto host_net = plain(), device_net = plain();
  auto host = make(host_net), device = make(device_net);
  for (int step = 0; step < 5; ++step) {
    const double rate = 1e-2 * (1.0 - 0.1 * step);
    host->zero_grad();
    loss_of(host_net, step).backward();
    host->step(rate);
    device->zero_grad();
    loss_of(device_net, step).backward();
    if (step < 2)
      device->step(rate);
    else
      device->step_on_device(torch::full({}, rate, torch::kFloat64));
    EXPECT_TRUE(torch::allclose(host->values(), device->values(), 1e-5, 1e-7)) << "step " << step;
  }
}

TEST(FlatOptimizer, TheDeviceStepIsTheHostStep) {
  expect_device_steps_are_host_steps([](nn::Sequential& net) {
    return std::make_unique<ganaug::detail::FlatAdam>(net->parameters(), 5e-4);
  });
  expect_device_steps_are_host_steps([](nn::Sequential& net) {
    std::vector<bool> decayed;
    for (const auto& p : net->parameters()) decayed.push_back(p.dim() > 1);
    return std::make_unique<ganaug::detail::FlatSgd>(net->parameters(), decayed, 5e-4, 0.9, true);
  });
}

TEST(WeightAverage, AccumulateAndCountAreUpdate) {
  ganaug::detail::WeightAverage whole(torch::zeros({2}), 0.9), split(torch::zeros({2}), 0.9);
  for (const float w : {1.0f, -2.0f, 4.0f}) {
    whole.update(torch::full({2}, w));
    split.accumulate(torch::full({2}, w));
    split.count();
  }
  EXPECT_TRUE(torch::equal(whole.average(), split.average()));
}

TEST(WeightAverage, FollowsTheDebiasedExponentialAverage) {
  ganaug::detail::WeightAverage average(torch::zeros({3}), 0.9);
  EXPECT_THROW(average.average(), std::exception);
  const auto w1 = torch::tensor({1.0f, 2.0f, 3.0f}), w2 = torch::tensor({3.0f, 0.0f, -1.0f});
  const auto w3 = torch::tensor({0.5f, 0.5f, 0.5f});
  average.update(w1);
  EXPECT_TRUE(torch::allclose(average.average(), w1));  // one step: the weights themselves
  average.update(w2);
  EXPECT_TRUE(torch::allclose(average.average(), (0.9 * 0.1 * w1 + 0.1 * w2) / (1 - 0.81)));
  average.update(w3);
  const auto want = (0.81 * 0.1 * w1 + 0.9 * 0.1 * w2 + 0.1 * w3) / (1 - 0.729);
  EXPECT_TRUE(torch::allclose(average.average(), want));
  EXPECT_THROW(ganaug::detail::WeightAverage(torch::zeros({1}), 1.0), std::exception);
}

// `archive` written to memory and read back, as a checkpoint file holds it.
torch::serialize::InputArchive read_back(torch::serialize::OutputArchive& archive) {
  std::stringstream bytes;
  archive.save_to(bytes);
  torch::serialize::InputArchive in;
  in.load_from(bytes);
  return in;
}

// A network with the weights of `trained`, each parameter in memory of its own (as a
// checkpoint's weights arrive).
nn::Sequential copy_of(nn::Sequential& trained) {
  auto net = network();
  torch::NoGradGuard no_grad;
  const auto from = trained->parameters();
  auto to = net->parameters();
  for (size_t i = 0; i < to.size(); ++i) to[i].copy_(from[i]);
  return net;
}

std::vector<bool> weights_only(nn::Sequential& net) {
  std::vector<bool> decayed;
  for (const auto& p : net->parameters()) decayed.push_back(p.dim() > 1);
  return decayed;
}

// Two steps of an optimizer, its state saved and loaded into a new one over a copy of the
// weights: both then take the same further steps.
template <typename Make>
void expect_saved_state_carries_on(Make make) {
  auto net = network();
  auto optimizer = make(net);
  for (int step = 0; step < 2; ++step) {
    optimizer->zero_grad();
    loss_of(net, step).backward();
    optimizer->step(1e-2);
  }
  torch::serialize::OutputArchive archive;
  optimizer->save(archive);
  auto in = read_back(archive);
  auto resumed_net = copy_of(net);
  auto resumed = make(resumed_net);
  ASSERT_EQ(resumed->load(in), "");
  for (int step = 2; step < 5; ++step) {
    for (auto* o : {optimizer.get(), resumed.get()}) o->zero_grad();
    loss_of(net, step).backward();
    loss_of(resumed_net, step).backward();
    optimizer->step(1e-2);
    resumed->step(1e-2);
    EXPECT_TRUE(torch::equal(optimizer->values(), resumed->values())) << "step " << step;
  }
}

TEST(FlatOptimizer, SavedStateCarriesOnAsIfNeverStopped) {
  expect_saved_state_carries_on([](nn::Sequential& net) {
    return std::make_unique<ganaug::detail::FlatAdam>(net->parameters(), 5e-4);
  });
  expect_saved_state_carries_on([](nn::Sequential& net) {
    return std::make_unique<ganaug::detail::FlatSgd>(net->parameters(), weights_only(net), 5e-4,
                                                     0.9, true);
  });
  // Before any step there is no state, and loading it keeps none.
  auto net = network();
  ganaug::detail::FlatAdam fresh(net->parameters(), 0);
  torch::serialize::OutputArchive empty;
  fresh.save(empty);
  auto in = read_back(empty);
  EXPECT_EQ(fresh.load(in), "");
}

TEST(FlatAdam, ReadsLibTorchsAdamStateSavedByIndex) {
  auto stock_net = network();
  torch::optim::Adam stock(stock_net->parameters(),
                           torch::optim::AdamOptions(1e-2).weight_decay(5e-4));
  for (int step = 0; step < 2; ++step) {
    stock.zero_grad();
    loss_of(stock_net, step).backward();
    stock.step();
  }
  torch::serialize::OutputArchive archive;
  ganaug::detail::save_adam(archive, stock);
  auto in = read_back(archive);
  auto flat_net = copy_of(stock_net);
  ganaug::detail::FlatAdam flat(flat_net->parameters(), 5e-4);
  ASSERT_EQ(flat.load(in), "");
  expect_same_steps<torch::optim::AdamOptions>(flat, flat_net, stock, stock_net, 1e-2);
}

TEST(FlatSgd, ReadsStateStoredInAnotherParameterOrder) {
  // Momentum buffers written by index over LibTorch SGD's parameter groups, the weights' group
  // first (as ganaug's joint checkpoints v1 hold them): parameter i under index stored[i].
  auto net = network();
  ganaug::detail::FlatSgd sgd(net->parameters(), weights_only(net), 5e-4, 0.9, true);
  for (int step = 0; step < 2; ++step) {
    sgd.zero_grad();
    loss_of(net, step).backward();
    sgd.step(0.03);
  }
  const auto decayed = weights_only(net);
  std::vector<size_t> stored(decayed.size());
  size_t next = 0;
  for (const bool group : {true, false})
    for (size_t i = 0; i < decayed.size(); ++i)
      if (decayed[i] == group) stored[i] = next++;
  torch::serialize::OutputArchive own;
  sgd.save(own);
  auto in_own = read_back(own);
  torch::serialize::OutputArchive grouped;
  grouped.write("count", c10::IValue(static_cast<int64_t>(stored.size())));
  for (size_t i = 0; i < stored.size(); ++i) {
    torch::Tensor momentum;
    ASSERT_TRUE(in_own.try_read("momentum_" + std::to_string(i), momentum));
    grouped.write("momentum_" + std::to_string(stored[i]), momentum);
  }
  auto in = read_back(grouped);
  auto resumed_net = copy_of(net);
  ganaug::detail::FlatSgd resumed(resumed_net->parameters(), decayed, 5e-4, 0.9, true);
  EXPECT_NE(resumed.load(in), "");  // read in the parameters' order, the shapes do not fit
  ASSERT_EQ(resumed.load(in, stored), "");
  for (int step = 2; step < 4; ++step) {
    sgd.zero_grad();
    resumed.zero_grad();
    loss_of(net, step).backward();
    loss_of(resumed_net, step).backward();
    sgd.step(0.03);
    resumed.step(0.03);
    EXPECT_TRUE(torch::equal(sgd.values(), resumed.values())) << "step " << step;
  }
}

TEST(WeightAverage, SavedOrAssumedAveragesCarryOn) {
  ganaug::detail::WeightAverage kept(torch::zeros({2}), 0.9);
  for (const float w : {1.0f, -2.0f, 4.0f}) kept.update(torch::full({2}, w));
  torch::serialize::OutputArchive archive;
  kept.save(archive);
  auto in = read_back(archive);
  ganaug::detail::WeightAverage loaded(torch::zeros({2}), 0.9), assumed(torch::zeros({2}), 0.9);
  ASSERT_EQ(loaded.load(in), "");
  assumed.assume(kept.average(), 3);
  EXPECT_TRUE(torch::allclose(assumed.average(), kept.average()));
  for (auto* a : {&kept, &loaded, &assumed}) a->update(torch::full({2}, 0.5f));
  EXPECT_TRUE(torch::equal(loaded.average(), kept.average()));
  EXPECT_TRUE(torch::allclose(assumed.average(), kept.average()));
  ganaug::detail::WeightAverage other_shape(torch::zeros({3}), 0.9);
  auto again = read_back(archive);
  EXPECT_NE(other_shape.load(again), "");
  // After enough updates its weight 1 - d^t rounds to 1; it still saves and loads.
  ganaug::detail::WeightAverage quick(torch::zeros({2}), 0.5), reloaded(torch::zeros({2}), 0.5);
  for (int i = 0; i < 80; ++i) quick.update(torch::full({2}, 1.0f));
  torch::serialize::OutputArchive rounded;
  quick.save(rounded);
  auto in_rounded = read_back(rounded);
  ASSERT_EQ(reloaded.load(in_rounded), "");
  EXPECT_TRUE(torch::equal(reloaded.average(), quick.average()));
}

TEST(DistributionAlignment, ScalesTowardsTheLabeledSharesAndRenormalises) {
  ganaug::detail::DistributionAlignment align(torch::tensor({0.5f, 0.5f}), 2);
  // The model's mean over the window is (0.8, 0.2): class 0 is scaled by 0.5/0.8, class 1 by
  // 0.5/0.2.
  const auto p = torch::tensor({{0.8f, 0.2f}, {0.8f, 0.2f}});
  const auto a = align.align(p);
  const float r0 = 0.8f * 0.5f / 0.8f, r1 = 0.2f * 0.5f / 0.2f;
  EXPECT_TRUE(torch::allclose(a[0], torch::tensor({r0, r1}) / (r0 + r1)));
  EXPECT_TRUE(torch::allclose(a.sum(1), torch::ones({2})));
  // The window holds the last 2 batches' means: after (0.4, 0.6) twice the first is gone.
  align.align(torch::tensor({{0.4f, 0.6f}}));
  const auto b = align.align(torch::tensor({{0.4f, 0.6f}}));
  EXPECT_TRUE(torch::allclose(b[0], torch::tensor({0.5f, 0.5f})));
}

TEST(FlatAdam, RefusesParametersOfMixedTypes) {
  std::vector<torch::Tensor> mixed{
      torch::zeros({2}, torch::requires_grad()),
      torch::zeros({2}, torch::dtype(torch::kFloat64).requires_grad(true))};
  EXPECT_THROW(ganaug::detail::FlatAdam(mixed, 0), std::exception);
}

}  // namespace

}  // namespace ganaug_tests_flat_optimizer
