#include "output_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "ganaug/error.hpp"

namespace ganaug::jobs::detail {

namespace fs = std::filesystem;

namespace {

// The PID written into the lock file by its holder ("" when unreadable or not yet written).
std::string holder_of(int fd) {
  char text[32] = {};
  const auto n = ::pread(fd, text, sizeof text - 1, 0);
  std::string pid(text, n > 0 ? static_cast<size_t>(n) : 0);
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid.find_first_not_of("0123456789") == std::string::npos ? pid : "";
}

}  // namespace

OutputLock::OutputLock(const fs::path& folder) {
  std::error_code error;
  fs::create_directories(folder, error);
  GANAUG_CHECK(!error, "cannot create the output folder ", folder.string(), ": ", error.message());
  const auto path = folder / kLockFileName;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  GANAUG_CHECK(fd >= 0, "cannot open the lock file ", path.string(),
               " of the output folder: ", std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int why = errno;
    const auto pid = holder_of(fd);
    ::close(fd);
    GANAUG_CHECK(why == EWOULDBLOCK, "cannot lock the output folder ", folder.string(), ": ",
                 std::strerror(why));
    GANAUG_FAIL("output folder ", folder.string(), " is in use by ",
                pid.empty() ? std::string("another process") : "process " + pid,
                " (another run writes there); wait for it to end, or choose another --out");
  }
  const auto pid = std::to_string(static_cast<long>(::getpid())) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    // The lock holds without the note of its holder; a second run just names no PID.
  }
  fd_ = fd;
}

OutputLock::OutputLock(OutputLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

OutputLock& OutputLock::operator=(OutputLock&& other) noexcept {
  if (this != &other) {
    OutputLock released(std::move(*this));
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

OutputLock::~OutputLock() {
  if (fd_ < 0) return;
  // The PID goes with the run: a finished run's folder holds an empty lock file.
  if (::ftruncate(fd_, 0) != 0) {
  }
  ::close(fd_);  // closing the last descriptor drops the lock
}

bool holds_nothing_but_lock(const fs::path& folder) {
  std::error_code error;
  for (fs::directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
    if (it->path().filename() != kLockFileName) return false;
  }
  return true;
}

}  // namespace ganaug::jobs::detail
