#include "ganaug/job.hpp"

#include <torch/torch.h>

#include <chrono>

#include "core/run_fields.hpp"
#include "ganaug/choices.hpp"
#include "ganaug/error.hpp"

namespace ganaug {

namespace {
const Choices<PoolGan>& pool_gans() {
  static const Choices<PoolGan> choices("use of the pool by the GAN",
                                        {{PoolGan::kTeacher, "teacher"},
                                         {PoolGan::kUnconditional, "unconditional"},
                                         {PoolGan::kBoth, "both"}});
  return choices;
}
const Choices<PoolTeacher>& pool_teachers() {
  static const Choices<PoolTeacher> choices(
      "pool teacher", {{PoolTeacher::kClassic, "classic"}, {PoolTeacher::kPseudo, "pseudo"}});
  return choices;
}
}  // namespace

PoolGan parse_pool_gan(const std::string& name) { return pool_gans().parse(name); }

std::string to_string(PoolGan mode) { return pool_gans().name(mode); }

PoolTeacher parse_pool_teacher(const std::string& name) { return pool_teachers().parse(name); }

std::string to_string(PoolTeacher teacher) { return pool_teachers().name(teacher); }

int64_t PoolLabels::kept() const {
  return confident.defined() ? confident.sum().item<int64_t>() : 0;
}

PoolLabels label_pool(Classifier& teacher, const torch::Tensor& pool_images, int64_t num_classes,
                      double confidence) {
  const auto [probability, predicted] =
      predict_probabilities(teacher, pool_images, num_classes).max(1);
  return {predicted, probability >= confidence};
}

LabeledDataset confident_pool(const LabeledDataset& pool, const PoolLabels& labels) {
  auto kept = pool.select(torch::nonzero(labels.confident).flatten());
  kept.labels = labels.predicted.masked_select(labels.confident);
  return kept;
}

LabeledDataset gan_training_data(const LabeledDataset& labeled, const LabeledDataset& pool,
                                 const PoolLabels& labels, PoolGan mode) {
  auto used = pool;  // labels -1: trained on without a class
  if (mode != PoolGan::kUnconditional) {
    used.labels = torch::where(labels.confident, labels.predicted, pool.labels);
    if (mode == PoolGan::kTeacher) used = used.select(torch::nonzero(labels.confident).flatten());
  }
  return used.size() > 0 ? concatenate({labeled, used}) : labeled;
}

void StageHooks::check_stop(const std::string& what) const {
  if (stop_requested()) throw Interrupted("interrupted " + what + resume_hint);
}

TrainedGan train_gan(const RunContext& run, const LabeledDataset& data, const GanOptions& options,
                     const std::vector<std::string>& class_names, const GanStage& stage) {
  const auto start = std::chrono::steady_clock::now();
  GanTrainer trainer(run, options, class_names);
  if (!stage.resume_from.empty()) trainer.resume(stage.resume_from);
  if (stage.group) trainer.distribute(stage.group);
  TrainedGan out;
  trainer.on_progress = [&](const GanProgress& p) {
    out.images_per_second = p.images_per_second;
    if (stage.on_progress) stage.on_progress(p);
  };
  trainer.should_stop = stage.hooks.should_stop;
  if (!trainer.train(data)) {
    throw Interrupted("interrupted during GAN training at iteration " +
                      std::to_string(trainer.iteration()) + stage.hooks.resume_hint);
  }
  out.generator = trainer.sampling_generator();
  out.iterations = trainer.iteration();
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

ClassifierOptions joint_classifier_options(const ClassifierOptions& c, const JointOptions& j) {
  // One batch-norm pass over the pool's views is the pool columns' setting (a grid's joint
  // columns run their passes apart; augment refuses it with a joint scheme).
  return ClassifierOptions(c)
      .pool_one_pass(false)
      .optimizer(j.classifier().optimizer())
      .ema_decay(c.ema_decay() > 0 ? c.ema_decay() : j.classifier().ema_decay());
}

JointOptions joint_stage_options(const JointOptions& joint, const ClassifierOptions& classifier,
                                 const GanOptions& gan, const LabeledDataset& data) {
  return detail::without_run(JointOptions(joint))
      .num_classes(data.num_classes())
      .shape(image_shape(data))
      .classifier(detail::without_run(joint_classifier_options(classifier, joint)))
      .gan(detail::without_run(gan))
      .checkpoint_every(gan.checkpoint_every())
      .log_every(gan.log_every());
}

TrainedJoint train_joint(const RunContext& run, const LabeledDataset& labeled,
                         const LabeledDataset* pool, const JointOptions& options,
                         const std::vector<std::string>& class_names, const JointStage& stage) {
  JointTrainer trainer(run, options, class_names);
  if (!stage.resume_from.empty()) trainer.resume(stage.resume_from);
  trainer.should_stop = stage.hooks.should_stop;
  trainer.on_progress = stage.on_progress;
  trainer.augment = stage.views.augment;
  trainer.weak_augment = stage.views.weak_augment;
  trainer.strong_augment = stage.views.strong_augment;
  if (!trainer.train(labeled, pool)) {
    throw Interrupted("interrupted during joint training at step " +
                      std::to_string(trainer.iteration()) + stage.hooks.resume_hint);
  }
  return {trainer.classifier(), trainer.sampling_generator()};
}

TrainedGan train_gan(const LabeledDataset& data, const GanOptions& options,
                     const std::vector<std::string>& class_names, const GanStage& stage) {
  return train_gan(detail::run_of(options), data, options, class_names, stage);
}

JointOptions joint_stage_options(const JointOptions& joint, const ClassifierOptions& classifier,
                                 const GanOptions& gan, const LabeledDataset& data, uint64_t seed,
                                 const std::string& device, int threads,
                                 const std::string& out_dir) {
  return joint_stage_options(joint, classifier, gan, data)
      .seed(seed)
      .device(device)
      .threads(threads)
      .out_dir(out_dir);
}

TrainedJoint train_joint(const LabeledDataset& labeled, const LabeledDataset* pool,
                         const JointOptions& options, const std::vector<std::string>& class_names,
                         const JointStage& stage) {
  return train_joint(detail::run_of(options), labeled, pool, options, class_names, stage);
}

Classifier train_stage_classifier(const std::string& what, const LabeledDataset& real,
                                  const LabeledDataset* synthetic, const ClassifierOptions& options,
                                  ClassifierHooks hooks, const StageHooks& stage) {
  return train_stage_classifier(detail::run_of(options), what, real, synthetic, options,
                                std::move(hooks), stage);
}

Classifier train_stage_classifier(const RunContext& run, const std::string& what,
                                  const LabeledDataset& real, const LabeledDataset* synthetic,
                                  const ClassifierOptions& options, ClassifierHooks hooks,
                                  const StageHooks& stage) {
  if (!hooks.should_stop) hooks.should_stop = stage.should_stop;
  try {
    return train_classifier(run, real, synthetic, options, hooks);
  } catch (const Interrupted&) {
    throw Interrupted("interrupted while " + what + stage.resume_hint);
  }
}

}  // namespace ganaug
