#include "ganaug/synthesize.hpp"

#include <torch/torch.h>

#include <algorithm>

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

}  // namespace

SyntheticSet synthesize(const LabeledDataset& data, const SynthesizeOptions& options,
                        const SynthesizeCallbacks& callbacks) {
  options.validate();
  data.validate();
  const int64_t k = data.num_classes();
  const auto counts = data.class_counts();
  for (int64_t c = 0; c < k; ++c) {
    GANAUG_CHECK(counts[static_cast<size_t>(c)] > 0, "class '", data.class_names[c], "' of ",
                 data.source, " has no labeled images; every class needs some");
  }
  if (options.threads() > 0) configure_threads(options.threads());
  const auto report = [&](const char* stage, int64_t done, int64_t total) {
    if (callbacks.on_progress) callbacks.on_progress({stage, done, total});
  };
  StageHooks stage{callbacks.should_stop, ""};

  SyntheticSet out;
  out.class_names = data.class_names;
  out.scheme = options.scheme();
  Classifier teacher{nullptr};
  const bool use_pool = (data.labels < 0).any().item<bool>() && options.pool_confidence() > 0 &&
                        options.generator().empty();
  if (options.scheme() == Scheme::kArgmax || use_pool) {
    ClassifierHooks hooks;
    hooks.on_epoch = [&](const ClassifierProgress& p) { report("teacher", p.epoch, p.epochs); };
    teacher = train_stage_classifier("training the teacher", data, nullptr,
                                     ClassifierOptions(k, data.height(), data.channels())
                                         .epochs(options.teacher_epochs())
                                         .seed(options.seed())
                                         .device(options.device()),
                                     hooks, stage);
  }

  Generator generator{nullptr};
  if (!options.generator().empty()) {
    auto loaded = load_generator(options.generator(), options.device());
    check_generator_fits(loaded, data, options.generator());
    generator = loaded.generator;
    out.gan_iterations = loaded.iteration;
  } else {
    GANAUG_CHECK(data.height() == data.width(), "the GAN needs square images; ", data.source,
                 " holds ", data.height(), "x", data.width());
    auto gan_options = GanOptions(options.gan())
                           .num_classes(k)
                           .image_size(data.height())
                           .channels(data.channels())
                           .seed(options.seed())
                           .device(options.device())
                           .threads(0);
    const auto gan_data =
        use_pool ? with_pool(data, teacher, options, &out.pool_images_used) : data;
    GanStage gan_stage;
    gan_stage.on_progress = [&](const GanProgress& p) { report("gan", p.iteration, p.iterations); };
    gan_stage.hooks = stage;
    auto trained = train_gan(gan_data, gan_options, data.class_names, gan_stage);
    generator = trained.generator;
    out.gan_iterations = trained.iterations;
  }

  const int64_t n = options.n();
  out.classes = balanced_classes(0, n, k);
  out.images = torch::empty({n, data.channels(), data.height(), data.width()});
  out.targets = torch::empty({n, target_width(options.scheme(), k)});
  for (int64_t first = 0; first < n; first += options.batch_size()) {
    stage.check_stop("while generating images");
    const int64_t last = std::min(n, first + options.batch_size());
    const auto classes = out.classes.slice(0, first, last);
    const auto images = generate(generator, classes, options.seed(), first, options.batch_size());
    const auto probabilities =
        teacher ? predict_probabilities(teacher, images, k) : torch::Tensor();
    out.images.slice(0, first, last).copy_(images);
    out.targets.slice(0, first, last)
        .copy_(scheme_targets(options.scheme(), classes, k, probabilities));
    report("generate", last, n);
  }
  out.labels = hard_labels(options.scheme(), out.targets);
  return out;
}

}  // namespace ganaug
