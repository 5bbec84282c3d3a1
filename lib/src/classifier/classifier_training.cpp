// train_classifier: the training loop of the downstream classifier (its batches, steps,
// optimizer and weight average); the network itself is in classifier.cpp.
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <optional>

#include "classifier/classifier_optimizer.hpp"
#include "core/run_fields.hpp"
#include "ganaug/classifier.hpp"
#include "ganaug/error.hpp"
#include "ganaug/runtime.hpp"
#include "ganaug/schemes.hpp"
#include "ganaug/seed_streams.hpp"
#include "runtime/cuda_graph.hpp"
#include "training/dropout_off.hpp"
#include "training/flat_optimizer.hpp"

namespace ganaug {

namespace {

// What train_classifier trains on, where each part lives, and how much of it a step takes.
// The data stay where the batches are made: on the training device, so that a step copies
// nothing from the host; on the CPU only where an augmentation hook (OpenCV) needs them there,
// and then each batch is copied once, after augmentation.
struct TrainingSet {
  TrainingSet(const LabeledDataset& real, const LabeledDataset* synthetic,
              const ClassifierOptions& options, const ClassifierHooks& hooks,
              const torch::Device& device)
      : device(device),
        real_device(hooks.augment ? host : device),
        synthetic_device(hooks.augment && hooks.augment_synthetic ? host : device) {
    const int64_t outputs = options.num_outputs();
    const auto labeled = torch::nonzero(real.labels >= 0).flatten();
    real_images = real.images.index_select(0, labeled).to(real_device);
    real_targets = torch::nn::functional::one_hot(real.labels.index_select(0, labeled), outputs)
                       .to(real_device, torch::kFloat32);
    n_real = real_images.size(0);
    GANAUG_CHECK(n_real > 0, "no labeled images to train the classifier on in ", real.source);
    use_synthetic = synthetic && synthetic->size() > 0 && options.synthetic_share() > 0;
    const int64_t batch = options.batch_size();
    if (use_synthetic) {
      synthetic_images = synthetic->images.to(synthetic_device);
      synthetic_targets = synthetic->targets.to(synthetic_device, torch::kFloat32).clone();
      synthetic_per_batch = std::max<int64_t>(
          1, std::llround(batch * options.synthetic_share() / (1 - options.synthetic_share())));
    }
    // The unlabeled pool: images labeled -1, kept on the host for the augmenters.
    const auto pool_index = torch::nonzero(real.labels < 0).flatten();
    use_pool = options.pool_weight() > 0 && pool_index.numel() > 0;
    if (use_pool) {
      pool_images = real.images.index_select(0, pool_index).to(host);
      pool_per_batch = std::max<int64_t>(1, std::llround(batch * options.pool_ratio()));
    }
  }

  const torch::Device host{torch::kCPU};
  torch::Device device, real_device, synthetic_device;
  torch::Tensor real_images, real_targets;            // labeled real images, one-hot targets
  torch::Tensor synthetic_images, synthetic_targets;  // soft targets
  torch::Tensor pool_images;                          // on the host
  int64_t n_real = 0, synthetic_per_batch = 0, pool_per_batch = 0;
  bool use_synthetic = false, use_pool = false;
};

// The random draws of one step, made in step order: its labeled images, its synthetic and
// pool picks, and the seed its augmentation hooks get.
struct StepPlan {
  torch::Tensor index, synthetic_pick, pool_pick;
  uint64_t batch_seed = 0;
  bool synthetic = false;
};

// One step's inputs: the labeled batch (the real images, augmented, then the synthetic ones)
// with its targets and loss weights, and the pool's weak and strong views.
struct Batch {
  torch::Tensor images, targets, weights, weak, strong;
  torch::Tensor pool_pick;  // the pool images of `weak` and `strong`
  int64_t n_real = 0;
  bool synthetic = false;
};

// Makes the steps' plans in step order: each epoch's batch order and synthetic picks from
// generators seeded by (seed, epoch), on the devices their data live on; its pool picks from a
// third. Dynamic argmax leaves the synthetic images out of the first warmup_steps steps.
class StepPlanner {
 public:
  StepPlanner(const TrainingSet& set, const ClassifierOptions& options, int64_t warmup_steps)
      : set_(set),
        seed_(options.seed()),
        batch_(options.batch_size()),
        warmup_steps_(warmup_steps),
        per_epoch_((set.n_real + batch_ - 1) / batch_) {}

  int64_t steps_per_epoch() const { return per_epoch_; }

  StepPlan plan(int64_t step) {
    const int64_t epoch = step / per_epoch_;
    const int64_t first = step % per_epoch_ * batch_;
    if (first == 0) start_epoch(epoch);
    StepPlan p;
    p.batch_seed = mix_seed(seed_, static_cast<uint64_t>(epoch * 100003 + first));
    p.index = order_.slice(0, first, std::min(first + batch_, set_.n_real));
    p.synthetic = set_.use_synthetic && step >= warmup_steps_;
    const auto long_type = torch::TensorOptions().dtype(torch::kInt64);
    if (p.synthetic)
      p.synthetic_pick = torch::randint(set_.synthetic_images.size(0), {set_.synthetic_per_batch},
                                        *synthetic_rng_, long_type.device(set_.synthetic_device));
    if (set_.use_pool)
      p.pool_pick = torch::randint(set_.pool_images.size(0), {set_.pool_per_batch}, *pool_rng_,
                                   long_type.device(set_.host));
    return p;
  }

 private:
  void start_epoch(int64_t epoch) {
    const uint64_t epoch_seed = mix_seed(seed_, static_cast<uint64_t>(epoch));
    rng_ = make_generator(set_.real_device, epoch_seed);
    synthetic_rng_ = set_.synthetic_device == set_.real_device
                         ? *rng_
                         : make_generator(set_.synthetic_device, ~epoch_seed);
    pool_rng_ = make_generator(set_.host, mix_seed(epoch_seed, streams::kClassifierPoolDraw));
    order_ = torch::randperm(set_.n_real, *rng_,
                             torch::TensorOptions().dtype(torch::kInt64).device(set_.real_device));
  }

  const TrainingSet& set_;
  uint64_t seed_;
  int64_t batch_, warmup_steps_, per_epoch_;
  std::optional<at::Generator> rng_, synthetic_rng_, pool_rng_;
  torch::Tensor order_;
};

// A step's inputs from its plan: the hooks' augmentation on the host, then one copy each to
// the training device. Reads only `set` and the plan, so it may run on another thread.
Batch build_step(const TrainingSet& set, const StepPlan& plan, double synthetic_weight,
                 const ClassifierHooks& hooks) {
  const auto float_on_device = torch::TensorOptions().dtype(torch::kFloat32).device(set.device);
  Batch b;
  b.images = set.real_images.index_select(0, plan.index);
  if (hooks.augment) b.images = hooks.augment(b.images, plan.batch_seed).to(set.device);
  b.targets = set.real_targets.index_select(0, plan.index).to(set.device);
  b.n_real = b.images.size(0);
  b.weights = torch::ones({b.n_real}, float_on_device);
  b.synthetic = plan.synthetic;
  if (plan.synthetic) {
    auto extra = set.synthetic_images.index_select(0, plan.synthetic_pick);
    if (hooks.augment && hooks.augment_synthetic) extra = hooks.augment(extra, plan.batch_seed + 1);
    b.images = torch::cat({b.images, extra.to(set.device)});
    b.targets = torch::cat(
        {b.targets, set.synthetic_targets.index_select(0, plan.synthetic_pick).to(set.device)});
    b.weights = torch::cat(
        {b.weights, torch::full({set.synthetic_per_batch}, synthetic_weight, float_on_device)});
  }
  if (set.use_pool) {
    const auto unlabeled = set.pool_images.index_select(0, plan.pool_pick);
    const auto& weak_view = hooks.weak_augment ? hooks.weak_augment : hooks.augment;
    b.weak = (weak_view ? weak_view(unlabeled, plan.batch_seed + 2) : unlabeled).to(set.device);
    b.strong = hooks.strong_augment(unlabeled, plan.batch_seed + 3).to(set.device);
    b.pool_pick = plan.pool_pick;
  }
  return b;
}

// Prepares each step on the training thread when it is taken (no feeder, or prefetch 0).
class InlineFeeder final : public StepFeeder {
 public:
  void start(int64_t, Task plan, Task build) override {
    plan_ = std::move(plan);
    build_ = std::move(build);
  }
  void take(int64_t step) override {
    plan_(step);
    build_(step);
  }

 private:
  Task plan_, build_;
};

// The batch's weighted cross-entropy: real and synthetic images in separate forward passes
// when asked (batch statistics of a single image mean little: such a part goes through with
// the other); under dynamic argmax the synthetic targets are the network's own predictions.
// `pool_views`, when given, are the step's weak and strong pool views: they go through the
// network in the real images' pass (FixMatch's one batch-norm pass), and their logits come back
// in `pool_logits`.
torch::Tensor labeled_loss(Classifier& model, Batch& b, const ClassifierOptions& options,
                           int64_t num_classes, int64_t step, const ClassifierHooks& hooks,
                           const torch::Tensor& pool_views = {},
                           torch::Tensor* pool_logits = nullptr) {
  torch::Tensor logits;
  const bool separate = b.synthetic && options.separate_synthetic_batches() && b.n_real >= 2 &&
                        b.images.size(0) - b.n_real >= 2;
  const int64_t first_pass = separate ? b.n_real : b.images.size(0);
  auto with_pool = b.images.slice(0, 0, first_pass);
  if (pool_views.defined()) with_pool = torch::cat({with_pool, pool_views});
  logits = model(with_pool);
  if (pool_views.defined()) {
    *pool_logits = logits.slice(0, first_pass);
    logits = logits.slice(0, 0, first_pass);
  }
  if (separate) logits = torch::cat({logits, model(b.images.slice(0, b.n_real))});
  if (b.synthetic && options.dynamic_argmax()) {
    // The paper's dynamic argmax: each synthetic image is trained towards the network's own
    // current prediction over the real classes, from this very forward pass (detached).
    const auto own = logits.slice(0, b.n_real).detach().slice(1, 0, num_classes).argmax(1);
    b.targets = torch::cat(
        {b.targets.slice(0, 0, b.n_real),
         torch::nn::functional::one_hot(own, options.num_outputs()).to(torch::kFloat32)});
  }
  if (b.synthetic && hooks.on_synthetic_batch)
    hooks.on_synthetic_batch(step, logits.slice(0, b.n_real).detach(),
                             b.targets.slice(0, b.n_real));
  const auto losses = soft_cross_entropy(logits, b.targets);
  return (losses * b.weights).sum() / static_cast<double>(b.images.size(0));
}

// What the pool's loss keeps from step to step.
struct PoolDraws {
  torch::Tensor confident;                     // the epoch's summed share of targets
  detail::DistributionAlignment* alignment{};  // when the targets are aligned
  torch::Tensor truth;                         // ClassifierHooks::pool_truth, when given
  torch::Tensor right, targets;                // the epoch's counts of right targets and targets
};

// FixMatch's consistency loss on the step's pool images: the weak view's confident prediction
// is the strong view's hard target. Adds the step's share of confident images to
// draws.confident.
// With `views` (the weak then the strong view's logits of one pass with the labeled images)
// the network is not run again.
torch::Tensor pool_loss(Classifier& model, const Batch& b, const ClassifierOptions& options,
                        int64_t num_classes, PoolDraws& draws, const torch::Tensor& views = {}) {
  torch::Tensor guess;
  const int64_t n = b.weak.size(0);
  {
    torch::NoGradGuard no_grad;
    detail::DropoutOff dropout_off(model, !options.pool_target_dropout() && !views.defined());
    const auto weak = views.defined() ? views.slice(0, 0, n).detach() : model(b.weak);
    guess = torch::softmax(weak.slice(1, 0, num_classes), 1);
    if (draws.alignment) guess = draws.alignment->align(guess);
  }
  const auto [loss, confident] = consistency_loss(
      guess, views.defined() ? views.slice(0, n) : model(b.strong), options.pool_threshold());
  draws.confident.add_(confident);
  if (draws.truth.defined()) {
    const auto [probability, predicted] = guess.max(1);
    const auto target = probability.ge(options.pool_threshold());
    const auto truth = draws.truth.index_select(0, b.pool_pick).to(predicted.device());
    const auto known = target & truth.ge(0);  // a pool image without a class is not counted
    draws.right.add_((predicted.eq(truth) & known).sum());
    draws.targets.add_(known.sum());
  }
  return loss;
}

void check_training_inputs(const LabeledDataset& real, const LabeledDataset* synthetic,
                           const ClassifierOptions& options, const ClassifierHooks& hooks) {
  options.validate();
  real.validate();
  const int64_t outputs = options.num_outputs();
  const int64_t k = real.num_classes();
  GANAUG_CHECK(outputs == k || outputs == k + 1, "a classifier for ", k, " classes needs ", k,
               " or ", k + 1, " outputs, not ", outputs);
  real.check_image_shape(options.channels(), options.image_size(), "the classifier");
  if (synthetic && synthetic->size() > 0 && options.synthetic_share() > 0) {
    GANAUG_CHECK(synthetic->targets.defined() && synthetic->targets.size(1) == outputs,
                 "synthetic images need soft targets with ", outputs, " entries");
    GANAUG_CHECK(synthetic->images.sizes().slice(1) == real.images.sizes().slice(1),
                 "synthetic and real images differ in shape");
  }
  GANAUG_CHECK(options.pool_weight() <= 0 || (real.labels < 0).sum().item<int64_t>() == 0 ||
                   hooks.strong_augment,
               "consistency training on an unlabeled pool needs ClassifierHooks::strong_augment");
  GANAUG_CHECK(!hooks.pool_truth.defined() ||
                   hooks.pool_truth.numel() == (real.labels < 0).sum().item<int64_t>(),
               "ClassifierHooks::pool_truth holds ", hooks.pool_truth.numel(), " classes for ",
               (real.labels < 0).sum().item<int64_t>(), " pool images");
}

// The pool's targets aligned to the labeled images' class shares, when asked.
std::unique_ptr<detail::DistributionAlignment> make_alignment(const TrainingSet& set,
                                                              const ClassifierOptions& options,
                                                              int64_t num_classes) {
  if (!set.use_pool || !options.distribution_alignment()) return nullptr;
  const auto shares = set.real_targets.slice(1, 0, num_classes).mean(0).to(set.device);
  return std::make_unique<detail::DistributionAlignment>(shares);
}

// Full steps captured as one CUDA graph (ClassifierOptions::cuda_graphs): the graph and its
// side stream, the static inputs a replay reads, the learning rate on the device, and the
// dropout layers drawing from the device's default generator, reseeded for every step.
struct StepGraph {
  static constexpr int64_t kEagerSteps = 3;  // full steps before the capture

  StepGraph(const torch::Device& device, Classifier model_, uint64_t dropout_seed_)
      : graph(device),
        model(std::move(model_)),
        dropout_seed(dropout_seed_),
        lr(torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(device))) {
    for (auto& m : model->modules())
      if (auto* dropout = m->as<SeededDropoutImpl>()) dropout->draw_from(graph.generator());
  }
  ~StepGraph() {
    for (auto& m : model->modules())
      if (auto* dropout = m->as<SeededDropoutImpl>()) dropout->draw_from(std::nullopt);
  }

  // Before step `step` that reads inputs the feeder queued on the default stream.
  void start(int64_t step, double learning_rate) {
    graph.wait_for_default_stream();
    graph.seed(mix_seed(dropout_seed, static_cast<uint64_t>(step)));
    lr.fill_(learning_rate);
  }

  // The static inputs hold `b` (made at the first call).
  void load(const Batch& b) {
    if (!inputs.images.defined()) {
      inputs = b;
      inputs.images = b.images.clone();
      inputs.targets = b.targets.clone();
      inputs.weights = b.weights.clone();
      return;
    }
    inputs.images.copy_(b.images);
    inputs.targets.copy_(b.targets);
    inputs.weights.copy_(b.weights);
  }

  detail::CudaStepGraph graph;
  Classifier model;
  uint64_t dropout_seed;
  torch::Tensor lr;    // float64 scalar
  Batch inputs;        // read by the captured step
  torch::Tensor loss;  // written by it
  int64_t eager_full_steps = 0;
  bool capturing = false;
};

// One call of train_classifier: the model, its optimizer and weight average, the data, and
// the steps as the feeder prepares them (step i's plan and batch in slot i % slots).
class TrainingRun {
 public:
  TrainingRun(const LabeledDataset& real, const LabeledDataset* synthetic,
              const ClassifierOptions& options, const ClassifierHooks& hooks)
      : options_(options),
        hooks_(hooks),
        k_(real.num_classes()),
        device_(select_device(options.device())),
        model_(options),
        set_(real, synthetic, options, hooks, device_),
        dynamic_(set_.use_synthetic && options.dynamic_argmax()),
        synthetic_weight_(dynamic_ ? options.dynamic_weight() : options.synthetic_weight()),
        total_steps_((set_.n_real + options.batch_size() - 1) / options.batch_size() *
                     options.epochs()),
        // Dynamic argmax trains on the real images alone for the first warmup_share of the steps.
        planner_(set_, options,
                 dynamic_ ? static_cast<int64_t>(std::ceil(options.warmup_share() *
                                                           static_cast<double>(total_steps_)))
                          : 0),
        ramp_steps_(options.pool_ramp_share() * static_cast<double>(total_steps_)) {
    model_->reset_parameters(options.seed());
    model_->to(device_);
    optimizer_ = detail::make_classifier_optimizer(model_, options);
    if (options.ema_decay() > 0) average_.emplace(optimizer_->values(), options.ema_decay());
    alignment_ = make_alignment(set_, options, k_);
  }

  Classifier train() {
    const int64_t ahead = hooks_.feeder ? options_.prefetch_steps(device_) : 0;
    plans_.resize(static_cast<size_t>(ahead + 1));
    batches_.resize(plans_.size());
    if (graphs_wanted())
      graph_ = std::make_unique<StepGraph>(
          device_, model_, mix_seed(options_.seed(), streams::kClassifierGraphDropout));
    std::unique_ptr<StepFeeder> feeder;
    if (ahead > 0) feeder = hooks_.feeder(ahead);
    if (!feeder) feeder = std::make_unique<InlineFeeder>();
    feeder->start(
        total_steps_, [this](int64_t step) { plans_[slot(step)] = planner_.plan(step); },
        [this](int64_t step) {
          batches_[slot(step)] = build_step(set_, plans_[slot(step)], synthetic_weight_, hooks_);
        });
    const auto start = std::chrono::steady_clock::now();
    for (int64_t epoch = 0; epoch < options_.epochs(); ++epoch) {
      auto progress = train_epoch(epoch, *feeder);
      progress.seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (hooks_.on_epoch) hooks_.on_epoch(progress);
    }
    feeder.reset();
    graph_.reset();
    return finish();
  }

 private:
  size_t slot(int64_t step) const { return static_cast<size_t>(step) % plans_.size(); }

  bool graphs_wanted() const {
    return options_.cuda_graphs() && device_.is_cuda() && cuda_graphs_available() &&
           !set_.use_pool && !dynamic_ && !hooks_.on_synthetic_batch && !options_.custom();
  }

  ClassifierProgress train_epoch(int64_t epoch, StepFeeder& feeder) {
    model_->train();
    // Summed on the device and read once per epoch.
    const auto float64_on_device = torch::TensorOptions().dtype(torch::kFloat64).device(device_);
    auto loss_sum = torch::zeros({}, float64_on_device);
    PoolDraws pool;
    pool.confident = torch::zeros({}, float64_on_device);
    pool.alignment = alignment_.get();
    if (set_.use_pool && hooks_.pool_truth.defined()) {
      pool.truth = hooks_.pool_truth.to(torch::kCPU, torch::kInt64).flatten();
      pool.right = torch::zeros({}, float64_on_device);
      pool.targets = torch::zeros({}, float64_on_device);
    }
    const int64_t batches = planner_.steps_per_epoch();
    for (int64_t i = 0; i < batches; ++i, ++step_) {
      if (hooks_.should_stop && hooks_.should_stop())
        throw Interrupted("classifier training interrupted");
      // The feeder may reuse the memory of the last step's inputs once it has been read.
      if (graph_) graph_->graph.default_stream_waits();
      feeder.take(step_);
      auto& b = batches_[slot(step_)];
      const double lr = scheduled_learning_rate(options_, step_, total_steps_);
      if (graph_) graph_->start(step_, lr);
      loss_sum.add_(replayable(b) ? graph_step(b) : eager_step(b, lr, pool));
    }
    ClassifierProgress progress;
    progress.epoch = epoch + 1;
    progress.epochs = options_.epochs();
    progress.loss = loss_sum.item<double>() / static_cast<double>(batches);
    GANAUG_CHECK(std::isfinite(progress.loss), "classifier training diverged in epoch ", epoch + 1,
                 "; lower the learning rate");
    if (set_.use_pool) progress.pool_confident = pool.confident.item<double>() / batches;
    if (pool.truth.defined() && pool.targets.item<double>() > 0)
      progress.pool_accuracy = pool.right.item<double>() / pool.targets.item<double>();
    return progress;
  }

  // Whether step `b` replays the graph: a full batch after the eager steps that warm it up.
  bool replayable(const Batch& b) {
    if (!graph_ || b.n_real != options_.batch_size() ||
        b.images.size(0) != b.n_real + (set_.use_synthetic ? set_.synthetic_per_batch : 0))
      return false;
    return graph_->eager_full_steps++ >= StepGraph::kEagerSteps;
  }

  // The step's loss (labeled images, and the pool's consistency term when there is a pool).
  torch::Tensor step_loss(Batch& b, PoolDraws& pool) {
    if (!set_.use_pool) return labeled_loss(model_, b, options_, k_, step_, hooks_);
    // One pass over the labeled, weak and strong images (pool_one_pass), or three.
    torch::Tensor views;
    auto loss = labeled_loss(
        model_, b, options_, k_, step_, hooks_,
        options_.pool_one_pass() ? torch::cat({b.weak, b.strong}) : torch::Tensor(), &views);
    const double ramp =
        ramp_steps_ > 0 ? std::min(1.0, static_cast<double>(step_) / ramp_steps_) : 1.0;
    return loss + options_.pool_weight() * ramp * pool_loss(model_, b, options_, k_, pool, views);
  }

  // Gradients and the update; with a graph, the update reads the learning rate and the step
  // count on the device (as a replay does), and a capture leaves the average's count to replay.
  void update(const torch::Tensor& loss, double lr) {
    optimizer_->zero_grad();
    loss.backward();
    if (graph_)
      optimizer_->step_on_device(graph_->lr);
    else
      optimizer_->step(lr);
    if (!average_) return;
    average_->accumulate(optimizer_->values());
    if (!graph_ || !graph_->capturing) average_->count();
  }

  torch::Tensor eager_step(Batch& b, double lr, PoolDraws& pool) {
    auto loss = step_loss(b, pool);
    update(loss, lr);
    return loss.detach();
  }

  // The step replayed from the graph, captured at the first call. Returns its loss (in the
  // graph's memory: read it before the next replay).
  torch::Tensor graph_step(const Batch& b) {
    auto& g = *graph_;
    g.load(b);
    if (!g.graph.captured()) {
      g.capturing = true;
      try {
        g.graph.capture([&] {
          PoolDraws none;
          auto loss = step_loss(g.inputs, none);
          update(loss, 0);
          g.loss = loss.detach();
        });
        g.capturing = false;
      } catch (const std::exception& e) {
        g.capturing = false;
        GANAUG_FAIL("capturing the classifier's training step as a CUDA graph failed: ", e.what(),
                    "; train without graphs (ClassifierOptions::cuda_graphs(false), "
                    "--no-cuda-graphs)");
      }
    }
    g.graph.replay();
    if (average_) average_->count();
    return g.loss;
  }

  Classifier finish();

  const ClassifierOptions& options_;
  const ClassifierHooks& hooks_;
  int64_t k_;
  torch::Device device_;
  Classifier model_;
  std::unique_ptr<detail::FlatOptimizer> optimizer_;
  std::optional<detail::WeightAverage> average_;
  const TrainingSet set_;
  std::unique_ptr<detail::DistributionAlignment> alignment_;
  bool dynamic_;
  double synthetic_weight_;
  int64_t total_steps_;
  StepPlanner planner_;
  double ramp_steps_;
  std::vector<StepPlan> plans_;
  std::vector<Batch> batches_;
  std::unique_ptr<StepGraph> graph_;
  int64_t step_ = 0;
};

// The trained model: the weight average when kept, batch norm recalibrated when asked.
Classifier TrainingRun::finish() {
  if (average_) {
    torch::NoGradGuard no_grad;
    optimizer_->values().copy_(average_->average());
  }
  optimizer_->release();
  if (options_.recalibrate_batchnorm()) recalibrate_batchnorm(model_, set_.real_images);
  model_->eval();
  return model_;
}

}  // namespace

std::unique_ptr<detail::FlatOptimizer> detail::make_classifier_optimizer(
    Classifier& model, const ClassifierOptions& options, double beta1, double beta2) {
  std::vector<torch::Tensor> parameters;
  for (const auto& p : model->parameters())
    if (p.requires_grad()) parameters.push_back(p);
  if (options.optimizer() == ClassifierOptimizer::kAdam)
    return std::make_unique<detail::FlatAdam>(parameters, options.weight_decay(), beta1, beta2);
  std::vector<bool> decayed;
  for (const auto& p : parameters) decayed.push_back(p.dim() > 1);
  return std::make_unique<detail::FlatSgd>(parameters, decayed, options.weight_decay(),
                                           options.momentum(), true);
}

Classifier train_classifier(const RunContext& run, const LabeledDataset& real,
                            const LabeledDataset* synthetic, const ClassifierOptions& options,
                            const ClassifierHooks& hooks) {
  const auto o = detail::with_run(options, run, "ClassifierOptions");
  check_training_inputs(real, synthetic, o, hooks);
  if (run.threads() > 0) configure_threads(run.threads());
  return TrainingRun(real, synthetic, o, hooks).train();
}

Classifier train_classifier(const LabeledDataset& real, const LabeledDataset* synthetic,
                            const ClassifierOptions& options, const ClassifierHooks& hooks) {
  return train_classifier(detail::run_of(options), real, synthetic, options, hooks);
}

}  // namespace ganaug
