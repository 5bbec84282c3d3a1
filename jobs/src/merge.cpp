#include "ganaug/jobs/merge.hpp"

#include <filesystem>
#include <fstream>
#include <map>

#include "augment_record.hpp"
#include "ganaug/error.hpp"
#include "ganaug/file_io.hpp"
#include "ganaug/jobs/augment.hpp"
#include "ganaug/pipelines/generate.hpp"
#include "output_dir.hpp"

namespace ganaug::jobs {

namespace fs = std::filesystem;

namespace {

struct Shard {
  fs::path dir;
  nlohmann::json record, summary;
  int64_t index = 0, count = 0, first = 0, images = 0;
  std::string header;
  std::vector<std::string> rows;
};

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  GANAUG_CHECK(in.good(), "cannot read ", path.string());
  nlohmann::json parsed;
  try {
    parsed = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    GANAUG_FAIL(path.string(), " is damaged (", e.what(), ")");
  }
  GANAUG_CHECK(parsed.is_object(), path.string(), " is damaged (not a JSON object)");
  return parsed;
}

// A run record without what may differ between shards of one run: the shard itself and where
// the inputs were found (a cluster's nodes may mount them elsewhere; their contents are hashed).
nlohmann::json run_identity(nlohmann::json record) {
  record.erase("shard");
  for (auto& [key, value] : record.items()) {
    if (value.is_object()) {
      for (const char* where : {"source", "checkpoint", "path"}) value.erase(where);
    }
  }
  return record;
}

// The first top-level field in which two records differ, or "".
std::string first_difference(const nlohmann::json& a, const nlohmann::json& b) {
  for (const auto& [key, value] : a.items()) {
    if (!b.contains(key) || b[key] != value) return key;
  }
  for (const auto& [key, value] : b.items()) {
    if (!a.contains(key)) return key;
  }
  return "";
}

Shard read_shard(const fs::path& dir) {
  Shard shard;
  shard.dir = dir;
  std::error_code error;
  GANAUG_CHECK(fs::is_directory(dir, error), "shard folder ", dir.string(), " does not exist");
  GANAUG_CHECK(fs::exists(dir / "run.json", error), "shard folder ", dir.string(),
               " has no run.json: it is not an augment output folder");
  shard.record = read_json(dir / "run.json");
  GANAUG_CHECK(shard.record.contains("shard") && shard.record["shard"].is_object(), "folder ",
               dir.string(), " was not written as a shard (augment --shard K --num-shards S)");
  GANAUG_CHECK(fs::exists(dir / "summary.json", error), "shard ", dir.string(),
               " has not finished (it has no summary.json); rerun it with --resume");
  shard.summary = read_json(dir / "summary.json");
  try {
    const auto& s = shard.record["shard"];
    shard.index = s.at("index").get<int64_t>();
    shard.count = s.at("count").get<int64_t>();
    shard.first = s.at("first").get<int64_t>();
    shard.images = s.at("images").get<int64_t>();
    const auto n = shard.record.at("n").get<int64_t>();
    const auto expected =
        shard_range(n, s.at("gen_batch").get<int64_t>(), shard.index, shard.count);
    GANAUG_CHECK(expected.first == shard.first && expected.count == shard.images,
                 "its images do not match its shard number");
  } catch (const std::exception& e) {
    GANAUG_FAIL("shard ", dir.string(), ": its run.json is damaged (", e.what(), ")");
  }
  // The manifest: the header, then exactly the shard's images in order, each present.
  std::ifstream in(dir / "labels.csv");
  GANAUG_CHECK(in.good(), "shard ", dir.string(), " has no labels.csv");
  GANAUG_CHECK(static_cast<bool>(std::getline(in, shard.header)), "shard ", dir.string(),
               ": its labels.csv is empty");
  const std::string where = "shard " + dir.string() + ": labels.csv";
  for (std::string row; std::getline(in, row);) {
    check_manifest_row(dir, where, row, static_cast<int64_t>(shard.rows.size()) + 2,
                       shard.first + static_cast<int64_t>(shard.rows.size()), "");
    shard.rows.push_back(row);
  }
  GANAUG_CHECK(static_cast<int64_t>(shard.rows.size()) == shard.images, "shard ", dir.string(),
               " lists ", shard.rows.size(), " images but shard ", shard.index, " of ", shard.count,
               " holds ", shard.images);
  // What the shard wrote when it finished (shards from before ganaug 0.5 recorded nothing).
  const auto written = shard.summary.is_object() && shard.summary.contains("shard")
                           ? shard.summary["shard"]
                           : nlohmann::json::object();
  if (written.is_object() && written.contains("content")) {
    const auto& content = written["content"];
    const auto now = detail::shard_content(dir, shard.first, shard.images);
    for (const auto& [key, what] :
         {std::pair{"images_fnv1a64", "images"}, std::pair{"labels_fnv1a64", "labels.csv rows"}}) {
      const auto recorded =
          content.is_object() && content.contains(key) ? content[key] : nlohmann::json("none");
      GANAUG_CHECK(recorded == now[key], "shard ", dir.string(), ": its ", what,
                   " are not what the shard wrote (hash ", now[key].dump(), ", written ",
                   recorded.dump(),
                   "): a file was changed, truncated or swapped after it "
                   "finished; rerun that shard with --force");
    }
  }
  return shard;
}

// What the shards' runs read, as their records name it: the generator checkpoint and the data
// (records written before 0.4 name the checkpoint only).
std::vector<detail::RunInput> inputs_named_by(const std::vector<Shard>& shards) {
  std::vector<detail::RunInput> out;
  for (const auto& shard : shards) {
    const auto add = [&](const std::string& what, const nlohmann::json& part, const char* key) {
      if (part.is_object() && part.contains(key) && part[key].is_string())
        out.push_back({what + " of shard " + shard.dir.string(), part[key].get<std::string>()});
    };
    const auto& r = shard.record;
    add("generator checkpoint", r.value("generator", nlohmann::json()), "checkpoint");
    add("training data", r.value("data", nlohmann::json()), "path");
    add("test data", r.value("test_data", nlohmann::json()), "path");
    add("unlabeled pool", r.value("unlabeled", nlohmann::json()), "path");
  }
  return out;
}

}  // namespace

nlohmann::json merge_shards(const std::string& out_dir, const std::vector<std::string>& shard_dirs,
                            bool force) {
  GANAUG_CHECK(!shard_dirs.empty(), "nothing to merge: give the shard folders");
  const fs::path out(out_dir);
  std::vector<detail::RunInput> inputs;
  for (const auto& dir : shard_dirs) inputs.push_back({"shard folder", dir});
  detail::check_output_dir(out, /*resume=*/false, force, "(merging never resumes)", inputs);

  // Everything is checked before anything is written.
  std::vector<Shard> shards;
  for (const auto& dir : shard_dirs) shards.push_back(read_shard(dir));
  const auto& reference = shards.front();
  const auto identity = run_identity(reference.record);
  std::map<int64_t, const Shard*> by_index;
  for (const auto& shard : shards) {
    const auto difference = first_difference(identity, run_identity(shard.record));
    GANAUG_CHECK(difference.empty(), "shard ", shard.dir.string(),
                 " belongs to another run than shard ", reference.dir.string(), " (its '",
                 difference, "' differs)");
    GANAUG_CHECK(shard.count == reference.count &&
                     shard.record["shard"]["gen_batch"] == reference.record["shard"]["gen_batch"],
                 "shard ", shard.dir.string(), " was split differently from shard ",
                 reference.dir.string(), " (number of shards or --generate-batch)");
    GANAUG_CHECK(shard.header == reference.header, "shard ", shard.dir.string(),
                 ": its labels.csv header differs from shard ", reference.dir.string());
    const auto [place, inserted] = by_index.emplace(shard.index, &shard);
    GANAUG_CHECK(inserted, "shards ", place->second->dir.string(), " and ", shard.dir.string(),
                 " are both shard ", shard.index, " of ", shard.count);
  }
  for (int64_t k = 0; k < reference.count; ++k) {
    GANAUG_CHECK(by_index.count(k), "shard ", k, " of ", reference.count,
                 " is missing: the folders given hold ", by_index.size(), " of the ",
                 reference.count, " shards");
  }

  // Nothing the shards' runs read is deleted (--force) or written into.
  const auto named = inputs_named_by(shards);
  inputs.insert(inputs.end(), named.begin(), named.end());
  detail::check_output_dir(out, /*resume=*/false, force, "(merging never resumes)", inputs);
  const auto lock = detail::make_output_dir(out, force);
  fs::create_directories(out / "images");
  std::string manifest = reference.header + "\n";
  int64_t images = 0;
  nlohmann::json from = nlohmann::json::array();
  for (const auto& [index, shard] : by_index) {
    for (int64_t j = 0; j < shard->images; ++j) {
      const auto name = image_file_name(shard->first + j);
      fs::copy_file(shard->dir / name, out / name, fs::copy_options::overwrite_existing);
    }
    for (const auto& row : shard->rows) manifest += row + "\n";
    images += shard->images;
    from.push_back(
        {{"shard", index}, {"dir", fs::absolute(shard->dir).string()}, {"images", shard->images}});
  }
  write_text_atomic(out / "labels.csv", manifest);
  // run.json as one process would have written it: the shards' record without the shard.
  auto record = reference.record;
  record.erase("shard");
  write_text_atomic(out / "run.json",
                    record.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  auto summary = reference.summary;
  for (const char* key : {"shard", "timings", "out_dir", "generated", "threads", "device",
                          "gan_images_per_s", "deterministic"}) {
    summary.erase(key);
  }
  summary["merged"] = {{"shards", reference.count}, {"from", from}, {"images", images}};
  summary["out_dir"] = fs::absolute(out).string();
  write_text_atomic(out / "summary.json",
                    summary.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  return summary;
}

}  // namespace ganaug::jobs
