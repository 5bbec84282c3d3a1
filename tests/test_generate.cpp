// The generate -> label -> write pipeline when things go wrong: errors are exceptions (never a
// crash), and whatever happens the folder holds exactly the images its manifest lists.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <set>

#include "ganaug/gan.hpp"
#include "ganaug/pipelines/generate.hpp"
#include "ganaug/runtime.hpp"
#include "test_support.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_generate {

namespace fs = std::filesystem;
using ganaug::testing::expect_error;

namespace {

ganaug::Generator tiny_generator() {
  torch::manual_seed(0);
  ganaug::Generator generator(ganaug::GanOptions(3, 16, 1).g_width(8).generator_options());
  generator->eval();
  return generator;
}

ganaug::GenerateResult generate(const ganaug::Generator& generator, const fs::path& out,
                                int64_t n) {
  ganaug::GeneratePipeline pipeline(
      generator, ganaug::Scheme::kCond,
      ganaug::GenerateOptions(out.string()).n(n).batch_size(10).threads(2));
  return pipeline.run();
}

std::vector<std::string> manifest_files(const fs::path& manifest) {
  std::ifstream in(manifest);
  std::vector<std::string> files;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) files.push_back(line.substr(0, line.find(',')));
  return files;
}

// Every file in images/ is listed, every listed file exists, and nothing else lies there.
void expect_folder_matches_manifest(const fs::path& out) {
  const auto listed = manifest_files(out / "labels.csv");
  std::set<std::string> present;
  for (const auto& entry : fs::directory_iterator(out / "images")) {
    present.insert("images/" + entry.path().filename().string());
  }
  EXPECT_EQ(present, std::set<std::string>(listed.begin(), listed.end()));
}

}  // namespace

TEST(GeneratePipeline, AnErrorBeforeTheGraphRunsIsAnExceptionNotACrash) {
  // Regression: the pipeline's nodes were destroyed while a task queued by wiring them was still
  // pending, so every refusal in run() ended in a segmentation fault.
  ganaug::testing::TempDir dir;
  const auto generator = tiny_generator();
  ASSERT_TRUE(generate(generator, dir.path(), 20).complete);
  expect_error([&] { generate(generator, dir.path(), 10); },
               {"already lists 20 images", "labels.csv"});
  // And a pipeline that never runs goes away quietly.
  ganaug::GeneratePipeline unused(generator, ganaug::Scheme::kSmooth,
                                  ganaug::GenerateOptions((dir / "unused").string()));
}

TEST(GeneratePipeline, AFailedWriteLeavesOnlyListedImagesAndTheRunResumes) {
  ganaug::testing::TempDir dir;
  const auto generator = tiny_generator();
  // A folder where image 30 must go makes its write fail, as a full disk would.
  fs::create_directories(dir / "out" / "images" / "00000030.png");
  expect_error([&] { generate(generator, dir / "out", 60); }, {"cannot write", "00000030.png"});
  const auto listed = manifest_files(dir / "out" / "labels.csv");
  EXPECT_LE(listed.size(), 30u);
  EXPECT_EQ(listed.size() % 10, 0u);  // whole batches only
  expect_folder_matches_manifest(dir / "out");
  // The obstacle was an unlisted entry and is gone; the next run finishes the job.
  const auto result = generate(generator, dir / "out", 60);
  EXPECT_TRUE(result.complete);
  EXPECT_EQ(result.already_done, static_cast<int64_t>(listed.size()));
  expect_folder_matches_manifest(dir / "out");
  ASSERT_TRUE(generate(generator, dir / "straight", 60).complete);
  for (const char* name : {"images/00000000.png", "images/00000035.png", "images/00000059.png"}) {
    std::ifstream a(dir / "out" / name, std::ios::binary);
    std::ifstream b(dir / "straight" / name, std::ios::binary);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(a), {}),
              std::string(std::istreambuf_iterator<char>(b), {}))
        << name;
  }
}

TEST(GeneratePipeline, AnEmptyManifestCountsAsNothingWritten) {
  // A run killed between creating labels.csv and writing its header left a 0-byte file.
  ganaug::testing::TempDir dir;
  ganaug::testing::write_text(dir / "labels.csv", "");
  const auto result = generate(tiny_generator(), dir.path(), 12);
  EXPECT_TRUE(result.complete);
  EXPECT_EQ(result.already_done, 0);
  EXPECT_EQ(manifest_files(dir / "labels.csv").size(), 12u);
  std::ifstream in(dir / "labels.csv");
  std::string header;
  std::getline(in, header);
  EXPECT_EQ(header, ganaug::manifest_header(ganaug::Scheme::kCond, 3));
}

TEST(GeneratePipeline, AListedImageThatIsMissingOrOutOfOrderIsRefused) {
  ganaug::testing::TempDir dir;
  const auto generator = tiny_generator();
  ASSERT_TRUE(generate(generator, dir.path(), 10).complete);
  fs::remove(dir / "images" / "00000003.png");
  expect_error([&] { generate(generator, dir.path(), 20); },
               {"lists images/00000003.png but the file is missing", "--force"});
  // Rows edited out of order.
  std::ifstream in(dir / "labels.csv");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  in.close();
  const auto at = text.find("images/00000001.png");
  text.replace(at, 19, "images/00000007.png");
  ganaug::testing::write_text(dir / "labels.csv", text);
  expect_error([&] { generate(generator, dir.path(), 20); }, {"should list images/00000001.png"});
}

TEST(GeneratePipeline, GeneratesFromAGeneratorOnCudaAsOnTheCpu_CUDA) {
  if (!ganaug::cuda_available()) GTEST_SKIP() << "no CUDA device";
  ganaug::testing::TempDir dir;
  const auto on_cpu = tiny_generator();
  auto on_cuda = tiny_generator();
  on_cuda->to(torch::kCUDA);
  const auto cpu_run = generate(on_cpu, dir / "cpu", 25);
  const auto cuda_run = generate(on_cuda, dir / "cuda", 25);
  EXPECT_TRUE(cpu_run.complete && cuda_run.complete);
  expect_folder_matches_manifest(dir / "cuda");
  // The same images listed in the same order (pixels may differ by rounding between devices).
  const auto a = manifest_files(dir / "cpu" / "labels.csv");
  EXPECT_EQ(a, manifest_files(dir / "cuda" / "labels.csv"));
}

}  // namespace ganaug_tests_generate
