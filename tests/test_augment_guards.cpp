// What augment refuses, and what it never does: delete its input, mix two runs in one folder,
// start work it cannot finish, or crash on the way out. Each test replays a defect a hostile
// test of the command line found.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "ganaug/runtime.hpp"
#include "test_support.hpp"
#include "tiny_data.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_augment_guards {

namespace fs = std::filesystem;

namespace {

int run_tool(const std::string& arguments, std::string* output = nullptr) {
  return ganaug::testing::run_program(GANAUG_AUGMENT_EXE, arguments, output);
}

std::string quoted(const fs::path& path) { return "'" + path.string() + "'"; }

// The options of a tiny, fast run on `data` into `out`; `extra` options replace the defaults
// they name.
std::string tiny(const fs::path& data, const fs::path& out, const std::string& extra = "") {
  std::string arguments = "--data " + quoted(data) + " --out " + quoted(out) +
                          " --no-retrain --device cpu --quiet " + extra;
  const std::pair<const char*, const char*> defaults[] = {
      {"--per-class", "0"}, {"--gan-steps", "2"}, {"--n", "6"}};
  for (const auto& [option, value] : defaults) {
    if (extra.find(std::string(option) + " ") == std::string::npos) {
      arguments += std::string(" ") + option + " " + value;
    }
  }
  return arguments;
}

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

int64_t count_files(const fs::path& folder) {
  int64_t count = 0;
  for (const auto& entry : fs::recursive_directory_iterator(folder))
    count += entry.is_regular_file();
  return count;
}

void expect_has(const std::string& output, const std::string& part) {
  EXPECT_NE(output.find(part), std::string::npos) << "'" << part << "' not in: " << output;
}

}  // namespace

TEST(AugmentGuards, ForceNeverDeletesTheInput) {
  ganaug::testing::TempDir dir;
  const auto data = dir / "data";
  ganaug::testing::write_tiny_idx(data);
  const int64_t files = count_files(data);
  std::string output;
  // --out the data folder itself, a parent of it, or a folder inside it.
  EXPECT_EQ(run_tool(tiny(data, data, "--force"), &output), 1);
  expect_has(output, "holds the training data");
  EXPECT_EQ(run_tool(tiny(data, dir.path(), "--force"), &output), 1);
  expect_has(output, "--force would delete it");
  EXPECT_EQ(run_tool(tiny(data, data / "out"), &output), 1);
  expect_has(output, "lies inside the training data");
  EXPECT_EQ(count_files(data), files);

  // The generator checkpoint a run reads is not deleted by --force either.
  ASSERT_EQ(run_tool(tiny(data, dir / "first"), &output), 0) << output;
  const auto checkpoint = dir / "first" / "gan" / "checkpoint.pt";
  const auto before = read_all(checkpoint);
  EXPECT_EQ(
      run_tool(tiny(data, dir / "first", "--force --generator " + quoted(checkpoint)), &output), 1);
  expect_has(output, "holds the generator checkpoint");
  EXPECT_EQ(read_all(checkpoint), before);

  // --force empties the folder only once the new data loaded: a failed load loses nothing.
  const int64_t outputs = count_files(dir / "first");
  EXPECT_EQ(run_tool(tiny(dir / "no-such-data", dir / "first", "--force"), &output), 1);
  expect_has(output, "no-such-data");
  EXPECT_EQ(count_files(dir / "first"), outputs);
}

TEST(AugmentGuards, ResumeRefusesAnotherRunNamingTheDifference) {
  ganaug::testing::TempDir dir;
  const auto data = dir / "data";
  ganaug::testing::write_tiny_idx(data);
  const auto out = dir / "out";
  std::string output;
  ASSERT_EQ(run_tool(tiny(data, out), &output), 0) << output;
  const auto manifest = read_all(out / "labels.csv");
  const std::pair<std::string, std::string> cases[] = {
      {"--seed 1", "--seed differs"},
      {"--scheme cond", "--scheme differs"},
      {"--gan-steps 3", "--gan-steps / --generator differs"},
      {"--n 12", "--n differs"},
      {"--per-class 8", "--data (its images or labels) differs"},
      {"--image-size 20", "image shape"}};
  for (const auto& [change, message] : cases) {
    EXPECT_EQ(run_tool(tiny(data, out, "--resume " + change), &output), 1) << change;
    expect_has(output, message);
    expect_has(output, "cannot resume in");
    EXPECT_EQ(read_all(out / "labels.csv"), manifest) << change;
  }
  // The same settings resume (here: nothing left to do).
  EXPECT_EQ(run_tool(tiny(data, out, "--resume"), &output), 0) << output;
  EXPECT_EQ(read_all(out / "labels.csv"), manifest);

  // A listed image that went missing is named.
  fs::remove(out / "images" / "00000002.png");
  EXPECT_EQ(run_tool(tiny(data, out, "--resume"), &output), 1);
  expect_has(output, "lists images/00000002.png but the file is missing");

  // A folder with outputs but no record cannot be checked, so it is not resumed.
  ganaug::testing::write_text(dir / "foreign" / "labels.csv", "file,cond,label,p0,p1,p2\n");
  EXPECT_EQ(run_tool(tiny(data, dir / "foreign", "--resume"), &output), 1);
  expect_has(output, "has no run.json");
}

TEST(AugmentGuards, AKillBeforeTheFirstBatchResumes) {
  // A run killed between creating labels.csv and listing its first batch left a 0-byte
  // manifest that --resume crashed on; only --force helped, throwing the trained GAN away.
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  const auto out = dir / "out";
  std::string output;
  ASSERT_EQ(run_tool(tiny(dir / "data", out), &output), 0) << output;
  const auto manifest = read_all(out / "labels.csv");
  fs::resize_file(out / "labels.csv", 0);
  fs::remove_all(out / "images");
  fs::remove(out / "summary.json");
  ASSERT_EQ(run_tool(tiny(dir / "data", out, "--resume"), &output), 0) << output;
  EXPECT_EQ(read_all(out / "labels.csv"), manifest);
  EXPECT_TRUE(fs::exists(out / "summary.json"));
}

TEST(AugmentGuards, AFullDiskWhileSavingACheckpointIsAnErrorAndLeavesNoTemporary) {
  // Files may not grow past 64 KiB (as on a nearly full disk); the checkpoint is larger. This
  // used to abort (a LibTorch destructor threw during unwinding) and leave checkpoint.pt.tmp.
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  const auto out = dir / "out";
  std::string output;
  const int status = ganaug::testing::run_program("bash",
                                                  "-c \"trap '' XFSZ; ulimit -f 64; exec " +
                                                      std::string(GANAUG_AUGMENT_EXE) + " " +
                                                      tiny(dir / "data", out) + "\"",
                                                  &output);
  EXPECT_EQ(status, 1) << output;
  expect_has(output, "could not write checkpoint");
  expect_has(output, "File too large");
  for (const auto& entry : fs::recursive_directory_iterator(out)) {
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << entry.path();
  }
  EXPECT_FALSE(fs::exists(out / "summary.json"));
}

TEST(AugmentGuards, OptionsAreCheckedBeforeAnyWork) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  const auto out = dir / "out";
  std::string output;
  const std::pair<std::string, std::string> usage[] = {
      {"--synthetic-share nan", "--synthetic-share must lie in [0, 1)"},
      {"--synthetic-weight -1", "--synthetic-weight must be 0 or positive"},
      {"--seed -1", "--seed"},
      {"--threads 1000", "--threads 1000"},
      {"--image-size 100000", "--image-size 100000"},
      {"--image-size 30", "multiple of 4 from 16 to 64"},
      {"--prefetch soon", "--prefetch must be auto or a whole number of steps, got 'soon'"},
      {"--prefetch -1", "--prefetch must be auto or a whole number"},
      // Not applied without a pool, so not accepted as if it were.
      {"--scheme newclass-joint --joint-consistency 0.5",
       "--joint-consistency goes with --unlabeled"}};
  for (const auto& [option, message] : usage) {
    EXPECT_EQ(run_tool(tiny(dir / "data", out, option), &output), 2) << option;
    expect_has(output, message);
    EXPECT_FALSE(fs::exists(out)) << option;
  }
  // What the machine refuses (bf16 autocast on a CPU without bfloat16 instructions) is refused
  // before the folder is made.
  if (!ganaug::cpu_has_bf16()) {
    EXPECT_EQ(run_tool(tiny(dir / "data", out, "--precision bf16"), &output), 1);
    expect_has(output, "needs a CUDA device or a CPU with bfloat16 instructions");
    EXPECT_FALSE(fs::exists(out));
  }
  // Ten billion images cannot fit: refused before the GAN trains.
  EXPECT_EQ(run_tool(tiny(dir / "data", out, "--n 10000000000"), &output), 1);
  expect_has(output, "not enough free");
  EXPECT_FALSE(fs::exists(out / "gan"));
}

TEST(AugmentGuards, AHugeFirstImageIsRefusedBeforeAllocatingForAll) {
  ganaug::testing::TempDir dir;
  ASSERT_TRUE(cv::imwrite((dir / "big.png").string(), cv::Mat(4000, 4000, CV_8UC3, cv::Scalar(7))));
  std::string rows = "path,label\n";
  for (int i = 0; i < 3000; ++i) rows += "big.png," + std::to_string(i % 2) + "\n";
  ganaug::testing::write_text(dir / "list.csv", rows);
  std::string output;
  EXPECT_EQ(run_tool(tiny(dir / "list.csv", dir / "out"), &output), 1);
  expect_has(output, "3000 images of 3 x 4000 x 4000");
  expect_has(output, "--image-size");
}

TEST(AugmentGuards, NamesThatAreNotUtf8DoNotBreakTheSummary) {
  ganaug::testing::TempDir dir;
  for (const std::string name : {"caf\xe9", "plain"}) {
    fs::create_directories(dir / "data" / name);
    for (int i = 0; i < 4; ++i) {
      cv::Mat image(16, 16, CV_8UC1, cv::Scalar(name == "plain" ? 20 : 200));
      ASSERT_TRUE(
          cv::imwrite((dir / "data" / name / (std::to_string(i) + ".png")).string(), image));
    }
  }
  const auto out = dir / "out\xff";
  std::string output;
  ASSERT_EQ(run_tool(tiny(dir / "data", out), &output), 0) << output;
  const auto summary = nlohmann::json::parse(read_all(out / "summary.json"));
  EXPECT_EQ(summary["class_names"].size(), 2u);
  // And the checkpoint, which keeps the raw names, resumes.
  EXPECT_EQ(run_tool(tiny(dir / "data", out, "--resume"), &output), 0) << output;
}

}  // namespace ganaug_tests_augment_guards
