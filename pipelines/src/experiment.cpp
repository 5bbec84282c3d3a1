#include "ganaug/pipelines/experiment.hpp"

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

#include "experiment_outputs.hpp"
#include "ganaug/classifier.hpp"
#include "ganaug/datasets/image.hpp"
#include "ganaug/error.hpp"
#include "ganaug/gan.hpp"
#include "ganaug/metrics.hpp"
#include "ganaug/runtime.hpp"
#include "ganaug/version.hpp"
#include "output_dir.hpp"

namespace ganaug {

namespace fs = std::filesystem;

namespace {

using detail::fixed;
using detail::now_utc;
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string dataset_label(const DatasetSpec& spec) {
  if (spec.path().empty()) return "fashion-mnist";
  fs::path p = fs::path(spec.path()).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.has_extension() ? p.stem().string() : p.filename().string();
}

// Images as the PNG files users get hold them: 8-bit levels.
torch::Tensor quantize(const torch::Tensor& images) {
  return images.add(1).mul(127.5).round().div(127.5).sub(1).clamp(-1, 1);
}

class Experiment {
 public:
  Experiment(const ExperimentOptions& o, const ExperimentCallbacks& c)
      : o_(o), c_(c), classic_(o.classic_options()) {}

  nlohmann::json run() {
    o_.validate();
    prepare();
    configure_threads(o_.threads());
    for (size_t d = 0; d < o_.datasets().size(); ++d) run_dataset(o_.datasets()[d], d);
    write_outputs();
    return results_;
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
    detail::prepare_output_dir(out, o_.resume(), o_.force(), "skip its finished cells", inputs);
    results_ = {{"format", "ganaug-bench-v1"},
                {"settings", o_.settings()},
                {"grid",
                 {{"datasets", dataset_labels()},
                  {"sizes", o_.sizes()},
                  {"schemes", o_.schemes()},
                  {"multiples", o_.multiples()},
                  {"unlabeled", o_.unlabeled()},
                  {"seeds", o_.seeds()}}},
                {"machine",
                 {{"cpu", cpu_model()},
                  {"hardware_threads", hardware_threads()},
                  {"device", select_device(o_.device()).str()},
                  {"deterministic", deterministic_algorithms()}}},
                {"started", now_utc()},
                {"references", nlohmann::json::object()},
                {"generators", nlohmann::json::array()},
                {"cells", nlohmann::json::array()}};
    if (o_.num_shards() > 1)
      results_["shard"] = {{"index", o_.shard()}, {"count", o_.num_shards()}};
    const auto previous_path = out / "results.json";
    if (o_.resume() && fs::exists(previous_path)) {
      nlohmann::json previous;
      try {
        std::ifstream in(previous_path);
        previous = nlohmann::json::parse(in);
      } catch (const std::exception& e) {
        GANAUG_FAIL(previous_path.string(), " cannot be read (", e.what(),
                    "); use --force to start over");
      }
      GANAUG_CHECK(previous.value("format", "") == "ganaug-bench-v1", previous_path.string(),
                   " is not an augment-bench results file; use another --out");
      // Settings recorded since; results from before had their neutral value.
      if (!previous["settings"].contains("min_confidence"))
        previous["settings"]["min_confidence"] = 0.0;
      if (!previous["settings"].contains("classic_choices"))
        previous["settings"]["classic_choices"] = nlohmann::json::array();
      // (The classifier's network is checked per dataset: see check_network.)
      for (const auto& key :
           {"pool_confidence", "pool_weight", "pool_threshold", "pool_ratio", "pool_gan",
            "gan_unlabeled_share", "classifier", "classifier_width"}) {
        if (!previous["settings"].contains(key))
          previous["settings"][key] = results_["settings"][key];
      }
      if (previous["settings"] != results_["settings"]) {
        GANAUG_FAIL("the results in ", out.string(), " were made with other settings (",
                    previous["settings"].dump(),
                    "); resume with the same settings, or use "
                    "--force or another --out");
      }
      const auto shard_text = [](const nlohmann::json& r) {
        return r.contains("shard") ? "shard " + r["shard"]["index"].dump() + " of " +
                                         r["shard"]["count"].dump() + " of a grid"
                                   : std::string("a whole grid");
      };
      GANAUG_CHECK(
          previous.value("shard", nlohmann::json()) == results_.value("shard", nlohmann::json()),
          "the results in ", out.string(), " are ", shard_text(previous), ", and this run is ",
          shard_text(results_),
          "; resume with the same --shard and --num-shards, or use another --out");
      for (const auto& key : {"references", "generators", "cells"}) results_[key] = previous[key];
      if (previous.contains("classic_choice"))
        results_["classic_choice"] = previous["classic_choice"];
      results_["started"] = previous["started"];
      say("resuming: " + std::to_string(results_["cells"].size()) + " cells already finished");
    }
  }

  bool has_cell(const std::string& key) const {
    for (const auto& c : results_["cells"])
      if (c["key"] == key) return true;
    return false;
  }
  const nlohmann::json* find_generator(const std::string& key) const {
    for (const auto& g : results_["generators"])
      if (g["key"] == key) return &g;
    return nullptr;
  }

  ClassifierOptions classifier_options(int64_t outputs, const LabeledDataset& train,
                                       uint64_t seed) const {
    return ClassifierOptions(outputs, train.height(), train.channels())
        .architecture(o_.classifier())
        .width(o_.classifier_width())
        .epochs(o_.classifier_epochs())
        .lr_schedule(o_.lr_schedule())
        .seed(seed)
        .device(o_.device())
        .threads(o_.threads())
        .synthetic_share(o_.synthetic_share())
        .synthetic_weight(o_.synthetic_weight())
        .separate_synthetic_batches(o_.separate_synthetic_batches())
        .recalibrate_batchnorm(o_.recalibrate_batchnorm());
  }

  // With `classic`, the real images are augmented by `setting`, by default this size's
  // classical setting.
  ClassifierHooks hooks(bool classic, const ClassicAugmentOptions* setting = nullptr) const {
    const auto& weak = setting ? *setting : classic_;
    ClassifierHooks h;
    h.should_stop = [this] { return stop_requested(); };
    if (classic) {
      h.augment = classic_augmenter(weak);
      h.weak_augment = classic_augmenter(weak_augment_options(weak));
    }
    h.strong_augment =
        classic_augmenter(strong_augment_options(classic ? weak : ClassicAugmentOptions()));
    return h;
  }

  // The classical setting of one (dataset, size): classic_options, or the best of
  // classic_choices on the validation split, each scored on every seed's labeled subset.
  ClassicAugmentOptions choose_classic(const std::string& ds, const LabeledDataset& full,
                                       const LabeledDataset& validation, int64_t size, int64_t k) {
    const auto& choices = o_.classic_choices();
    if (choices.empty()) return o_.classic_options();
    auto& record = results_["classic_choice"];
    if (!record.is_object())
      record = {{"cells", nlohmann::json::array()}, {"chosen", nlohmann::json::object()}};
    const auto group = ds + "-n" + std::to_string(size);
    double best_mean = -1;
    size_t best = 0;
    for (size_t c = 0; c < choices.size(); ++c) {
      const auto spec = choices[c].to_string();
      double sum = 0;
      for (int64_t i = 0; i < o_.seeds(); ++i) {
        const uint64_t seed = o_.first_seed() + static_cast<uint64_t>(i);
        const auto key = ds + "|" + std::to_string(size) + "|" + std::to_string(seed) + "|" + spec;
        const nlohmann::json* found = nullptr;
        for (const auto& cell : record["cells"])
          if (cell["key"] == key) found = &cell;
        if (found) {
          sum += (*found)["accuracy"].get<double>();
          continue;
        }
        check_stop();
        const auto start = Clock::now();
        const auto train = subset_per_class(full, size, seed);
        auto model = fit(train, nullptr, classifier_options(k, train, seed), true, &choices[c]);
        const double accuracy = evaluate(model, validation).accuracy;
        const double seconds = seconds_since(start);
        record["cells"].push_back({{"key", key},
                                   {"dataset", ds},
                                   {"size", size},
                                   {"seed", seed},
                                   {"classic", spec},
                                   {"accuracy", accuracy},
                                   {"seconds", seconds}});
        say(group + "-seed" + std::to_string(seed) + " classic " + spec + ": " +
            fixed(100 * accuracy, 2) + "% on the validation split (" + fixed(seconds, 0) + " s)");
        write_outputs();
        sum += accuracy;
      }
      const double mean = sum / static_cast<double>(o_.seeds());
      if (mean > best_mean) {
        best_mean = mean;
        best = c;
      }
    }
    record["chosen"][group] = {{"dataset", ds},
                               {"size", size},
                               {"classic", choices[best].to_string()},
                               {"validation_accuracy", best_mean},
                               {"seeds", o_.seeds()}};
    say(group + ": classical setting chosen on the validation split: " + choices[best].to_string() +
        " (" + fixed(100 * best_mean, 2) + "%)");
    write_outputs();
    return choices[best];
  }

  Classifier fit(const LabeledDataset& real, const LabeledDataset* synthetic,
                 const ClassifierOptions& options, bool classic,
                 const ClassicAugmentOptions* setting = nullptr) const {
    try {
      return train_classifier(real, synthetic, options, hooks(classic, setting));
    } catch (const Error&) {
      check_stop();
      throw;
    }
  }

  // The network of `ds`'s classifiers and its width, after checking that the finished results
  // of `ds` (its reference classifier and cells, from an earlier run in this folder) were made
  // with them.
  nlohmann::json check_network(const std::string& ds, int64_t channels) const {
    const auto options = ClassifierOptions(2, 28, channels)
                             .architecture(o_.classifier())
                             .width(o_.classifier_width());
    const nlohmann::json network = {{"network", options.network()},
                                    {"width", options.network_width()}};
    if (results_["references"].contains(ds)) {
      // Results from before these were recorded were made with the defaults of then.
      const auto& reference = results_["references"][ds];
      const nlohmann::json was = {
          {"network", reference.value("network", channels == 3 ? "resnet" : "cnn")},
          {"width", reference.value("width", int64_t{32})}};
      const auto describe = [](const nlohmann::json& n) {
        return n["network"].get<std::string>() + " at width " + n["width"].dump();
      };
      GANAUG_CHECK(was == network, "the results of ", ds, " in ", o_.out_dir(),
                   " were made with the classifier network ", describe(was),
                   reference.contains("network") ? ""
                                                 : " (results from before ganaug 0.3 do not "
                                                   "record it: cnn for gray images, resnet for "
                                                   "color, width 32)",
                   " and this run's is ", describe(network), "; resume with --classifier ",
                   was["network"].get<std::string>(), " --classifier-width ", was["width"].dump(),
                   ", or use --force or another --out");
    }
    return network;
  }

  // The reference classifier of a dataset, trained on all its training images (cached).
  Classifier reference_classifier(const std::string& ds, const LabeledDataset& full,
                                  const LabeledDataset& test) {
    const fs::path path = fs::path(o_.out_dir()) / ("reference-" + ds + ".pt");
    auto options =
        classifier_options(full.num_classes(), full, o_.first_seed()).epochs(o_.reference_epochs());
    Classifier model(options);
    if (fs::exists(path)) {
      // Saved by an earlier run in this folder with the same settings (resume checks them).
      // torch::load replaces a parameter of another shape rather than refusing it: compare.
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
      GANAUG_CHECK(problem.empty(), "the reference classifier ", path.string(),
                   " cannot be read into a ", model->options.architecture(), " network at width ",
                   model->options.width(), " (", problem, "); delete it to train it again");
      model->to(select_device(o_.device()));
      model->eval();
      if (!results_["references"].contains(ds)) {
        results_["references"][ds] = {{"accuracy", evaluate(model, test).accuracy},
                                      {"epochs", o_.reference_epochs()},
                                      {"images", full.size()},
                                      {"seconds", 0.0}};
      }
      return model;
    }
    say(ds + ": training the reference classifier on all " + std::to_string(full.size()) +
        " training images (" + std::to_string(o_.reference_epochs()) + " epochs)");
    const auto start = Clock::now();
    model = fit(full, nullptr, options, false);
    const double accuracy = evaluate(model, test).accuracy;
    const auto temporary = path.string() + ".tmp";
    torch::save(model, temporary);
    fs::rename(temporary, path);
    results_["references"][ds] = {{"accuracy", accuracy},
                                  {"epochs", o_.reference_epochs()},
                                  {"images", full.size()},
                                  {"seconds", seconds_since(start)}};
    say(ds + ": reference classifier test accuracy " + fixed(100 * accuracy, 2) + "%");
    return model;
  }

  std::vector<std::string> dataset_labels() const {
    std::vector<std::string> labels;
    for (const auto& spec : o_.datasets()) labels.push_back(dataset_label(spec));
    return labels;
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
    const auto ds = dataset_label(spec);
    say(ds + ": loading");
    auto data = load_train_test(spec, o_.test_data(), o_.test_fraction());
    LabeledDataset validation_set;
    if (o_.validation_fraction() > 0) {
      const uint64_t split_seed = mix_seed(o_.first_seed(), 0x76616c);
      auto [rest, validation] = split_train_test(data.train, o_.validation_fraction(), split_seed);
      say(ds + ": " + std::to_string(validation.size()) +
          " training images held out for validation; cells are scored on the " + o_.evaluate_on() +
          " set");
      data.train = std::move(rest);
      validation_set = validation;
      if (o_.evaluate_on() == "validation") {
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
    const auto network = check_network(ds, full.channels());
    auto reference = reference_classifier(ds, full, test);
    results_["references"][ds]["network"] = network["network"];
    results_["references"][ds]["width"] = network["width"];
    results_["references"][ds]["test"] = data.test_description;
    results_["references"][ds]["test"]["images"] = test.size();

    // The real-vs-real floor of the Fréchet classifier distance at this sample count.
    const int64_t m = std::min({o_.metric_samples(), test.size(), full.size()});
    auto pick = [&](int64_t n, int64_t count, uint64_t stream) {
      auto rng = make_cpu_generator(mix_seed(o_.first_seed(), stream));
      return torch::randperm(n, rng, torch::TensorOptions().dtype(torch::kInt64))
          .slice(0, 0, count);
    };
    const auto test_features =
        classifier_features(reference, test.images.index_select(0, pick(test.size(), m, 1)));
    const auto train_features =
        classifier_features(reference, full.images.index_select(0, pick(full.size(), m, 2)));
    results_["references"][ds]["fcd_real_vs_real"] =
        frechet_distance(train_features, test_features);
    results_["references"][ds]["fcd_samples"] = m;

    const auto cells = detail::unit_cells(o_.schemes(), o_.multiples(), o_.unlabeled());
    for (size_t s = 0; s < o_.sizes().size(); ++s) {
      classic_ = choose_classic(ds, full, validation_set, o_.sizes()[s], k);
      for (int64_t i = 0; i < o_.seeds(); ++i) {
        if (!mine(unit(d, s, i))) continue;
        const uint64_t seed = o_.first_seed() + static_cast<uint64_t>(i);
        run_group(ds, full, test, reference, test_features, cells, o_.sizes()[s], seed, k);
      }
    }
  }

  // Every cell of one (dataset, size, seed): one labeled subset; one generator per pool size.
  void run_group(const std::string& ds, const LabeledDataset& full, const LabeledDataset& test,
                 Classifier& reference, const torch::Tensor& test_features,
                 const std::vector<detail::CellSpec>& cells, int64_t size, uint64_t seed,
                 int64_t k) {
    const auto train = subset_per_class(full, size, seed);
    const auto group = ds + "-n" + std::to_string(size) + "-seed" + std::to_string(seed);
    const auto gen_key = [&](int64_t pool) {
      return group + (pool > 0 ? "-u" + std::to_string(pool) : "");
    };
    const auto key = [&](const detail::CellSpec& c) {
      return detail::cell_key(ds, size, seed, c.scheme.name(), c.multiple, c.pool);
    };

    // Which cells and generators are still to make.
    std::vector<detail::CellSpec> todo;
    std::set<int64_t> generators_needed;
    for (const auto& c : cells) {
      if (c.scheme.synthetic && find_generator(gen_key(c.pool)) == nullptr)
        generators_needed.insert(c.pool);
      if (!has_cell(key(c))) {
        todo.push_back(c);
        if (c.scheme.synthetic) generators_needed.insert(c.pool);
      }
    }
    if (todo.empty() && generators_needed.empty()) return;

    // The pools (labels dropped) and the teacher that labels them for a GAN: the "classic"
    // classifier of this labeled subset.
    std::map<int64_t, LabeledDataset> pools;
    const auto pool_of = [&](int64_t n) -> const LabeledDataset& {
      auto& pool = pools[n];
      if (!pool.images.defined())
        pool = unlabeled_pool(full, size, seed, n, mix_seed(seed, 0x706f6f6c));
      return pool;
    };
    Classifier teacher{nullptr};
    double teacher_seconds = 0;  // its training time, counted in the `classic` cell that reuses it
    std::map<int64_t, Generator> generators;
    for (int64_t pool : generators_needed) {
      const fs::path dir = fs::path(o_.out_dir()) / "generators" / gen_key(pool);
      auto gan_data = train;
      nlohmann::json pool_record;
      if (pool > 0) {
        const auto& unlabeled = pool_of(pool);
        auto labelled_pool = unlabeled;  // labels -1: trained on without a class
        int64_t kept = 0;
        if (o_.pool_gan() != "unconditional") {
          if (!teacher) {
            const auto teacher_start = Clock::now();
            teacher = fit(train, nullptr, classifier_options(k, train, seed), true);
            teacher_seconds = seconds_since(teacher_start);
          }
          const auto [confidence, predicted] =
              predict_probabilities(teacher, unlabeled.images, k).max(1);
          const auto keep = confidence >= o_.pool_confidence();
          kept = keep.sum().item<int64_t>();
          labelled_pool.labels = torch::where(keep, predicted, unlabeled.labels);
          if (o_.pool_gan() == "teacher")
            labelled_pool = labelled_pool.select(torch::nonzero(keep).flatten());
        }
        if (labelled_pool.size() > 0) gan_data = concatenate({train, labelled_pool});
        pool_record = {{"images", pool}, {"kept", kept}, {"gan", o_.pool_gan()}};
      }
      auto& generator =
          generators.emplace(pool, obtain_generator(gan_data, dir, seed, gen_key(pool)))
              .first->second;
      if (find_generator(gen_key(pool)) == nullptr)
        measure_generator(train, test, reference, test_features, generator, dir, gen_key(pool), ds,
                          size, seed, k, pool_record);
    }

    Classifier real_only{nullptr};  // the argmax labeller: the "none" classifier of this group
    // Unfiltered sets are shared by the schemes; filtered ones depend on the scheme.
    std::map<std::tuple<int64_t, double, std::string>, LabeledDataset> synthetic_sets;
    for (const auto& cell : todo) {
      check_stop();
      const auto& scheme = cell.scheme;
      const double multiple = cell.multiple;
      const auto start = Clock::now();
      // The pseudo columns train on the labeled images and the pool (labelled -1).
      const auto real = scheme.pseudo ? concatenate({train, pool_of(cell.pool)}) : train;
      const double pool_weight = scheme.pseudo ? o_.pool_weight() : 0.0;
      Classifier model{nullptr};
      int64_t synthetic_count = 0;
      double earlier_seconds = 0;
      if (!scheme.synthetic && scheme.classic && !scheme.pseudo && teacher) {
        model = teacher;  // the same classifier, trained above to label the pool
        earlier_seconds = teacher_seconds;
      } else if (!scheme.synthetic) {
        model = fit(real, nullptr,
                    classifier_options(k, train, seed)
                        .pool_weight(pool_weight)
                        .pool_threshold(o_.pool_threshold())
                        .pool_ratio(o_.pool_ratio()),
                    scheme.classic);
        if (!scheme.classic && !scheme.pseudo) real_only = model;
        if (scheme.classic && !scheme.pseudo && !teacher) teacher = model;
      } else {
        const Scheme labels = *scheme.synthetic;
        const bool filtered = o_.min_confidence() > 0 && filters_by_confidence(labels);
        const bool needs_labeller = labels == Scheme::kArgmax || filtered;
        if (needs_labeller && !real_only)
          real_only = fit(train, nullptr, classifier_options(k, train, seed), false);
        auto& generator = generators.at(cell.pool);
        auto& images =
            synthetic_sets[{cell.pool, multiple, filtered ? to_string(labels) : std::string()}];
        if (!images.images.defined()) {
          const int64_t n = std::max<int64_t>(1, std::llround(multiple * train.size()));
          ImageFilter keep;
          if (filtered) {
            keep = [&](const torch::Tensor& candidates, const torch::Tensor& classes) {
              return confident_mask(labels, classes,
                                    predict_probabilities(real_only, quantize(candidates), k),
                                    o_.min_confidence());
            };
          }
          auto accepted = generate_accepted(generator, n, mix_seed(seed, 77), keep);
          images.images = quantize(accepted.images);
          images.labels = accepted.classes;
          images.class_names = train.class_names;
          images.source = "generator " + gen_key(cell.pool);
        }
        torch::Tensor probabilities;
        if (labels == Scheme::kArgmax)
          probabilities = predict_probabilities(real_only, images.images, k);
        LabeledDataset synthetic = images;
        synthetic.targets = scheme_targets(*scheme.synthetic, images.labels, k, probabilities);
        synthetic_count = synthetic.size();
        model = fit(real, &synthetic,
                    classifier_options(target_width(*scheme.synthetic, k), train, seed)
                        .dynamic_argmax(scheme.dynamic)
                        .pool_weight(pool_weight)
                        .pool_threshold(o_.pool_threshold())
                        .pool_ratio(o_.pool_ratio()),
                    scheme.classic);
      }
      const auto metrics = evaluate(model, test);
      const double seconds = seconds_since(start) + earlier_seconds;
      results_["cells"].push_back({{"key", key(cell)},
                                   {"dataset", ds},
                                   {"size", size},
                                   {"seed", seed},
                                   {"scheme", scheme.name()},
                                   {"multiple", multiple},
                                   {"unlabeled", cell.pool},
                                   {"synthetic_images", synthetic_count},
                                   {"accuracy", metrics.accuracy},
                                   {"macro_f1", metrics.macro_f1},
                                   {"seconds", seconds}});
      if (scheme.classic) results_["cells"].back()["classic"] = classic_.to_string();
      say(group + " " + scheme.name() + (multiple > 0 ? " x" + fixed(multiple, 1) : "") +
          (cell.pool > 0 ? " pool " + std::to_string(cell.pool) : "") + ": " +
          fixed(100 * metrics.accuracy, 2) + "% (" + fixed(seconds, 0) + " s)");
      write_outputs();
    }
  }

  Generator obtain_generator(const LabeledDataset& train, const fs::path& dir, uint64_t seed,
                             const std::string& group) {
    const auto checkpoint = dir / "checkpoint.pt";
    // Images labelled -1 (pool images without the teacher's class) train by the unconditional
    // term.
    const bool has_unlabeled = (train.labels < 0).any().item<bool>();
    const double unlabeled_share = has_unlabeled ? o_.gan_unlabeled_share() : 0.0;
    bool resumable = false;
    if (fs::exists(checkpoint)) {
      auto loaded = load_generator(checkpoint.string(), o_.device());
      // Reused (or resumed) only when it was trained the way this run would train it; another
      // generator in this folder is trained anew over it.
      resumable = loaded.options.mode_seeking() == o_.gan_mode_seeking() &&
                  loaded.options.minibatch_std() == o_.gan_minibatch_std() &&
                  loaded.options.unlabeled_share() == unlabeled_share;
      if (resumable && loaded.iteration >= o_.gan_iterations()) return loaded.generator;
    }
    check_stop();
    auto options = GanOptions(train.num_classes(), train.height(), train.channels())
                       .iterations(o_.gan_iterations())
                       .mode_seeking(o_.gan_mode_seeking())
                       .minibatch_std(o_.gan_minibatch_std())
                       .unlabeled_share(unlabeled_share)
                       .seed(seed)
                       .device(o_.device())
                       .threads(o_.threads())
                       .out_dir(dir.string())
                       .checkpoint_every(250)
                       .log_every(50);
    GanTrainer trainer(options, train.class_names);
    if (resumable) trainer.resume(checkpoint.string());
    say(group + ": training the GAN (" + std::to_string(o_.gan_iterations()) + " iterations)");
    const auto start = Clock::now();
    trainer.on_progress = [&](const GanProgress& p) { gan_rate_ = p.images_per_second; };
    trainer.should_stop = [this] { return stop_requested(); };
    if (!trainer.train(train)) check_stop();
    gan_seconds_ = seconds_since(start);
    return trainer.sampling_generator();
  }

  void measure_generator(const LabeledDataset& train, const LabeledDataset& test,
                         Classifier& reference, const torch::Tensor& test_features,
                         Generator& generator, const fs::path& dir, const std::string& key,
                         const std::string& ds, int64_t size, uint64_t seed, int64_t k,
                         const nlohmann::json& pool_record) {
    const auto grid_classes = torch::arange(k, torch::kInt64).repeat_interleave(8);
    save_image_grid(dir / "samples.png", generate(generator, grid_classes, mix_seed(seed, 80)), 8);
    // Fréchet classifier distance and class faithfulness on balanced samples.
    const int64_t m = test_features.size(0);
    const auto classes = balanced_classes(0, m, k);
    const auto samples = quantize(generate(generator, classes, mix_seed(seed, 79)));
    const double fcd = frechet_distance(classifier_features(reference, samples), test_features);
    const auto judged = predict_probabilities(reference, samples, k).argmax(1);
    const double faithful = judged.eq(classes).to(torch::kFloat64).mean().item<double>();
    // Diversity: the samples' within-class spread over the real test images'.
    const double diversity =
        within_class_spread(samples, classes) / within_class_spread(test.images, test.labels);
    // Classification accuracy score: a classifier trained on as many synthetic images as there
    // are labeled real ones (their conditioned classes as labels), tested on real images.
    check_stop();
    LabeledDataset synthetic;
    synthetic.labels = balanced_classes(0, train.size(), k);
    synthetic.images = quantize(generate(generator, synthetic.labels, mix_seed(seed, 78)));
    synthetic.class_names = train.class_names;
    synthetic.source = "generator " + key;
    auto cas_model = fit(synthetic, nullptr, classifier_options(k, train, seed), false);
    const double cas = evaluate(cas_model, test).accuracy;
    results_["generators"].push_back(
        {{"key", key},
         {"dataset", ds},
         {"size", size},
         {"seed", seed},
         {"iterations", o_.gan_iterations()},
         {"gan_seconds", gan_seconds_},
         {"gan_images_per_s", gan_rate_},
         {"fcd", fcd},
         {"fcd_samples", m},
         {"class_faithfulness", faithful},
         {"diversity", diversity},
         {"cas", cas},
         {"cas_images", synthetic.size()},
         {"samples", fs::relative(dir / "samples.png", o_.out_dir()).string()}});
    if (!pool_record.is_null()) results_["generators"].back()["unlabeled"] = pool_record;
    say(key + ": FCD " + fixed(fcd, 2) + ", class faithfulness " + fixed(100 * faithful, 1) +
        "%, diversity " + fixed(diversity, 2) + ", CAS " + fixed(100 * cas, 2) + "%");
    gan_seconds_ = gan_rate_ = 0;
    write_outputs();
  }

  void write_outputs() { detail::write_experiment_outputs(o_.out_dir(), results_); }

  ExperimentOptions o_;
  ExperimentCallbacks c_;
  nlohmann::json results_;
  double gan_seconds_ = 0, gan_rate_ = 0;
  ClassicAugmentOptions classic_;  // the classical setting of the size being run
};

}  // namespace

nlohmann::json run_experiment(const ExperimentOptions& options,
                              const ExperimentCallbacks& callbacks) {
  return Experiment(options, callbacks).run();
}

}  // namespace ganaug
