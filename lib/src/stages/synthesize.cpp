#include "ganaug/synthesize.hpp"

#include <torch/torch.h>

#include <algorithm>

#include "core/run_fields.hpp"
#include "ganaug/error.hpp"
#include "ganaug/job.hpp"
#include "ganaug/runtime.hpp"

namespace ganaug {

void SynthesizeOptions::validate() const {
  GANAUG_CHECK(n() >= 0, "the number of synthetic images must be 0 or positive, got ", n());
  GanOptions(gan()).num_classes(1).image_size(28).channels(1).validate();
  GANAUG_CHECK(teacher_epochs() >= 1, "teacher epochs must be positive, got ", teacher_epochs());
  GANAUG_CHECK(batch_size() >= 1, "the generation batch size must be positive, got ", batch_size());
  GANAUG_CHECK(threads() >= 0, "the thread count must be 0 (leave as is) or positive, got ",
               threads());
  GANAUG_CHECK(pool_confidence() >= 0 && pool_confidence() <= 1,
               "the pool confidence must lie in [0, 1], got ", pool_confidence());
  select_device(device());
}

LabeledDataset SyntheticSet::dataset() const {
  LabeledDataset out;
  out.images = images;
  const auto k = static_cast<int64_t>(class_names.size());
  out.labels = labels.defined() ? torch::where(labels < k, labels, torch::full_like(labels, -1))
                                : torch::Tensor();
  out.targets = targets;
  out.class_names = class_names;
  out.source = "synthetic (" + to_string(scheme) + ")";
  return out;
}

namespace {

// The teacher labels the pool (images labeled -1) in place: its confident images gain the
// teacher's class, the others stay without one (trained on only under GanOptions::unlabeled_share).
LabeledDataset with_pool(const LabeledDataset& data, Classifier& teacher,
                         const SynthesizeOptions& options, int64_t* pool_images_used) {
  const auto pool_index = torch::nonzero(data.labels < 0).flatten();
  const auto labels = label_pool(teacher, data.images.index_select(0, pool_index),
                                 data.num_classes(), options.pool_confidence());
  *pool_images_used = labels.kept();
  auto out = data;
  out.labels = data.labels.clone();
  out.labels.index_put_({pool_index.masked_select(labels.confident)},
                        labels.predicted.masked_select(labels.confident));
  return out;
}

// The generator of synthesize(): options.generator() loaded, or a GAN trained in `run` on the
// data (its pool labeled by the teacher when there is one).
Generator synthesis_generator(const RunContext& run, const LabeledDataset& data,
                              const SynthesizeOptions& options, Classifier& teacher, bool use_pool,
                              const StageHooks& stage, const SynthesizeCallbacks& callbacks,
                              SyntheticSet& out) {
  if (!options.generator().empty()) {
    auto loaded = load_generator(options.generator(), run.device());
    check_generator_fits(loaded, data, options.generator());
    out.gan_iterations = loaded.iteration;
    return loaded.generator;
  }
  const auto gan_options = detail::without_run(GanOptions(options.gan()))
                               .num_classes(data.num_classes())
                               .shape(image_shape(data));
  const auto gan_data = use_pool ? with_pool(data, teacher, options, &out.pool_images_used) : data;
  GanStage gan_stage;
  gan_stage.on_progress = [&](const GanProgress& p) {
    if (callbacks.on_progress) callbacks.on_progress({"gan", p.iteration, p.iterations});
  };
  gan_stage.hooks = stage;
  auto trained = train_gan(run, gan_data, gan_options, data.class_names, gan_stage);
  out.gan_iterations = trained.iterations;
  return trained.generator;
}

}  // namespace

SyntheticSet synthesize(const RunContext& run, const LabeledDataset& data,
                        const SynthesizeOptions& options, const SynthesizeCallbacks& callbacks) {
  const auto o = detail::with_run(options, run, "SynthesizeOptions");
  detail::check_run_field("SynthesizeOptions::gan", "out_dir", o.gan().out_dir(), std::string(),
                          run.out_dir());
  o.validate();
  data.validate();
  const int64_t k = data.num_classes();
  const auto counts = data.class_counts();
  for (int64_t c = 0; c < k; ++c) {
    GANAUG_CHECK(counts[static_cast<size_t>(c)] > 0, "class '", data.class_names[c], "' of ",
                 data.source, " has no labeled images; every class needs some");
  }
  if (run.threads() > 0) configure_threads(run.threads());
  // The stages leave the thread count as set here.
  const auto stage_run = RunContext(run).threads(0);
  const auto report = [&](const char* stage, int64_t done, int64_t total) {
    if (callbacks.on_progress) callbacks.on_progress({stage, done, total});
  };
  StageHooks stage{callbacks.should_stop, ""};

  SyntheticSet out;
  out.class_names = data.class_names;
  out.scheme = o.scheme();
  Classifier teacher{nullptr};
  const bool use_pool =
      (data.labels < 0).any().item<bool>() && o.pool_confidence() > 0 && o.generator().empty();
  if (o.scheme() == Scheme::kArgmax || use_pool) {
    ClassifierHooks hooks;
    hooks.on_epoch = [&](const ClassifierProgress& p) { report("teacher", p.epoch, p.epochs); };
    teacher = train_stage_classifier(
        RunContext(stage_run).out_dir(""), "training the teacher", data, nullptr,
        ClassifierOptions(k, image_shape(data)).epochs(o.teacher_epochs()), hooks, stage);
  }
  auto generator =
      synthesis_generator(stage_run, data, o, teacher, use_pool, stage, callbacks, out);

  const int64_t n = o.n();
  out.classes = balanced_classes(0, n, k);
  out.images = torch::empty({n, data.channels(), data.height(), data.width()});
  out.targets = torch::empty({n, target_width(o.scheme(), k)});
  for (int64_t first = 0; first < n; first += o.batch_size()) {
    stage.check_stop("while generating images");
    const int64_t last = std::min(n, first + o.batch_size());
    const auto classes = out.classes.slice(0, first, last);
    const auto images = generate(generator, classes, run.seed(), first, o.batch_size());
    const auto probabilities =
        teacher ? predict_probabilities(teacher, images, k) : torch::Tensor();
    out.images.slice(0, first, last).copy_(images);
    out.targets.slice(0, first, last).copy_(scheme_targets(o.scheme(), classes, k, probabilities));
    report("generate", last, n);
  }
  out.labels = hard_labels(o.scheme(), out.targets);
  return out;
}

SyntheticSet synthesize(const LabeledDataset& data, const SynthesizeOptions& options,
                        const SynthesizeCallbacks& callbacks) {
  return synthesize(detail::run_of(options).out_dir(options.gan().out_dir()), data,
                    SynthesizeOptions(options).gan(GanOptions(options.gan()).out_dir("")),
                    callbacks);
}

}  // namespace ganaug
