#include "ganaug/run_context.hpp"

#include <filesystem>

#include "ganaug/error.hpp"

namespace ganaug {

RunContext RunContext::in(const std::string& sub) const {
  auto run = *this;
  if (!out_dir_.empty()) run.out_dir((std::filesystem::path(out_dir_) / sub).string());
  return run;
}

void RunContext::validate() const {
  GANAUG_CHECK(threads_ >= 0, "the thread count must be 0 (leave as is) or positive, got ",
               threads_);
}

}  // namespace ganaug
