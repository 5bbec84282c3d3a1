#include "ganaug/jobs/experiment.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "augment_record.hpp"
#include "classifier_flags.hpp"
#include "experiment_checks.hpp"
#include "experiment_outputs.hpp"
#include "experiment_results.hpp"
#include "ganaug/classifier.hpp"
#include "ganaug/datasets/image.hpp"
#include "ganaug/error.hpp"
#include "ganaug/file_io.hpp"
#include "ganaug/gan.hpp"
#include "ganaug/job.hpp"
#include "ganaug/metrics.hpp"
#include "ganaug/pipelines/prefetch.hpp"
#include "ganaug/runtime.hpp"
#include "ganaug/version.hpp"
#include "output_dir.hpp"
#include "timing.hpp"

namespace ganaug::jobs {

namespace fs = std::filesystem;

namespace {

using detail::Clock;
using detail::fixed;
using detail::now_utc;
using detail::seconds_since;

// A data set's name in the grid: its folder's name whole ("data.v2"), a file's without its
// extension ("manifest" for manifest.csv).
std::string dataset_label(const DatasetSpec& spec) {
  if (spec.path().empty()) return "fashion-mnist";
  fs::path p = fs::path(spec.path()).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  std::error_code error;
  return fs::is_regular_file(p, error) ? p.stem().string() : p.filename().string();
}

// Images as the PNG files users get hold them: 8-bit levels.
torch::Tensor quantize(const torch::Tensor& images) {
  return images.add(1).mul(127.5).round().div(127.5).sub(1).clamp(-1, 1);
}

// The judge's mean probability of the classes of the images it kept.
double judge_confidence(Classifier& judge, const LabeledDataset& kept, int64_t k) {
  if (kept.size() == 0) return 0;
  return predict_probabilities(judge, kept.images, k)
      .gather(1, kept.labels.to(torch::kInt64).view({-1, 1}))
      .mean()
      .item<double>();
}

// A cell's synthetic images; filtered by a judge's confidence, with how many were generated to
// find them and the judge's mean confidence in their classes (0 and null unfiltered).
struct SyntheticSet {
  LabeledDataset images;
  int64_t asked = 0, drawn = 0;  // filtered sets: the count asked for and the images drawn
  std::optional<double> confidence;
};

class Experiment {
 public:
  Experiment(const ExperimentOptions& o, const ExperimentCallbacks& c)
      : o_(o), c_(c), classic_(o.classic_options()) {}

  nlohmann::json run() {
    o_.validate();
    // What the flags and the build alone refuse, before anything is written or trained.
    check_precision(o_.gan().precision(), select_device(o_.device()));
    configure_threads(o_.threads());  // before prepare(): the record names the prefetch it implies
    prepare();
    for (size_t d = 0; d < o_.datasets().size(); ++d) run_dataset(o_.datasets()[d], d);
    write_outputs();
    return written_;
  }

 private:
  void say(const std::string& line) const {
    if (c_.on_progress) c_.on_progress(line);
  }
  bool stop_requested() const { return c_.should_stop && c_.should_stop(); }
  void check_stop() const {
    if (stop_requested())
      throw Interrupted("interrupted; the finished cells are written in " + o_.out_dir() +
                        "; rerun with --resume to run the others");
  }

  void prepare() {
    const fs::path out(o_.out_dir());
    std::vector<detail::RunInput> inputs;
    for (const auto& spec : o_.datasets()) inputs.push_back({"dataset", spec.path()});
    inputs.push_back({"test data", o_.test_data()});
    inputs.push_back({"classifier file", detail::classifier_file(o_.classifier()), true});
    lock_ =
        detail::prepare_output_dir(out, o_.resume(), o_.force(), "skip its finished cells", inputs);
    nlohmann::json header = {
        {"format", "ganaug-bench-v1"},
        {"settings", o_.settings()},
        {"grid",
         {{"datasets", dataset_labels()},
          {"sizes", o_.sizes()},
          {"schemes", ExperimentScheme::names(o_.schemes())},
          {"multiples", o_.multiples()},
          {"unlabeled", o_.unlabeled()},
          {"seeds", o_.seeds()}}},
        {"machine",
         {{"cpu", cpu_model()},
          {"hardware_threads", hardware_threads()},
          {"device", select_device(o_.device()).str()},
          {"prefetch", o_.classifier().prefetch_steps(select_device(o_.device()))},
          {"deterministic", deterministic_algorithms()}}},
        {"started", now_utc()}};
    if (o_.num_shards() > 1) header["shard"] = {{"index", o_.shard()}, {"count", o_.num_shards()}};
    results_ = detail::ResultsStore(std::move(header));
    const auto previous_path = out / "results.json";
    if (o_.resume() && fs::exists(previous_path)) {
      const auto finished = results_.resume(previous_path, out.string());
      say("resuming: " + std::to_string(finished) + " cells already finished");
    }
  }

  ClassifierOptions classifier_options(int64_t outputs, const LabeledDataset& train) const {
    return ganaug::detail::without_run(ClassifierOptions(o_.classifier()))
        .num_outputs(outputs)
        .shape(image_shape(train))
        .pool_weight(0);
  }
  // A cell's run: its seed, the grid's device and threads, and the folder of its GAN's log and
  // checkpoints when it has one.
  RunContext run(uint64_t seed, const fs::path& out_dir = {}) const {
    return RunContext()
        .seed(seed)
        .device(o_.device())
        .threads(o_.threads())
        .out_dir(out_dir.string());
  }

  // With `classic`, the real images are augmented by `setting`, by default this size's
  // classical setting.
  ClassifierHooks hooks(bool classic, const ClassicAugmentOptions* setting = nullptr) const {
    return with_prefetch(
        classic_hooks(classic ? (setting ? setting : &classic_) : nullptr, o_.strong_view()));
  }
  StageHooks stage_hooks() const {
    StageHooks stage;
    stage.should_stop = [this] { return stop_requested(); };
    stage.resume_hint = "; the finished cells are written in " + o_.out_dir() +
                        "; rerun with --resume to run the others";
    return stage;
  }

  // The classical setting of one (dataset, size): classic_options, or the best of
  // classic_choices on the validation split, each scored on every seed's labeled subset.
  ClassicAugmentOptions choose_classic(const std::string& ds, const LabeledDataset& full,
                                       const LabeledDataset& validation, int64_t size, int64_t k) {
    const auto& choices = o_.classic_choices();
    if (choices.empty()) return o_.classic_options();
    const auto group = ds + "-n" + std::to_string(size);
    double best_mean = -1;
    size_t best = 0;
    for (size_t c = 0; c < choices.size(); ++c) {
      double sum = 0;
      for (int64_t i = 0; i < o_.seeds(); ++i) {
        const uint64_t seed = o_.first_seed() + static_cast<uint64_t>(i);
        sum += classic_choice_score(ds, full, validation, size, k, seed, choices[c]);
      }
      const double mean = sum / static_cast<double>(o_.seeds());
      if (mean > best_mean) {
        best_mean = mean;
        best = c;
      }
    }
    results_.set_classic_chosen(group,
                                {ds, size, choices[best].to_string(), best_mean, o_.seeds()});
    say(group + ": classical setting chosen on the validation split: " + choices[best].to_string() +
        " (" + fixed(100 * best_mean, 2) + "%)");
    write_outputs();
    return choices[best];
  }

  // One classical setting's validation accuracy on one seed's labeled subset: recorded, or
  // trained now and recorded.
  double classic_choice_score(const std::string& ds, const LabeledDataset& full,
                              const LabeledDataset& validation, int64_t size, int64_t k,
                              uint64_t seed, const ClassicAugmentOptions& setting) {
    const auto spec = setting.to_string();
    const auto key = ds + "|" + std::to_string(size) + "|" + std::to_string(seed) + "|" + spec;
    if (const auto* found = results_.classic_choice_cell(key)) return found->accuracy;
    check_stop();
    const auto start = Clock::now();
    const auto train = subset_per_class(full, size, seed);
    auto model = fit(seed, train, nullptr, classifier_options(k, train), true, &setting);
    const double accuracy = evaluate(model, validation).accuracy;
    const double seconds = seconds_since(start);
    results_.add_classic_choice_cell({key, ds, size, seed, spec, accuracy, seconds});
    say(ds + "-n" + std::to_string(size) + "-seed" + std::to_string(seed) + " classic " + spec +
        ": " + fixed(100 * accuracy, 2) + "% on the validation split (" + fixed(seconds, 0) +
        " s)");
    write_outputs();
    return accuracy;
  }

  Classifier fit(uint64_t seed, const LabeledDataset& real, const LabeledDataset* synthetic,
                 const ClassifierOptions& options, bool classic,
                 const ClassicAugmentOptions* setting = nullptr) const {
    return train_stage_classifier(run(seed), "training the classifier", real, synthetic, options,
                                  hooks(classic, setting), stage_hooks());
  }
  // fit() of a cell trained on a pool whose true classes are `truth`: each epoch's share of pool
  // images over the threshold and the accuracy of their targets go to `trace`.
  Classifier fit_traced(uint64_t seed, const LabeledDataset& real, const LabeledDataset* synthetic,
                        const ClassifierOptions& options, bool classic, const torch::Tensor& truth,
                        nlohmann::json& trace) const {
    auto traced = hooks(classic);
    traced.pool_truth = truth;
    trace = {{"threshold_share", nlohmann::json::array()},
             {"label_accuracy", nlohmann::json::array()}};
    traced.on_epoch = [&trace](const ClassifierProgress& p) {
      trace["threshold_share"].push_back(p.pool_confident);
      trace["label_accuracy"].push_back(p.pool_accuracy ? nlohmann::json(*p.pool_accuracy)
                                                        : nlohmann::json());
    };
    return train_stage_classifier(run(seed), "training the classifier", real, synthetic, options,
                                  traced, stage_hooks());
  }

  // The network of `ds`'s classifiers and its width, after checking that the finished results
  // of `ds` (its reference classifier and cells, from an earlier run in this folder) were made
  // with them.
  nlohmann::json check_network(const std::string& ds, int64_t channels) const {
    const auto options = ClassifierOptions(2, 28, channels)
                             .architecture(o_.classifier().architecture())
                             .custom(o_.classifier().custom())
                             .width(o_.classifier().width());
    const nlohmann::json network = {{"network", to_string(options.network())},
                                    {"width", options.network_width()}};
    if (const auto* reference = results_.reference(ds)) {
      // Results from before these were recorded were made with the defaults of then.
      const nlohmann::json was = {
          {"network", reference->network.value_or(channels == 3 ? "resnet" : "cnn")},
          {"width", reference->width.value_or(32)}};
      const auto describe = [](const nlohmann::json& n) {
        return n["network"].get<std::string>() + " at width " + n["width"].dump();
      };
      GANAUG_CHECK(was == network, "the results of ", ds, " in ", o_.out_dir(),
                   " were made with the classifier network ", describe(was),
                   reference->network ? ""
                                      : " (results from before ganaug 0.3 do not "
                                        "record it: cnn for gray images, resnet for "
                                        "color, width 32)",
                   " and this run's is ", describe(network), "; resume with --classifier ",
                   was["network"].get<std::string>(), " --classifier-width ", was["width"].dump(),
                   ", or use --force or another --out");
    }
    return network;
  }

  // Reads a saved reference classifier: a classifier file (save_classifier), or a plain
  // LibTorch archive as ganaug 0.3 and earlier saved it (no checksum; torch::load replaces a
  // parameter of another shape rather than refusing it, so the shapes are compared).
  static void load_reference(Classifier& model, const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::string magic(4, '\0');
    in.read(magic.data(), 4);
    std::string problem;
    if (magic != std::string("PK\x03\x04")) {
      try {
        load_classifier(model, path.string());
      } catch (const Error& e) {
        problem = e.what();
      }
    } else {
      problem = load_legacy_reference(model, path);
    }
    GANAUG_CHECK(problem.empty(), "the reference classifier ", path.string(),
                 " cannot be read into a ", to_string(model->options.architecture()),
                 " network at width ", model->options.width(), " (", problem,
                 "); delete it to train it again");
  }
  static std::string load_legacy_reference(Classifier& model, const fs::path& path) {
    const auto shapes = [&model] {
      std::vector<std::pair<std::string, std::vector<int64_t>>> out;
      for (const auto& t : model->named_parameters()) out.emplace_back(t.key(), t->sizes().vec());
      for (const auto& t : model->named_buffers()) out.emplace_back(t.key(), t->sizes().vec());
      return out;
    };
    const auto built = shapes();
    std::string problem;
    try {
      torch::load(model, path.string());
      const auto read = shapes();
      for (size_t i = 0; i < built.size() && problem.empty(); ++i)
        if (read[i] != built[i]) problem = built[i].first + " has another shape";
    } catch (const c10::Error& e) {
      problem = e.what_without_backtrace();
    }
    return problem;
  }

  // The reference classifier of a dataset, trained on all its training images (cached).
  Classifier reference_classifier(const std::string& ds, const LabeledDataset& full,
                                  const LabeledDataset& test) {
    const fs::path path = fs::path(o_.out_dir()) / ("reference-" + ds + ".pt");
    auto options = classifier_options(full.num_classes(), full).epochs(o_.reference_epochs());
    Classifier model(options);
    if (fs::exists(path)) {
      // Saved by an earlier run in this folder with the same settings (resume checks them).
      load_reference(model, path);
      model->to(select_device(o_.device()));
      model->eval();
      if (!results_.reference(ds)) {
        auto& reference = results_.reference_to_fill(ds);
        reference.accuracy = evaluate(model, test).accuracy;
        reference.epochs = o_.reference_epochs();
        reference.images = full.size();
      }
      return model;
    }
    say(ds + ": training the reference classifier on all " + std::to_string(full.size()) +
        " training images (" + std::to_string(o_.reference_epochs()) + " epochs)");
    const auto start = Clock::now();
    model = fit(o_.first_seed(), full, nullptr, options, false);
    const double accuracy = evaluate(model, test).accuracy;
    save_classifier(model, path.string());
    auto& reference = results_.reference_to_fill(ds);
    reference = detail::ReferenceResult();
    reference.accuracy = accuracy;
    reference.epochs = o_.reference_epochs();
    reference.images = full.size();
    reference.seconds = seconds_since(start);
    say(ds + ": reference classifier test accuracy " + fixed(100 * accuracy, 2) + "%");
    return model;
  }

  // Each dataset's name in keys, files and reports: its folder's or file's name; a later one
  // whose name an earlier one has is numbered (data, data-2, ...).
  std::vector<std::string> dataset_labels() const {
    std::vector<std::string> labels;
    for (const auto& spec : o_.datasets()) {
      const auto base = dataset_label(spec);
      auto label = base;
      for (int n = 2; std::find(labels.begin(), labels.end(), label) != labels.end(); ++n)
        label = base + "-" + std::to_string(n);
      labels.push_back(label);
    }
    return labels;
  }

  // Refuses to continue results of `ds` made with other data than this run's (another folder
  // of the same name, or changed files): the hashes of its training and scoring sets.
  void check_same_data(const std::string& ds, const std::string& path, const std::string& train,
                       const std::string& test) const {
    const auto* reference = results_.reference(ds);
    if (reference == nullptr) return;
    const auto differs = [&](const std::optional<std::string>& was, const std::string& now,
                             const char* what) {
      GANAUG_CHECK(!was || *was == now, "the results of ", ds, " in ", o_.out_dir(),
                   " were made with other ", what, " (hash ", *was, ") than this run's ",
                   path.empty() ? "Fashion-MNIST" : path, " (hash ", now,
                   "): use --force or another --out");
    };
    differs(reference->train_hash, train, "training data");
    differs(reference->test_hash, test, "scoring data");
  }

  // Units of the grid: (dataset, size, seed) in run order; shard K of S runs units K, K+S, ...
  int64_t unit(size_t dataset, size_t size_index, int64_t seed_index) const {
    return (static_cast<int64_t>(dataset) * static_cast<int64_t>(o_.sizes().size()) +
            static_cast<int64_t>(size_index)) *
               o_.seeds() +
           seed_index;
  }
  bool mine(int64_t unit) const { return unit % o_.num_shards() == o_.shard(); }

  void run_dataset(DatasetSpec spec, size_t d) {
    bool any = false;
    for (size_t s = 0; s < o_.sizes().size(); ++s)
      for (int64_t i = 0; i < o_.seeds(); ++i) any = any || mine(unit(d, s, i));
    if (!any) return;  // another shard's dataset: no reference classifier to train here
    spec.threads(o_.threads()).seed(o_.first_seed()).per_class(0);
    const auto ds = dataset_labels()[d];
    say(ds + ": loading");
    auto data = load_train_test(spec, o_.test_data(), o_.test_fraction());
    LabeledDataset validation_set;
    if (o_.validation_fraction() > 0) {
      const uint64_t split_seed = mix_seed(o_.first_seed(), streams::kValidationSplit);
      auto [rest, validation] = split_train_test(data.train, o_.validation_fraction(), split_seed);
      say(ds + ": " + std::to_string(validation.size()) +
          " training images held out for validation; cells are scored on the " +
          to_string(o_.evaluate_on()) + " set");
      data.train = std::move(rest);
      validation_set = validation;
      if (o_.evaluate_on() == EvaluateOn::kValidation) {
        data.test = std::move(validation);
        data.test_description = {
            {"source", "validation split held out from the training data (not the test set)"},
            {"split", {{"fraction", o_.validation_fraction()}, {"seed", split_seed}}}};
      }
    }
    configure_threads(o_.threads());
    const auto& full = data.train;
    const auto& test = data.test;
    const int64_t k = full.num_classes();
    const auto cells = detail::unit_cells(o_.schemes(), o_.multiples(), o_.unlabeled());
    detail::check_grid_fits(o_, ds, full, test, cells);
    const auto train_hash = detail::data_identity(full)["hash"].get<std::string>();
    const auto test_hash = detail::data_identity(test)["hash"].get<std::string>();
    check_same_data(ds, spec.path(), train_hash, test_hash);
    const auto network = check_network(ds, full.channels());
    auto reference = reference_classifier(ds, full, test);
    auto& record = results_.reference_to_fill(ds);
    record.network = network["network"].get<std::string>();
    record.width = network["width"].get<int64_t>();
    record.train_hash = train_hash;
    record.test_hash = test_hash;
    record.test = data.test_description;
    record.test["images"] = test.size();

    // The real-vs-real floor of the Fréchet classifier distance at this sample count.
    const int64_t m = std::min({o_.metric_samples(), test.size(), full.size()});
    auto pick = [&](int64_t n, int64_t count, uint64_t stream) {
      auto rng = make_cpu_generator(mix_seed(o_.first_seed(), stream));
      return torch::randperm(n, rng, torch::TensorOptions().dtype(torch::kInt64))
          .slice(0, 0, count);
    };
    const auto test_features = classifier_features(
        reference, test.images.index_select(0, pick(test.size(), m, streams::kFcdTestImages)));
    const auto train_features = classifier_features(
        reference, full.images.index_select(0, pick(full.size(), m, streams::kFcdTrainImages)));
    record.fcd_real_vs_real = frechet_distance(train_features, test_features);
    record.fcd_samples = m;

    for (size_t s = 0; s < o_.sizes().size(); ++s) {
      classic_ = choose_classic(ds, full, validation_set, o_.sizes()[s], k);
      for (int64_t i = 0; i < o_.seeds(); ++i) {
        if (!mine(unit(d, s, i))) continue;
        const uint64_t seed = o_.first_seed() + static_cast<uint64_t>(i);
        run_group(ds, full, test, reference, test_features, cells, o_.sizes()[s], seed, k);
      }
    }
  }

  // What one (dataset, size, seed) shares between its cells: the labeled subset, its pools,
  // the teacher that labels them, the generators (one per pool size), the "none" classifier
  // (the argmax labeller) and the synthetic sets.
  struct Group {
    std::string ds, name;
    const LabeledDataset* full = nullptr;
    const LabeledDataset* test = nullptr;
    Classifier* reference = nullptr;
    const torch::Tensor* test_features = nullptr;
    int64_t size = 0, k = 0;
    uint64_t seed = 0;
    LabeledDataset train;
    std::map<int64_t, LabeledDataset> pools;
    std::map<int64_t, torch::Tensor> pool_truths;  // the pools' classes, for measurement only
    Classifier teacher{nullptr};
    double teacher_seconds = 0;  // its training time, counted in the `classic` cell reusing it
    // Per pool size, with pool_teacher kPseudo: the "classic+pseudo" classifier, its training
    // time and pool trace (the cell of that column reuses all three).
    struct PseudoTeacher {
      Classifier model{nullptr};
      double seconds = 0;
      nlohmann::json trace;
      bool trained_now = false;  // in this process, rather than read back from its file
    };
    std::map<int64_t, PseudoTeacher> pseudo_teachers;
    std::map<int64_t, PoolLabels> pool_labels;  // the teacher's verdict on each pool
    std::map<int64_t, Generator> generators;
    Classifier real_only{nullptr};
    // Unfiltered sets are shared by the schemes; filtered ones depend on the scheme.
    std::map<std::tuple<int64_t, double, std::string>, SyntheticSet> synthetic_sets;

    std::string generator_key(int64_t pool) const {
      return name + (pool > 0 ? "-u" + std::to_string(pool) : "");
    }
    std::string cell_key(const detail::CellSpec& c) const {
      return detail::cell_key(ds, size, seed, c.scheme.name(), c.multiple, c.pool);
    }
    const LabeledDataset& pool(int64_t n) {
      auto& pool = pools[n];
      if (!pool.images.defined())
        pool = unlabeled_pool(*full, size, seed, n, mix_seed(seed, streams::kUnlabeledPool),
                              &pool_truths[n]);
      return pool;
    }
  };

  // Every cell of one (dataset, size, seed): one labeled subset; one generator per pool size.
  void run_group(const std::string& ds, const LabeledDataset& full, const LabeledDataset& test,
                 Classifier& reference, const torch::Tensor& test_features,
                 const std::vector<detail::CellSpec>& cells, int64_t size, uint64_t seed,
                 int64_t k) {
    Group g;
    g.ds = ds;
    g.name = ds + "-n" + std::to_string(size) + "-seed" + std::to_string(seed);
    g.full = &full;
    g.test = &test;
    g.reference = &reference;
    g.test_features = &test_features;
    g.size = size;
    g.k = k;
    g.seed = seed;
    g.train = subset_per_class(full, size, seed);

    // Which cells and generators are still to make.
    std::vector<detail::CellSpec> todo;
    std::set<int64_t> generators_needed;
    for (const auto& c : cells) {
      if (c.scheme.synthetic && results_.generator(g.generator_key(c.pool)) == nullptr)
        generators_needed.insert(c.pool);
      if (!results_.has_cell(g.cell_key(c))) {
        todo.push_back(c);
        if (c.scheme.synthetic) generators_needed.insert(c.pool);
      }
    }
    for (int64_t pool : generators_needed) make_generator(g, pool);
    for (const auto& cell : todo) run_cell(g, cell);
  }

  // The "classic+pseudo" classifier of a pool: trained on the labeled images and the pool by
  // consistency, its pool traced (the pool's true classes are known here).
  Classifier fit_pseudo(Group& g, int64_t pool, const LabeledDataset* synthetic,
                        const ClassifierOptions& options, bool classic, nlohmann::json* trace) {
    const auto real = concatenate({g.train, g.pool(pool)});  // draws the pool and its truth
    return fit_traced(g.seed, real, synthetic,
                      ClassifierOptions(options).pool_weight(o_.pool_weight()), classic,
                      g.pool_truths.at(pool), *trace);
  }

  // The "classic+pseudo" classifier of a pool as the pool teacher: trained once, kept in
  // generators/<group>-u<pool>/teacher.pt with its time and trace (teacher.json), read back by a
  // resumed grid.
  Classifier pseudo_teacher(Group& g, int64_t pool) {
    auto& t = g.pseudo_teachers[pool];
    if (t.model) return t.model;
    const auto dir = fs::path(o_.out_dir()) / "generators" / g.generator_key(pool);
    const auto options = classifier_options(g.k, g.train);
    if (fs::exists(dir / "teacher.pt") && fs::exists(dir / "teacher.json")) {
      std::ifstream in(dir / "teacher.json");
      const auto record = nlohmann::json::parse(in, nullptr, false);
      if (!record.is_discarded() && record.contains("trace")) {
        t.model = Classifier(ClassifierOptions(options).pool_weight(o_.pool_weight()));
        load_classifier(t.model, (dir / "teacher.pt").string());
        t.seconds = record.value("seconds", 0.0);
        t.trace = record["trace"];
        return t.model;
      }
    }
    check_stop();
    say(g.name + ": training the pool teacher (classic+pseudo, pool " + std::to_string(pool) + ")");
    const auto start = Clock::now();
    t.model = fit_pseudo(g, pool, nullptr, options, true, &t.trace);
    t.seconds = seconds_since(start);
    t.trained_now = true;
    fs::create_directories(dir);
    save_classifier(t.model, (dir / "teacher.pt").string());
    write_text_atomic(dir / "teacher.json",
                      nlohmann::json{{"seconds", t.seconds}, {"trace", t.trace}}.dump(1) + "\n");
    return t.model;
  }

  // The teacher's confident classes of a pool's images, labeled once per pool: the teacher is
  // the group's "classic" classifier, or with pool_teacher kPseudo its "classic+pseudo" one.
  const PoolLabels& pool_labels(Group& g, int64_t pool) {
    auto found = g.pool_labels.find(pool);
    if (found != g.pool_labels.end()) return found->second;
    Classifier teacher{nullptr};
    if (o_.pool_teacher() == PoolTeacher::kPseudo) {
      teacher = pseudo_teacher(g, pool);
    } else {
      if (!g.teacher) {
        const auto start = Clock::now();
        g.teacher = fit(g.seed, g.train, nullptr, classifier_options(g.k, g.train), true);
        g.teacher_seconds = seconds_since(start);
      }
      teacher = g.teacher;
    }
    return g.pool_labels[pool] =
               label_pool(teacher, g.pool(pool).images, g.k, o_.pool_confidence());
  }

  // The GAN's data for a pool size: the labeled images and the pool as pool_gan says, with the
  // labels of the group's pool teacher.
  LabeledDataset gan_data(Group& g, int64_t pool, nlohmann::json* record) {
    if (pool == 0) return g.train;
    const auto& unlabeled = g.pool(pool);
    const auto mode = o_.pool_gan();
    PoolLabels labels;
    if (mode != PoolGan::kUnconditional) labels = pool_labels(g, pool);
    *record = {{"images", pool}, {"kept", labels.kept()}, {"gan", to_string(o_.pool_gan())}};
    if (mode != PoolGan::kUnconditional) {
      (*record)["teacher"] = to_string(o_.pool_teacher());
      (*record)["class_counts"] = confident_pool(unlabeled, labels).class_counts();
      (*record)["kept_label_accuracy"] = kept_label_accuracy(labels, g.pool_truths.at(pool));
    }
    return gan_training_data(g.train, unlabeled, labels, mode);
  }

  // The share of the confident pool labels that are the images' true classes (null when none
  // is confident): measurement only.
  static nlohmann::json kept_label_accuracy(const PoolLabels& labels, const torch::Tensor& truth) {
    if (labels.kept() == 0) return nullptr;
    return (labels.predicted == truth)
        .masked_select(labels.confident)
        .to(torch::kFloat64)
        .mean()
        .item<double>();
  }

  void make_generator(Group& g, int64_t pool) {
    const auto key = g.generator_key(pool);
    const fs::path dir = fs::path(o_.out_dir()) / "generators" / key;
    nlohmann::json pool_record;
    const auto data = gan_data(g, pool, &pool_record);
    const auto trained = obtain_generator(data, dir, g.seed, key);
    g.generators.emplace(pool, trained.generator);
    if (results_.generator(key) == nullptr) measure_generator(g, trained, dir, key, pool_record);
  }

  // The classifier that judges a cell's generated images (the argmax scheme's labels, the
  // confidence filter): with pool_teacher kPseudo and a pool, the pool teacher (dual pseudo
  // training's labeller); else the "none" classifier, trained on the labeled images alone.
  Classifier judge(Group& g, const detail::CellSpec& cell) {
    if (cell.pool > 0 && o_.pool_teacher() == PoolTeacher::kPseudo)
      return pseudo_teacher(g, cell.pool);
    if (!g.real_only)
      g.real_only = fit(g.seed, g.train, nullptr, classifier_options(g.k, g.train), false);
    return g.real_only;
  }

  // Unfiltered synthetic sets are shared by the schemes; filtered ones depend on the scheme.
  std::tuple<int64_t, double, std::string> synthetic_key(const detail::CellSpec& cell,
                                                         Scheme labels) const {
    const bool filtered = o_.min_confidence() > 0 && filters_by_confidence(labels);
    return {cell.pool, cell.multiple, filtered ? to_string(labels) : std::string()};
  }
  // The synthetic images of a cell, drawn once per (pool, multiple) and, when filtered by the
  // judge's confidence, per scheme.
  const SyntheticSet& synthetic_images(Group& g, const detail::CellSpec& cell, Scheme labels) {
    auto& set = g.synthetic_sets[synthetic_key(cell, labels)];
    if (set.images.images.defined()) return set;
    const bool filtered = o_.min_confidence() > 0 && filters_by_confidence(labels);
    const int64_t n = std::max<int64_t>(1, std::llround(cell.multiple * g.train.size()));
    ImageFilter keep;
    Classifier judged{nullptr};
    if (filtered) {
      judged = judge(g, cell);
      keep = [&](const torch::Tensor& candidates, const torch::Tensor& classes) {
        return confident_mask(labels, classes,
                              predict_probabilities(judged, quantize(candidates), g.k),
                              o_.min_confidence());
      };
    }
    auto accepted = generate_accepted(g.generators.at(cell.pool), n,
                                      mix_seed(g.seed, streams::kBenchSynthetic), keep);
    auto& images = set.images;
    images.images = quantize(accepted.images);
    images.labels = accepted.classes;
    images.class_names = g.train.class_names;
    images.source = "generator " + g.generator_key(cell.pool);
    if (filtered) {
      set.asked = n;
      set.drawn = accepted.drawn;
      set.confidence = judge_confidence(judged, images, g.k);
    }
    return set;
  }

  // A joint column's classifier, trained with a GAN of its own on the labeled images and the
  // cell's pool (generators/<cell>/: checkpoint, log and samples; an interrupted one resumes).
  Classifier train_joint_cell(Group& g, const detail::CellSpec& cell) {
    const auto& j = o_.joint();
    const auto& c = o_.classifier();
    const auto dir = fs::path(o_.out_dir()) / "generators" /
                     (g.generator_key(cell.pool) + "-" + cell.scheme.name());
    const auto options =
        joint_stage_options(JointOptions(j).form(*cell.scheme.joint), c, o_.gan(), g.train);
    JointStage stage;
    if (fs::exists(dir / "checkpoint.pt")) stage.resume_from = (dir / "checkpoint.pt").string();
    stage.views = hooks(cell.scheme.classic);
    stage.hooks = stage_hooks();
    auto trained =
        train_joint(run(g.seed, dir), g.train, cell.pool > 0 ? &g.pool(cell.pool) : nullptr,
                    options, g.train.class_names, stage);
    save_labeled_grid(dir / "samples.png",
                      generate(trained.generator, sample_grid_classes(g.k),
                               mix_seed(g.seed, streams::kBenchSampleGrid)),
                      g.train.class_names);
    return trained.classifier;
  }

  // One cell's classifier; `out` gets the synthetic images it trained on (and, filtered, how
  // many were drawn to find them), its pool's trace, and as `seconds` the training time of a
  // classifier it reuses.
  Classifier train_cell(Group& g, const detail::CellSpec& cell, detail::CellResult* out) {
    auto* const pool_trace = &out->pool;
    const auto& scheme = cell.scheme;
    // The pseudo columns train on the labeled images and the pool (labeled -1); what the pool's
    // targets do, epoch by epoch, goes to `pool_trace` (its true classes are known here).
    const auto options = [&](int64_t outputs) { return classifier_options(outputs, g.train); };
    const auto fit_cell = [&](const LabeledDataset* synthetic, const ClassifierOptions& o) {
      if (!scheme.pseudo) return fit(g.seed, g.train, synthetic, o, scheme.classic);
      return fit_pseudo(g, cell.pool, synthetic, o, scheme.classic, pool_trace);
    };
    if (scheme.joint) return train_joint_cell(g, cell);
    const bool real_only = !scheme.synthetic && !scheme.self_training;
    if (real_only && scheme.classic && !scheme.pseudo && g.teacher) {
      out->seconds = g.teacher_seconds;
      return g.teacher;  // the same classifier, trained to label the pool
    }
    if (real_only && scheme.classic && scheme.pseudo && o_.pool_teacher() == PoolTeacher::kPseudo) {
      // Likewise the pool teacher of dual pseudo training: trained here if not yet (its time
      // is then this cell's own), else reused or read back from its file.
      const auto known = g.pseudo_teachers.find(cell.pool);
      const bool earlier = known != g.pseudo_teachers.end() && known->second.model;
      auto model = pseudo_teacher(g, cell.pool);
      const auto& t = g.pseudo_teachers.at(cell.pool);
      out->seconds = !earlier && t.trained_now ? 0.0 : t.seconds;
      *pool_trace = t.trace;
      return model;
    }
    if (scheme.self_training) {
      // The teacher's confident pool images with its class, where a GAN's images would go.
      auto labeled = confident_pool(g.pool(cell.pool), pool_labels(g, cell.pool));
      labeled.targets = scheme_targets(Scheme::kCond, labeled.labels, g.k, {});
      labeled.source = "the pool teacher's confident images";
      out->synthetic_images = labeled.size();
      return fit_cell(labeled.size() > 0 ? &labeled : nullptr, options(g.k));
    }
    if (!scheme.synthetic) {
      auto model = fit_cell(nullptr, options(g.k));
      if (!scheme.classic && !scheme.pseudo) g.real_only = model;
      if (scheme.classic && !scheme.pseudo && !g.teacher) g.teacher = model;
      return model;
    }
    const Scheme labels = *scheme.synthetic;
    const auto& set = synthetic_images(g, cell, labels);
    out->synthetic_asked = set.asked;
    out->synthetic_drawn = set.drawn;
    out->synthetic_confidence = set.confidence;
    LabeledDataset synthetic = set.images;
    torch::Tensor probabilities;
    if (labels == Scheme::kArgmax) {
      auto labeller = judge(g, cell);
      probabilities = predict_probabilities(labeller, synthetic.images, g.k);
    }
    synthetic.targets = scheme_targets(labels, synthetic.labels, g.k, probabilities);
    out->synthetic_images = synthetic.size();
    return fit_cell(&synthetic, options(target_width(labels, g.k)).dynamic_argmax(scheme.dynamic));
  }

  void run_cell(Group& g, const detail::CellSpec& cell) {
    check_stop();
    const auto start = Clock::now();
    detail::CellResult result;
    auto model = train_cell(g, cell, &result);
    const auto metrics = evaluate(model, *g.test);
    const double seconds = seconds_since(start) + result.seconds;
    const auto& scheme = cell.scheme;
    result.key = g.cell_key(cell);
    result.dataset = g.ds;
    result.size = g.size;
    result.seed = g.seed;
    result.scheme = scheme.name();
    result.multiple = cell.multiple;
    result.unlabeled = cell.pool;
    result.accuracy = metrics.accuracy;
    result.macro_f1 = metrics.macro_f1;
    result.seconds = seconds;
    if (scheme.classic) result.classic = classic_.to_string();
    results_.add_cell(std::move(result));
    say(g.name + " " + scheme.name() + (cell.multiple > 0 ? " x" + fixed(cell.multiple, 1) : "") +
        (cell.pool > 0 ? " pool " + std::to_string(cell.pool) : "") + ": " +
        fixed(100 * metrics.accuracy, 2) + "% (" + fixed(seconds, 0) + " s)");
    write_outputs();
  }

  // The generator of `dir`: reused when its checkpoint is complete and was trained as this run
  // would train it (the record written beside it before training names the data, seed and
  // settings), resumed when incomplete; a checkpoint of another training is refused, naming why.
  TrainedGan obtain_generator(const LabeledDataset& train, const fs::path& dir, uint64_t seed,
                              const std::string& group) {
    const auto checkpoint = dir / "checkpoint.pt";
    // Images labeled -1 (pool images without the teacher's class) train by the unconditional
    // term.
    const bool has_unlabeled = (train.labels < 0).any().item<bool>();
    const auto options = ganaug::detail::without_run(GanOptions(o_.gan()))
                             .num_classes(train.num_classes())
                             .shape(image_shape(train))
                             .unlabeled_share(has_unlabeled ? o_.gan().unlabeled_share() : 0.0);
    const auto gan_run = run(seed, dir);
    const auto facts = gan_training_facts(gan_run, train, options);
    GanStage stage;
    if (fs::exists(checkpoint)) {
      auto loaded = load_generator(checkpoint.string(), o_.device());
      detail::check_generator_continues(dir, loaded, o_.gan().iterations(), facts, train);
      if (loaded.iteration == o_.gan().iterations()) {
        TrainedGan reused;
        reused.generator = loaded.generator;
        reused.iterations = loaded.iteration;
        return reused;
      }
      stage.resume_from = checkpoint.string();
    }
    check_stop();
    detail::write_generator_record(dir, facts);
    say(group + ": training the GAN (" + std::to_string(o_.gan().iterations()) + " iterations)");
    stage.hooks = stage_hooks();
    return train_gan(gan_run, train, options, train.class_names, stage);
  }

  void measure_generator(Group& g, const TrainedGan& trained, const fs::path& dir,
                         const std::string& key, const nlohmann::json& pool_record) {
    auto generator = trained.generator;
    const int64_t k = g.k;
    save_labeled_grid(
        dir / "samples.png",
        generate(generator, sample_grid_classes(k), mix_seed(g.seed, streams::kBenchSampleGrid)),
        g.train.class_names);
    // Fréchet classifier distance and class faithfulness on balanced samples.
    const int64_t m = g.test_features->size(0);
    const auto classes = balanced_classes(0, m, k);
    const auto samples =
        quantize(generate(generator, classes, mix_seed(g.seed, streams::kBenchFcdSamples)));
    const double fcd =
        frechet_distance(classifier_features(*g.reference, samples), *g.test_features);
    const auto judged = predict_probabilities(*g.reference, samples, k).argmax(1);
    const double faithful = judged.eq(classes).to(torch::kFloat64).mean().item<double>();
    // Diversity: the samples' within-class spread over the real test images'.
    const double diversity =
        within_class_spread(samples, classes) / within_class_spread(g.test->images, g.test->labels);
    // Classification accuracy score: a classifier trained on as many synthetic images as there
    // are labeled real ones (their conditioned classes as labels), tested on real images.
    check_stop();
    LabeledDataset synthetic;
    synthetic.labels = balanced_classes(0, g.train.size(), k);
    synthetic.images =
        quantize(generate(generator, synthetic.labels, mix_seed(g.seed, streams::kBenchCas)));
    synthetic.class_names = g.train.class_names;
    synthetic.source = "generator " + key;
    auto cas_model = fit(g.seed, synthetic, nullptr, classifier_options(k, g.train), false);
    const double cas = evaluate(cas_model, *g.test).accuracy;
    detail::GeneratorResult result;
    result.key = key;
    result.dataset = g.ds;
    result.size = g.size;
    result.seed = g.seed;
    result.iterations = o_.gan().iterations();
    result.gan_seconds = trained.seconds;
    result.gan_images_per_s = trained.images_per_second;
    result.fcd = fcd;
    result.fcd_samples = m;
    result.class_faithfulness = faithful;
    result.diversity = diversity;
    result.cas = cas;
    result.cas_images = synthetic.size();
    result.samples = fs::relative(dir / "samples.png", o_.out_dir()).string();
    result.unlabeled = pool_record;
    results_.add_generator(std::move(result));
    say(key + ": FCD " + fixed(fcd, 2) + ", class faithfulness " + fixed(100 * faithful, 1) +
        "%, diversity " + fixed(diversity, 2) + ", CAS " + fixed(100 * cas, 2) + "%");
    write_outputs();
  }

  void write_outputs() {
    auto results = results_.to_json();
    detail::write_experiment_outputs(o_.out_dir(), results);
    written_ = std::move(results);
  }

  ExperimentOptions o_;
  ExperimentCallbacks c_;
  detail::ResultsStore results_{nlohmann::json::object()};
  detail::OutputLock lock_;        // the output folder, held from prepare() to the end of the run
  nlohmann::json written_;         // results.json as last written
  ClassicAugmentOptions classic_;  // the classical setting of the size being run
};

}  // namespace

nlohmann::json run_experiment(const ExperimentOptions& options,
                              const ExperimentCallbacks& callbacks) {
  return Experiment(options, callbacks).run();
}

}  // namespace ganaug::jobs
