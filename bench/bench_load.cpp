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

#include "ganaug/datasets/fashion_mnist.hpp"
#include "ganaug/datasets/idx.hpp"
#include "ganaug/pipelines/load.hpp"

namespace {

std::string cpu_model() {
  std::ifstream info("/proc/cpuinfo");
  std::string line;
  while (std::getline(info, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

// Best wall time of `repeats` runs of `work`, in seconds.
double best_of(int repeats, const std::function<void()>& work) {
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    work();
    best = std::min(
        best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

// root/<class>/<i>.png, 28x28 gray: Fashion-MNIST images when the package is installed (so the
// PNGs compress like real data), otherwise seeded noise.
void write_image_folder(const std::filesystem::path& root, int64_t count) {
  torch::Tensor pixels;
  torch::Tensor labels;
  const auto files = ganaug::find_idx_split(ganaug::default_fashion_mnist_dir(), "train");
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

}  // namespace

int main(int argc, char** argv) try {
  int64_t folder_images = 4000;
  int repeats = 3;
  std::string out_path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--images" && i + 1 < argc)
      folder_images = std::stoll(argv[++i]);
    else if (arg == "--repeats" && i + 1 < argc)
      repeats = std::stoi(argv[++i]);
    else if (arg == "--out" && i + 1 < argc)
      out_path = argv[++i];
    else {
      std::cerr << "usage: bench_load [--images N] [--repeats R] [--out FILE.md]\n";
      return 2;
    }
  }
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  std::ostringstream md;
  md << "Machine: " << cpu_model() << ", " << cores << " hardware threads. Best of " << repeats
     << " runs, wall time.\n\n"
     << "| what | threads | images | seconds | images/s |\n| --- | --- | --- | --- | --- |\n";
  std::cout << "machine: " << cpu_model() << " (" << cores << " hardware threads)\n";

  const bool have_fashion =
      ganaug::find_idx_split(ganaug::default_fashion_mnist_dir(), "train").has_value();
  if (have_fashion) {
    // The serial part: reading the file, gunzip, header checks (no normalisation).
    const auto files = ganaug::find_idx_split(ganaug::default_fashion_mnist_dir(), "train");
    int64_t raw_count = 0;
    const double raw_seconds = best_of(repeats, [&] {
      raw_count = ganaug::read_idx_contents(files->images, files->labels).pixels.size(0);
    });
    std::cout << "Fashion-MNIST train, read + gunzip only: " << raw_seconds << " s\n";
    md << "| Fashion-MNIST train, gzip IDX: read + gunzip only (serial part) | 1 | " << raw_count
       << " | " << std::fixed << std::setprecision(3) << raw_seconds << " | "
       << std::setprecision(0) << raw_count / raw_seconds << " |\n";
    for (int threads : {1, 0}) {
      int64_t count = 0;
      const double seconds = best_of(repeats, [&] {
        count = ganaug::load_dataset(ganaug::DatasetSpec().threads(threads)).size();
      });
      const int shown = threads == 0 ? static_cast<int>(cores) : threads;
      std::cout << "Fashion-MNIST train (gzip IDX, " << count << " images), " << shown
                << " thread(s): " << seconds << " s\n";
      md << "| Fashion-MNIST train, gzip IDX: read + gunzip + normalise | " << shown << " | "
         << count << " | " << std::fixed << std::setprecision(3) << seconds << " | "
         << std::setprecision(0) << count / seconds << " |\n";
    }
  } else {
    std::cout << "Fashion-MNIST not installed: skipping the IDX figures\n";
    md << "| Fashion-MNIST train | - | - | not installed | - |\n";
  }

  const auto root = std::filesystem::temp_directory_path() /
                    ("ganaug-bench-load-" + std::to_string(static_cast<long>(::getpid())));
  write_image_folder(root, folder_images);
  double seconds_at[3] = {0, 0, 0};
  for (int threads : {1, 2}) {
    const double seconds = best_of(repeats, [&] {
      ganaug::load_dataset(
          ganaug::DatasetSpec().format("folder").path(root.string()).threads(threads));
    });
    seconds_at[threads] = seconds;
    std::cout << "image folder (" << folder_images << " 28x28 PNGs), " << threads
              << " thread(s): " << seconds << " s\n";
    md << "| image folder, " << folder_images << " 28x28 PNGs: decode + normalise | " << threads
       << " | " << folder_images << " | " << std::fixed << std::setprecision(3) << seconds << " | "
       << std::setprecision(0) << folder_images / seconds << " |\n";
  }
  std::filesystem::remove_all(root);
  const double speedup = seconds_at[1] / seconds_at[2];
  std::cout << "image folder speed-up, 2 threads over 1: " << speedup << "x\n";
  md << "\nImage-folder speed-up, 2 threads over 1: " << std::fixed << std::setprecision(2)
     << speedup << "x.\n";

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
