#pragma once
/// The stages of an augmentation job, each written once: the teacher classifier and the pool's
/// pseudo-labels, the GAN's training data, the GAN (trained, resumed or reused) and the classifier
/// of a stage. The three front doors compose them — synthesize() (the job
/// in memory), run_augment() (the `augment` tool: output folders, resume, progress) and a cell
/// of run_experiment() (`augment-bench`: caching) — and differ only where docs/architecture.md
/// says they do.

#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ganaug/classifier.hpp"
#include "ganaug/dataset.hpp"
#include "ganaug/distributed.hpp"
#include "ganaug/gan.hpp"
#include "ganaug/joint.hpp"
#include "ganaug/run_context.hpp"

namespace ganaug {

/// How the images of an unlabeled pool train a GAN.
enum class PoolGan {
  /// The images the teacher gives a class with at least the pool confidence, with that class.
  kTeacher,
  /// Every pool image, without a class (the discriminator's unconditional term,
  /// GanOptions::unlabeled_share); no teacher needed.
  kUnconditional,
  /// The confident images with the teacher's class, the others without a class.
  kBoth,
};
/// Parses "teacher", "unconditional" or "both"; throws ganaug::Error naming the valid ones.
PoolGan parse_pool_gan(const std::string& name);
/// The name parse_pool_gan() reads back.
std::string to_string(PoolGan mode);

/// Which classifier labels an unlabeled pool for a GAN (and for self-training): the teacher.
enum class PoolTeacher {
  /// The supervised classifier of the labeled images (with classical augmentation where the
  /// run has it).
  kClassic,
  /// The classifier trained on the labeled images and the pool by consistency (FixMatch): the
  /// first stage of dual pseudo training (You et al., NeurIPS 2023), a stronger labeller.
  kPseudo,
};
/// Parses "classic" or "pseudo"; throws ganaug::Error naming the valid ones.
PoolTeacher parse_pool_teacher(const std::string& name);
/// The name parse_pool_teacher() reads back.
std::string to_string(PoolTeacher teacher);

/// A teacher's verdict on the images of an unlabeled pool.
struct PoolLabels {
  /// N int64: the teacher's most probable class of each image.
  torch::Tensor predicted;
  /// N bool: whether that class's probability reaches the confidence asked for.
  torch::Tensor confident;
  /// The number of confident images.
  int64_t kept() const;
};

/// The teacher's class for every image of `pool_images` (N x C x S x S) over `num_classes`, and
/// whether its probability reaches `confidence`.
PoolLabels label_pool(Classifier& teacher, const torch::Tensor& pool_images, int64_t num_classes,
                      double confidence);

/// The images of `pool` the teacher is confident of, labeled with its class (in pool order):
/// what the GAN learns from the pool, and self-training's extra labeled images.
LabeledDataset confident_pool(const LabeledDataset& pool, const PoolLabels& labels);

/// The GAN's training data: `labeled`, then the images of `pool` that `mode` uses, in pool
/// order: with a class the teacher's (`labels`, ignored under kUnconditional), without one
/// labeled -1. When no pool image is used, `labeled` itself.
LabeledDataset gan_training_data(const LabeledDataset& labeled, const LabeledDataset& pool,
                                 const PoolLabels& labels, PoolGan mode);

/// Hooks of one training stage; both optional, run on the calling thread.
struct StageHooks {
  /// Polled between steps; true stops the stage, which throws ganaug::Interrupted.
  std::function<bool()> should_stop;
  /// Appended to the Interrupted message: what the user does next ("rerun with --resume").
  std::string resume_hint;

  bool stop_requested() const { return should_stop && should_stop(); }
  /// Throws ganaug::Interrupted("interrupted " + what + resume_hint) when a stop was requested.
  void check_stop(const std::string& what) const;
};

/// How a GAN stage trains beyond its GanOptions.
struct GanStage {
  /// A checkpoint to continue (GanTrainer::resume) when not empty.
  std::string resume_from;
  /// Data-parallel training over this group when set (GanTrainer::distribute).
  std::shared_ptr<ProcessGroup> group;
  /// Every log_every iterations (GanTrainer::on_progress).
  std::function<void(const GanProgress&)> on_progress;
  StageHooks hooks;
};

/// A GAN trained by train_gan().
struct TrainedGan {
  /// The sampling generator (GanTrainer::sampling_generator).
  Generator generator{nullptr};
  /// Generator steps behind it (resumed ones included).
  int64_t iterations = 0;
  /// Wall time of this call and the last reported training speed (images per second).
  double seconds = 0;
  double images_per_second = 0;
};

/// Trains a GAN on `data` in `run` (its seed, device, threads, and out_dir for the log and
/// checkpoints) as `options` and `stage` say. Throws ganaug::Interrupted ("interrupted during GAN
/// training at iteration N" and the hint) when stopped; a checkpoint is then written if
/// run.out_dir() is set. Other errors as GanTrainer's.
TrainedGan train_gan(const RunContext& run, const LabeledDataset& data, const GanOptions& options,
                     const std::vector<std::string>& class_names, const GanStage& stage = {});

/// The classifier options of a job's joint training: the job's classifier `c` (network,
/// learning rate, schedule, weight decay, batch) with the joint options' optimizer (Adam unless
/// asked: the pool recipe's SGD does not carry over), and their Polyak decay unless `c` sets one;
/// without `c`'s pool_one_pass (joint training runs its passes apart).
ClassifierOptions joint_classifier_options(const ClassifierOptions& c, const JointOptions& j);

/// A job's joint stage: `joint` (form, steps, weights) for `data`'s classes and image shape
/// (image_shape), the job's classifier (joint_classifier_options) and GAN (with its checkpoint
/// and log cadence); the run is train_joint's.
JointOptions joint_stage_options(const JointOptions& joint, const ClassifierOptions& classifier,
                                 const GanOptions& gan, const LabeledDataset& data);

/// How a joint stage trains beyond its JointOptions.
struct JointStage {
  /// A checkpoint to continue (JointTrainer::resume) when not empty.
  std::string resume_from;
  /// The real images' views: only augment, weak_augment and strong_augment are read.
  ClassifierHooks views;
  /// Every log_every steps (JointTrainer::on_progress).
  std::function<void(const JointProgress&)> on_progress;
  StageHooks hooks;
};

/// A classifier and a generator trained together by train_joint().
struct TrainedJoint {
  Classifier classifier{nullptr};
  /// The sampling generator (JointTrainer::sampling_generator).
  Generator generator{nullptr};
};

/// Trains the joint networks in `run` on `labeled` (and `pool`'s images, without their labels,
/// when not null) as `options` and `stage` say. Throws ganaug::Interrupted ("interrupted during
/// joint training at step N" and the hint) when stopped; a checkpoint is then written (as the
/// trainer does).
TrainedJoint train_joint(const RunContext& run, const LabeledDataset& labeled,
                         const LabeledDataset* pool, const JointOptions& options,
                         const std::vector<std::string>& class_names, const JointStage& stage);

/// train_classifier() in `run`, stopped by `hooks.should_stop`: throws ganaug::Interrupted
/// ("interrupted while " + what + hint, `what` an activity such as "training the teacher") on a
/// stop; other errors unchanged.
Classifier train_stage_classifier(const RunContext& run, const std::string& what,
                                  const LabeledDataset& real, const LabeledDataset* synthetic,
                                  const ClassifierOptions& options, ClassifierHooks hooks,
                                  const StageHooks& stage);

/// Deprecated (removed in 0.7): the stages above in the run that the options' seed, device,
/// threads (and out_dir) describe.
GANAUG_DEPRECATED("pass a ganaug::RunContext: train_gan(run, data, options, class_names, stage)")
TrainedGan train_gan(const LabeledDataset& data, const GanOptions& options,
                     const std::vector<std::string>& class_names, const GanStage& stage = {});
GANAUG_DEPRECATED("pass the run to train_joint: joint_stage_options(joint, classifier, gan, data)")
JointOptions joint_stage_options(const JointOptions& joint, const ClassifierOptions& classifier,
                                 const GanOptions& gan, const LabeledDataset& data, uint64_t seed,
                                 const std::string& device, int threads,
                                 const std::string& out_dir);
GANAUG_DEPRECATED("pass a ganaug::RunContext: train_joint(run, labeled, pool, options, ...)")
TrainedJoint train_joint(const LabeledDataset& labeled, const LabeledDataset* pool,
                         const JointOptions& options, const std::vector<std::string>& class_names,
                         const JointStage& stage);
GANAUG_DEPRECATED("pass a ganaug::RunContext: train_stage_classifier(run, what, ...)")
Classifier train_stage_classifier(const std::string& what, const LabeledDataset& real,
                                  const LabeledDataset* synthetic, const ClassifierOptions& options,
                                  ClassifierHooks hooks, const StageHooks& stage);

}  // namespace ganaug
