// The experiment's options: scheme names, validation, the settings a resumed run must share.
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "augment_record.hpp"
#include "classifier_flags.hpp"
#include "ganaug/choices.hpp"
#include "ganaug/classifier.hpp"
#include "ganaug/error.hpp"
#include "ganaug/gan.hpp"
#include "ganaug/job.hpp"
#include "ganaug/jobs/experiment.hpp"
#include "ganaug/runtime.hpp"
#include "ganaug/schemes.hpp"
#include "ganaug/version.hpp"

namespace ganaug::jobs {
namespace {
const Choices<EvaluateOn>& evaluate_on_choices() {
  static const Choices<EvaluateOn> choices(
      "set to evaluate on", {{EvaluateOn::kTest, "test"}, {EvaluateOn::kValidation, "validation"}});
  return choices;
}
}  // namespace

EvaluateOn parse_evaluate_on(const std::string& name) { return evaluate_on_choices().parse(name); }

std::string to_string(EvaluateOn where) { return evaluate_on_choices().name(where); }

ExperimentScheme ExperimentScheme::parse(const std::string& name) {
  ExperimentScheme s;
  std::string rest = name;
  if (rest == "none") return s;
  const auto take = [&rest](const std::string& part) {
    if (rest == part) {
      rest.clear();
      return true;
    }
    if (rest.rfind(part + "+", 0) != 0) return false;
    rest = rest.substr(part.size() + 1);
    return true;
  };
  s.classic = take("classic");
  s.pseudo = take("pseudo");
  s.self_training = take("self");
  if (rest.empty()) return s;
  GANAUG_CHECK(!s.self_training, "the experiment scheme '", name,
               "' cannot be: self is a column's last part (its extra images are the pool's, not "
               "a GAN's)");
  try {
    const auto choice = SchemeChoice::parse(rest);
    if (choice.joint)
      s.joint = choice.joint;
    else
      s.synthetic = choice.scheme;
    s.dynamic = choice.dynamic;
  } catch (const Error&) {
    std::string schemes;
    for (const auto& scheme : SchemeChoice::names()) schemes += scheme + ", ";
    GANAUG_FAIL("unknown experiment scheme '", name, "': use none, classic, pseudo, ", schemes,
                "self, or them joined in the order classic+pseudo+<scheme>");
  }
  GANAUG_CHECK(!(s.joint && s.pseudo), "the experiment scheme '", name,
               "' cannot be: a joint column trains on the pool itself (drop pseudo+)");
  return s;
}

std::string ExperimentScheme::name() const {
  std::string out = classic ? "classic" : "";
  if (pseudo) out += out.empty() ? "pseudo" : "+pseudo";
  if (self_training) out += out.empty() ? "self" : "+self";
  if (synthetic || joint)
    out += (out.empty() ? "" : "+") +
           SchemeChoice{synthetic.value_or(Scheme::kSmooth), dynamic, joint}.name();
  return out.empty() ? "none" : out;
}

std::vector<ExperimentScheme> ExperimentScheme::parse_all(const std::vector<std::string>& names) {
  std::vector<ExperimentScheme> out;
  for (const auto& name : names) out.push_back(parse(name));
  return out;
}

std::vector<std::string> ExperimentScheme::names(const std::vector<ExperimentScheme>& schemes) {
  std::vector<std::string> out;
  for (const auto& scheme : schemes) out.push_back(scheme.name());
  return out;
}

std::vector<ExperimentScheme> default_experiment_schemes() {
  std::vector<ExperimentScheme> schemes(2);
  schemes[1].classic = true;
  for (const bool classic : {false, true}) {
    for (auto s : all_schemes()) {
      ExperimentScheme scheme;
      scheme.classic = classic;
      scheme.synthetic = s;
      schemes.push_back(scheme);
    }
  }
  return schemes;
}

namespace {
// Each value of a grid axis names its own cells: a repeated one would train them twice under
// one key.
template <typename T>
void check_distinct(const std::vector<T>& values, const char* axis) {
  std::set<T> seen;
  for (const auto& value : values)
    GANAUG_CHECK(seen.insert(value).second, "the grid lists the ", axis, " ", value,
                 " twice; give each value once");
}
}  // namespace

namespace {
// The columns: a pool for the pseudo ones, a network that fits each, the joint settings.
void validate_columns(const ExperimentOptions& o) {
  const bool any_pool =
      std::any_of(o.unlabeled().begin(), o.unlabeled().end(), [](int64_t n) { return n > 0; });
  for (const auto& scheme : o.schemes()) {
    GANAUG_CHECK((!scheme.pseudo && !scheme.self_training) || any_pool, "the scheme '",
                 scheme.name(),
                 "' trains on an unlabeled pool: give a pool size above 0 (--pool-sizes N)");
    // The grid's other classifiers have K outputs and newclass's K + 1: one network cannot
    // be both, and a misfit found at the first newclass cell would come after hours of work.
    GANAUG_CHECK(!o.classifier().custom() || scheme.synthetic != Scheme::kNewClass, "the scheme '",
                 scheme.name(),
                 "' needs a classifier with K + 1 outputs and the "
                 "grid's others K: with --classifier ",
                 o.classifier().custom().name, " leave newclass out of --schemes");
    GANAUG_CHECK(!o.classifier().custom() || !scheme.joint, "the scheme '", scheme.name(),
                 "' trains a built-in classifier network jointly with its GAN: with --classifier ",
                 o.classifier().custom().name, " leave the joint schemes out of --schemes");
  }
  if (o.has_joint_column()) {
    GANAUG_CHECK(o.joint().iterations() >= 1, "--joint-steps must be positive, got ",
                 o.joint().iterations());
    GANAUG_CHECK(
        o.joint().unsupervised_weight() >= 0 && std::isfinite(o.joint().unsupervised_weight()),
        "--joint-weight must be finite and not negative, got ", o.joint().unsupervised_weight());
    GANAUG_CHECK(o.joint().warmup_share() >= 0 && o.joint().warmup_share() < 0.5,
                 "--joint-warmup must lie in [0, 0.5), got ", o.joint().warmup_share());
    GANAUG_CHECK(
        o.joint().consistency_weight() >= 0 && std::isfinite(o.joint().consistency_weight()),
        "--joint-consistency must be finite and not negative, got ",
        o.joint().consistency_weight());
  }
}
}  // namespace

bool ExperimentOptions::has_joint_column() const {
  return std::any_of(schemes().begin(), schemes().end(),
                     [](const ExperimentScheme& s) { return s.joint.has_value(); });
}

void ExperimentOptions::validate() const {
  GANAUG_CHECK(!datasets().empty(), "the experiment needs at least one dataset");
  GANAUG_CHECK(test_data().empty() || datasets().size() == 1,
               "a test set of its own (--test-data) goes with exactly one dataset");
  GANAUG_CHECK(validation_fraction() >= 0 && validation_fraction() < 1,
               "the validation fraction must lie in [0, 1), got ", validation_fraction());
  GANAUG_CHECK(evaluate_on() == EvaluateOn::kTest || validation_fraction() > 0,
               "evaluating on the validation split needs a validation fraction above 0");
  GANAUG_CHECK(!sizes().empty() && !schemes().empty() && !multiples().empty(),
               "the experiment grid needs sizes, schemes and multiples");
  for (auto size : sizes()) GANAUG_CHECK(size >= 1, "labeled sizes must be positive, got ", size);
  for (double m : multiples())
    GANAUG_CHECK(m > 0 && std::isfinite(m), "synthetic multiples must be positive, got ", m);
  GANAUG_CHECK(!unlabeled().empty(), "the unlabeled pool sizes need at least one value (0 = none)");
  for (auto n : unlabeled())
    GANAUG_CHECK(n >= 0, "unlabeled pool sizes must be 0 or positive, got ", n);
  check_distinct(sizes(), "size");
  check_distinct(multiples(), "multiple");
  std::vector<std::string> data_paths;  // one dataset named twice, by any spelling
  for (const auto& spec : datasets()) {
    std::error_code error;
    const auto path = std::filesystem::weakly_canonical(spec.path(), error);
    data_paths.push_back(spec.path().empty() ? "Fashion-MNIST"
                                             : (error ? spec.path() : path.string()));
  }
  check_distinct(data_paths, "dataset");
  check_distinct(unlabeled(), "unlabeled pool size");
  check_distinct(ExperimentScheme::names(schemes()), "scheme");
  validate_columns(*this);
  GANAUG_CHECK((pool_gan() == PoolGan::kTeacher || gan().unlabeled_share() > 0) &&
                   gan().unlabeled_share() < 1,
               "the GAN's unlabeled share must lie in (0, 1), got ", gan().unlabeled_share());
  GANAUG_CHECK(pool_confidence() > 0 && pool_confidence() <= 1,
               "the pool confidence must lie in (0, 1], got ", pool_confidence());
  GANAUG_CHECK(pool_weight() > 0 && std::isfinite(pool_weight()),
               "the pool weight must be positive, got ", pool_weight());
  GANAUG_CHECK(seeds() >= 1, "the experiment needs at least one seed");
  GANAUG_CHECK(gan().iterations() >= 1 && reference_epochs() >= 1,
               "GAN iterations and reference epochs must be positive");
  gan().validate_settings();
  classifier().validate(detail::classifier_flag_name);
  GANAUG_CHECK(metric_samples() >= 10, "metric samples must be at least 10");
  GANAUG_CHECK(classifier().synthetic_share() > 0, "--synthetic-share must lie in (0, 1), got ",
               classifier().synthetic_share());
  GANAUG_CHECK(min_confidence() >= 0 && min_confidence() < 1,
               "the minimum confidence must lie in [0, 1), got ", min_confidence());
  GANAUG_CHECK(!(resume() && force()), "resume and force contradict each other; pick one");
  GANAUG_CHECK(num_shards() >= 1 && shard() >= 0 && shard() < num_shards(), "shard ", shard(),
               " of ", num_shards(), " does not exist: shards are numbered 0 to num_shards - 1");
  GANAUG_CHECK(test_fraction() > 0 && test_fraction() < 1,
               "the test fraction must lie strictly between 0 and 1, got ", test_fraction());
  GANAUG_CHECK(threads() >= 0 && threads() <= hardware_threads(), "--threads ", threads(),
               " is not between 0 (all) and the ", hardware_threads(),
               " CPUs this process may use");
  classic_options().validate();
  strong_view().validate();
  GANAUG_CHECK(classic_choices().size() != 1,
               "choosing the classical setting needs at least two settings to compare; give one "
               "as the classical setting instead");
  for (const auto& choice : classic_choices()) choice.validate();
  GANAUG_CHECK(classic_choices().empty() || validation_fraction() > 0,
               "choosing the classical setting scores the settings on the validation split: give "
               "a validation fraction above 0 (--validation 0.1)");
  GANAUG_CHECK(classic_choices().empty() || num_shards() == 1,
               "choosing the classical setting needs every seed of the grid in one process; choose "
               "it in a run of its own and give the chosen setting to the shards");
  // Before --force empties anything: a device typo must not cost the previous results.
  select_device(device());
}

std::vector<ClassicAugmentOptions> ExperimentOptions::supervised_candidates() {
  return {ClassicAugmentOptions(), ClassicAugmentOptions::parse("erase=0.5"),
          ClassicAugmentOptions::parse("randaugment=1")};
}

namespace {
std::vector<std::string> choice_specs(const std::vector<ClassicAugmentOptions>& choices) {
  std::vector<std::string> specs;
  for (const auto& choice : choices) specs.push_back(choice.to_string());
  return specs;
}
}  // namespace

nlohmann::json ExperimentOptions::settings() const {
  nlohmann::json out = {{"revision", kOutputRevision},
                        {"test_data", test_data()},
                        {"test_fraction", test_fraction()},
                        {"first_seed", first_seed()},
                        {"validation_fraction", validation_fraction()},
                        {"evaluate_on", to_string(evaluate_on())},
                        {"gan_iterations", gan().iterations()},
                        {"gan_mode_seeking", gan().mode_seeking()},
                        {"gan_minibatch_std", gan().minibatch_std()},
                        {"classifier_epochs", classifier().epochs()},
                        {"lr_schedule", to_string(classifier().lr_schedule())},
                        {"classifier", to_string(classifier().architecture())},
                        {"classifier_width", classifier().width()},
                        {"synthetic_share", classifier().synthetic_share()},
                        {"synthetic_weight", classifier().synthetic_weight()},
                        {"min_confidence", min_confidence()},
                        {"separate_synthetic_batches", classifier().separate_synthetic_batches()},
                        {"recalibrate_batchnorm", classifier().recalibrate_batchnorm()},
                        {"classic", classic_options().to_string()},
                        {"classic_choices", choice_specs(classic_choices())},
                        {"reference_epochs", reference_epochs()},
                        {"metric_samples", metric_samples()},
                        {"pool_gan", to_string(pool_gan())},
                        {"gan_unlabeled_share", gan().unlabeled_share()},
                        {"pool_confidence", pool_confidence()},
                        {"pool_weight", pool_weight()},
                        {"pool_threshold", classifier().pool_threshold()},
                        {"pool_ratio", classifier().pool_ratio()}};
  // The classifier's other training fields, only where a program changed them.
  auto tuning = detail::classifier_tuning(classifier());
  for (const auto* recorded :
       {"separate_synthetic_batches", "recalibrate_batchnorm", "pool_threshold", "pool_ratio"})
    tuning.erase(recorded);
  if (!tuning.empty()) out["classifier_tuning"] = tuning;
  if (classifier().custom()) {  // a user's network is known by its file's contents
    out["classifier"] = to_string(ClassifierArchitecture::kCustom);
    out["classifier_file_hash"] = detail::custom_classifier_hash(classifier());
  }
  // The GAN's other stored settings, likewise.
  const auto gan_changes =
      detail::gan_tuning(gan(), ExperimentOptions().gan(),
                         {"iterations", "mode_seeking", "minibatch_std", "unlabeled_share"});
  if (!gan_changes.empty()) out["gan_tuning"] = gan_changes;  // the batch size among them
  // Not a stored GAN setting; only when not the default, so that older grids resume as before.
  if (gan().precision() != Precision::kFloat32) out["gan_precision"] = to_string(gan().precision());
  // Only with a joint column, so that grids without one resume as before.
  // Its engine: 2, the classifier's own (flat optimizer, WeightAverage: 0.6); folders from
  // before have none (LibTorch's Adam, the GAN's warm-up average), and the two are not mixed.
  if (has_joint_column())
    out["joint"] = {{"steps", joint().iterations()},
                    {"unsupervised_weight", joint().unsupervised_weight()},
                    {"warmup_share", joint().warmup_share()},
                    {"ema_decay", joint().classifier().ema_decay()},
                    {"engine", 2}};
  // Only when used (with a pool to train on), so that joint grids from before the option still
  // resume.
  const bool any_pool =
      std::any_of(unlabeled().begin(), unlabeled().end(), [](int64_t n) { return n > 0; });
  if (has_joint_column() && joint().consistency_weight() > 0 && any_pool)
    out["joint"]["consistency_weight"] = joint().consistency_weight();
  if (has_joint_column() && joint().classifier().optimizer() != ClassifierOptimizer::kAdam)
    out["joint"]["optimizer"] = to_string(joint().classifier().optimizer());
  // Only when not the default, so that results from before the options still resume.
  if (pool_teacher() != PoolTeacher::kClassic) out["pool_teacher"] = to_string(pool_teacher());
  if (strong_view().to_string() != StrongViewOptions().to_string())
    out["strong_view"] = strong_view().to_string();
  return out;
}

}  // namespace ganaug::jobs
