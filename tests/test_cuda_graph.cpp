// The GAN's and the classifier's training steps as CUDA graphs: the device-side Adam and moving
// average they replay (against LibTorch's Adam and the host moving average, on the CPU), and on
// a CUDA machine the captured steps against the eager ones, and checkpoints taken on one path
// resumed on both.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <iostream>

#include "blobs.hpp"
#include "gan/gan_support.hpp"
#include "ganaug/classifier.hpp"
#include "ganaug/error.hpp"
#include "ganaug/gan.hpp"
#include "ganaug/metrics.hpp"
#include "ganaug/runtime.hpp"
#include "ganaug/schemes.hpp"
#include "runtime/cuda_graph.hpp"
#include "test_support.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_cuda_graph {

namespace {

namespace nn = torch::nn;

nn::Sequential network() {
  torch::manual_seed(3);
  return nn::Sequential(nn::Linear(6, 5), nn::Tanh(), nn::Linear(5, 3));
}

void backward_on(nn::Sequential& net, int step) {
  torch::manual_seed(50 + step);
  net->forward(torch::randn({4, 6})).square().mean().backward();
}

TEST(DeviceAdam, TakesTheStepsOfLibTorchsAdam) {
  auto stock_net = network(), device_net = network();
  const auto options =
      torch::optim::AdamOptions(1e-2).betas(std::make_tuple(0.5, 0.999)).weight_decay(1e-3);
  torch::optim::Adam stock(stock_net->parameters(), options),
      device(device_net->parameters(), options);
  // One eager step each creates the states; then LibTorch's step against the device one.
  for (auto* pair : {&stock, &device}) {
    auto& net = pair == &stock ? stock_net : device_net;
    backward_on(net, 0);
    pair->step();
  }
  const auto steps = ganaug::detail::adam_steps_tensor(device, torch::kCPU);
  EXPECT_EQ(steps.item<double>(), 1.0);
  for (int step = 1; step <= 6; ++step) {
    stock.zero_grad();
    backward_on(stock_net, step);
    stock.step();
    ganaug::detail::zero_gradients(device_net->parameters());
    backward_on(device_net, step);
    ganaug::detail::adam_step_on_device(device, steps);
    ganaug::detail::advance_adam_steps(device, 1);
    const auto a = stock_net->parameters(), b = device_net->parameters();
    for (size_t i = 0; i < a.size(); ++i)
      EXPECT_TRUE(torch::allclose(a[i], b[i], 1e-6, 1e-8)) << "step " << step << " parameter " << i;
  }
  EXPECT_EQ(steps.item<double>(), 7.0);
  // The host counts follow, so that a checkpoint holds them.
  EXPECT_EQ(ganaug::detail::adam_steps_tensor(device, torch::kCPU).item<double>(), 7.0);
}

TEST(DeviceAdam, NeedsTheStatesOfAnEagerStep) {
  auto net = network();
  torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(1e-2));
  EXPECT_EQ(ganaug::detail::adam_steps_tensor(adam, torch::kCPU).item<double>(), 0.0);
  backward_on(net, 0);
  ganaug::testing::expect_error(
      [&] { ganaug::detail::adam_step_on_device(adam, torch::zeros({}, torch::kFloat64)); },
      {"take one eager step first"});
}

TEST(DeviceMovingAverage, IsTheHostOne) {
  auto model = network(), host = network(), device = network();
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.add_(torch::randn_like(p));
  }
  auto step = torch::zeros({}, torch::kFloat64);
  for (int64_t t = 1; t <= 30; ++t) {
    ganaug::detail::update_moving_average(*model, *host, 0.9, t);
    step.add_(1);
    ganaug::detail::update_moving_average_on_device(*model, *device, 0.9, step);
    const auto a = host->parameters(), b = device->parameters();
    for (size_t i = 0; i < a.size(); ++i)
      EXPECT_TRUE(torch::allclose(a[i], b[i], 1e-6, 1e-7)) << "step " << t << " parameter " << i;
  }
}

TEST(CudaStepGraph, IsRefusedWhereItCannotRun) {
  const auto expected = ganaug::cuda_graphs_available() ? "needs a CUDA device" : "no CUDA graphs";
  ganaug::testing::expect_error([] { ganaug::detail::CudaStepGraph graph(torch::kCPU); },
                                {expected});
}

TEST(CudaStepGraph, TheCpuIgnoresTheOption) {
  // On the CPU cuda_graphs changes nothing: the same weights bit for bit.
  const auto data = ganaug::testing::left_right_blobs();
  ganaug::GanTrainer on(ganaug::testing::tiny_gan_options(2, 5, 4), data.class_names);
  ganaug::GanTrainer off(ganaug::testing::tiny_gan_options(2, 5, 4).cuda_graphs(false),
                         data.class_names);
  ASSERT_TRUE(on.train(data) && off.train(data));
  const auto a = on.generator()->parameters(), b = off.generator()->parameters();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << i;
}

TEST(Precision, NamesAndTheRefusalOnACpuWithoutBfloat16Instructions) {
  EXPECT_EQ(ganaug::parse_precision("fp32"), ganaug::Precision::kFloat32);
  EXPECT_EQ(ganaug::parse_precision("bf16"), ganaug::Precision::kBFloat16);
  EXPECT_EQ(ganaug::to_string(ganaug::Precision::kBFloat16), "bf16");
  ganaug::testing::expect_error([] { ganaug::parse_precision("fp16"); },
                                {"'fp16'", "fp32 or bf16"});
  const auto bf16 = ganaug::Precision::kBFloat16;
  ganaug::testing::expect_error(
      [&] { ganaug::check_precision(bf16, torch::Device("cpu"), false); },
      {"bf16", "needs a CUDA device or a CPU with bfloat16 instructions", "cpu without them"});
  EXPECT_NO_THROW(ganaug::check_precision(bf16, torch::Device("cpu"), true));
  EXPECT_NO_THROW(
      ganaug::check_precision(ganaug::Precision::kFloat32, torch::Device("cpu"), false));
  // The trainer asks the CPU itself.
  const auto data = ganaug::testing::left_right_blobs();
  const auto make = [&] {
    ganaug::GanTrainer trainer(ganaug::testing::tiny_gan_options(2, 5, 4).precision(bf16),
                               data.class_names);
  };
  if (ganaug::cpu_has_bf16()) {
    EXPECT_NO_THROW(make());
  } else {
    ganaug::testing::expect_error(make, {"bf16", "cpu without them"});
  }
}

// On a CPU with bfloat16 instructions, bf16 autocast trains the GAN: float32 weights, finite,
// a little apart from the fp32 run of the same seed (bfloat16 keeps about 3 digits).
TEST(Precision, Bf16TrainsTheGanOnACpuWithBfloat16Instructions) {
  if (!ganaug::cpu_has_bf16()) GTEST_SKIP() << "this CPU has no bfloat16 instructions";
  const auto data = ganaug::testing::left_right_blobs();
  const auto options = ganaug::testing::tiny_gan_options(2, 5, 4).iterations(12);
  ganaug::GanTrainer bf16(ganaug::GanOptions(options).precision(ganaug::Precision::kBFloat16),
                          data.class_names);
  ganaug::GanTrainer fp32(options, data.class_names);
  ASSERT_TRUE(bf16.train(data) && fp32.train(data));
  bool differs = false;
  const auto a = bf16.generator()->parameters(), b = fp32.generator()->parameters();
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].scalar_type(), torch::kFloat32);
    EXPECT_TRUE(torch::isfinite(a[i]).all().item<bool>());
    EXPECT_LT((a[i] - b[i]).abs().max().item<double>(), 0.05) << i;
    differs = differs || !torch::equal(a[i], b[i]);
  }
  EXPECT_TRUE(differs) << "bf16 changed no weight: autocast did not run";
}

// --- on a CUDA device with a LibTorch that has CUDA ---

bool can_capture() { return ganaug::cuda_available() && ganaug::cuda_graphs_available(); }

// Largest relative difference between two modules' parameters. Only for networks without batch
// norm: the biases before a batch norm get gradients of pure rounding noise, which Adam turns
// into steps of the full learning rate either way.
double largest_difference(torch::nn::Module& a, torch::nn::Module& b) {
  double worst = 0;
  const auto pa = a.parameters(), pb = b.parameters();
  for (size_t i = 0; i < pa.size(); ++i) {
    const double scale = std::max(pa[i].abs().max().item<double>(), 1e-3);
    worst = std::max(worst, (pa[i] - pb[i]).abs().max().item<double>() / scale);
  }
  return worst;
}

// Largest pixel difference (in [-1, 1]) between the images of two trainers' sampling generators
// for the same classes and noise.
double image_difference(const ganaug::GanTrainer& a, const ganaug::GanTrainer& b) {
  const auto classes = ganaug::balanced_classes(0, 32, 2);
  auto first = a.sampling_generator(), second = b.sampling_generator();
  return (ganaug::generate(first, classes, 5) - ganaug::generate(second, classes, 5))
      .abs()
      .max()
      .item<double>();
}

// Within TF32's rounding (cuDNN's and cuBLAS's float kernels keep about three digits) after a
// few steps of a GAN, whose steps amplify differences.
constexpr double kTolerance = 2e-2;

ganaug::GanOptions cuda_options(int64_t iterations, bool graphs) {
  return ganaug::testing::tiny_gan_options(2, iterations, 9)
      .device("cuda")
      .cuda_graphs(graphs)
      .log_every(4);
}

TEST(CudaStepGraph, CapturedStepsTrainAsEagerSteps_CUDA) {
  if (!can_capture()) GTEST_SKIP() << "no CUDA device, or a LibTorch without CUDA";
  const auto data = ganaug::testing::left_right_blobs();
  ganaug::GanTrainer graphed(cuda_options(12, true), data.class_names);
  ganaug::GanTrainer eager(cuda_options(12, false), data.class_names);
  ASSERT_TRUE(graphed.train(data));
  ASSERT_TRUE(eager.train(data));
  const double d = largest_difference(*graphed.discriminator(), *eager.discriminator());
  const double images = image_difference(graphed, eager);
  EXPECT_LT(d, kTolerance) << "discriminator weights";
  EXPECT_LT(images, kTolerance) << "sampled images";
  std::cout << "graph against eager after 12 iterations: discriminator weights " << d
            << " (largest relative difference), sampled images " << images
            << " (largest pixel difference)\n";
  EXPECT_EQ(graphed.iteration(), 12);
}

TEST(CudaStepGraph, ACheckpointResumesOnBothPaths_CUDA) {
  if (!can_capture()) GTEST_SKIP() << "no CUDA device, or a LibTorch without CUDA";
  const auto data = ganaug::testing::left_right_blobs();
  const ganaug::testing::TempDir dir;
  const auto checkpoint = (dir / "half.pt").string();
  ganaug::GanTrainer whole(cuda_options(16, true), data.class_names);
  ASSERT_TRUE(whole.train(data));
  // Half the run on the graph path (replays from iteration 3), saved mid-run.
  ganaug::GanTrainer first(cuda_options(8, true), data.class_names);
  ASSERT_TRUE(first.train(data));
  first.save_checkpoint(checkpoint);
  for (const bool graphs : {true, false}) {
    ganaug::GanTrainer resumed(cuda_options(16, graphs), data.class_names);
    resumed.resume(checkpoint);
    ASSERT_EQ(resumed.iteration(), 8);
    ASSERT_TRUE(resumed.train(data));
    const double d = largest_difference(*whole.discriminator(), *resumed.discriminator());
    const double images = image_difference(whole, resumed);
    EXPECT_LT(d, kTolerance) << (graphs ? "graph" : "eager") << " path, discriminator weights";
    EXPECT_LT(images, kTolerance) << (graphs ? "graph" : "eager") << " path, sampled images";
    std::cout << (graphs ? "graph" : "eager") << " path resumed at 8 of 16, against the whole run: "
              << "discriminator weights " << d << ", sampled images " << images << "\n";
  }
}

// A classifier's run with full and short batches (30 blobs per class in batches of 16: five
// full steps and one of 10 per epoch), synthetic images in their own passes, a weight average.
struct ClassifierRun {
  ganaug::LabeledDataset train = ganaug::testing::blobs(30, 1),
                         test = ganaug::testing::blobs(20, 2);
  ganaug::LabeledDataset synthetic = ganaug::testing::blobs(10, 3);
  ClassifierRun() {
    synthetic.targets = ganaug::scheme_targets(ganaug::Scheme::kSmooth, synthetic.labels, 3);
  }
  ganaug::Classifier train_with(ganaug::ClassifierOptions options) {
    return ganaug::train_classifier(train, &synthetic,
                                    options.width(4).batch_size(16).ema_decay(0.9));
  }
};

TEST(Precision, Bf16TrainsTheGanOnCuda_CUDA) {
  if (!can_capture()) GTEST_SKIP() << "no CUDA device, or a LibTorch without CUDA";
  const auto data = ganaug::testing::left_right_blobs();
  for (const bool graphs : {true, false}) {
    ganaug::GanTrainer bf16(cuda_options(12, graphs).precision(ganaug::Precision::kBFloat16),
                            data.class_names);
    ASSERT_TRUE(bf16.train(data));
    for (const auto& p : bf16.generator()->parameters()) {
      EXPECT_EQ(p.scalar_type(), torch::kFloat32);
      EXPECT_TRUE(torch::isfinite(p).all().item<bool>());
    }
    ganaug::GanTrainer fp32(cuda_options(12, graphs), data.class_names);
    ASSERT_TRUE(fp32.train(data));
    // bfloat16 keeps about 3 significant digits: the same training, a little apart.
    const double images = image_difference(bf16, fp32);
    EXPECT_LT(images, 0.5) << (graphs ? "graph" : "eager");
    std::cout << "bf16 against fp32 after 12 iterations (" << (graphs ? "graph" : "eager")
              << "): sampled images " << images << " (largest pixel difference)\n";
  }
}

TEST(ClassifierGraph, TheCpuIgnoresTheOption) {
  ClassifierRun run;
  const auto options = ganaug::ClassifierOptions(3, 8, 1).device("cpu").epochs(2);
  auto on = run.train_with(ganaug::ClassifierOptions(options).cuda_graphs(true));
  auto off = run.train_with(ganaug::ClassifierOptions(options).cuda_graphs(false));
  const auto a = on->parameters(), b = off->parameters();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << i;
}

TEST(ClassifierGraph, CapturedStepsTrainAsEagerSteps_CUDA) {
  if (!can_capture()) GTEST_SKIP() << "no CUDA device, or a LibTorch without CUDA";
  ClassifierRun run;
  // The ResNet: no dropout (whose draws differ between the paths) and no bias before a batch norm.
  const auto options = ganaug::ClassifierOptions(3, 8, 1)
                           .epochs(6)
                           .architecture(ganaug::ClassifierArchitecture::kResnet)
                           .device("cuda");
  auto graphed = run.train_with(ganaug::ClassifierOptions(options).cuda_graphs(true));
  auto eager = run.train_with(ganaug::ClassifierOptions(options).cuda_graphs(false));
  const double d = largest_difference(*graphed, *eager);
  EXPECT_LT(d, kTolerance) << "classifier weights";
  EXPECT_GT(ganaug::evaluate(graphed, run.test).accuracy, 0.9);
  std::cout << "classifier, graph against eager after 36 steps (30 replayed): weights " << d
            << " (largest relative difference)\n";
}

TEST(ClassifierGraph, DropoutDrawsRepeatPerSeed_CUDA) {
  if (!can_capture()) GTEST_SKIP() << "no CUDA device, or a LibTorch without CUDA";
  ClassifierRun run;
  // The CNN, whose dropout draws from the device's default generator under the graph; the
  // generator's state is restored afterwards.
  const auto generator = at::globalContext().defaultGenerator(torch::Device("cuda"));
  const uint64_t seed_before = generator.current_seed();
  const auto options = ganaug::ClassifierOptions(3, 8, 1).epochs(6).device("cuda").seed(4);
  auto first = run.train_with(options), second = run.train_with(options);
  auto other = run.train_with(ganaug::ClassifierOptions(options).seed(5));
  EXPECT_EQ(generator.current_seed(), seed_before);
  const auto logits = [&](ganaug::Classifier& model) {
    torch::NoGradGuard no_grad;
    return model(run.test.images.to("cuda")).cpu();
  };
  const double repeat = (logits(first) - logits(second)).abs().max().item<double>();
  const double scale = logits(first).abs().max().item<double>();
  EXPECT_LT(repeat, kTolerance * scale) << "the same seed";
  EXPECT_GT((logits(first) - logits(other)).abs().max().item<double>(), kTolerance * scale)
      << "another seed";
  EXPECT_GT(ganaug::evaluate(first, run.test).accuracy, 0.9);
}

}  // namespace

}  // namespace ganaug_tests_cuda_graph
