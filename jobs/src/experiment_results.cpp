#include "experiment_results.hpp"

#include <fstream>

#include "experiment_outputs.hpp"
#include "ganaug/error.hpp"

namespace ganaug::jobs::detail {

namespace fs = std::filesystem;

namespace {
// A share (an accuracy, a faithfulness) read from a results file: one outside [0, 1] was edited
// or damaged, and would print as "291.67%".
double share_at(const nlohmann::json& j, const char* key) {
  const double value = j.at(key).get<double>();
  GANAUG_CHECK(value >= 0 && value <= 1, key, " is ", value, ", not a share in [0, 1]");
  return value;
}
}  // namespace

void to_json(nlohmann::json& j, const CellResult& c) {
  j = {{"key", c.key},
       {"dataset", c.dataset},
       {"size", c.size},
       {"seed", c.seed},
       {"scheme", c.scheme},
       {"multiple", c.multiple},
       {"unlabeled", c.unlabeled},
       {"synthetic_images", c.synthetic_images},
       {"accuracy", c.accuracy},
       {"macro_f1", c.macro_f1},
       {"seconds", c.seconds}};
  if (c.synthetic_drawn > 0) j["synthetic_drawn"] = c.synthetic_drawn;
  if (c.synthetic_asked > 0) j["synthetic_asked"] = c.synthetic_asked;
  if (c.synthetic_confidence) j["synthetic_confidence"] = *c.synthetic_confidence;
  if (!c.classic.empty()) j["classic"] = c.classic;
  if (!c.pool.is_null()) j["pool"] = c.pool;
}

void from_json(const nlohmann::json& j, CellResult& c) {
  c.key = j.at("key").get<std::string>();
  c.dataset = j.at("dataset").get<std::string>();
  c.size = j.at("size").get<int64_t>();
  c.seed = j.at("seed").get<uint64_t>();
  c.scheme = j.at("scheme").get<std::string>();
  c.multiple = j.at("multiple").get<double>();
  c.unlabeled = j.value("unlabeled", int64_t{0});  // files from before pools
  c.synthetic_images = j.at("synthetic_images").get<int64_t>();
  c.synthetic_drawn = j.value("synthetic_drawn", int64_t{0});
  c.synthetic_asked = j.value("synthetic_asked", int64_t{0});
  if (j.contains("synthetic_confidence"))
    c.synthetic_confidence = share_at(j, "synthetic_confidence");
  c.accuracy = share_at(j, "accuracy");
  c.macro_f1 = share_at(j, "macro_f1");
  c.seconds = j.at("seconds").get<double>();
  c.classic = j.value("classic", std::string());
  c.pool = j.value("pool", nlohmann::json());  // files from before it was traced
  if (!c.pool.is_null()) {
    for (const char* series : {"threshold_share", "label_accuracy"})
      for (const auto& share : c.pool.at(series))
        GANAUG_CHECK(share.is_null() || (share.is_number() && share.get<double>() >= 0 &&
                                         share.get<double>() <= 1),
                     "\"pool\": \"", series, "\" holds ", share.dump(), ", not a share in [0, 1]");
  }
}

void to_json(nlohmann::json& j, const ClassicChoiceCell& c) {
  j = {{"key", c.key},         {"dataset", c.dataset},   {"size", c.size},      {"seed", c.seed},
       {"classic", c.classic}, {"accuracy", c.accuracy}, {"seconds", c.seconds}};
}

void from_json(const nlohmann::json& j, ClassicChoiceCell& c) {
  c.key = j.at("key").get<std::string>();
  c.dataset = j.at("dataset").get<std::string>();
  c.size = j.at("size").get<int64_t>();
  c.seed = j.at("seed").get<uint64_t>();
  c.classic = j.at("classic").get<std::string>();
  c.accuracy = share_at(j, "accuracy");
  c.seconds = j.at("seconds").get<double>();
}

void to_json(nlohmann::json& j, const ClassicChosen& c) {
  j = {{"dataset", c.dataset},
       {"size", c.size},
       {"classic", c.classic},
       {"validation_accuracy", c.validation_accuracy},
       {"seeds", c.seeds}};
}

void from_json(const nlohmann::json& j, ClassicChosen& c) {
  c.dataset = j.at("dataset").get<std::string>();
  c.size = j.at("size").get<int64_t>();
  c.classic = j.at("classic").get<std::string>();
  c.validation_accuracy = share_at(j, "validation_accuracy");
  c.seeds = j.at("seeds").get<int64_t>();
}

void to_json(nlohmann::json& j, const GeneratorResult& g) {
  j = {{"key", g.key},
       {"dataset", g.dataset},
       {"size", g.size},
       {"seed", g.seed},
       {"iterations", g.iterations},
       {"gan_seconds", g.gan_seconds},
       {"gan_images_per_s", g.gan_images_per_s},
       {"fcd", g.fcd},
       {"fcd_samples", g.fcd_samples},
       {"class_faithfulness", g.class_faithfulness},
       {"cas", g.cas},
       {"cas_images", g.cas_images},
       {"samples", g.samples}};
  if (g.diversity) j["diversity"] = *g.diversity;
  if (!g.unlabeled.is_null()) j["unlabeled"] = g.unlabeled;
}

void from_json(const nlohmann::json& j, GeneratorResult& g) {
  g.key = j.at("key").get<std::string>();
  g.dataset = j.at("dataset").get<std::string>();
  g.size = j.at("size").get<int64_t>();
  g.seed = j.at("seed").get<uint64_t>();
  g.iterations = j.at("iterations").get<int64_t>();
  g.gan_seconds = j.at("gan_seconds").get<double>();
  g.gan_images_per_s = j.at("gan_images_per_s").get<double>();
  g.fcd = j.at("fcd").get<double>();
  g.fcd_samples = j.at("fcd_samples").get<int64_t>();
  g.class_faithfulness = share_at(j, "class_faithfulness");
  if (j.contains("diversity")) g.diversity = j.at("diversity").get<double>();
  g.cas = share_at(j, "cas");
  g.cas_images = j.at("cas_images").get<int64_t>();
  g.samples = j.at("samples").get<std::string>();
  g.unlabeled = j.value("unlabeled", nlohmann::json());
}

void to_json(nlohmann::json& j, const ReferenceResult& r) {
  j = {
      {"accuracy", r.accuracy}, {"epochs", r.epochs}, {"images", r.images}, {"seconds", r.seconds}};
  if (r.network) j["network"] = *r.network;
  if (r.width) j["width"] = *r.width;
  if (!r.test.is_null()) j["test"] = r.test;
  if (r.fcd_real_vs_real) j["fcd_real_vs_real"] = *r.fcd_real_vs_real;
  if (r.fcd_samples) j["fcd_samples"] = *r.fcd_samples;
  if (r.train_hash) j["train_hash"] = *r.train_hash;
  if (r.test_hash) j["test_hash"] = *r.test_hash;
}

void from_json(const nlohmann::json& j, ReferenceResult& r) {
  r.accuracy = share_at(j, "accuracy");
  r.epochs = j.at("epochs").get<int64_t>();
  r.images = j.at("images").get<int64_t>();
  r.seconds = j.at("seconds").get<double>();
  if (j.contains("network")) r.network = j.at("network").get<std::string>();
  if (j.contains("width")) r.width = j.at("width").get<int64_t>();
  r.test = j.value("test", nlohmann::json());
  if (j.contains("fcd_real_vs_real")) r.fcd_real_vs_real = j.at("fcd_real_vs_real").get<double>();
  if (j.contains("fcd_samples")) r.fcd_samples = j.at("fcd_samples").get<int64_t>();
  if (j.contains("train_hash")) r.train_hash = j.at("train_hash").get<std::string>();
  if (j.contains("test_hash")) r.test_hash = j.at("test_hash").get<std::string>();
}

ResultsStore::ResultsStore(nlohmann::json header) : header_(std::move(header)) {}

namespace {

// Settings recorded since a results file was written: results from before had their neutral
// value (or the value of this run, for those whose old behaviour equals every value's).
void upgrade_settings(nlohmann::json& previous, const nlohmann::json& current) {
  if (!previous.contains("min_confidence")) previous["min_confidence"] = 0.0;
  if (!previous.contains("classic_choices")) previous["classic_choices"] = nlohmann::json::array();
  // (The classifier's network is checked per dataset: see Experiment::check_network.)
  for (const auto& key : {"pool_confidence", "pool_weight", "pool_threshold", "pool_ratio",
                          "pool_gan", "gan_unlabeled_share", "classifier", "classifier_width"}) {
    if (!previous.contains(key)) previous[key] = current[key];
  }
}

// What to do about a difference in `key` that has a known cause, or nothing.
std::string difference_hint(const std::string& key, const nlohmann::json& was) {
  // Grids run before the classical setting was chosen by default took the one given.
  if (key == "classic_choices" && was.contains(key) && was[key].empty())
    return "; to go on with the folder's classical setting, add --classic-choices none";
  // Joint cells of the engine before 0.6 are not mixed with the classifier's engine's.
  if (key == "joint" && was.contains(key) && !was[key].contains("engine"))
    return "; its joint cells were trained before the joint classifier moved to the "
           "classifier's engine (ganaug 0.6; or by a build that did not record it), whose "
           "figures differ: use another --out";
  return "";
}

// The first setting in which a results file and this run differ, each as {"key":value}.
std::string settings_difference(const nlohmann::json& was, const nlohmann::json& now) {
  const auto show = [](const nlohmann::json& settings, const std::string& key) {
    return settings.contains(key) ? nlohmann::json{{key, settings[key]}}.dump() : "no " + key;
  };
  for (const auto& [key, value] : now.items()) {
    if (!was.contains(key) || was[key] != value)
      return "the folder has " + show(was, key) + ", this run " + show(now, key) +
             difference_hint(key, was);
  }
  for (const auto& [key, value] : was.items()) {
    if (!now.contains(key))
      return "the folder has " + show(was, key) + ", this run " + show(now, key);
  }
  return "";
}

std::string shard_text(const nlohmann::json& r) {
  return r.contains("shard") ? "shard " + r["shard"]["index"].dump() + " of " +
                                   r["shard"]["count"].dump() + " of a grid"
                             : std::string("a whole grid");
}

}  // namespace

size_t ResultsStore::resume(const fs::path& path, const std::string& out_dir) {
  nlohmann::json previous;
  try {
    std::ifstream in(path);
    previous = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    GANAUG_FAIL(path.string(), " cannot be read (", e.what(), "); use --force to start over");
  }
  GANAUG_CHECK(previous.value("format", "") == header_.value("format", ""), path.string(),
               " is not an augment-bench results file; use another --out");
  upgrade_settings(previous["settings"], header_["settings"]);
  if (previous["settings"] != header_["settings"]) {
    GANAUG_FAIL("the results in ", out_dir, " were made with other settings (",
                settings_difference(previous["settings"], header_["settings"]),
                "); resume with the same settings, or use --force or another --out");
  }
  GANAUG_CHECK(
      previous.value("shard", nlohmann::json()) == header_.value("shard", nlohmann::json()),
      "the results in ", out_dir, " are ", shard_text(previous), ", and this run is ",
      shard_text(header_), "; resume with the same --shard and --num-shards, or use another --out");
  try {
    for (const auto& [ds, reference] : previous.at("references").items())
      references_[ds] = reference.get<ReferenceResult>();
    for (const auto& g : previous.at("generators")) add_generator(g.get<GeneratorResult>());
    for (const auto& c : previous.at("cells")) add_cell(c.get<CellResult>());
    if (previous.contains("classic_choice")) {
      const auto& choice = previous["classic_choice"];
      has_classic_choice_ = true;
      for (const auto& c : choice.at("cells")) add_classic_choice_cell(c.get<ClassicChoiceCell>());
      for (const auto& [group, chosen] : choice.at("chosen").items())
        chosen_[group] = chosen.get<ClassicChosen>();
    }
  } catch (const std::exception& e) {  // a missing or mistyped field, a value out of range
    GANAUG_FAIL(path.string(), " is damaged (", e.what(), "); use --force to start over");
  }
  // Finished cells are never dropped, so the grid must still hold them all (fewer --seeds, a
  // size or scheme left out would keep them under a grid that does not list them).
  const bool shard = header_.contains("shard");
  const auto keys = grid_cell_keys(header_, shard ? header_["shard"]["index"].get<int64_t>() : 0,
                                   shard ? header_["shard"]["count"].get<int64_t>() : 1);
  for (const auto& cell : cells_) {
    GANAUG_CHECK(keys.count(cell.key) > 0, "the results in ", out_dir, " hold the finished cell ",
                 cell.key,
                 " (dataset|size|seed|scheme|multiple), which this run's grid leaves out; resume "
                 "with a grid that holds it (--seeds, --sizes, --schemes, --multiples, "
                 "--pool-sizes, --data: finished cells are never dropped), or use --force or "
                 "another --out");
  }
  header_["started"] = previous["started"];
  return cells_.size();
}

const GeneratorResult* ResultsStore::generator(const std::string& key) const {
  const auto found = generator_index_.find(key);
  return found == generator_index_.end() ? nullptr : &generators_[found->second];
}

const ReferenceResult* ResultsStore::reference(const std::string& dataset) const {
  const auto found = references_.find(dataset);
  return found == references_.end() ? nullptr : &found->second;
}

void ResultsStore::add_cell(CellResult cell) {
  cell_index_[cell.key] = cells_.size();
  cells_.push_back(std::move(cell));
}

void ResultsStore::add_generator(GeneratorResult generator) {
  generator_index_[generator.key] = generators_.size();
  generators_.push_back(std::move(generator));
}

const ClassicChoiceCell* ResultsStore::classic_choice_cell(const std::string& key) const {
  const auto found = choice_index_.find(key);
  return found == choice_index_.end() ? nullptr : &choice_cells_[found->second];
}

void ResultsStore::add_classic_choice_cell(ClassicChoiceCell cell) {
  has_classic_choice_ = true;
  choice_index_[cell.key] = choice_cells_.size();
  choice_cells_.push_back(std::move(cell));
}

void ResultsStore::set_classic_chosen(const std::string& group, ClassicChosen chosen) {
  has_classic_choice_ = true;
  chosen_[group] = std::move(chosen);
}

nlohmann::json ResultsStore::to_json() const {
  auto out = header_;
  out["references"] = nlohmann::json::object();
  for (const auto& [ds, reference] : references_) out["references"][ds] = reference;
  out["generators"] = generators_;
  out["cells"] = cells_;
  if (has_classic_choice_) {
    out["classic_choice"] = {{"cells", choice_cells_}, {"chosen", nlohmann::json::object()}};
    for (const auto& [group, chosen] : chosen_) out["classic_choice"]["chosen"][group] = chosen;
  }
  return out;
}

}  // namespace ganaug::jobs::detail
