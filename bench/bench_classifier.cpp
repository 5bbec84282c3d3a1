// Classifier speed: milliseconds per training step of ganaug's default classifier for gray
// images (the "cnn" network at width 24 since ganaug 0.3; 28x28, batch 64) and of its earlier
// default (cnn at width 32), real images only and with a synthetic share, next to a reference
// measured in the same run: the cnn network at width 32 and its step written the plain way with
// LibTorch's stock modules (NCHW tensors, torch::nn::Dropout, the batch gathered on the CPU and
// copied, the synthetic images in the same batch-norm pass) -- the classifier step as it was
// before any speed work.
// Usage: bench_classifier [--epochs E] [--threads T] [--images N] [--width W] [--trace FILE]
//   --width W     the first configuration at width W instead of the default
//   --trace FILE  writes a Chrome trace of E ganaug epochs after one untraced warm-up epoch
//                 (LibTorch's profiler) and exits.
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "commands.hpp"
#include "ganaug/classifier.hpp"
#include "ganaug/runtime.hpp"
#include "ganaug/schemes.hpp"

namespace ganaug::bench::classifier_command {

namespace nn = torch::nn;

// The reference: the "cnn" network of ClassifierImpl in stock modules, trained the plain way.
struct PlainNetImpl : nn::Module {
  explicit PlainNetImpl(int64_t outputs)
      : features(nn::Conv2d(nn::Conv2dOptions(1, 32, 3).padding(1)), nn::BatchNorm2d(32),
                 nn::ReLU(), nn::MaxPool2d(2), nn::Conv2d(nn::Conv2dOptions(32, 64, 3).padding(1)),
                 nn::BatchNorm2d(64), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
                 nn::Linear(64 * 7 * 7, 128), nn::ReLU(), nn::Dropout(0.3),
                 nn::Linear(128, outputs)) {
    register_module("features", features);
  }
  torch::Tensor forward(const torch::Tensor& x) { return features->forward(x); }
  nn::Sequential features;
};
TORCH_MODULE(PlainNet);

double plain_epoch(PlainNet& net, torch::optim::Adam& optimizer, const torch::Tensor& images,
                   const torch::Tensor& targets, const torch::Tensor& synthetic,
                   const torch::Tensor& synthetic_targets, int64_t synthetic_per_batch) {
  const int64_t n = images.size(0), batch = 64;
  const auto order = torch::randperm(n, torch::kInt64);
  int64_t steps = 0;
  const double seconds = ganaug::bench::seconds_of([&] {
    for (int64_t first = 0; first < n; first += batch) {
      const auto index = order.slice(0, first, std::min(first + batch, n));
      auto x = images.index_select(0, index);
      auto t = targets.index_select(0, index);
      if (synthetic_per_batch > 0) {
        const auto pick = torch::randint(synthetic.size(0), {synthetic_per_batch}, torch::kInt64);
        x = torch::cat({x, synthetic.index_select(0, pick)});
        t = torch::cat({t, synthetic_targets.index_select(0, pick)});
      }
      const auto logits = net(x.to(torch::kCPU));
      const auto loss = -(t.to(torch::kCPU) * torch::log_softmax(logits, 1)).sum(1).mean();
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss.item<double>();
      ++steps;
    }
  });
  return seconds / steps;
}

}  // namespace ganaug::bench::classifier_command

int ganaug::bench::run_classifier(int argc, char** argv) try {
  using namespace classifier_command;
  int64_t epochs = 6, n = 1000, width = 0;
  int threads = 0;
  std::string trace;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--epochs")
      epochs = std::stoll(value);
    else if (flag == "--threads")
      threads = std::stoi(value);
    else if (flag == "--width")
      width = std::stoll(value);
    else if (flag == "--images")
      n = std::stoll(value);
    else if (flag == "--trace")
      trace = value;
    else
      throw std::runtime_error("unknown flag " + flag);
  }
  const int used_threads = ganaug::configure_threads(threads);
  const int64_t k = 10;
  torch::manual_seed(0);
  ganaug::LabeledDataset real;
  real.images = torch::rand({n, 1, 28, 28}) * 2 - 1;
  real.labels = torch::arange(n, torch::kInt64).remainder(k);
  for (int64_t c = 0; c < k; ++c) real.class_names.push_back(std::to_string(c));
  real.source = "random images";
  ganaug::LabeledDataset synthetic = real;
  synthetic.images = torch::rand({5000, 1, 28, 28}) * 2 - 1;
  synthetic.labels = torch::arange(5000, torch::kInt64).remainder(k);
  synthetic.targets = ganaug::scheme_targets(ganaug::Scheme::kSmooth, synthetic.labels, k);
  const auto options =
      ganaug::ClassifierOptions(k, 28, 1).width(width).recalibrate_batchnorm(false);
  const auto run = ganaug::RunContext().device("cpu");
  const int64_t steps_per_epoch = (n + 63) / 64;

  if (!trace.empty()) {
    // One untraced run first: the trace should show the steady state, not first-call costs.
    ganaug::train_classifier(run, real, &synthetic, ganaug::ClassifierOptions(options).epochs(1));
    torch::autograd::profiler::RecordProfile guard(trace);
    ganaug::train_classifier(run, real, &synthetic,
                             ganaug::ClassifierOptions(options).epochs(epochs));
    std::cout << "trace of " << epochs << " epochs with synthetic images: " << trace << "\n";
    return 0;
  }

  // ganaug's default network and its default before ganaug 0.3 (cnn at width 32: the
  // reference's network).
  const std::vector<ganaug::ClassifierOptions> networks = {
      options, ganaug::ClassifierOptions(options)
                   .architecture(ganaug::ClassifierArchitecture::kCnn)
                   .width(32)};
  auto ganaug_step = [&](const ganaug::LabeledDataset* extra, size_t net) {
    return ganaug::bench::seconds_of([&] {
             ganaug::train_classifier(run, real, extra,
                                      ganaug::ClassifierOptions(networks[net]).epochs(epochs));
           }) /
           (epochs * steps_per_epoch);
  };
  auto name = [&](size_t net) {
    return to_string(networks[net].network()) + " width " +
           std::to_string(networks[net].network_width());
  };

  PlainNet plain(k), plain_mixed(k);
  torch::optim::Adam plain_optimizer(plain->parameters(), 1e-3),
      mixed_optimizer(plain_mixed->parameters(), 1e-3);
  const auto targets = torch::nn::functional::one_hot(real.labels, k).to(torch::kFloat32);
  const int64_t synthetic_per_batch = 21;  // share 0.25 of 64 + 21
  auto plain_step = [&](bool with_synthetic) {
    double best = 1e9;
    for (int64_t e = 0; e < epochs; ++e) {
      best = std::min(best,
                      with_synthetic
                          ? plain_epoch(plain_mixed, mixed_optimizer, real.images, targets,
                                        synthetic.images, synthetic.targets, synthetic_per_batch)
                          : plain_epoch(plain, plain_optimizer, real.images, targets, {}, {}, 0));
    }
    return best;
  };
  ganaug_step(nullptr, 0);  // warm-up
  ganaug_step(nullptr, 1);
  plain_step(false);
  const std::string load = ganaug::bench::load_average();
  // [0] the reference, [1 + i] ganaug with networks[i]; real only, then with synthetic images.
  double best[2][3] = {{1e9, 1e9, 1e9}, {1e9, 1e9, 1e9}};
  for (int round = 0; round < 5; ++round) {  // interleaved: the same background load for all
    for (int mixed = 0; mixed < 2; ++mixed) {
      const auto* extra = mixed ? &synthetic : nullptr;
      best[mixed][0] = std::min(best[mixed][0], plain_step(mixed));
      for (size_t net = 0; net < networks.size(); ++net)
        best[mixed][1 + net] = std::min(best[mixed][1 + net], ganaug_step(extra, net));
    }
  }
  // Forward FLOPs per image (convolutions and linear layers; the rest is memory traffic);
  // training is about 3x (backward twice the forward).
  auto step_flops = [&](size_t net) {
    const double w = static_cast<double>(networks[net].network_width());
    const double second = networks[net].network() == ganaug::ClassifierArchitecture::kCnn
                              ? 14 * 14
                              : 7 * 7;  // conv2 outputs
    return 3 * 64 *
           (2.0 * (28 * 28 * w * 9 * 1 + second * 2 * w * w * 9) +
            2.0 * (2 * w * 7 * 7 * 128 + 128 * k));
  };
  const double mm = ganaug::bench::matmul_gflops();
  std::cout << "machine: " << ganaug::cpu_model() << ", " << ganaug::hardware_threads()
            << " hardware threads, LibTorch threads " << used_threads << ", load " << load << "\n"
            << "classifier 28x28x1, batch 64, " << n << " real images, " << epochs
            << " epochs per measurement, best of 5 interleaved rounds; reference = cnn width 32 "
               "in stock modules\n";
  for (int mixed = 0; mixed < 2; ++mixed) {
    const double* b = best[mixed];
    std::cout << (mixed ? "with synthetic (64 + 21): reference " : "real only: reference ")
              << b[0] * 1e3 << " ms/step";
    for (size_t net = 0; net < networks.size(); ++net)
      std::cout << "; ganaug " << name(net) << " " << b[1 + net] * 1e3 << " ms/step ("
                << b[0] / b[1 + net] << "x)";
    std::cout << "\n";
  }
  for (size_t net = 0; net < networks.size(); ++net) {
    const double gflops = step_flops(net) / best[0][1 + net] / 1e9;
    std::cout << "ganaug " << name(net) << " real only: " << step_flops(net) / 1e9
              << " GFLOP per step, " << gflops << " GFLOP/s = " << 100 * gflops / mm
              << "% of the 1024x1024 matrix product (" << mm << " GFLOP/s)\n";
  }
  return 0;
} catch (const std::exception& e) {
  std::cerr << "bench_classifier: " << e.what() << "\n";
  return 1;
}
