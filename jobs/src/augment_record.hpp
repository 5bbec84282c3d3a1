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

/// The hash of the contents of the TorchScript file of options.custom() (its name, when that is
/// a file); empty for the built-in networks and a custom network not made from a file.
std::string custom_classifier_hash(const ClassifierOptions& options);

/// What made an output folder: everything that decides its images and their labels. A resumed
/// run must agree on all of it, or the folder would mix two runs. `pool` may be null.
nlohmann::json run_record(const AugmentOptions& o, const TrainTestData& data,
                          const LabeledDataset* pool);

/// Writes the folder's record, or checks a resumed folder's against it (throws ganaug::Error
/// naming the first difference as the flag that changes it).
void settle_run_record(const std::filesystem::path& out, const nlohmann::json& record, bool resume);

/// Refuses a run whose `n` images would not fit on the output disk (space or file count).
void check_free_space(const std::filesystem::path& out, const LabeledDataset& train, int64_t n);

/// What a finished shard holds, for augment-merge to verify: FNV-1a hashes of its image files
/// [first, first + count) in order (each file's size and bytes) and of the rows of its
/// labels.csv after the header. Throws ganaug::Error naming a file that cannot be read.
nlohmann::json shard_content(const std::filesystem::path& dir, int64_t first, int64_t count);

/// "argmax-dynamic" for argmax retrained with dynamic argmax, else the scheme's name.
std::string scheme_name(const AugmentOptions& o);

}  // namespace ganaug::jobs::detail
