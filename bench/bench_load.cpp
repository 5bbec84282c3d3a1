// Loading speed: all 60000 Fashion-MNIST training images through the IDX flow graph, and an
// image folder of generated 28x28 PNGs through the decoding flow graph at 1 and 2 threads.
// Usage: bench_load [--images N] [--repeats R] [--out FILE.md]
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <opencv2/imgcodecs.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "commands.hpp"
#include "ganaug/datasets/fashion_mnist.hpp"
#include "ganaug/datasets/idx.hpp"
#include "ganaug/pipelines/load.hpp"
#include "ganaug/runtime.hpp"

using ganaug::bench::best_of_interleaved;
using ganaug::bench::load_average;

namespace ganaug::bench::load_command {

// root/<class>/<i>.png, 28x28 gray: Fashion-MNIST images when the package is installed (so the
// PNGs compress like real data), otherwise seeded noise.
void write_image_folder(const std::filesystem::path& root, int64_t count) {
  torch::Tensor pixels;
  torch::Tensor labels;
  const auto files =
      ganaug::find_idx_split(ganaug::default_fashion_mnist_dir(), ganaug::IdxSplit::kTrain);
  if (files) {
    auto contents = ganaug::read_idx_contents(files->images, files->labels);
    pixels = contents.pixels.narrow(0, 0, count).contiguous();
    labels = contents.labels.narrow(0, 0, count).contiguous();
  } else {
    torch::manual_seed(0);
    pixels = torch::randint(0, 256, {count, 1, 28, 28}, torch::kUInt8);
    labels = torch::arange(count, torch::kInt64).remainder(10);
  }
  for (int k = 0; k < 10; ++k)
    std::filesystem::create_directories(root / ("class" + std::to_string(k)));
  for (int64_t i = 0; i < count; ++i) {
    const cv::Mat image(28, 28, CV_8UC1, pixels[i].data_ptr<uint8_t>());
    std::ostringstream name;
    name << "class" << labels[i].item<int64_t>() << "/" << std::setw(6) << std::setfill('0') << i
         << ".png";
    cv::imwrite((root / name.str()).string(), image);
  }
}

}  // namespace ganaug::bench::load_command

int ganaug::bench::run_load(int argc, char** argv) try {
  using namespace load_command;
  int64_t folder_images = 4000;
  int repeats = 3;
  std::string out_path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--images" && i + 1 < argc) {
      folder_images = std::stoll(argv[++i]);
    } else if (arg == "--repeats" && i + 1 < argc) {
      repeats = std::stoi(argv[++i]);
    } else if (arg == "--out" && i + 1 < argc) {
      out_path = argv[++i];
    } else {
      std::cerr << "usage: bench_load [--images N] [--repeats R] [--out FILE.md]\n";
      return 2;
    }
  }
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const std::string load_before = load_average();
  std::cout << "machine: " << ganaug::cpu_model() << " (" << cores
            << " hardware threads), load average " << load_before << "\n";
  std::ostringstream table;
  table << "| what | threads | images | seconds | images/s |\n| --- | --- | --- | --- | --- |\n";
  auto row = [&](const std::string& what, int threads, int64_t images, double seconds) {
    std::cout << what << ", " << threads << " thread(s): " << seconds << " s\n";
    table << "| " << what << " | " << threads << " | " << images << " | " << std::fixed
          << std::setprecision(3) << seconds << " | " << std::setprecision(0) << images / seconds
          << " |\n";
  };

  const auto files =
      ganaug::find_idx_split(ganaug::default_fashion_mnist_dir(), ganaug::IdxSplit::kTrain);
  if (files) {
    int64_t count = 0;
    const auto best = best_of_interleaved(
        repeats,
        {// The serial part alone: reading, gunzip, header checks.
         [&] { count = ganaug::read_idx_contents(files->images, files->labels).pixels.size(0); },
         [&] { ganaug::load_dataset(ganaug::DatasetSpec().threads(1)); },
         [&] { ganaug::load_dataset(ganaug::DatasetSpec().threads(2)); }});
    row("Fashion-MNIST train, gzip IDX: read + gunzip only (serial)", 1, count, best[0]);
    row("Fashion-MNIST train, gzip IDX: read + gunzip + normalise graph", 1, count, best[1]);
    row("Fashion-MNIST train, gzip IDX: read + gunzip + normalise graph", 2, count, best[2]);
  } else {
    std::cout << "Fashion-MNIST not installed: skipping the IDX figures\n";
    table << "| Fashion-MNIST train | - | - | not installed | - |\n";
  }

  const auto root = std::filesystem::temp_directory_path() /
                    ("ganaug-bench-load-" + std::to_string(static_cast<long>(::getpid())));
  write_image_folder(root, folder_images);
  auto load_folder = [&](int threads) {
    return [&root, threads] {
      ganaug::load_dataset(ganaug::DatasetSpec()
                               .format(ganaug::DatasetFormat::kFolder)
                               .path(root.string())
                               .threads(threads));
    };
  };
  const auto best = best_of_interleaved(repeats, {load_folder(1), load_folder(2)});
  std::filesystem::remove_all(root);
  const std::string what =
      "image folder, " + std::to_string(folder_images) + " 28x28 PNGs: decode graph";
  row(what, 1, folder_images, best[0]);
  row(what, 2, folder_images, best[1]);
  const double speedup = best[0] / best[1];
  std::cout << "image folder speed-up, 2 threads over 1: " << speedup << "x\n";

  std::ostringstream md;
  md << "Machine: " << ganaug::cpu_model() << ", " << cores << " hardware threads; load average "
     << load_before << " before the run. Best of " << repeats
     << " interleaved rounds, wall time.\n\n"
     << table.str() << "\nImage-folder speed-up, 2 threads over 1: " << std::fixed
     << std::setprecision(2) << speedup << "x.\n";
  if (!out_path.empty()) {
    std::ofstream out(out_path);
    out << md.str();
    if (!out.good()) throw std::runtime_error("cannot write " + out_path);
    std::cout << "wrote " << out_path << "\n";
  } else {
    std::cout << "\n" << md.str();
  }
  return 0;
} catch (const std::exception& e) {
  std::cerr << "bench_load: " << e.what() << "\n";
  return 1;
}
