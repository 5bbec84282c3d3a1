#pragma once
// Private to the pipelines: the output-folder rule every run follows. Nothing a user already has
// is replaced unless they ask (--force), and a non-empty folder is only reused on --resume.

#include <filesystem>
#include <string>

#include "ganaug/error.hpp"

namespace ganaug::detail {

/// Creates `out` if needed. A non-empty `out` is emptied with `force`, kept with `resume`, and
/// refused otherwise with a message saying what --resume would do there (`resume_means`).
inline void prepare_output_dir(const std::filesystem::path& out, bool resume, bool force,
                               const std::string& resume_means) {
  namespace fs = std::filesystem;
  if (fs::exists(out) && !fs::is_directory(out))
    GANAUG_FAIL("output path ", out.string(), " is a file, not a folder");
  const bool non_empty = fs::exists(out) && !fs::is_empty(out);
  if (non_empty && force) {
    for (const auto& entry : fs::directory_iterator(out)) fs::remove_all(entry.path());
  } else if (non_empty && !resume) {
    GANAUG_FAIL("output folder ", out.string(), " is not empty: pass --resume to ", resume_means,
                ", --force to replace its contents, or --out for another folder");
  }
  fs::create_directories(out);
}

}  // namespace ganaug::detail
