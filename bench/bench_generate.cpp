// The generate -> label -> encode PNG -> write pipeline alone: 28x28 images with their manifest,
// at 1 and 2 threads, against the generator's own speed (no files) measured in the same run.
// Usage: bench_generate [--n N] [--repeats R] [--scheme S] [--out FILE.md]
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>

#include "bench_support.hpp"
#include "commands.hpp"
#include "ganaug/gan.hpp"
#include "ganaug/pipelines/generate.hpp"
#include "ganaug/runtime.hpp"

int ganaug::bench::run_generate(int argc, char** argv) try {
  int64_t n = 5000;
  int repeats = 5;
  std::string scheme_name = "smooth", out_path;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--n") {
      n = std::stoll(value);
    } else if (flag == "--repeats") {
      repeats = std::stoi(value);
    } else if (flag == "--scheme") {
      scheme_name = value;
    } else if (flag == "--out") {
      out_path = value;
    } else {
      std::cerr << "usage: bench_generate [--n N] [--repeats R] [--scheme S] [--out FILE.md]\n";
      return 2;
    }
  }
  const auto scheme = ganaug::parse_scheme(scheme_name);
  const std::string load_before = ganaug::bench::load_average();
  ganaug::configure_threads(ganaug::hardware_threads());
  torch::manual_seed(0);
  // The default 28x28 model for Fashion-MNIST's 10 classes; its speed does not depend on
  // training, so an untrained one stands in for a trained one.
  ganaug::GanOptions gan(10, 28, 1);
  ganaug::Generator generator(gan.generator_options());
  generator->eval();
  ganaug::Classifier labeller{nullptr};
  if (scheme == ganaug::Scheme::kArgmax) {
    labeller = ganaug::Classifier(ganaug::ClassifierOptions(10, 28, 1));
    labeller->eval();
  }
  const auto root = std::filesystem::temp_directory_path() /
                    ("ganaug-bench-generate-" + std::to_string(static_cast<long>(::getpid())));
  // Every round writes to a fresh folder and all are removed at the end: on ext4, creating
  // thousands of files right after deleting thousands makes the kernel's inode allocator scan
  // recently deleted inodes (measured with perf here: a third of the run in recently_deleted),
  // which would blur the pipeline's own speed.
  int round = 0;
  auto pipeline_run = [&](int threads) {
    return [&, threads] {
      const auto folder = root / ("round-" + std::to_string(round++));
      ganaug::GeneratePipeline pipeline(
          generator, scheme, ganaug::GenerateOptions(folder.string()).n(n).threads(threads),
          labeller);
      const auto result = pipeline.run();
      if (!result.complete || result.written != n)
        throw std::runtime_error("the pipeline wrote " + std::to_string(result.written) + " of " +
                                 std::to_string(n) + " images");
    };
  };
  // The reference: the generator alone at the same batch size, one thread (as in the pipeline's
  // torch stage), no labels, no files.
  auto generator_only = [&] {
    ganaug::configure_threads(1);
    ganaug::generate(generator, ganaug::balanced_classes(0, n, 10), 0, 0, 250);
    ganaug::configure_threads(ganaug::hardware_threads());
  };
  const auto best = ganaug::bench::best_of_interleaved(
      repeats, {generator_only, pipeline_run(1), pipeline_run(2)});
  std::filesystem::remove_all(root);

  std::ostringstream md;
  md << std::fixed << "Machine: " << ganaug::cpu_model() << ", " << ganaug::hardware_threads()
     << " hardware threads; load average " << load_before << " before the run. " << n
     << " images of 28x28, scheme `" << scheme_name << "`, batches of 250, best of " << repeats
     << " interleaved rounds, wall time.\n\n"
     << "| what | threads | seconds | images/s | vs generator alone |\n"
     << "| --- | --- | --- | --- | --- |\n";
  const char* names[] = {"generator alone (no labels, no files)",
                         "pipeline: generate, label, "
                         "encode PNG, write, manifest",
                         "pipeline: generate, label, encode PNG, "
                         "write, manifest"};
  const int threads[] = {1, 1, 2};
  for (int i = 0; i < 3; ++i) {
    md << "| " << names[i] << " | " << threads[i] << " | " << std::setprecision(3) << best[i]
       << " | " << std::setprecision(0) << n / best[i] << " | " << std::setprecision(2)
       << best[0] / best[i] << "x |\n";
  }
  md << "\nPipeline speed-up, 2 threads over 1: " << std::setprecision(2) << best[1] / best[2]
     << "x.\n";
  std::cout << md.str();
  if (!out_path.empty()) {
    std::ofstream out(out_path);
    out << md.str();
    if (!out.good()) throw std::runtime_error("cannot write " + out_path);
  }
  return 0;
} catch (const std::exception& e) {
  std::cerr << "bench_generate: " << e.what() << "\n";
  return 1;
}
