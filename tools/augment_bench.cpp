// augment-bench: run a grid of (dataset, labeled size, scheme, synthetic multiple, seed) cells and
// report whether the synthetic images help a classifier, with intervals over seeds.

#include <algorithm>
#include <iostream>
#include <sstream>

#include "cli_common.hpp"
#include "commands.hpp"
#include "ganaug/error.hpp"
#include "ganaug/jobs/experiment.hpp"

namespace po = boost::program_options;

namespace ganaug::cli::augment_bench_command {

std::vector<std::string> split_list(const std::string& option, const std::string& text) {
  std::vector<std::string> items;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    if (item.empty())
      throw ganaug::cli::UsageError("--" + option + ": empty item in '" + text + "'");
    items.push_back(item);
  }
  if (items.empty()) throw ganaug::cli::UsageError("--" + option + " needs at least one value");
  return items;
}

template <typename T>
std::vector<T> parse_list(const std::string& option, const std::string& text,
                          bool zero_allowed = false) {
  std::vector<T> values;
  for (const auto& item : split_list(option, text)) {
    std::istringstream in(item);
    T value{};
    if (!(in >> value) || !in.eof() || !(value > 0 || (zero_allowed && value == 0)))
      throw ganaug::cli::UsageError("--" + option + ": '" + item + "' is not a " +
                                    (zero_allowed ? "number of 0 or more" : "positive number"));
    values.push_back(value);
  }
  return values;
}

// --schemes as a list of columns; throws UsageError naming an unknown one.
std::vector<ganaug::jobs::ExperimentScheme> parse_schemes(const std::string& text) {
  try {
    return ganaug::jobs::ExperimentScheme::parse_all(split_list("schemes", text));
  } catch (const ganaug::Error& e) {
    throw ganaug::cli::UsageError("--schemes: " + ganaug::cli::without_location(e.what()));
  }
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

// augment-bench --help's "Data" section.
po::options_description data_options() {
  po::options_description data("Data");
  data.add_options()(
      "data", po::value<std::vector<std::string>>()->composing(),
      "a dataset (any format augment takes; repeat for several); default Fashion-MNIST")(
      "format", po::value<std::string>()->default_value("auto"),
      "auto, fashion-mnist, idx, folder or csv (for every --data)")(
      "image-size", po::value<int64_t>()->default_value(0), "resize images to this square side")(
      "channels", po::value<int64_t>()->default_value(0), "1 or 3 (0 keeps what the data holds)")(
      "test-data", po::value<std::string>()->default_value(""),
      "held-out test set for a single --data; default: its own test split, else a seeded 20% "
      "split")("validation", po::value<double>()->default_value(0.0),
               "share of the training data held out (stratified, seeded) before labeled subsets "
               "are drawn; 0 = none")(
      "evaluate-on", po::value<std::string>()->default_value("test"),
      "score cells on the test set, or on the --validation split (to tune settings without "
      "looking at the test set)");
  return data;
}

// augment-bench --help's "The grid" section.
po::options_description grid_options() {
  po::options_description grid("The grid");
  grid.add_options()("sizes", po::value<std::string>()->default_value("20,50,100,500"),
                     "labeled images per class, comma-separated")(
      "schemes",
      po::value<std::string>()->default_value(
          join(ganaug::jobs::ExperimentScheme::names(ganaug::jobs::default_experiment_schemes()))),
      "none, classic, pseudo, cond, newclass, argmax, argmax-dynamic, smooth, or joined in the "
      "order classic+pseudo+<scheme>, comma-separated (pseudo needs --pool-sizes); self in "
      "place of <scheme>: the pool teacher's confident pool images in place of a GAN's (the "
      "control of dual pseudo training, see --pool-teacher); also "
      "newclass-joint, dada-joint, triple-joint and classic+ each: a classifier trained with a "
      "GAN of its own (see augment --help and --joint-*), with each pool size")(
      "multiples", po::value<std::string>()->default_value("5"),
      "synthetic images as multiples of the labeled count, comma-separated")(
      "seeds", po::value<int64_t>()->default_value(3), "seeds per cell")(
      "first-seed",
      po::value<ganaug::cli::Unsigned>()->default_value(ganaug::cli::Unsigned{0}, "0"),
      "the first seed")("classic", po::value<std::string>()->default_value("default"),
                        "classical augmentation spec (as augment --classic): "
                        "shift=2,rotate=0,zoom=1,flip=1,border=constant,erase=0")(
      "classic-choices", po::value<std::string>()->default_value("auto"),
      "classical settings to choose from, separated by ';' (e.g. "
      "\"default;erase=0.5;rotate=10,zoom=1.1\"): each size takes the one with the best mean "
      "accuracy on the validation split (needs --validation) as its classic setting, the "
      "supervised reference of the gains. auto: with --validation, without --classic, in one "
      "process, \"default;erase=0.5;randaugment=1\" where a column uses the classical setting; "
      "none: the --classic setting")(
      "min-confidence", po::value<double>()->default_value(0.0),
      "cond and argmax: keep only synthetic images whose label the real-data classifier (with "
      "--pool-teacher pseudo, in pool columns: the pool teacher) gives at least this "
      "probability (more are drawn to keep the count); 0 keeps all");
  ganaug::cli::add_renamed<std::string>(
      grid, "pool-sizes", "unlabeled", "0",
      "unlabeled pool sizes, comma-separated (ganaug 0.5: --unlabeled): N images drawn (seeded) "
      "from the training data outside the labeled subset and the validation split, their labels "
      "dropped; the GAN schemes train their GAN with the pool's confident pseudo-labels too, and "
      "the pseudo schemes train on it by consistency; 0 = no pool");
  return grid;
}

// augment-bench --help's "GAN" section.
po::options_description gan_options() {
  const auto gan = ganaug::jobs::ExperimentOptions().gan();
  po::options_description gan_group("GAN");
  ganaug::cli::add_renamed<int64_t>(gan_group, "gan-steps", "gan-iters", gan.iterations(),
                                    "GAN generator steps (ganaug 0.5: --gan-iters)");
  gan_group.add_options()(
      "gan-batch", po::value<int64_t>()->default_value(gan.batch_size()),
      "real images per GAN step (and as many fakes); larger batches suit a GPU")(
      "gan-mode-seeking", po::value<double>()->default_value(gan.mode_seeking()),
      "weight of the GAN's mode-seeking term (0 = off)")(
      "gan-lr", po::value<double>()->default_value(gan.g_lr()),
      "Adam's learning rate of the GAN's generator and discriminator (and of a joint scheme's "
      "generator)");
  ganaug::cli::add_default_on(
      gan_group, "gan-mbstd",
      "no minibatch standard-deviation feature in the discriminator (default: one)");
  return gan_group;
}

// augment-bench --help's "Unlabeled pool" section.
po::options_description pool_options() {
  const auto gan = ganaug::jobs::ExperimentOptions().gan();
  po::options_description pool("Unlabeled pool");
  pool.add_options()(
      "pool-confidence",
      po::value<double>()->default_value(ganaug::jobs::ExperimentOptions().pool_confidence()),
      "the pool teacher's probability a pool image needs to train a GAN (and join a self "
      "column), in (0, 1]")(
      "pool-teacher",
      po::value<std::string>()->default_value(
          ganaug::to_string(ganaug::jobs::ExperimentOptions().pool_teacher())),
      "which classifier labels the pool for the GANs and the self columns: classic (the labeled "
      "images') or pseudo (classic+pseudo's, trained on the pool: dual pseudo training)")(
      "pool-gan",
      po::value<std::string>()->default_value(
          ganaug::to_string(ganaug::jobs::ExperimentOptions().pool_gan())),
      "how pool images train a GAN: teacher (the confident ones, with the classic classifier's "
      "label), unconditional (all, without a class, by the discriminator's unconditional term) "
      "or both")("gan-unlabeled-share", po::value<double>()->default_value(gan.unlabeled_share()),
                 "share of a GAN's real batches drawn from pool images without a class (--pool-gan "
                 "unconditional or both), in (0, 1)")(
      "pool-weight",
      po::value<double>()->default_value(ganaug::jobs::ExperimentOptions().pool_weight()),
      "weight of the pseudo schemes' consistency loss");
  return pool;
}

// augment-bench --help's "Classifier training in the grid" section.
po::options_description training_options() {
  po::options_description training("Classifier training in the grid");
  ganaug::cli::add_default_on(
      training, "separate-batches",
      "real and synthetic images in one forward pass (default: separate passes, "
      "each with its own batch-norm statistics)");
  ganaug::cli::add_default_on(
      training, "recalibrate-bn",
      "keep the batch-norm statistics of training (default: recomputed from the real "
      "training images after training)");
  training.add_options()(
      "reference-epochs", po::value<int64_t>()->default_value(3),
      "epochs of the full-data reference classifier (FCD features, class faithfulness)")(
      "metric-samples", po::value<int64_t>()->default_value(2000),
      "generated images per generator for FCD and class faithfulness");
  return training;
}

// augment-bench --help's "Run and output" section.
po::options_description run_options() {
  po::options_description run("Run and output");
  run.add_options()("out", po::value<std::string>()->default_value("bench-out"), "output folder")(
      "resume", po::bool_switch(), "keep the finished cells in --out and run the others")(
      "force", po::bool_switch(), "replace the contents of a non-empty --out")(
      "threads", po::value<int>()->default_value(0), "CPU threads; 0 = one per core")(
      "quiet,q", po::bool_switch(), "print only errors")(
      "merge", po::value<std::vector<std::string>>()->multitoken(),
      "join the --out folders of a grid run as shards (--shard/--num-shards) into --out: one "
      "results.json, results.csv, report.md and charts; the grid options are not needed");
  return run;
}

po::options_description describe_options() {
  po::options_description description(
      "augment-bench: measure whether GAN-made images help a classifier. For every dataset,\n"
      "labeled size and seed it trains one conditional GAN, then one classifier per scheme, and\n"
      "writes report.md, results.csv, results.json and accuracy charts into --out as it goes.\n");
  ganaug::cli::add_help_options(description);
  description.add(data_options());
  description.add(grid_options());
  description.add(gan_options());
  description.add(pool_options());
  description.add(training_options());
  description.add(run_options());
  ganaug::cli::add_classifier_options(description);
  ganaug::cli::add_joint_options(description);
  ganaug::cli::add_shard_options(description);
  ganaug::cli::add_device_options(description);
  return description;
}

// The grid the command line asks for; throws ganaug::cli::UsageError for bad options.
// The classical settings to choose the supervised reference from: the list given, none, or
// (auto) the supervised candidates wherever the grid can choose and has a use for the choice.
std::vector<ganaug::ClassicAugmentOptions> classic_choices_from(
    const po::variables_map& values, const ganaug::jobs::ExperimentOptions& options) {
  const auto text = values["classic-choices"].as<std::string>();
  if (text == "none") return {};
  if (text == "auto") {
    const auto& schemes = options.schemes();
    const auto& pools = options.unlabeled();
    const bool uses_classic =
        std::any_of(schemes.begin(), schemes.end(), [](const auto& s) { return s.classic; }) ||
        std::any_of(pools.begin(), pools.end(), [](int64_t n) { return n > 0; });
    const bool can_choose = options.validation_fraction() > 0 && options.num_shards() == 1 &&
                            values["classic"].defaulted();
    if (!uses_classic || !can_choose) return {};
    return ganaug::jobs::ExperimentOptions::supervised_candidates();
  }
  std::vector<ganaug::ClassicAugmentOptions> choices;
  std::stringstream specs(text);
  for (std::string spec; std::getline(specs, spec, ';');)
    choices.push_back(ganaug::ClassicAugmentOptions::parse(spec));
  return choices;
}

// The --data folders (the default dataset when none), each with --format, --image-size and
// --channels.
std::vector<ganaug::DatasetSpec> datasets_from(const po::variables_map& values) {
  std::vector<ganaug::DatasetSpec> datasets;
  const auto paths = values.count("data") ? values["data"].as<std::vector<std::string>>()
                                          : std::vector<std::string>{""};
  for (const auto& path : paths) {
    datasets.push_back(
        ganaug::DatasetSpec()
            .path(path)
            .format(ganaug::cli::parse_flag(values, "format", ganaug::parse_dataset_format))
            .image_size(values["image-size"].as<int64_t>())
            .channels(values["channels"].as<int64_t>()));
  }
  return datasets;
}

// `base` with the GAN flags the grid takes.
ganaug::GanOptions gan_from(const po::variables_map& values, const ganaug::GanOptions& base) {
  return ganaug::GanOptions(base)
      .iterations(ganaug::cli::renamed_value<int64_t>(values, "gan-steps", "gan-iters"))
      .batch_size(values["gan-batch"].as<int64_t>())
      .mode_seeking(values["gan-mode-seeking"].as<double>())
      .g_lr(values["gan-lr"].as<double>())
      .d_lr(values["gan-lr"].as<double>())
      .minibatch_std(ganaug::cli::default_on(values, "gan-mbstd"))
      .unlabeled_share(values["gan-unlabeled-share"].as<double>())
      .cuda_graphs(ganaug::cli::cuda_graphs_from(values))
      .precision(ganaug::cli::precision_from(values));
}

ganaug::jobs::ExperimentOptions options_from(const po::variables_map& values,
                                             const ganaug::cli::ShardChoice& shard) {
  const auto schemes = parse_schemes(values["schemes"].as<std::string>());
  const auto pools = parse_list<int64_t>(
      "pool-sizes", ganaug::cli::renamed_value<std::string>(values, "pool-sizes", "unlabeled"),
      true);
  // A grid with a pool trained on by consistency takes the pool recipe's classifier (for all
  // of its cells, so that every arm trains the same network the same way) under the flags given.
  // The pool teacher of dual pseudo training is such a classifier too.
  const bool pool =
      std::any_of(pools.begin(), pools.end(), [](int64_t n) { return n > 0; }) &&
      (std::any_of(schemes.begin(), schemes.end(),
                   [](const ganaug::jobs::ExperimentScheme& s) { return s.pseudo; }) ||
       values["pool-teacher"].as<std::string>() == "pseudo");
  ganaug::jobs::ExperimentOptions options;
  options.datasets(datasets_from(values))
      .test_data(values["test-data"].as<std::string>())
      .validation_fraction(values["validation"].as<double>())
      .sizes(parse_list<int64_t>("sizes", values["sizes"].as<std::string>()))
      .schemes(schemes)
      .joint(ganaug::cli::joint_options_from(
          values,
          std::any_of(schemes.begin(), schemes.end(),
                      [](const auto& scheme) { return scheme.joint.has_value(); }),
          std::any_of(
              schemes.begin(), schemes.end(),
              [](const auto& scheme) { return scheme.joint == ganaug::JointForm::kTriple; }),
          std::any_of(pools.begin(), pools.end(), [](int64_t n) { return n > 0; })))
      .multiples(parse_list<double>("multiples", values["multiples"].as<std::string>()))
      .seeds(values["seeds"].as<int64_t>())
      .first_seed(values["first-seed"].as<ganaug::cli::Unsigned>().value)
      .gan(gan_from(values, options.gan()))
      .strong_view(ganaug::cli::strong_view_from(values, pool))
      .classifier(
          ganaug::cli::classifier_options_from(values, pool)
              .separate_synthetic_batches(ganaug::cli::default_on(values, "separate-batches"))
              .recalibrate_batchnorm(ganaug::cli::default_on(values, "recalibrate-bn")))
      .min_confidence(values["min-confidence"].as<double>())
      .unlabeled(pools)
      .pool_confidence(values["pool-confidence"].as<double>())
      .pool_weight(values["pool-weight"].as<double>())
      .reference_epochs(values["reference-epochs"].as<int64_t>())
      .metric_samples(values["metric-samples"].as<int64_t>())
      .out_dir(values["out"].as<std::string>())
      .resume(values["resume"].as<bool>())
      .force(values["force"].as<bool>())
      .device(values["device"].as<std::string>())
      .threads(values["threads"].as<int>())
      .shard(shard.index)
      .num_shards(shard.count);
  try {
    options
        .evaluate_on(
            ganaug::cli::parse_flag(values, "evaluate-on", ganaug::jobs::parse_evaluate_on))
        .pool_gan(ganaug::cli::parse_flag(values, "pool-gan", ganaug::parse_pool_gan))
        .pool_teacher(ganaug::cli::parse_flag(values, "pool-teacher", ganaug::parse_pool_teacher))
        .classic_options(
            ganaug::cli::parse_flag(values, "classic", ganaug::ClassicAugmentOptions::parse));
    options.classic_choices(classic_choices_from(values, options));
    options.validate();
  } catch (const ganaug::Error& e) {
    throw ganaug::cli::UsageError(e.what());
  }
  return options;
}

}  // namespace ganaug::cli::augment_bench_command

int ganaug::cli::run_augment_bench(int argc, char** argv) try {
  using namespace augment_bench_command;
  const auto description = describe_options();
  const auto values = ganaug::cli::parse_command_line(argc, argv, description);
  if (ganaug::cli::print_help_or_version(values, description)) return 0;
  const bool quiet = values["quiet"].as<bool>();
  if (values.count("merge")) {
    const auto out = values["out"].as<std::string>();
    const auto merged = ganaug::jobs::merge_experiments(
        out, values["merge"].as<std::vector<std::string>>(), values["force"].as<bool>());
    if (!quiet)
      std::cout << "merged " << merged["merged_from"].size() << " shards, "
                << merged["cells"].size() << " cells; report: " << out << "/report.md\n";
    return 0;
  }
  const auto shard = ganaug::cli::shard_from(values, /*slurm_fallback=*/true);
  const auto options = options_from(values, shard);
  ganaug::cli::apply_device_options(values);
  ganaug::cli::install_stop_handlers();
  if (!quiet && shard.count > 1)
    std::cerr << "augment-bench: shard " << shard.index << " of " << shard.count
              << (shard.from == "slurm" ? " (from the Slurm job array)" : "") << "\n";
  ganaug::jobs::ExperimentCallbacks callbacks;
  callbacks.on_progress = [quiet](const std::string& line) {
    if (!quiet) std::cerr << "augment-bench: " << line << std::endl;
  };
  callbacks.should_stop = ganaug::cli::stop_requested;
  try {
    ganaug::jobs::run_experiment(options, callbacks);
  } catch (const ganaug::Interrupted& e) {
    std::cerr << "augment-bench: " << e.what() << "\n";
    return 130;
  }
  if (!quiet) std::cout << "report: " << options.out_dir() << "/report.md\n";
  return 0;
} catch (...) {
  return ganaug::cli::report_failure("augment-bench", argc, argv, /*after_progress=*/true);
}
