#pragma once
/// Joining the folders of a sharded augment run (augment --shard K --num-shards S) into one.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ganaug::jobs {

/// Joins the shard folders `shard_dirs` (in any order) into `out_dir`: images/, labels.csv and
/// run.json exactly as one process would have written them for the same settings (byte for
/// byte), and a summary.json that says the folder was merged and from which shards (written
/// last: a merge that fails leaves no summary.json). Returns that summary.
///
/// Checks first, before writing anything, and throws ganaug::Error naming the folder at fault:
/// a folder that is not an augment output or not a shard, a shard that has not finished (no
/// summary.json), shards of different runs (generator checkpoint contents, data, scheme, seed,
/// n, image shape, classes, number of shards, batch size), a shard given twice, a shard
/// missing, a manifest that does not list exactly the shard's images in order, or a listed
/// image that is missing. `out_dir` must be empty or new, unless `force` (then it is emptied;
/// never when it holds a shard).
nlohmann::json merge_shards(const std::string& out_dir, const std::vector<std::string>& shard_dirs,
                            bool force = false);

}  // namespace ganaug::jobs
