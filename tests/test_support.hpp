#pragma once
// Helpers shared by the tests: a fresh temporary folder per test and a check on error messages.

#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "ganaug/error.hpp"
#include "ganaug/gan.hpp"

namespace ganaug::testing {

/// An empty folder named after the running test, under $GANAUG_TEST_TMP (set by
/// tests/CMakeLists.txt) or the system temporary folder; removed when the object goes.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    const char* base = std::getenv("GANAUG_TEST_TMP");
    const std::filesystem::path root =
        base != nullptr && *base != '\0' ? std::filesystem::path(base)
                                         : std::filesystem::temp_directory_path() / "ganaug-tests";
    static int created = 0;  // several folders in one test get different names
    path_ =
        root / (std::string(info->test_suite_name()) + "." + info->name() + "." +
                std::to_string(static_cast<long>(::getpid())) + "." + std::to_string(created++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// Expects `action` to throw ganaug::Error whose message holds every one of `parts`.
inline void expect_error(const std::function<void()>& action,
                         const std::vector<std::string>& parts) {
  try {
    action();
    ADD_FAILURE() << "expected ganaug::Error with '" << (parts.empty() ? "" : parts.front()) << "'";
  } catch (const ganaug::Error& e) {
    const std::string message = e.what();
    for (const auto& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
    }
  }
}

/// A GAN small enough for tests: K classes of 16x16 gray images, widths 8, batches of 8, CPU.
inline ganaug::GanOptions tiny_gan_options(int64_t num_classes, int64_t iterations, uint64_t seed) {
  return ganaug::GanOptions(num_classes, 16, 1)
      .g_width(8)
      .d_width(8)
      .latent_dim(8)
      .batch_size(8)
      .iterations(iterations)
      .device("cpu")
      .seed(seed);
}

/// Writes `text` to `path` as it is.
inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  FILE* file = std::fopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr) << path;
  std::fwrite(text.data(), 1, text.size(), file);
  std::fclose(file);
}

/// Runs `program arguments` through the shell with stderr joined to stdout; returns the exit
/// status (-1 when it did not exit normally) and, when asked, the output.
inline int run_program(const std::string& program, const std::string& arguments,
                       std::string* output = nullptr) {
  const std::string command = program + " " + arguments + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  std::string text;
  char buffer[4096];
  while (size_t got = fread(buffer, 1, sizeof buffer, pipe)) text.append(buffer, got);
  const int status = pclose(pipe);
  if (output) *output = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// A Python with PyTorch: $GANAUG_PYTHON, Debian's /usr/bin/python3, or python3 on the PATH;
/// empty when there is none.
/// Starts `args[0]` with the arguments args[1...] and this process's environment, without
/// waiting; its process id, or -1 when it cannot be started.
inline pid_t spawn_program(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  return posix_spawn(&pid, args.at(0).c_str(), nullptr, nullptr, argv.data(), environ) == 0 ? pid
                                                                                            : -1;
}

inline std::string python_with_torch() {
  std::vector<std::string> candidates;
  if (const char* chosen = std::getenv("GANAUG_PYTHON")) candidates.push_back(chosen);
  candidates.push_back("/usr/bin/python3");
  candidates.push_back("python3");
  for (const auto& python : candidates)
    if (run_program(python, "-c 'import torch'") == 0) return python;
  return "";
}

}  // namespace ganaug::testing
