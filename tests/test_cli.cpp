#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <regex>
#include <sstream>

#include "test_support.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_cli {

using ganaug::testing::TempDir;

namespace {

struct Result {
  int status = -1;
  std::string out;
  std::string err;
};

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs ganaug-info with `arguments` (already shell-quoted where needed).
Result run_info(const TempDir& dir, const std::string& arguments) {
  const auto out = dir / "stdout.txt";
  const auto err = dir / "stderr.txt";
  const std::string command = std::string("'") + GANAUG_INFO_EXE + "' " + arguments + " >'" +
                              out.string() + "' 2>'" + err.string() + "'";
  const int raw = std::system(command.c_str());
  Result result;
  result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  result.out = slurp(out);
  result.err = slurp(err);
  return result;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Whether the per-class table has a row "<index>  <name>  <count>".
bool has_class_row(const std::string& text, int index, const std::string& name, int count) {
  const std::regex row("\\n +" + std::to_string(index) + " +" + name + " +" +
                       std::to_string(count) + "\\n");
  return std::regex_search(text, row);
}

}  // namespace

TEST(Cli, SummarisesAnImageFolder) {
  TempDir dir;
  for (const auto& [name, count] :
       std::vector<std::pair<std::string, int>>{{"cat", 3}, {"dog", 2}}) {
    std::filesystem::create_directories(dir / ("data/" + name));
    for (int i = 0; i < count; ++i) {
      ASSERT_TRUE(cv::imwrite((dir / ("data/" + name + "/" + std::to_string(i) + ".png")).string(),
                              cv::Mat(6, 6, CV_8UC1, cv::Scalar(i))));
    }
  }
  const auto result =
      run_info(dir, "--data '" + (dir / "data").string() + "' --image-size 4 --threads 2");
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "format:     folder")) << result.out;
  EXPECT_TRUE(contains(result.out, "images:     5")) << result.out;
  EXPECT_TRUE(contains(result.out, "image size: 4x4")) << result.out;
  EXPECT_TRUE(contains(result.out, "classes:    2")) << result.out;
  EXPECT_TRUE(has_class_row(result.out, 0, "cat", 3)) << result.out;
  EXPECT_TRUE(has_class_row(result.out, 1, "dog", 2)) << result.out;

  const auto subset =
      run_info(dir, "--data '" + (dir / "data").string() + "' --per-class 2 --seed 1");
  EXPECT_EQ(subset.status, 0) << subset.err;
  EXPECT_TRUE(contains(subset.out, "images:     4")) << subset.out;
  EXPECT_TRUE(contains(subset.out, "2 per class, seed 1")) << subset.out;
}

TEST(Cli, DefaultsToFashionMnist) {
  if (!std::filesystem::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
  TempDir dir;
  const auto result = run_info(dir, "");
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "format:     fashion-mnist")) << result.out;
  EXPECT_TRUE(contains(result.out, "images:     60000")) << result.out;
  EXPECT_TRUE(has_class_row(result.out, 9, "Ankle boot", 6000)) << result.out;
}

TEST(Cli, MissingDataFailsNamingThePath) {
  TempDir dir;
  const auto missing = (dir / "no-such-data").string();
  const auto result = run_info(dir, "--data '" + missing + "'");
  EXPECT_EQ(result.status, 1);
  EXPECT_TRUE(contains(result.err, "ganaug-info: dataset not found: " + missing)) << result.err;
  EXPECT_TRUE(result.out.empty()) << result.out;
}

TEST(Cli, ErrorsNameTheirSourceLineOnlyWithVerbose) {
  TempDir dir;
  const auto missing = (dir / "no-such-data").string();
  const std::regex location(R"( \[[a-z_]+\.cpp:[0-9]+)");
  const auto plain = run_info(dir, "--data '" + missing + "'");
  EXPECT_EQ(plain.status, 1);
  EXPECT_FALSE(std::regex_search(plain.err, location)) << plain.err;
  EXPECT_EQ(plain.err, "ganaug-info: dataset not found: " + missing + "\n");
  const auto verbose = run_info(dir, "--verbose --data '" + missing + "'");
  EXPECT_EQ(verbose.status, 1);
  EXPECT_TRUE(std::regex_search(verbose.err, location)) << verbose.err;
  EXPECT_TRUE(contains(run_info(dir, "--help").out, "--verbose"));
}

TEST(Cli, BadCommandLinesExitWith2) {
  TempDir dir;
  for (const std::string arguments :
       {"--bogus", "--image-size abc", "--channels 2", "--format tfrecord", "--split validation",
        "--threads 1000", "--threads -1"}) {
    const auto result = run_info(dir, arguments);
    EXPECT_EQ(result.status, 2) << arguments;
    EXPECT_TRUE(contains(result.err, "see ganaug-info --help")) << result.err;
  }
  EXPECT_TRUE(contains(run_info(dir, "--bogus").err, "bogus"));
  EXPECT_TRUE(contains(run_info(dir, "--threads 1000").err, "--threads 1000 is not between"));
  const auto help = run_info(dir, "--help");
  EXPECT_EQ(help.status, 0);
  EXPECT_TRUE(contains(help.out, "--per-class")) << help.out;
}

}  // namespace ganaug_tests_cli
