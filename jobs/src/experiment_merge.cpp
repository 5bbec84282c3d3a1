// merge_experiments: the folders of an augment-bench grid run as shards (--shard K
// --num-shards S, a Slurm job array) joined into the one folder a single process would write.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "experiment_outputs.hpp"
#include "experiment_results.hpp"
#include "ganaug/error.hpp"
#include "ganaug/gan.hpp"
#include "ganaug/jobs/experiment.hpp"
#include "output_dir.hpp"

namespace ganaug::jobs {

namespace fs = std::filesystem;

namespace {

struct GridShard {
  std::string dir;
  nlohmann::json results;
  int64_t index = 0;
  int64_t count = 1;
};

GridShard read_grid_shard(const std::string& dir) {
  const auto path = fs::path(dir) / "results.json";
  GridShard shard{dir, {}, 0, 1};
  std::ifstream in(path);
  GANAUG_CHECK(in.good(), "shard folder ", dir,
               " has no results.json: is it an augment-bench --out folder?");
  try {
    shard.results = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    GANAUG_FAIL(path.string(), " cannot be read (", first_line(e), ")");
  }
  const auto& r = shard.results;
  GANAUG_CHECK(r.is_object() && r.value("format", "") == "ganaug-bench-v1", path.string(),
               " is not an augment-bench results file");
  GANAUG_CHECK(r.contains("shard"), dir,
               " holds a whole grid, not a shard (run with --shard and --num-shards)");
  try {
    shard.index = r.at("shard").at("index").get<int64_t>();
    shard.count = r.at("shard").at("count").get<int64_t>();
    for (const auto& key : {"settings", "grid", "cells", "generators", "references", "machine"})
      GANAUG_CHECK(r.contains(key), "no \"", key, "\"");
    // Written by this version of augment-bench: the grid names its datasets.
    for (const auto& key : {"datasets", "sizes", "schemes", "multiples", "seeds"})
      GANAUG_CHECK(r.at("grid").contains(key), "no \"grid\": \"", key, "\"");
    r.at("grid").at("datasets").get<std::vector<std::string>>();
    r.at("settings").at("first_seed").get<uint64_t>();
    // Every record as results.json holds it (a mistyped field is named with the file here).
    for (const auto& c : r.at("cells")) c.get<detail::CellResult>();
    for (const auto& g : r.at("generators")) g.get<detail::GeneratorResult>();
    for (const auto& [ds, ref] : r.at("references").items()) ref.get<detail::ReferenceResult>();
  } catch (const std::exception& e) {
    GANAUG_FAIL(path.string(), " is damaged or from an older augment-bench (", first_line(e),
                "); rerun that shard");
  }
  return shard;
}

// The first key of `a` whose value differs in `b`, as "key: a-value against b-value".
std::string first_differing_setting(const nlohmann::json& a, const nlohmann::json& b) {
  for (const auto& [key, value] : a.items())
    if (!b.contains(key) || b[key] != value)
      return key + ": " + value.dump() + " against " + (b.contains(key) ? b[key].dump() : "none");
  for (const auto& [key, value] : b.items())
    if (!a.contains(key)) return key + ": none against " + value.dump();
  return "";
}

}  // namespace

namespace {

// Refuses a shard whose results list a generator its folder does not hold whole: a missing
// checkpoint, one that fails its checksum, or one of another iteration count.
void check_shard_generators(const fs::path& dir, const nlohmann::json& results) {
  for (const auto& g : results["generators"]) {
    const auto key = g.value("key", std::string());
    const auto iterations = g.value("iterations", int64_t{-1});
    const auto path = dir / "generators" / key / "checkpoint.pt";
    std::string problem;
    if (key.empty() || !fs::exists(path)) {
      problem = "it is missing";
    } else {
      try {
        const auto loaded = load_generator(path.string(), "cpu");
        if (loaded.iteration != iterations)
          problem = "it holds iteration " + std::to_string(loaded.iteration) +
                    " where the results say " + std::to_string(iterations);
      } catch (const std::exception& e) {
        problem = first_line(e);
      }
    }
    GANAUG_CHECK(problem.empty(), "shard ", dir.string(), ": the generator ", path.string(),
                 " its results list cannot be merged (", problem,
                 "); rerun that shard with --resume");
  }
}

// The shards' generators' folders (checkpoints, logs, samples) and reference classifiers, into
// `out`: copied into a staging folder first and moved in when all are there, so a failed copy
// (a full disk) leaves no partial generators/ behind.
void copy_shard_files(const std::vector<fs::path>& dirs, const fs::path& out) {
  const auto staging = out / ".merging";
  try {
    fs::remove_all(staging);
    fs::create_directories(staging / "generators");
    for (const auto& dir : dirs) {
      if (fs::is_directory(dir / "generators"))
        fs::copy(dir / "generators", staging / "generators",
                 fs::copy_options::recursive | fs::copy_options::skip_existing);
      for (const auto& entry : fs::directory_iterator(dir)) {
        const auto name = entry.path().filename().string();
        if (name.rfind("reference-", 0) == 0 && entry.path().extension() == ".pt" &&
            !fs::exists(staging / name))
          fs::copy_file(entry.path(), staging / name);
      }
    }
    for (const auto& entry : fs::directory_iterator(staging))
      fs::rename(entry.path(), out / entry.path().filename());
    fs::remove(staging);
  } catch (const fs::filesystem_error& e) {
    std::error_code ignored;
    fs::remove_all(staging, ignored);
    GANAUG_FAIL("cannot copy the shards' generators and reference classifiers into ", out.string(),
                " (", e.what(), "); nothing of them was left there");
  }
}

}  // namespace

namespace {

// Adds a shard's reference records to `merged`; every shard that trained on a dataset must have
// read the same data (a folder of that name elsewhere, or changed files, would mix two data sets
// under one name).
void merge_references(nlohmann::json& merged, const nlohmann::json& shard, const std::string& dir) {
  for (const auto& [ds, ref] : shard.items()) {
    if (!merged.contains(ds)) {
      merged[ds] = ref;
      continue;
    }
    for (const auto* hash : {"train_hash", "test_hash"}) {
      const auto& have = merged[ds];
      GANAUG_CHECK(!have.contains(hash) || !ref.contains(hash) || have[hash] == ref[hash], dir,
                   " ran ", ds, " on other data than an earlier shard (", hash, " ",
                   ref.value(hash, ""), " against ", have.value(hash, ""),
                   "): merge the shards of one grid, run on the same data");
    }
  }
}

// The shards by index: all of one grid (count, settings, grid), each index once, none missing.
std::map<int64_t, const GridShard*> index_shards(const std::vector<GridShard>& shards) {
  const auto& first = shards.front();
  std::map<int64_t, const GridShard*> by_index;
  for (const auto& s : shards) {
    GANAUG_CHECK(s.count == first.count, s.dir, " is shard ", s.index, " of ", s.count, ", but ",
                 first.dir, " is shard ", first.index, " of ", first.count,
                 ": merge the shards of one grid");
    for (const auto& key : {"settings", "grid"}) {
      const auto difference = first_differing_setting(first.results[key], s.results[key]);
      GANAUG_CHECK(difference.empty(), s.dir, " was run with other ",
                   std::string(key) == "grid" ? "grid" : "settings", " than ", first.dir, " (",
                   difference, "): merge the shards of one grid");
    }
    GANAUG_CHECK(s.index >= 0 && s.index < s.count, s.dir, " claims shard ", s.index, " of ",
                 s.count);
    const auto [it, fresh] = by_index.emplace(s.index, &s);
    GANAUG_CHECK(fresh, s.dir, " and ", it->second->dir, " are both shard ", s.index, " of ",
                 s.count);
  }
  for (int64_t i = 0; i < first.count; ++i)
    GANAUG_CHECK(by_index.count(i), "shard ", i, " of ", first.count,
                 " is missing: give the folders of all ", first.count, " shards");
  return by_index;
}

// Every shard holds exactly its own cells, all finished, and generators that fit them.
void check_shards_finished(const std::vector<GridShard>& shards) {
  const auto& first = shards.front();
  for (const auto& s : shards) {
    std::set<std::string> have;
    for (const auto& c : s.results["cells"]) have.insert(c["key"].get<std::string>());
    const auto want = detail::grid_cell_keys(first.results, s.index, s.count);
    const auto done = std::count_if(want.begin(), want.end(),
                                    [&](const std::string& k) { return have.count(k) > 0; });
    GANAUG_CHECK(done == static_cast<std::ptrdiff_t>(want.size()) && have.size() == want.size(),
                 s.dir, " (shard ", s.index, " of ", s.count, ") is unfinished or foreign: ", done,
                 " of its ", want.size(), " cells (and ",
                 static_cast<std::ptrdiff_t>(have.size()) - done,
                 " others); finish it with --resume first");
    check_shard_generators(s.dir, s.results);
  }
}

// The merged results, all read and ordered (one process's order: units in run order, each
// unit's cells as its shard ran them) before anything is written.
nlohmann::json merged_results(const GridShard& first,
                              const std::map<int64_t, const GridShard*>& by_index) {
  auto merged = first.results;
  merged.erase("shard");
  merged["cells"] = nlohmann::json::array();
  merged["generators"] = nlohmann::json::array();
  merged["references"] = nlohmann::json::object();
  merged["merged_from"] = nlohmann::json::array();
  for (const auto& [index, s] : by_index) {
    const auto& r = s->results;
    for (const auto& c : r["cells"]) merged["cells"].push_back(c);
    for (const auto& g : r["generators"]) merged["generators"].push_back(g);
    merge_references(merged["references"], r["references"], s->dir);
    merged["started"] = std::min(merged["started"].get<std::string>(),
                                 r.value("started", merged["started"].get<std::string>()));
    merged["merged_from"].push_back({{"folder", fs::absolute(s->dir).lexically_normal().string()},
                                     {"shard", index},
                                     {"machine", r["machine"]},
                                     {"references", r["references"]},
                                     {"cells", r["cells"].size()}});
  }
  try {
    for (const auto* list : {"cells", "generators"}) {
      auto& items = merged[list];
      std::vector<nlohmann::json> sorted(items.begin(), items.end());
      std::stable_sort(sorted.begin(), sorted.end(), [&](const auto& a, const auto& b) {
        return detail::experiment_unit(merged, a) < detail::experiment_unit(merged, b);
      });
      items = sorted;
    }
  } catch (const std::exception& e) {
    GANAUG_FAIL("the shards' results do not fit their grid (", first_line(e), ")");
  }
  return merged;
}

}  // namespace

nlohmann::json merge_experiments(const std::string& out_dir,
                                 const std::vector<std::string>& shard_dirs, bool force) {
  GANAUG_CHECK(!shard_dirs.empty(), "give the shard folders to merge");
  std::vector<GridShard> shards;
  for (const auto& dir : shard_dirs) shards.push_back(read_grid_shard(dir));
  const auto by_index = index_shards(shards);
  check_shards_finished(shards);
  auto merged = merged_results(shards.front(), by_index);

  // Checked before anything is written; the folder is emptied only with force.
  const fs::path out(out_dir);
  std::vector<detail::RunInput> inputs;
  for (const auto& s : shards) inputs.push_back({"shard folder", s.dir});
  std::error_code error;
  GANAUG_CHECK(force || !fs::exists(out, error) || detail::holds_nothing_but_lock(out),
               "output folder ", out_dir,
               " is not empty: --force replaces its contents, or choose another --out");
  detail::check_output_dir(out, /*resume=*/false, force, "", inputs);
  const auto lock = detail::make_output_dir(out, force);

  std::vector<fs::path> dirs;
  for (const auto& [index, s] : by_index) dirs.push_back(s->dir);
  copy_shard_files(dirs, out);
  detail::write_experiment_outputs(out, merged);
  return merged;
}

}  // namespace ganaug::jobs
