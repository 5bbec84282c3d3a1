#pragma once
// Private to the jobs: the gains experiment's state, typed. results.json is its file form
// (to_json/from_json at that border only); the store starts a run's results, continues a
// previous run's file (checking it is the same grid and upgrading what older versions wrote),
// answers keyed lookups and gives the file's content back.

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace ganaug::jobs::detail {

/// One finished cell of the grid.
struct CellResult {
  std::string key;  ///< cell_key(): dataset, size, seed, scheme, multiple, pool
  std::string dataset;
  int64_t size = 0;
  uint64_t seed = 0;
  std::string scheme;
  double multiple = 0;
  int64_t unlabeled = 0;  ///< pool size (0: none; absent in files from before pools)
  int64_t synthetic_images = 0;
  /// Filtered cells (ExperimentOptions::min_confidence): the images generated to find the
  /// synthetic_images its judge kept; 0 (not written) for the others.
  int64_t synthetic_drawn = 0;
  /// Filtered cells: the synthetic count asked for (synthetic_images is less when the filter
  /// found too few confident images); 0 otherwise.
  int64_t synthetic_asked = 0;
  /// Filtered cells: the judge's mean probability of the kept images' classes; unset otherwise.
  std::optional<double> synthetic_confidence;
  double accuracy = 0, macro_f1 = 0;
  double seconds = 0;   ///< wall time of the cell (and of a classifier it reused)
  std::string classic;  ///< the classical setting of a classic cell; empty otherwise
  /// A pseudo cell's pool, per epoch: "threshold_share" (of the step's pool images whose weak
  /// view passed the threshold) and "label_accuracy" (of those targets, against the pool's true
  /// classes; null in an epoch without one); null for other cells and files from before.
  nlohmann::json pool;
};
void to_json(nlohmann::json& j, const CellResult& c);
void from_json(const nlohmann::json& j, CellResult& c);

/// One measured generator of a (dataset, size, seed, pool).
struct GeneratorResult {
  std::string key, dataset;
  int64_t size = 0;
  uint64_t seed = 0;
  int64_t iterations = 0;
  double gan_seconds = 0, gan_images_per_s = 0;
  double fcd = 0;
  int64_t fcd_samples = 0;
  double class_faithfulness = 0;
  std::optional<double> diversity;  ///< absent in files from before it was measured
  double cas = 0;
  int64_t cas_images = 0;
  std::string samples;       ///< its sample grid, relative to the output folder
  nlohmann::json unlabeled;  ///< how its pool trained it (images, kept, gan); null without one
};
void to_json(nlohmann::json& j, const GeneratorResult& g);
void from_json(const nlohmann::json& j, GeneratorResult& g);

/// A dataset's reference classifier (trained on all its training images) and its test set.
struct ReferenceResult {
  double accuracy = 0;
  int64_t epochs = 0, images = 0;
  double seconds = 0;
  /// Its network and width; absent in results from before ganaug 0.3 (then cnn for gray
  /// images, resnet for color, width 32).
  std::optional<std::string> network;
  std::optional<int64_t> width;
  nlohmann::json test;  ///< where the test set came from and its size
  /// Hashes of the training images (after the validation split) and of the scoring set, with
  /// their labels and class names (data_identity); absent in results from before ganaug 0.5.
  std::optional<std::string> train_hash, test_hash;
  std::optional<double> fcd_real_vs_real;
  std::optional<int64_t> fcd_samples;
};
void to_json(nlohmann::json& j, const ReferenceResult& r);
void from_json(const nlohmann::json& j, ReferenceResult& r);

/// One classical setting (of ExperimentOptions::classic_choices) scored on the validation split
/// for one (dataset, size, seed).
struct ClassicChoiceCell {
  std::string key;  ///< dataset|size|seed|setting
  std::string dataset;
  int64_t size = 0;
  uint64_t seed = 0;
  std::string classic;  ///< the setting, as ClassicAugmentOptions::to_string writes it
  double accuracy = 0, seconds = 0;
};
void to_json(nlohmann::json& j, const ClassicChoiceCell& c);
void from_json(const nlohmann::json& j, ClassicChoiceCell& c);

/// The classical setting chosen for one (dataset, size): the best mean over the seeds.
struct ClassicChosen {
  std::string dataset;
  int64_t size = 0;
  std::string classic;
  double validation_accuracy = 0;
  int64_t seeds = 0;
};
void to_json(nlohmann::json& j, const ClassicChosen& c);
void from_json(const nlohmann::json& j, ClassicChosen& c);

/// The results of one grid run (or shard), as results.json holds them.
class ResultsStore {
 public:
  /// A new run's results: `header` holds format, settings, grid, machine, started and (for a
  /// shard) shard.
  explicit ResultsStore(nlohmann::json header);

  /// Continues the results of `path` (a previous run's results.json in `out_dir`): refuses a
  /// file of another kind, other settings or another shard, naming them; settings recorded
  /// since the file was written count as their neutral value. Returns the finished cells.
  size_t resume(const std::filesystem::path& path, const std::string& out_dir);

  bool has_cell(const std::string& key) const { return cell_index_.count(key) > 0; }
  const GeneratorResult* generator(const std::string& key) const;
  const ReferenceResult* reference(const std::string& dataset) const;
  ReferenceResult& reference_to_fill(const std::string& dataset) { return references_[dataset]; }
  void add_cell(CellResult cell);
  void add_generator(GeneratorResult generator);
  /// A classical setting's validation score (results.json's "classic_choice" "cells"), by key.
  const ClassicChoiceCell* classic_choice_cell(const std::string& key) const;
  void add_classic_choice_cell(ClassicChoiceCell cell);
  /// Records the setting chosen for `group` ("DATASET-nSIZE"; "classic_choice" "chosen").
  void set_classic_chosen(const std::string& group, ClassicChosen chosen);

  /// results.json's content (the writer adds "updated" and "summary").
  nlohmann::json to_json() const;

 private:
  nlohmann::json header_;
  std::map<std::string, ReferenceResult> references_;
  std::vector<GeneratorResult> generators_;
  std::map<std::string, size_t> generator_index_;
  std::vector<CellResult> cells_;
  std::map<std::string, size_t> cell_index_;
  // results.json has "classic_choice" once a setting was scored (or a resumed file had it).
  bool has_classic_choice_ = false;
  std::vector<ClassicChoiceCell> choice_cells_;
  std::map<std::string, size_t> choice_index_;
  std::map<std::string, ClassicChosen> chosen_;
};

}  // namespace ganaug::jobs::detail
