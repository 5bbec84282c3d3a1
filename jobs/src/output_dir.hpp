#pragma once
// Private to the jobs: the output-folder rule every run follows. Nothing a user already has
// is replaced unless they ask (--force), a non-empty folder is only reused on --resume, and no
// output folder may hold or lie inside the data a run reads.

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "ganaug/error.hpp"
#include "ganaug/file_io.hpp"
#include "output_lock.hpp"

namespace ganaug::jobs::detail {

/// Something a run reads: what it is ("training data", "generator checkpoint") and its path
/// (empty: not used).
struct RunInput {
  std::string what;
  std::string path;
  /// True for inputs that may lie inside the output folder without harm as long as the folder
  /// is not emptied (a generator checkpoint the run only reads).
  bool only_guard_deletion = false;
};

/// Checks `out` without changing anything: refuses a path that is a file, a non-empty folder
/// without `resume` or `force` (saying what --resume would do there, `resume_means`), and a
/// folder that is, holds or lies inside one of `inputs` (with --force it would delete them; a
/// run would write into them).
inline void check_output_dir(const std::filesystem::path& out, bool resume, bool force,
                             const std::string& resume_means,
                             const std::vector<RunInput>& inputs = {}) {
  namespace fs = std::filesystem;
  GANAUG_CHECK(!(resume && force), "--resume and --force contradict each other; pick one");
  std::error_code error;
  if (fs::exists(out, error) && !fs::is_directory(out, error))
    GANAUG_FAIL("output path ", out.string(), " is a file, not a folder");
  for (const auto& input : inputs) {
    if (input.path.empty()) continue;
    if (path_within(input.path, out) && (force || !input.only_guard_deletion)) {
      GANAUG_FAIL("output folder ", out.string(), " holds the ", input.what, " ", input.path,
                  force ? ": --force would delete it" : ": the run would write over it",
                  "; choose another --out");
    }
    if (!input.only_guard_deletion && path_within(out, input.path)) {
      GANAUG_FAIL("output folder ", out.string(), " lies inside the ", input.what, " ", input.path,
                  ": the run would add files to it; choose an --out outside it");
    }
  }
  const bool non_empty = fs::exists(out, error) && !holds_nothing_but_lock(out);
  if (non_empty && !resume && !force) {
    GANAUG_FAIL("output folder ", out.string(), " is not empty: pass --resume to ", resume_means,
                ", --force to replace its contents, or --out for another folder");
  }
}

/// Creates `out` if needed and locks it for this process (refused while another run holds it),
/// then empties it when `force` is set. Call after check_output_dir and after the inputs
/// loaded, so that a run that fails early loses nothing; keep the lock until the run ends.
[[nodiscard]] inline OutputLock make_output_dir(const std::filesystem::path& out, bool force) {
  namespace fs = std::filesystem;
  OutputLock lock(out);
  if (force) {
    for (const auto& entry : fs::directory_iterator(out))
      if (entry.path().filename() != kLockFileName) fs::remove_all(entry.path());
  }
  return lock;
}

/// check_output_dir() then make_output_dir(), for runs whose inputs are cheap to load.
[[nodiscard]] inline OutputLock prepare_output_dir(const std::filesystem::path& out, bool resume,
                                                   bool force, const std::string& resume_means,
                                                   const std::vector<RunInput>& inputs = {}) {
  check_output_dir(out, resume, force, resume_means, inputs);
  return make_output_dir(out, force);
}

}  // namespace ganaug::jobs::detail
