// GAN speed: training images/s at batch 64, generation images/s, parameter count, FLOPs per image,
// and achieved GFLOP/s next to a 1024x1024 matrix-product GFLOP/s measured in the same run.
// Usage: bench_gan [--iterations N] [--image-size S] [--channels C] [--threads T] [--device D]
//                  [--batch-size B] [--generate-batch B] [--json FILE] [--cuda-graphs on|off]
//                  [--precision fp32|bf16]
//                  [--trace FILE]   (FILE: a Chrome trace of 10 training iterations; then exits)
// On CUDA the clocks stop after torch::cuda::synchronize(), and the matrix product is skipped (it
// measures the CPU).
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include "bench_support.hpp"
#include "commands.hpp"
#include "ganaug/gan.hpp"
#include "ganaug/runtime.hpp"

namespace ganaug::bench::gan_command {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace ganaug::bench::gan_command

int ganaug::bench::run_gan(int argc, char** argv) try {
  using namespace gan_command;
  int64_t iterations = 60, image_size = 28, channels = 1, g_width = 0, d_width = 0;
  int64_t batch_size = 64;
  // Batches of 500 on the CPU: measured here, 28x28 generation ran at about 6,200 images/s in
  // batches of 250-500 and 4,400 in batches of 1,000 (the activations of 1,000 images leave the
  // cache).
  int64_t gen_batch = 500;
  std::string json;
  std::string diffaugment = "auto";
  bool cuda_graphs = true;
  auto precision = ganaug::Precision::kFloat32;
  int threads = 0;
  std::string device = "cpu";
  std::string trace;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--iterations")
      iterations = std::stoll(value);
    else if (flag == "--image-size")
      image_size = std::stoll(value);
    else if (flag == "--channels")
      channels = std::stoll(value);
    else if (flag == "--threads")
      threads = std::stoi(value);
    else if (flag == "--device")
      device = value;
    else if (flag == "--g-width")
      g_width = std::stoll(value);
    else if (flag == "--d-width")
      d_width = std::stoll(value);
    else if (flag == "--cuda-graphs")
      cuda_graphs = value == "on" ? true
                    : value == "off"
                        ? false
                        : throw std::runtime_error("--cuda-graphs must be on or off, got " + value);
    else if (flag == "--precision")
      precision = ganaug::parse_precision(value);
    else if (flag == "--diffaugment")
      diffaugment = value;
    else if (flag == "--trace")
      trace = value;
    else if (flag == "--batch-size")
      batch_size = std::stoll(value);
    else if (flag == "--generate-batch" || flag == "--gen-batch")  // ganaug 0.5: --gen-batch
      gen_batch = std::stoll(value);
    else if (flag == "--json")
      json = value;
    else
      throw std::runtime_error("unknown flag " + flag);
  }
  const int used_threads = ganaug::configure_threads(threads);
  const int64_t k = 10, n = 1000;
  ganaug::LabeledDataset data;
  data.images = torch::rand({n, channels, image_size, image_size}) * 2 - 1;
  data.labels = torch::arange(n, torch::kInt64).remainder(k);
  for (int64_t c = 0; c < k; ++c) data.class_names.push_back(std::to_string(c));
  data.source = "random images";

  auto options = ganaug::GanOptions(k, image_size, channels)
                     .iterations(10)
                     .diffaugment(ganaug::parse_diffaugment_choice(diffaugment))
                     .batch_size(batch_size)
                     .cuda_graphs(cuda_graphs)
                     .precision(precision)
                     .log_every(1000000);
  if (g_width > 0) options.g_width(g_width);
  if (d_width > 0) options.d_width(d_width);
  ganaug::GanTrainer trainer(ganaug::RunContext().device(device).threads(threads), options,
                             data.class_names);
  const bool cuda = trainer.device().is_cuda();
  const auto sync = [&] {
    if (cuda) torch::cuda::synchronize();
  };
  trainer.train(data);  // warm-up: allocator, BLAS threads, cuDNN algorithm choice
  sync();
  if (!trace.empty()) {
    trainer.options().iterations(20);
    torch::autograd::profiler::RecordProfile guard(trace);
    trainer.train(data);
    std::cout << "trace of 10 training iterations: " << trace << "\n";
    return 0;
  }
  trainer.options().iterations(10 + iterations);
  const auto start = std::chrono::steady_clock::now();
  trainer.train(data);
  sync();
  const double train_s = seconds_since(start);
  const double train_rate = iterations * options.batch_size() / train_s;

  auto generator = trainer.sampling_generator();
  const int64_t gen_n = std::max<int64_t>(10000, 20 * gen_batch);
  const auto classes = ganaug::balanced_classes(0, gen_n, k);
  ganaug::generate(generator, classes.slice(0, 0, std::min<int64_t>(gen_n, 2 * gen_batch)), 1, 0,
                   gen_batch);
  sync();
  const auto gen_start = std::chrono::steady_clock::now();
  ganaug::generate(generator, classes, 1, 0, gen_batch);  // returns images on the CPU
  const double gen_rate = gen_n / seconds_since(gen_start);

  const int64_t g_flops = ganaug::forward_flops(options.generator_options());
  const int64_t d_flops = ganaug::forward_flops(options.discriminator_options());
  // Per generator-step image: D step = G forward + D forward/backward on a real and a fake
  // image (backward ~2x forward); G step = G forward/backward + D forward/backward to the input.
  const double train_flops_per_image = 4.0 * g_flops + 8.0 * d_flops;
  const double mm = cuda ? 0.0 : ganaug::bench::matmul_gflops();
  const double achieved = train_rate * train_flops_per_image / 1e9;
  std::cout << "machine: " << ganaug::cpu_model() << ", " << ganaug::hardware_threads()
            << " hardware threads, LibTorch threads " << used_threads << ", device "
            << trainer.device() << "\n"
            << "model: " << image_size << "x" << image_size << "x" << channels
            << ", generator parameters " << ganaug::parameter_count(*trainer.generator())
            << ", discriminator parameters " << ganaug::parameter_count(*trainer.discriminator())
            << "\n"
            << "forward MFLOP/image: generator " << g_flops / 1e6 << ", discriminator "
            << d_flops / 1e6 << "; training MFLOP/image " << train_flops_per_image / 1e6 << "\n"
            << "training (batch " << options.batch_size() << ", " << iterations
            << " iterations): " << train_rate << " images/s, " << achieved << " GFLOP/s\n";
  if (!cuda)
    std::cout << "matrix product 1024x1024: " << mm << " GFLOP/s (training reaches "
              << achieved / mm * 100 << "% of it)\n";
  std::cout << "generation (batch " << gen_batch << ", " << gen_n << " images): " << gen_rate
            << " images/s\n";
  if (!cuda)
    std::cout << "ratio to the PyTorch-eager reference (240 images/s, FACTS.md): "
              << train_rate / 240.0 << "x\n";
  if (!json.empty()) {
    std::ofstream out(json);
    out << "{\"device\": \"" << trainer.device() << "\", \"image_size\": " << image_size
        << ", \"channels\": " << channels << ", \"batch_size\": " << options.batch_size()
        << ", \"cuda_graphs\": "
        << (cuda && cuda_graphs && ganaug::cuda_graphs_available() ? "true" : "false")
        << ", \"precision\": \"" << ganaug::to_string(precision) << "\""
        << ", \"iterations\": " << iterations << ", \"train_images_per_s\": " << train_rate
        << ", \"train_gflops\": " << achieved << ", \"matmul_gflops\": " << mm
        << ", \"gen_batch\": " << gen_batch << ", \"gen_images_per_s\": " << gen_rate << "}\n";
    if (!out) throw std::runtime_error("cannot write " + json);
  }
  return 0;
} catch (const std::exception& e) {
  std::cerr << "bench_gan: " << e.what() << "\n";
  return 1;
}
