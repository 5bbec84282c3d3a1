// Classifier speed: milliseconds per training step of ganaug's default classifier (the "cnn"
// architecture, width 32, 28x28 gray, batch 64), real images only and with a synthetic share,
// next to a reference measured in the same run: the same network and step written the plain
// way with LibTorch's stock modules (NCHW tensors, torch::nn::Dropout, the batch gathered on
// the CPU and copied, the synthetic images in the same batch-norm pass).
// Usage: bench_classifier [--epochs E] [--threads T] [--images N] [--trace FILE]
//   --trace FILE  writes a Chrome trace of E ganaug epochs after one untraced warm-up epoch
//                 (LibTorch's profiler) and exits.
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include "bench_support.hpp"
#include "ganaug/classifier.hpp"
#include "ganaug/runtime.hpp"
#include "ganaug/schemes.hpp"

namespace {

namespace nn = torch::nn;

// The reference: the network of ClassifierImpl ("cnn") in stock modules, trained the plain way.
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

}  // namespace

int main(int argc, char** argv) try {
  int64_t epochs = 6, n = 1000;
  int threads = 0;
  std::string trace;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--epochs")
      epochs = std::stoll(value);
    else if (flag == "--threads")
      threads = std::stoi(value);
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
      ganaug::ClassifierOptions(k, 28, 1).device("cpu").recalibrate_batchnorm(false);
  const int64_t steps_per_epoch = (n + 63) / 64;

  if (!trace.empty()) {
    // One untraced run first: the trace should show the steady state, not first-call costs.
    ganaug::train_classifier(real, &synthetic, ganaug::ClassifierOptions(options).epochs(1));
    torch::autograd::profiler::RecordProfile guard(trace);
    ganaug::train_classifier(real, &synthetic, ganaug::ClassifierOptions(options).epochs(epochs));
    std::cout << "trace of " << epochs << " epochs with synthetic images: " << trace << "\n";
    return 0;
  }

  auto ganaug_step = [&](const ganaug::LabeledDataset* extra) {
    return ganaug::bench::seconds_of([&] {
             ganaug::train_classifier(real, extra,
                                      ganaug::ClassifierOptions(options).epochs(epochs));
           }) /
           (epochs * steps_per_epoch);
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
  ganaug_step(nullptr);  // warm-up
  plain_step(false);
  const std::string load = ganaug::bench::load_average();
  double best[4] = {1e9, 1e9, 1e9, 1e9};
  for (int round = 0; round < 5; ++round) {  // interleaved: the same background load for all
    best[0] = std::min(best[0], plain_step(false));
    best[1] = std::min(best[1], ganaug_step(nullptr));
    best[2] = std::min(best[2], plain_step(true));
    best[3] = std::min(best[3], ganaug_step(&synthetic));
  }
  // Forward FLOPs per image of the cnn at width 32 (convolutions and linear layers; the rest is
  // memory traffic); training is about 3x (backward twice the forward).
  const double forward_flops =
      2.0 * (28 * 28 * 32 * 9 * 1 + 14 * 14 * 64 * 32 * 9) + 2.0 * (64 * 7 * 7 * 128 + 128 * k);
  const double step_flops = 3 * forward_flops * 64;
  const double mm = ganaug::bench::matmul_gflops();
  std::cout << "machine: " << ganaug::cpu_model() << ", " << ganaug::hardware_threads()
            << " hardware threads, LibTorch threads " << used_threads << ", load " << load << "\n"
            << "classifier cnn width 32, 28x28x1, batch 64, " << n << " real images, " << epochs
            << " epochs per measurement, best of 5 interleaved rounds\n"
            << "real only:        reference " << best[0] * 1e3 << " ms/step, ganaug "
            << best[1] * 1e3 << " ms/step (" << best[0] / best[1] << "x); ganaug "
            << step_flops / best[1] / 1e9 << " GFLOP/s = " << 100 * step_flops / best[1] / 1e9 / mm
            << "% of the 1024x1024 matrix product (" << mm << " GFLOP/s)\n"
            << "with synthetic (64 + 21): reference " << best[2] * 1e3 << " ms/step, ganaug "
            << best[3] * 1e3 << " ms/step (" << best[2] / best[3] << "x)\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << "bench_classifier: " << e.what() << "\n";
  return 1;
}
