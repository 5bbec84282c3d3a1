// Atomic and durable file writing, appends, checksums and path containment.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "ganaug/file_io.hpp"
#include "test_support.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_file_io {

namespace fs = std::filesystem;
using ganaug::testing::expect_error;

namespace {

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs `action` in a child process whose files may not grow past `limit` bytes (RLIMIT_FSIZE,
// with SIGXFSZ ignored so that writes fail with EFBIG, as on a full disk). Returns the child's
// exit status: 0 when `action` threw ganaug::Error naming "File too large", 1 when it did not
// throw, 2 for another message.
int with_file_size_limit(rlim_t limit, const std::function<void()>& action) {
  const pid_t pid = fork();
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN);
    rlimit cap{limit, limit};
    setrlimit(RLIMIT_FSIZE, &cap);
    try {
      action();
    } catch (const ganaug::Error& e) {
      _exit(std::string(e.what()).find("File too large") != std::string::npos ? 0 : 2);
    }
    _exit(1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST(FileIo, AtomicWriteReplacesWholeFilesOnly) {
  ganaug::testing::TempDir dir;
  ganaug::write_text_atomic(dir / "f.txt", "first");
  ganaug::write_text_atomic(dir / "f.txt", "second", ganaug::Durability::kAtomic);
  EXPECT_EQ(read_all(dir / "f.txt"), "second");
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST(FileIo, AFullDiskKeepsTheOldFileAndLeavesNoTemporary) {
  ganaug::testing::TempDir dir;
  ganaug::write_text_atomic(dir / "f.bin", "old contents");
  const std::string big(64 * 1024, 'x');
  EXPECT_EQ(with_file_size_limit(4096, [&] { ganaug::write_text_atomic(dir / "f.bin", big); }), 0);
  EXPECT_EQ(read_all(dir / "f.bin"), "old contents");
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename(), "f.bin");
  }
}

TEST(FileIo, AFailedAppendLeavesTheFileAsItWas) {
  ganaug::testing::TempDir dir;
  ganaug::append_file(dir / "log.csv", "header\n");
  ganaug::append_file(dir / "log.csv", "row 1\n");
  EXPECT_EQ(read_all(dir / "log.csv"), "header\nrow 1\n");
  const std::string big(8192, 'y');
  EXPECT_EQ(with_file_size_limit(4096, [&] { ganaug::append_file(dir / "log.csv", big); }), 0);
  EXPECT_EQ(read_all(dir / "log.csv"), "header\nrow 1\n");
}

TEST(FileIo, ErrorsNameThePathAndTheReason) {
  ganaug::testing::TempDir dir;
  expect_error([&] { ganaug::write_text_atomic(dir / "missing" / "f.txt", "x"); },
               {"cannot write", "missing/f.txt", "No such file or directory"});
  fs::create_directories(dir / "folder.txt");
  fs::create_directories(dir / "folder.txt" / "inside");
  expect_error([&] { ganaug::write_text_atomic(dir / "folder.txt", "x"); },
               {"cannot write", "folder.txt"});
  EXPECT_TRUE(fs::is_directory(dir / "folder.txt" / "inside"));
}

TEST(FileIo, TemporaryNamesChecksumsAndContainment) {
  EXPECT_TRUE(ganaug::is_temporary_file_name("checkpoint.pt.tmp-1234"));
  EXPECT_FALSE(ganaug::is_temporary_file_name("checkpoint.pt.tmp-"));
  EXPECT_FALSE(ganaug::is_temporary_file_name("my.tmp-file.png"));
  const std::string a = "abc", b = "abd";
  EXPECT_NE(ganaug::hash_bytes(a.data(), 3), ganaug::hash_bytes(b.data(), 3));
  EXPECT_EQ(ganaug::hash_bytes(a.data(), 3), ganaug::hash_bytes(a.data(), 3));
  EXPECT_EQ(ganaug::hash_hex(0xabcull), "0000000000000abc");

  ganaug::testing::TempDir dir;
  fs::create_directories(dir / "data" / "class0");
  fs::create_symlink(dir / "data", dir / "link");
  EXPECT_TRUE(ganaug::path_within(dir / "data" / "class0", dir / "data"));
  EXPECT_TRUE(ganaug::path_within(dir / "data", dir / "data"));
  EXPECT_TRUE(ganaug::path_within(dir / "data" / "class0" / "..", dir / "link"));
  EXPECT_TRUE(ganaug::path_within(dir / "data" / "not-yet", dir.path()));
  EXPECT_FALSE(ganaug::path_within(dir.path(), dir / "data"));
  EXPECT_FALSE(ganaug::path_within(dir / "data2", dir / "data"));
}

TEST(FileIo, TemporaryFilesOfKilledWritersAreRemoved) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_text(dir / "gan" / "checkpoint.pt.tmp-4242", "half");
  ganaug::testing::write_text(dir / "images" / "00000001.png.tmp-7", "half");
  ganaug::testing::write_text(dir / "keep.tmp-notes", "mine");
  ganaug::testing::write_text(dir / "labels.csv", "file\n");
  EXPECT_EQ(ganaug::remove_temporary_files(dir.path()), 2);
  EXPECT_FALSE(fs::exists(dir / "gan" / "checkpoint.pt.tmp-4242"));
  EXPECT_TRUE(fs::exists(dir / "keep.tmp-notes"));
  EXPECT_TRUE(fs::exists(dir / "labels.csv"));
}

}  // namespace ganaug_tests_file_io
