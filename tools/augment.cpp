// augment: make a small labeled dataset bigger with a conditional GAN and measure whether the
// synthetic images help a classifier.

#include "ganaug/jobs/augment.hpp"

#include <cstdlib>
#include <iomanip>
#include <iostream>

#include "cli_common.hpp"
#include "commands.hpp"
#include "ganaug/classifier.hpp"
#include "ganaug/distributed.hpp"
#include "ganaug/error.hpp"
#include "progress.hpp"

namespace po = boost::program_options;

namespace ganaug::cli::augment_command {

void print_human_summary(const nlohmann::json& s) {
  const auto written =
      s.contains("shard") ? s["shard"]["images"].get<int64_t>() : s["n"].get<int64_t>();
  if (s.contains("shard")) {
    std::cout << "shard " << s["shard"]["index"] << " of " << s["shard"]["count"] << ": images "
              << s["shard"]["first"] << " to " << s["shard"]["first"].get<int64_t>() + written - 1
              << " of " << s["n"] << "\n";
  }
  std::cout << "wrote " << written << " images with '" << s["scheme"].get<std::string>()
            << "' labels to " << s["out_dir"].get<std::string>()
            << "/ (labels.csv, summary.json, report.html)\n";
  if (s.contains("unlabeled")) {
    const auto& u = s["unlabeled"];
    std::cout << "unlabeled pool: " << u["images"] << " images";
    if (u.contains("gan"))
      std::cout << ", " << u["gan"]["kept"] << " of them pseudo-labeled for the GAN";
    if (u["pseudo"].get<bool>()) std::cout << ", all used in retraining (consistency)";
    std::cout << "\n";
  }
  if (s.contains("baseline")) {
    std::cout << std::fixed << std::setprecision(2) << "test accuracy: baseline "
              << 100 * s["baseline"]["accuracy"].get<double>() << "%, with synthetic images"
              << (s.contains("unlabeled") && s["unlabeled"]["pseudo"].get<bool>() ? " and the pool"
                                                                                  : "")
              << " " << 100 * s["retrained"]["accuracy"].get<double>() << "%, gain " << std::showpos
              << 100 * s["gain"].get<double>() << std::noshowpos
              << " points (one seed: differences of about a point are noise)\n";
  }
  if (s.contains("teacher")) {
    std::cout << std::fixed << std::setprecision(2) << "dual pseudo training: teacher "
              << 100 * s["teacher"]["accuracy"].get<double>() << "%, student "
              << 100 * s["retrained"]["accuracy"].get<double>() << "%, the GAN's share "
              << std::showpos << 100 * s["gan_share"].get<double>() << std::noshowpos
              << " points\n";
  }
  std::cout << std::fixed << std::setprecision(1)
            << "time: " << s["timings"]["total_s"].get<double>() << " s (";
  const double rate = s["gan_images_per_s"].get<double>();
  if (s["timings"].contains("joint_s"))
    std::cout << "joint training of the classifier and the GAN "
              << s["timings"]["joint_s"].get<double>() << " s)\n";
  else if (rate > 0)  // 0: the generator was given, or a finished checkpoint was resumed
    std::cout << "GAN " << s["timings"]["gan_train_s"].get<double>() << " s at "
              << std::setprecision(0) << rate << " images/s)\n";
  else
    std::cout << "no GAN training in this run)\n";
}

po::options_description run_options() {
  po::options_description run("Run and output");
  run.add_options()(
      "test-data", po::value<std::string>()->default_value(""),
      "held-out test set (any format --data takes); default: the dataset's own test split, or "
      "a seeded 20% stratified split when it has none")(
      "scheme", po::value<std::string>()->default_value("smooth"),
      "pseudo-labels: smooth (uniform 1/K, LSRO), cond (the generator's class), argmax (a "
      "real-data classifier's prediction), argmax-dynamic (argmax, retrained with the paper's "
      "dynamic argmax: each batch relabeled by the classifier being trained) or newclass (one "
      "extra class K); or a classifier trained together with the GAN in place of retraining: "
      "newclass-joint (the classifier is a K + 1 discriminator, the generator trained by feature "
      "matching), dada-joint (2K outputs, real and generated per class) or triple-joint "
      "(Triple-GAN: classifier, generator and a projection discriminator); see --joint-*")(
      "n", po::value<int64_t>()->default_value(5000), "synthetic images to write")(
      "out", po::value<std::string>()->default_value("augment-out"), "output folder")(
      "classic", po::value<std::string>()->implicit_value("default"),
      "classical augmentation of the real images in both classifiers; optional spec "
      "shift=2,rotate=0,zoom=1,flip=1,border=constant (flip=0 for digits and text; rotate=10 and "
      "zoom=1.1 add small rotations and crops; erase=0.5 random erasing; randaugment=1 adds "
      "RandAugment and Cutout, FixMatch's strong augmentation)")(
      "no-retrain", po::bool_switch(), "only write the images; skip the classifiers")(
      "resume", po::bool_switch(), "continue an interrupted run in --out")(
      "force", po::bool_switch(), "replace the contents of a non-empty --out")(
      "quiet,q", po::bool_switch(), "print only errors")(
      "json", po::bool_switch(), "print the summary JSON on stdout instead of the text summary");
  return run;
}

po::options_description gan_options() {
  const ganaug::jobs::AugmentOptions defaults;
  po::options_description gan_group("GAN");
  ganaug::cli::add_renamed<int64_t>(gan_group, "gan-steps", "gan-iters",
                                    defaults.gan().iterations(),
                                    "GAN generator steps (ganaug 0.5: --gan-iters)");
  gan_group.add_options()(
      "gan-batch", po::value<int64_t>()->default_value(defaults.gan().batch_size()),
      "real images per GAN step (and as many fakes); larger batches suit a GPU")(
      "gan-lr", po::value<double>()->default_value(defaults.gan().g_lr()),
      "Adam's learning rate of the GAN's generator and discriminator (and of a joint scheme's "
      "generator)")(
      "checkpoint-every", po::value<int64_t>()->default_value(defaults.gan().checkpoint_every()),
      "write the GAN checkpoint every this many steps (an interrupted run resumes from it; 0: "
      "only at the end)")(
      "generator", po::value<std::string>()->default_value(""),
      "reuse this GAN checkpoint (e.g. DIR/gan/checkpoint.pt) instead of training one")(
      "dist-timeout", po::value<double>()->default_value(300),
      "seconds a process of a multi-process run (WORLD_SIZE/RANK/MASTER_ADDR/MASTER_PORT as "
      "torchrun sets them, or Slurm's SLURM_NTASKS/SLURM_PROCID) waits for the others before "
      "failing");
  ganaug::cli::add_renamed<int64_t>(
      gan_group, "generate-batch", "gen-batch", 250,
      "images per generation batch (larger suits a GPU; ganaug 0.5: --gen-batch)");
  return gan_group;
}

po::options_description pool_options() {
  po::options_description pool("Unlabeled pool");
  pool.add_options()(
      "unlabeled", po::value<std::string>()->default_value(""),
      "unlabeled images of the same kind (a folder, searched at any depth with its folder names "
      "ignored; an IDX images file; or a CSV with a path column): the baseline classifier labels "
      "them and those it is confident of train the GAN too")(
      "pool-confidence",
      po::value<double>()->default_value(ganaug::jobs::AugmentOptions().pool_confidence()),
      "the baseline's probability an --unlabeled image needs to train the GAN, in (0, 1]")(
      "pseudo", po::bool_switch(),
      "also retrain on the --unlabeled images by consistency training (FixMatch: a confident "
      "prediction on a weak view is the target of a strong view)")(
      "teacher", po::bool_switch(),
      "with --pseudo, dual pseudo training: a classifier trained first on the labeled images and "
      "the pool by consistency (the teacher, DIR/teacher.pt) labels the pool for the GAN in "
      "place of the baseline; the retrained classifier is its student, and the summary gives "
      "the GAN's share over the teacher");
  return pool;
}

po::options_description describe_options() {
  po::options_description description(
      "augment: train a conditional GAN on a small labeled dataset, write N synthetic images with\n"
      "pseudo-labels, and retrain a classifier on real + synthetic data to measure the gain.\n"
      "With no options: Fashion-MNIST, 100 images per class, its standard test set.\n");
  ganaug::cli::add_help_options(description);
  ganaug::cli::add_dataset_options(description, 100);
  description.add(run_options());
  description.add(gan_options());
  description.add(pool_options());
  ganaug::cli::add_classifier_options(description);
  ganaug::cli::add_joint_options(description);
  ganaug::cli::add_device_options(description);
  ganaug::cli::add_shard_options(description);
  return description;
}

// The options the command line asks for; throws ganaug::cli::UsageError for bad ones.
ganaug::jobs::AugmentOptions options_from(const po::variables_map& values) {
  // Consistency training on a pool takes the pool recipe's classifier under the flags given.
  const bool pool = !values["unlabeled"].as<std::string>().empty() && values["pseudo"].as<bool>();
  ganaug::jobs::AugmentOptions options;
  options.data(ganaug::cli::dataset_spec_from(values))
      .test_data(values["test-data"].as<std::string>())
      .n(values["n"].as<int64_t>())
      .out_dir(values["out"].as<std::string>())
      .gan(ganaug::GanOptions(options.gan())
               .iterations(ganaug::cli::renamed_value<int64_t>(values, "gan-steps", "gan-iters"))
               .batch_size(values["gan-batch"].as<int64_t>())
               .g_lr(values["gan-lr"].as<double>())
               .d_lr(values["gan-lr"].as<double>())
               .checkpoint_every(values["checkpoint-every"].as<int64_t>())
               .cuda_graphs(ganaug::cli::cuda_graphs_from(values))
               .precision(ganaug::cli::precision_from(values)))
      .generator(values["generator"].as<std::string>())
      .generate_batch_size(
          ganaug::cli::renamed_value<int64_t>(values, "generate-batch", "gen-batch"))
      .classifier(ganaug::cli::classifier_options_from(values, pool))
      .retrain(!values["no-retrain"].as<bool>())
      .unlabeled(values["unlabeled"].as<std::string>())
      .pool_confidence(values["pool-confidence"].as<double>())
      .pseudo(values["pseudo"].as<bool>())
      .pool_teacher(values["teacher"].as<bool>() ? ganaug::PoolTeacher::kPseudo
                                                 : ganaug::PoolTeacher::kClassic)
      .strong_view(ganaug::cli::strong_view_from(values, pool))
      .device(values["device"].as<std::string>())
      .threads(values["threads"].as<int>())
      .seed(values["seed"].as<ganaug::cli::Unsigned>().value)
      .resume(values["resume"].as<bool>())
      .force(values["force"].as<bool>());
  // A Slurm job array shards only runs that can be sharded (sampling a given generator), so
  // that an array of whole runs (one seed per task, say) is not split by accident.
  const auto shard =
      ganaug::cli::shard_from(values, !options.generator().empty() && !options.retrain());
  options.shard(shard.index).num_shards(shard.count);
  try {
    options.distributed(ganaug::distributed_from_environment().timeout_seconds(
        values["dist-timeout"].as<double>()));
  } catch (const ganaug::Error& e) {
    throw ganaug::cli::UsageError(ganaug::cli::without_location(e.what()));
  }
  const auto choice = ganaug::cli::parse_flag(values, "scheme", ganaug::SchemeChoice::parse);
  options.scheme(choice.scheme).dynamic_argmax(choice.dynamic);
  const auto joint = ganaug::cli::joint_options_from(
      values, choice.joint.has_value(), choice.joint == ganaug::JointForm::kTriple,
      !values["unlabeled"].as<std::string>().empty());
  if (choice.joint) options.joint(ganaug::JointOptions(joint).form(*choice.joint));
  if (values.count("classic")) {
    options.classic(true).classic_options(
        ganaug::cli::parse_flag(values, "classic", ganaug::ClassicAugmentOptions::parse));
  }
  try {
    options.validate();
  } catch (const ganaug::Error& e) {
    throw ganaug::cli::UsageError(ganaug::cli::without_location(e.what()));
  }
  return options;
}

}  // namespace ganaug::cli::augment_command

int ganaug::cli::run_augment(int argc, char** argv) try {
  using namespace augment_command;
  const auto description = describe_options();
  const auto values = ganaug::cli::parse_command_line(argc, argv, description);
  if (ganaug::cli::print_help_or_version(values, description)) return 0;
  const auto options = options_from(values);
  ganaug::cli::apply_device_options(values);
  const char* array_task = std::getenv("SLURM_ARRAY_TASK_ID");
  if (array_task != nullptr && options.num_shards() == 1 && !values["quiet"].as<bool>()) {
    std::cerr << "augment: Slurm job array task " << array_task
              << ": only sampling a given generator (--generator with --no-retrain) is split "
                 "over an array's tasks; this run trains, so every task runs the whole job (give "
                 "each its own --seed and --out, e.g. --seed $SLURM_ARRAY_TASK_ID)\n";
  }
  ganaug::cli::install_stop_handlers();
  const bool json = values["json"].as<bool>();
  ganaug::cli::Progress progress(stderr, values["quiet"].as<bool>());
  ganaug::jobs::AugmentCallbacks callbacks;
  callbacks.on_progress = [&](const std::string& stage, double done, double total,
                              const std::string& detail) {
    progress.update(stage, done, total, detail);
  };
  callbacks.should_stop = ganaug::cli::stop_requested;
  try {
    const auto summary = ganaug::jobs::run_augment(options, callbacks);
    progress.finish();
    if (json) {
      std::cout << summary.dump(2) << "\n";
    } else if (summary.contains("role")) {
      if (!values["quiet"].as<bool>())
        std::cout << "rank " << summary["rank"] << " of " << summary["world_size"] << ": "
                  << summary["role"].get<std::string>() << "\n";
    } else if (!values["quiet"].as<bool>()) {
      print_human_summary(summary);
    }
  } catch (const ganaug::Interrupted& e) {
    progress.finish();
    std::cerr << "augment: " << e.what() << "\n";
    return 130;
  }
  return 0;
} catch (...) {
  return ganaug::cli::report_failure("augment", argc, argv, /*after_progress=*/true);
}
