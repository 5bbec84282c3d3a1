#pragma once
// Private to the jobs: one process at a time in an output folder.

#include <filesystem>

namespace ganaug::jobs::detail {

/// The file in every output folder that a run locks (kept after the run: removing a lock file
/// another process may be opening would let two processes hold "the" lock).
inline constexpr const char* kLockFileName = ".ganaug-lock";

/// An exclusive lock on an output folder for the life of the object: flock() on
/// `<folder>/.ganaug-lock`, which holds the locking process's PID. The kernel drops the lock
/// when the process ends, however it ends, so that a killed run never blocks the next one; a
/// second OutputLock on the same folder, in this process or another, is refused.
class OutputLock {
 public:
  OutputLock() = default;
  /// Creates `folder` if it is missing and locks it. Throws ganaug::Error naming the folder
  /// and the process that holds it (its PID), or why the lock file cannot be opened.
  explicit OutputLock(const std::filesystem::path& folder);
  OutputLock(OutputLock&& other) noexcept;
  OutputLock& operator=(OutputLock&& other) noexcept;
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;
  ~OutputLock();

  /// Whether a folder is held.
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

/// True when `folder` holds nothing but (perhaps) its lock file.
bool holds_nothing_but_lock(const std::filesystem::path& folder);

}  // namespace ganaug::jobs::detail
