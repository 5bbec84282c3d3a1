#include "ganaug/file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "ganaug/error.hpp"

namespace ganaug {

namespace fs = std::filesystem;

namespace {

std::string reason(int error) { return std::strerror(error); }

// Writes all of `size` bytes, retrying short writes and EINTR; returns 0 or the errno.
int write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return 0;
}

void sync_folder(const fs::path& folder) {
  const int fd = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // some file systems do not let folders be opened; the rename stands
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void write_file_atomic(const fs::path& path, const void* data, size_t size, Durability durability) {
  const fs::path temporary =
      path.string() + ".tmp-" + std::to_string(static_cast<long>(::getpid()));
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  GANAUG_CHECK(fd >= 0, "cannot write ", path.string(), ": ", reason(errno),
               " (creating the temporary file ", temporary.string(), ")");
  int error = write_all(fd, static_cast<const char*>(data), size);
  if (error == 0 && durability == Durability::kDurable && ::fsync(fd) != 0) error = errno;
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error == 0 && std::rename(temporary.c_str(), path.c_str()) != 0) error = errno;
  if (error != 0) {
    std::remove(temporary.c_str());
    GANAUG_FAIL("cannot write ", path.string(), ": ", reason(error));
  }
  if (durability == Durability::kDurable) sync_folder(path.parent_path());
}

void write_text_atomic(const fs::path& path, const std::string& text, Durability durability) {
  write_file_atomic(path, text.data(), text.size(), durability);
}

void append_file(const fs::path& path, const std::string& text, Durability durability) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  GANAUG_CHECK(fd >= 0, "cannot append to ", path.string(), ": ", reason(errno));
  struct stat before {};
  const bool measured = ::fstat(fd, &before) == 0;
  int error = write_all(fd, text.data(), text.size());
  if (error == 0 && durability == Durability::kDurable && ::fdatasync(fd) != 0) error = errno;
  if (error != 0 && measured) {
    // Whatever part of the text reached the file would be a torn row: take it back.
    if (::ftruncate(fd, before.st_size) != 0) {
      // Nothing more to do: the reader of this file drops a torn last line.
    }
  }
  ::close(fd);
  GANAUG_CHECK(error == 0, "cannot append to ", path.string(), ": ", reason(error));
}

bool is_temporary_file_name(const std::string& name) {
  const auto at = name.rfind(".tmp-");
  if (at == std::string::npos || at + 5 == name.size()) return false;
  return name.find_first_not_of("0123456789", at + 5) == std::string::npos;
}

int64_t remove_temporary_files(const fs::path& folder) {
  int64_t removed = 0;
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(folder, error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (it->is_regular_file(error) && is_temporary_file_name(it->path().filename().string())) {
      removed += fs::remove(it->path(), error) ? 1 : 0;
    }
  }
  return removed;
}

uint64_t hash_bytes(const void* data, size_t size, uint64_t hash) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) {
    hash ^= bytes[i];
    hash *= 1099511628211ull;
  }
  return hash;
}

std::string hash_hex(uint64_t hash) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

bool path_within(const fs::path& inner, const fs::path& outer) {
  std::error_code error;
  const auto a = fs::weakly_canonical(fs::absolute(inner), error);
  if (error) return false;
  const auto b = fs::weakly_canonical(fs::absolute(outer), error);
  if (error) return false;
  auto ai = a.begin();
  for (auto bi = b.begin(); bi != b.end(); ++bi, ++ai) {
    if (bi->empty() && std::next(bi) == b.end()) break;  // a trailing separator
    if (ai == a.end() || *ai != *bi) return false;
  }
  return true;
}

}  // namespace ganaug
