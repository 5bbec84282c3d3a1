#pragma once
// Private to the augment job: what made an output folder (run.json), how a resumed run is
// checked against it, and whether the images fit on the disk.

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "ganaug/dataset.hpp"
#include "ganaug/jobs/augment.hpp"

namespace ganaug::jobs::detail {

/// What identifies a data set: where it came from, its size and a hash of its contents.
nlohmann::json data_identity(const LabeledDataset& data);

/// What made an output folder: everything that decides its images and their labels. A resumed
/// run must agree on all of it, or the folder would mix two runs. `pool` may be null.
nlohmann::json run_record(const AugmentOptions& o, const TrainTestData& data,
                          const LabeledDataset* pool);

/// Writes the folder's record, or checks a resumed folder's against it (throws ganaug::Error
/// naming the first difference as the flag that changes it).
void settle_run_record(const std::filesystem::path& out, const nlohmann::json& record, bool resume);

/// Refuses a run whose `n` images would not fit on the output disk (space or file count).
void check_free_space(const std::filesystem::path& out, const LabeledDataset& train, int64_t n);

/// "argmax-dynamic" for argmax retrained with dynamic argmax, else the scheme's name.
std::string scheme_name(const AugmentOptions& o);

}  // namespace ganaug::jobs::detail
