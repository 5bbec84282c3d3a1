#include "experiment_checks.hpp"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ganaug/error.hpp"
#include "ganaug/file_io.hpp"

namespace ganaug::jobs::detail {

namespace fs = std::filesystem;

namespace {
constexpr const char* kGeneratorRecord = "trained-on.json";

// The value the record gives fact `i` when it names `what` there; "missing" otherwise.
std::string recorded(const nlohmann::json& record, size_t i, const std::string& what) {
  if (record.is_array() && i < record.size() && record[i].is_array() && record[i].size() == 2 &&
      record[i][0] == what && record[i][1].is_string())
    return record[i][1].get<std::string>();
  return "missing";
}
}  // namespace

void check_grid_fits(const ExperimentOptions& o, const std::string& ds, const LabeledDataset& full,
                     const LabeledDataset& test, const std::vector<CellSpec>& cells) {
  const std::string held_out =
      o.validation_fraction() > 0
          ? " once --validation " + fixed(o.validation_fraction(), 2) + " is held out"
          : "";
  const auto counts = full.class_counts();
  const auto fewest = std::min_element(counts.begin(), counts.end()) - counts.begin();
  const int64_t largest = *std::max_element(o.sizes().begin(), o.sizes().end());
  GANAUG_CHECK(largest <= counts[static_cast<size_t>(fewest)], ds, ": --sizes ", largest,
               " asks for ", largest, " labeled images per class, but class '",
               full.class_names[static_cast<size_t>(fewest)], "' has only ",
               counts[static_cast<size_t>(fewest)], " training image",
               counts[static_cast<size_t>(fewest)] == 1 ? "" : "s", held_out, "; lower --sizes");
  int64_t pool = 0;
  bool synthetic = false;
  for (const auto& c : cells) {
    pool = std::max(pool, c.pool);
    synthetic = synthetic || c.scheme.synthetic.has_value();
  }
  const int64_t outside = full.size() - largest * full.num_classes();
  GANAUG_CHECK(pool <= outside, ds, ": --pool-sizes ", pool, " asks for a pool of ", pool,
               " images, but only ", outside, " training images lie outside the labeled subset of ",
               largest, " per class", held_out, "; lower --pool-sizes");
  if (!synthetic) return;
  const auto scored = test.class_counts();
  const int64_t m = std::min({o.metric_samples(), test.size(), full.size()});
  const bool pair = std::any_of(scored.begin(), scored.end(), [](int64_t n) { return n >= 2; });
  GANAUG_CHECK(
      pair && m > full.num_classes(), ds, ": the ",
      o.evaluate_on() == EvaluateOn::kValidation ? "validation split" : "test set", " (",
      test.size(), " images) is too small to score the GAN schemes: their diversity ",
      "needs a class with two images there and more images than the ", full.num_classes(),
      " classes; ",
      o.evaluate_on() == EvaluateOn::kValidation ? "raise --validation" : "use a larger test set");
}

void write_generator_record(const fs::path& dir,
                            const std::vector<std::pair<std::string, std::string>>& facts) {
  nlohmann::json record = nlohmann::json::array();
  for (const auto& [what, value] : facts) record.push_back({what, value});
  fs::create_directories(dir);
  write_text_atomic(dir / kGeneratorRecord, record.dump(1) + "\n");
}

void check_generator_continues(const fs::path& dir, const GeneratorCheckpoint& loaded,
                               int64_t iterations,
                               const std::vector<std::pair<std::string, std::string>>& facts,
                               const LabeledDataset& train) {
  const auto where = (dir / "checkpoint.pt").string();
  const std::string remedy =
      "; delete " + dir.string() + " to train it again, or use --force or another --out";
  GANAUG_CHECK(loaded.iteration <= iterations, where, " was trained for ", loaded.iteration,
               " iterations and this run asks for ", iterations, remedy);
  nlohmann::json record = nlohmann::json::array();
  std::ifstream in(dir / kGeneratorRecord);
  if (in) {
    try {
      record = nlohmann::json::parse(in);
    } catch (const std::exception& e) {
      GANAUG_FAIL((dir / kGeneratorRecord).string(), " cannot be read (", first_line(e), ")",
                  remedy);
    }
  } else {
    for (const auto& [what, value] : gan_training_facts(train, loaded.options))
      record.push_back({what, value});
  }
  for (size_t i = 0; i < facts.size(); ++i) {
    const auto& [what, value] = facts[i];
    const auto was = recorded(record, i, what);
    GANAUG_CHECK(was == value, where, " was trained another way than this run trains it: its ",
                 what, " is ", was, " where this run's is ", value, remedy);
  }
}

}  // namespace ganaug::jobs::detail
