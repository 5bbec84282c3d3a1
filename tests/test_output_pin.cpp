// Pins what the front doors write, bit for bit: a tiny `augment` run of each kind (smooth;
// argmax-dynamic; an unlabeled pool with --pseudo and --classic) and a tiny `augment-bench` grid
// (2 sizes, 2 seeds, with and without a pool). The hashes below change only together with the
// output revision (version.hpp's kOutputRevision): a change that alters them without a
// revision bump changed what users get, and is a bug or a revision.
//
// The hashes hold on the CPU with one thread, on x86-64 with AVX2 with Debian's LibTorch 1.13
// and OpenBLAS (the development and CI machines). LibTorch's convolutions go through oneDNN,
// which picks its kernels by the CPU's instruction set (AVX-512 rounds otherwise than AVX2):
// this test caps oneDNN at AVX2 so that it pins the same outputs on every such machine, and
// tests/CMakeLists.txt runs it with OpenBLAS's AVX2 kernels (OPENBLAS_CORETYPE=Haswell: OpenBLAS
// reads it when it loads, before this file's code runs).
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ganaug/datasets/csv_manifest.hpp"
#include "ganaug/datasets/idx.hpp"
#include "ganaug/file_io.hpp"
#include "ganaug/jobs/augment.hpp"
#include "ganaug/jobs/experiment.hpp"
#include "ganaug/runtime.hpp"
#include "ganaug/version.hpp"
#include "test_support.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_output_pin {

namespace fs = std::filesystem;

namespace {

// Grid columns by name, as the command line gives them.
std::vector<ganaug::jobs::ExperimentScheme> schemes(const std::vector<std::string>& names) {
  return ganaug::jobs::ExperimentScheme::parse_all(names);
}

// Before any convolution runs (oneDNN reads its instruction-set cap once, at its first use);
// an explicit setting in the environment is kept.
const bool kIsaCapped = [] {
  setenv("ONEDNN_MAX_CPU_ISA", "AVX2", 0);
  setenv("DNNL_MAX_CPU_ISA", "AVX2", 0);
  return true;
}();

// The expected hashes of output revision kOutputRevision.
constexpr int kPinnedRevision = 3;
const std::map<std::string, std::string> kExpected = {
    {"augment-smooth", "3724bddc72175341"},
    {"augment-argmax-dynamic", "30a076cb832c121e"},
    {"augment-pool-pseudo", "8b3b1da31e15601f"},
    {"bench", "3ba257c6778bf12b"},
};

// 3 classes of 16x16 bars (train 12 per class, t10k 4 per class) and a pool of 24 images, all
// drawn from a generator seeded here (never LibTorch's global one).
void write_pinned_data(const fs::path& dir) {
  fs::create_directories(dir);
  auto rng = ganaug::make_cpu_generator(2026);
  for (const auto& [split, per_class] : {std::pair{"train", 12}, std::pair{"t10k", 4}}) {
    const int64_t n = 3 * per_class;
    auto pixels = torch::randint(0, 60, {n, 16, 16}, rng, torch::kUInt8);
    auto labels = torch::arange(n, torch::kInt64).remainder(3).to(torch::kUInt8);
    for (int64_t i = 0; i < n; ++i) pixels[i].slice(0, 5 * (i % 3), 5 * (i % 3) + 4).fill_(230);
    ganaug::write_idx(dir / (std::string(split) + "-images-idx3-ubyte"),
                      dir / (std::string(split) + "-labels-idx1-ubyte"), pixels, labels);
  }
  auto pool = torch::randint(0, 60, {24, 16, 16}, rng, torch::kUInt8);
  for (int64_t i = 0; i < 24; ++i) pool[i].slice(1, 5 * (i % 3), 5 * (i % 3) + 4).fill_(200);
  fs::create_directories(dir / "pool");
  ganaug::write_idx(dir / "pool" / "pool-images-idx3-ubyte",
                    dir / "pool" / "pool-labels-idx1-ubyte", pool,
                    torch::zeros({24}, torch::kUInt8));
}

uint64_t hash_file(const fs::path& path, uint64_t hash) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream bytes;
  bytes << in.rdbuf();
  const auto text = bytes.str();
  return ganaug::hash_bytes(text.data(), text.size(), hash);
}

uint64_t hash_double(double value, uint64_t hash) {
  return ganaug::hash_bytes(&value, sizeof value, hash);
}

uint64_t hash_metrics(const nlohmann::json& m, uint64_t hash) {
  hash = hash_double(m["accuracy"].get<double>(), hash);
  hash = hash_double(m["macro_f1"].get<double>(), hash);
  const auto confusion = m["confusion"].dump();
  return ganaug::hash_bytes(confusion.data(), confusion.size(), hash);
}

// Every image listed in labels.csv, labels.csv itself and the accuracies of summary.json.
std::string hash_augment_output(const fs::path& out) {
  uint64_t hash = hash_file(out / "labels.csv", ganaug::kHashSeed);
  std::ifstream manifest(out / "labels.csv");
  std::string line;
  std::getline(manifest, line);  // header
  while (std::getline(manifest, line)) hash = hash_file(out / line.substr(0, line.find(',')), hash);
  std::ifstream in(out / "summary.json");
  const auto summary = nlohmann::json::parse(in);
  hash = hash_metrics(summary["baseline"], hash);
  hash = hash_metrics(summary["retrained"], hash);
  if (summary.contains("unlabeled")) {
    auto record = summary["unlabeled"];
    record.erase("source");  // a path of this test's temporary folder
    // A trace of training added to revision 3's outputs
    // (AugmentCli.UnlabeledOptionsAreCheckedAndRun checks it); what is pinned is the rest.
    if (record.contains("retrained")) record["retrained"].erase("threshold_share");
    const auto pool = record.dump();
    hash = ganaug::hash_bytes(pool.data(), pool.size(), hash);
  }
  return ganaug::hash_hex(hash);
}

// results.csv without its wall-time column and the classic cells' setting (a name of the
// setting, not a result: added after revision 3 was pinned), and the generators' accuracy
// measures. The Frechet distance and the diversity are left out: oneDNN's kernels also depend on
// the CPU's cache sizes, and these sums of thousands of features differ in their last digits
// between machines (the accuracies do not).
std::string hash_bench_output(const fs::path& out) {
  uint64_t hash = ganaug::kHashSeed;
  std::ifstream csv(out / "results.csv");
  std::string line;
  std::vector<std::string> header;
  while (std::getline(csv, line)) {
    const auto fields = ganaug::split_csv_line(line);
    if (header.empty()) header = fields;
    EXPECT_EQ(fields.size(), header.size()) << line;
    std::string row;
    for (size_t i = 0; i < fields.size() && i < header.size(); ++i)
      if (header[i] != "seconds" && header[i] != "classic")
        row += (row.empty() ? "" : ",") + ganaug::csv_field(fields[i]);
    hash = ganaug::hash_bytes(row.data(), row.size(), hash);
  }
  std::ifstream in(out / "results.json");
  const auto results = nlohmann::json::parse(in);
  for (const auto& g : results["generators"]) {
    for (const char* key : {"class_faithfulness", "cas"})
      hash = hash_double(g[key].get<double>(), hash);
  }
  hash = hash_double(results["references"]["data"]["accuracy"].get<double>(), hash);
  return ganaug::hash_hex(hash);
}

ganaug::jobs::AugmentOptions pinned_augment(const fs::path& data, const fs::path& out) {
  return ganaug::jobs::AugmentOptions()
      .data(ganaug::DatasetSpec().path(data.string()).per_class(0))
      .n(23)
      .out_dir(out.string())
      .gan(ganaug::GanOptions(ganaug::jobs::AugmentOptions().gan()).iterations(6))
      .classifier(ganaug::ClassifierOptions(2).epochs(2))
      .generate_batch_size(10)
      .device("cpu")
      .threads(1);
}

// The LibTorch the hashes were pinned with: another version rounds otherwise (PyTorch 2.x's
// LibTorch on a GPU machine, say), so there the pins are skipped.
bool pinned_libtorch() { return TORCH_VERSION_MAJOR == 1 && TORCH_VERSION_MINOR == 13; }
constexpr const char* kOtherLibTorch =
    "the outputs are pinned for Debian's LibTorch 1.13; this is LibTorch " TORCH_VERSION;

void expect_pinned(const std::string& name, const std::string& hash) {
  ASSERT_EQ(ganaug::kOutputRevision, kPinnedRevision)
      << "the output revision changed: run this test, check that the new outputs are the "
         "intended ones, and pin their hashes with the new revision";
  EXPECT_EQ(hash, kExpected.at(name))
      << name << " wrote other outputs than output revision " << kPinnedRevision
      << " pins; if the change is intended, bump kOutputRevision and pin " << hash
      << (std::getenv("OPENBLAS_CORETYPE") == nullptr
              ? " (run through ctest, or with OPENBLAS_CORETYPE=Haswell as ctest sets it: "
                "OpenBLAS's kernels for other CPU kinds round otherwise)"
              : "");
}

}  // namespace

TEST(OutputPin, AugmentSmooth) {
  if (!pinned_libtorch()) GTEST_SKIP() << kOtherLibTorch;
  ganaug::testing::TempDir dir;
  write_pinned_data(dir / "data");
  ganaug::jobs::run_augment(
      pinned_augment(dir / "data", dir / "out").scheme(ganaug::Scheme::kSmooth));
  expect_pinned("augment-smooth", hash_augment_output(dir / "out"));
}

TEST(OutputPin, AugmentArgmaxDynamic) {
  if (!pinned_libtorch()) GTEST_SKIP() << kOtherLibTorch;
  ganaug::testing::TempDir dir;
  write_pinned_data(dir / "data");
  ganaug::jobs::run_augment(pinned_augment(dir / "data", dir / "out")
                                .scheme(ganaug::Scheme::kArgmax)
                                .dynamic_argmax(true));
  expect_pinned("augment-argmax-dynamic", hash_augment_output(dir / "out"));
}

TEST(OutputPin, AugmentPoolPseudoClassic) {
  if (!pinned_libtorch()) GTEST_SKIP() << kOtherLibTorch;
  ganaug::testing::TempDir dir;
  write_pinned_data(dir / "data");
  ganaug::jobs::run_augment(
      pinned_augment(dir / "data", dir / "out")
          .scheme(ganaug::Scheme::kCond)
          .unlabeled((dir / "data" / "pool" / "pool-images-idx3-ubyte").string())
          .pool_confidence(0.4)
          .pseudo(true)
          .classic(true));
  expect_pinned("augment-pool-pseudo", hash_augment_output(dir / "out"));
}

TEST(OutputPin, BenchGridWithAndWithoutPool) {
  if (!pinned_libtorch()) GTEST_SKIP() << kOtherLibTorch;
  ganaug::testing::TempDir dir;
  write_pinned_data(dir / "data");
  const auto options =
      ganaug::jobs::ExperimentOptions()
          .datasets({ganaug::DatasetSpec().path((dir / "data").string())})
          .sizes({3, 6})
          .schemes(schemes(
              {"none", "classic", "smooth", "classic+argmax", "classic+pseudo", "pseudo+cond"}))
          .unlabeled({0, 9})
          .pool_confidence(0.4)
          .multiples({2})
          .seeds(2)
          .gan(ganaug::GanOptions(ganaug::jobs::ExperimentOptions().gan()).iterations(4))
          .classifier(ganaug::ClassifierOptions(2).epochs(1))
          .reference_epochs(1)
          .metric_samples(12)
          .out_dir((dir / "bench").string())
          .device("cpu")
          .threads(1);
  ganaug::jobs::run_experiment(options);
  expect_pinned("bench", hash_bench_output(dir / "bench"));
}

}  // namespace ganaug_tests_output_pin
