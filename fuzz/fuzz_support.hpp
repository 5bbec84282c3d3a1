#pragma once
// Shared pieces of the libFuzzer targets: a private scratch folder per process, writing the
// input to a file, and the rule for exceptions.
//
// The contract of every reader is "ganaug::Error or success". A target therefore catches
// ganaug::Error only; any other exception escapes, std::terminate aborts, and libFuzzer saves
// the input as a crash. To get past a known finding while looking for the next one, list the
// exception families to tolerate in GANAUG_FUZZ_TOLERATE (comma list of c10, cv, std).
// GANAUG_FUZZ_VERBOSE=1 prints each ganaug::Error (to see where a seed ends).

#include <c10/util/Exception.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "ganaug/error.hpp"

#ifdef GANAUG_FUZZ_WITH_OPENCV
#include <opencv2/core.hpp>
#endif

namespace ganaug::fuzz {

// $TMPDIR (or /tmp)/ganaug-fuzz-<name>-<pid>, created on first use and removed at exit. One
// per process, so libFuzzer's -jobs/-fork workers do not collide.
inline const std::filesystem::path& scratch_dir(const char* name) {
  // Never destroyed: the exit handler below still needs it after static destructors ran.
  static const std::filesystem::path* const dir = [name] {
    const char* tmp = std::getenv("TMPDIR");
    auto* path = new std::filesystem::path(tmp && *tmp ? tmp : "/tmp");
    *path /= std::string("ganaug-fuzz-") + name + "-" + std::to_string(::getpid());
    std::filesystem::create_directories(*path);
    return path;
  }();
  static const bool cleanup_registered = [] {
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(*dir, ignored);
    });
    return true;
  }();
  (void)cleanup_registered;
  return *dir;
}

inline void write_file(const std::filesystem::path& path, const uint8_t* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out.good()) {
    std::fprintf(stderr, "fuzz harness: cannot write %s\n", path.c_str());
    std::abort();
  }
}

// Open file descriptors of this process: a reader must not leave one open after it returns.
inline int open_file_descriptors() {
  int count = 0;
  std::error_code error;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++count;
  }
  return count;
}

inline bool tolerated(const char* family) {
  const char* list = std::getenv("GANAUG_FUZZ_TOLERATE");
  return list && std::strstr(list, family) != nullptr;
}

// Runs `body`, swallowing what the contract allows (ganaug::Error) and what the environment
// tolerates; anything else propagates out of LLVMFuzzerTestOneInput and aborts.
template <typename Body>
void run_guarded(Body&& body) {
  try {
    body();
  } catch (const ganaug::Error& e) {
    if (std::getenv("GANAUG_FUZZ_VERBOSE")) std::fprintf(stderr, "ganaug::Error: %s\n", e.what());
  } catch (const c10::Error& e) {
    if (!tolerated("c10")) throw;
#ifdef GANAUG_FUZZ_WITH_OPENCV
  } catch (const cv::Exception& e) {
    if (!tolerated("cv")) throw;
#endif
  } catch (const std::exception& e) {
    if (!tolerated("std")) throw;
  }
}

}  // namespace ganaug::fuzz

// An invariant of a successful result; a violation is a finding.
#define FUZZ_CHECK(condition)                                                          \
  do {                                                                                 \
    if (!(condition)) {                                                                \
      std::fprintf(stderr, "fuzz invariant failed at %s:%d: %s\n", __FILE__, __LINE__, \
                   #condition);                                                        \
      std::abort();                                                                    \
    }                                                                                  \
  } while (false)
