#include "ganaug/pipelines/augment.hpp"

#include <torch/torch.h>

#include <chrono>
#include <filesystem>

#include "ganaug/classifier.hpp"
#include "ganaug/datasets/csv_manifest.hpp"
#include "ganaug/datasets/image.hpp"
#include "ganaug/gan.hpp"
#include "ganaug/pipelines/generate.hpp"
#include "ganaug/runtime.hpp"
#include "output_dir.hpp"

namespace ganaug {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

nlohmann::json to_json(const Metrics& m) {
  return {{"accuracy", m.accuracy},
          {"per_class_accuracy", m.per_class_accuracy},
          {"macro_f1", m.macro_f1},
          {"confusion", m.confusion}};
}

}  // namespace

nlohmann::json run_augment(const AugmentOptions& o, const AugmentCallbacks& callbacks) {
  const auto total_start = Clock::now();
  GANAUG_CHECK(o.n() >= 0, "--n must not be negative, got ", o.n());
  auto progress = [&](const std::string& stage, double done, double total,
                      const std::string& detail = "") {
    if (callbacks.on_progress) callbacks.on_progress(stage, done, total, detail);
  };
  auto stop_requested = [&] { return callbacks.should_stop && callbacks.should_stop(); };
  const int threads = configure_threads(o.threads());
  detail::prepare_output_dir(o.out_dir(), o.resume(), o.force(), "continue the run in it");
  const fs::path out(o.out_dir());
  nlohmann::json summary;
  nlohmann::json timings;

  // -- load --
  auto start = Clock::now();
  progress("load", 0, 1, "");
  auto spec = o.data();
  spec.threads(o.threads()).seed(o.seed());
  auto data = load_train_test(spec, o.test_data(), o.test_fraction());
  const auto& train = data.train;
  const auto& test = data.test;
  const auto& test_description = data.test_description;
  const int64_t k = train.num_classes();
  timings["load_s"] = seconds_since(start);
  progress("load", 1, 1, train.source);

  // -- GAN --
  start = Clock::now();
  Generator generator{nullptr};
  double gan_rate = 0;
  if (!o.generator().empty()) {
    auto loaded = load_generator(o.generator(), o.device());
    GANAUG_CHECK(loaded.class_names == train.class_names, "generator ", o.generator(),
                 " was trained on other classes than ", train.source);
    GANAUG_CHECK(loaded.options.image_size() == train.height() &&
                     loaded.options.channels() == train.channels(),
                 "generator ", o.generator(), " makes ", loaded.options.channels(), "x",
                 loaded.options.image_size(), " images but ", train.source, " holds ",
                 train.channels(), "x", train.height());
    generator = loaded.generator;
  } else {
    GANAUG_CHECK(train.height() == train.width(), "the GAN needs square images; ", train.source,
                 " holds ", train.height(), "x", train.width(), " (set --image-size)");
    auto gan_options = GanOptions(k, train.height(), train.channels())
                           .iterations(o.gan_iterations())
                           .seed(o.seed())
                           .device(o.device())
                           .threads(o.threads())
                           .out_dir((out / "gan").string())
                           .checkpoint_every(250)
                           .log_every(25);
    GanTrainer trainer(gan_options, train.class_names);
    const auto checkpoint = out / "gan" / "checkpoint.pt";
    if (o.resume() && fs::exists(checkpoint)) trainer.resume(checkpoint.string());
    trainer.on_progress = [&](const GanProgress& p) {
      gan_rate = p.images_per_second;
      progress("gan", static_cast<double>(p.iteration), static_cast<double>(p.iterations),
               "d " + std::to_string(p.d_loss).substr(0, 5) + " g " +
                   std::to_string(p.g_loss).substr(0, 5));
    };
    trainer.should_stop = stop_requested;
    if (!trainer.train(train)) {
      throw Interrupted("interrupted during GAN training at iteration " +
                        std::to_string(trainer.iteration()) + "; rerun with --resume to continue");
    }
    generator = trainer.sampling_generator();
    const auto classes = torch::arange(k, torch::kInt64).repeat_interleave(8);
    save_image_grid(out / "gan" / "samples.png", ganaug::generate(generator, classes, o.seed() + 1),
                    8);
  }
  timings["gan_train_s"] = seconds_since(start);

  // -- baseline classifier (also the labeller of the argmax scheme) --
  const auto classifier_options = [&](int64_t outputs) {
    return ClassifierOptions(outputs, train.height(), train.channels())
        .architecture(train.channels() == 3 ? "resnet" : "cnn")
        .epochs(o.classifier_epochs())
        .lr_schedule(o.lr_schedule())
        .seed(o.seed())
        .device(o.device())
        .threads(o.threads())
        .synthetic_share(o.synthetic_share())
        .synthetic_weight(o.synthetic_weight());
  };
  auto classifier_hooks = [&](const std::string& stage) {
    ClassifierHooks hooks;
    hooks.on_epoch = [&, stage](const ClassifierProgress& p) {
      progress(stage, static_cast<double>(p.epoch), static_cast<double>(p.epochs),
               "loss " + std::to_string(p.loss).substr(0, 6));
    };
    hooks.should_stop = stop_requested;
    if (o.classic()) hooks.augment = classic_augmenter(o.classic_options());
    return hooks;
  };
  Classifier baseline{nullptr};
  start = Clock::now();
  if (o.retrain() || o.scheme() == Scheme::kArgmax) {
    try {
      baseline =
          train_classifier(train, nullptr, classifier_options(k), classifier_hooks("baseline"));
    } catch (const Error&) {
      if (stop_requested())
        throw Interrupted(
            "interrupted while training the baseline classifier; rerun with --resume");
      throw;
    }
  }
  timings["baseline_s"] = seconds_since(start);

  // -- generate and label --
  start = Clock::now();
  GeneratePipeline pipeline(generator, o.scheme(),
                            GenerateOptions(out.string())
                                .n(o.n())
                                .seed(o.seed())
                                .threads(o.threads())
                                .batch_size(o.generate_batch_size()),
                            baseline);
  pipeline.on_progress = [&](int64_t listed, int64_t total) {
    progress("generate", static_cast<double>(listed), static_cast<double>(total), "");
  };
  pipeline.should_stop = stop_requested;
  const auto generated = pipeline.run();
  configure_threads(o.threads());
  if (!generated.complete) {
    throw Interrupted("interrupted after " +
                      std::to_string(generated.already_done + generated.written) + " of " +
                      std::to_string(o.n()) + " images; rerun with --resume to finish");
  }
  timings["generate_s"] = seconds_since(start);

  summary["scheme"] = to_string(o.scheme());
  summary["num_classes"] = k;
  summary["class_names"] = train.class_names;
  summary["n"] = o.n();
  summary["seed"] = o.seed();
  summary["train"] = {
      {"source", train.source}, {"images", train.size()}, {"class_counts", train.class_counts()}};
  summary["test"] = test_description;
  summary["test"]["images"] = test.size();
  summary["image_shape"] = {train.channels(), train.height(), train.width()};
  summary["device"] = select_device(o.device()).str();
  summary["threads"] = threads;
  summary["gan_images_per_s"] = gan_rate;
  summary["classic"] = o.classic() ? nlohmann::json(o.classic_options().to_string()) : nullptr;
  summary["generated"] = {{"resumed_from", generated.already_done}, {"written", generated.written}};

  // -- retrain on real + synthetic, evaluate --
  start = Clock::now();
  if (o.retrain()) {
    // Read the images back from the written output: what is trained on is what users get.
    auto list = read_csv_manifest(out / "labels.csv");
    auto synthetic = LoadPipeline(list, LoadOptions().threads(o.threads())).run();
    configure_threads(o.threads());
    synthetic.class_names = train.class_names;
    const int64_t outputs = target_width(o.scheme(), k);
    Classifier retrained{nullptr};
    try {
      retrained = train_classifier(train, o.n() > 0 ? &synthetic : nullptr,
                                   classifier_options(outputs), classifier_hooks("retrain"));
    } catch (const Error&) {
      if (stop_requested())
        throw Interrupted("interrupted while retraining the classifier; rerun with --resume");
      throw;
    }
    const auto base_metrics = evaluate(baseline, test);
    const auto new_metrics = evaluate(retrained, test);
    summary["baseline"] = to_json(base_metrics);
    summary["retrained"] = to_json(new_metrics);
    summary["gain"] = new_metrics.accuracy - base_metrics.accuracy;
  }
  timings["retrain_s"] = seconds_since(start);
  timings["total_s"] = seconds_since(total_start);
  summary["timings"] = timings;
  summary["out_dir"] = fs::absolute(out).string();
  const auto text = summary.dump(2) + "\n";
  write_file_atomic(out / "summary.json", std::vector<uchar>(text.begin(), text.end()));
  return summary;
}

}  // namespace ganaug
