#include "ganaug/joint.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <optional>

#include "classifier/classifier_optimizer.hpp"
#include "core/run_fields.hpp"
#include "gan/fake_classes.hpp"
#include "gan/gan_checkpoint.hpp"
#include "gan/gan_fields.hpp"
#include "gan/gan_support.hpp"
#include "ganaug/diffaugment.hpp"
#include "ganaug/error.hpp"
#include "ganaug/file_io.hpp"
#include "ganaug/joint_losses.hpp"
#include "ganaug/runtime.hpp"
#include "ganaug/schemes.hpp"
#include "ganaug/seed_streams.hpp"
#include "training/dropout_off.hpp"
#include "training/flat_optimizer.hpp"

namespace ganaug {

namespace {

/// Joint checkpoints: v1 the header line (the classifier trained by torch::optim, its average a
/// module); v2 the classifier's own engine (a flat optimizer's state, a WeightAverage).
constexpr detail::CheckpointKind kJointCheckpoint{"ganaug-joint-checkpoint-v", 2, 1, false,
                                                  "joint checkpoint"};

torch::TensorOptions on(const torch::Device& device, torch::ScalarType type) {
  return torch::TensorOptions().dtype(type).device(device);
}

void set_requires_grad(torch::nn::Module& module, bool on) {
  for (auto& p : module.parameters()) p.set_requires_grad(on);
}

}  // namespace

int64_t joint_outputs(JointForm form, int64_t num_classes) {
  return form == JointForm::kTwoK ? 2 * num_classes : num_classes;
}

void JointOptions::validate() const {
  check_model_shape(num_classes(), image_size(), channels());
  GANAUG_CHECK(!classifier().custom(),
               "joint training trains the built-in classifier networks (cnn, cnn-strided, "
               "resnet), not a custom one (",
               classifier().custom().name, ")");
  GANAUG_CHECK(iterations() >= 0, "the joint steps must be 0 or more, got ", iterations());
  GANAUG_CHECK(checkpoint_every() >= 0, "checkpoint_every must be 0 (off) or positive, got ",
               checkpoint_every());
  GANAUG_CHECK(log_every() >= 1, "log_every must be positive, got ", log_every());
  GANAUG_CHECK(std::isfinite(unsupervised_weight()) && unsupervised_weight() >= 0,
               "the unsupervised weight must be finite and not negative, got ",
               unsupervised_weight());
  GANAUG_CHECK(std::isfinite(consistency_weight()) && consistency_weight() >= 0,
               "the consistency weight must be finite and not negative, got ",
               consistency_weight());
  GANAUG_CHECK(warmup_share() >= 0 && warmup_share() < 0.5,
               "the warm-up share must lie in [0, 0.5) (the ramp after it takes as long), got ",
               warmup_share());
  GANAUG_CHECK(threads() >= 0, "the thread count must be 0 (leave as is) or positive, got ",
               threads());
  GANAUG_CHECK(!classifier().pool_one_pass(),
               "joint training runs its classifier's passes over labeled, pool and generated "
               "images apart; one batch-norm pass over the pool's views (pool_one_pass, "
               "--pool-one-pass) is the classifier's own training's");
  classifier_options().validate();
  gan_options().validate();
}

ClassifierOptions JointOptions::classifier_options() const {
  return ClassifierOptions(classifier())
      .num_outputs(joint_outputs(form(), num_classes()))
      .image_size(image_size())
      .channels(channels())
      .pool_weight(0)
      .seed(seed())
      .device(device())
      .threads(threads());
}

GanOptions JointOptions::gan_options() const {
  return GanOptions(gan())
      .num_classes(num_classes())
      .image_size(image_size())
      .channels(channels())
      .iterations(iterations())
      .seed(seed())
      .device(device())
      .threads(threads())
      .out_dir("")
      .checkpoint_every(0)
      .sample_every(0)
      .log_every(log_every());
}

namespace {

// The images of one train() call on the device, and how every step draws from them.
struct JointData {
  JointData(const LabeledDataset& labeled, const LabeledDataset* pool, const JointOptions& o,
            const torch::Device& device, bool augments)
      : fake_classes(torch::bincount(labeled.labels.masked_select(labeled.labels >= 0).cpu(), {},
                                     o.num_classes()),
                     device) {
    const auto rows = torch::nonzero(labeled.labels >= 0).flatten();
    const auto host = labeled.images.index_select(0, rows).to(torch::kCPU);
    images = augments ? host : host.to(device);
    labels = labeled.labels.index_select(0, rows).to(device);
    n = rows.numel();
    // The pool: images labeled -1 and the pool's (whose labels are not read).
    std::vector<torch::Tensor> parts;
    const auto unlabeled = torch::nonzero(labeled.labels < 0).flatten();
    if (unlabeled.numel() > 0) parts.push_back(labeled.images.index_select(0, unlabeled));
    if (pool && pool->size() > 0) parts.push_back(pool->images);
    has_pool = !parts.empty();
    // K + 1 without a pool: the labeled images are its unlabeled real ones.
    if (!has_pool && o.form() == JointForm::kKPlus1) parts.push_back(host);
    if (!parts.empty()) unlabeled_images = torch::cat(parts).to(device);
    policy = detail::diffaugment_policy(o.gan_options(), n);
    for (auto& part : parts) part = part.to(torch::kCPU);
    // The pool's views for the consistency loss are made on the host.
    if (has_pool && o.consistency_weight() > 0) unlabeled_host = torch::cat(parts);
    parts.insert(parts.begin(), host);
    recalibration = torch::cat(parts);
  }

  torch::Tensor images, labels;  // labeled (on the CPU when augmented per step)
  torch::Tensor unlabeled_images;
  torch::Tensor unlabeled_host;  // the pool on the host, when consistency training needs views
  torch::Tensor recalibration;   // every real image, for the classifier's batch norm
  int64_t n = 0;
  bool has_pool = false;
  detail::FakeClasses fake_classes;
  DiffAugmentPolicy policy;
};

// The host-side augmentations of a step: of the labeled images, and the pool's two views.
struct Views {
  const BatchAugmenter& augment;
  const BatchAugmenter& weak;
  const BatchAugmenter& strong;
};

// One step's draws and the batches the networks share.
struct StepBatches {
  at::Generator rng;
  torch::Tensor labeled, labels;      // labeled images and their classes
  torch::Tensor unlabeled;            // pool (or K + 1's unlabeled real) images, or undefined
  torch::Tensor weak, strong;         // their views for the consistency loss, or undefined
  torch::Tensor noise, fake_classes;  // of the classifier's (and discriminator's) fakes
};

}  // namespace

struct JointTrainer::State {
  State(JointOptions o, std::vector<std::string> names)
      : options(std::move(o)),
        class_names(std::move(names)),
        device(select_device(options.device())) {}

  JointOptions options;
  std::vector<std::string> class_names;
  torch::Device device;
  Classifier classifier{nullptr};
  Generator generator{nullptr}, generator_ema{nullptr};
  Discriminator discriminator{nullptr};
  // The classifier's engine, as in train_classifier: its optimizer over one flat buffer and
  // the weight average that is the trained classifier (ClassifierOptions::ema_decay).
  std::unique_ptr<detail::FlatOptimizer> c_optimizer;
  std::optional<detail::WeightAverage> c_average;
  std::unique_ptr<detail::DistributionAlignment> alignment;  // of the pool's targets, when asked
  std::unique_ptr<torch::optim::Adam> g_optimizer, d_optimizer;
  int64_t iteration = 0;
  torch::Tensor recalibration;  // the real images of the last train() call

  GanOptions gan() const { return options.gan_options(); }

  std::unique_ptr<torch::optim::Adam> adam(torch::nn::Module& module, double lr,
                                           double weight_decay = 0) const {
    const auto& g = options.gan();
    return std::make_unique<torch::optim::Adam>(module.parameters(),
                                                torch::optim::AdamOptions(lr)
                                                    .betas(std::make_tuple(g.beta1(), g.beta2()))
                                                    .weight_decay(weight_decay));
  }

  // The classifier's optimizer (Adam with the GAN's betas, as every network here) and weight
  // average over its weights.
  void start_classifier_engine() {
    const auto c = options.classifier_options();
    c_optimizer = detail::make_classifier_optimizer(classifier, c, options.gan().beta1(),
                                                    options.gan().beta2());
    if (c.ema_decay() > 0) c_average.emplace(c_optimizer->values(), c.ema_decay());
  }

  void build() {
    const auto& o = options;
    const auto c = o.classifier_options();
    classifier = Classifier(c);
    classifier->reset_parameters(o.seed());
    const auto g = gan();
    generator = Generator(g.generator_options());
    reset_parameters(*generator, mix_seed(o.seed(), streams::kJointGeneratorInit));
    generator_ema = Generator(g.generator_options());
    detail::copy_state(*generator, *generator_ema);
    for (torch::nn::Module* m : {static_cast<torch::nn::Module*>(classifier.get()),
                                 static_cast<torch::nn::Module*>(generator.get()),
                                 static_cast<torch::nn::Module*>(generator_ema.get())})
      m->to(device);
    set_requires_grad(*generator_ema, false);
    start_classifier_engine();
    g_optimizer = adam(*generator, g.g_lr());
    if (o.form() == JointForm::kTriple) {
      discriminator = Discriminator(g.discriminator_options());
      reset_parameters(*discriminator, mix_seed(o.seed(), streams::kJointDiscriminatorInit));
      discriminator->to(device);
      d_optimizer = adam(*discriminator, g.d_lr());
    }
  }

  // The step's batches: labeled images (augmented when asked), pool images, fake noise and
  // classes, all from the step's generator.
  StepBatches draw(const JointData& data, const Views& views) const {
    const auto& o = options;
    StepBatches b;
    const uint64_t step_seed = mix_seed(o.seed(), static_cast<uint64_t>(iteration));
    b.rng = make_generator(device, step_seed);
    const int64_t labeled_batch = o.classifier().batch_size(), batch = o.gan().batch_size();
    const auto index = torch::randint(data.n, {labeled_batch}, b.rng, on(device, torch::kInt64));
    b.labels = data.labels.index_select(0, index);
    b.labeled = data.images.index_select(0, index.to(data.images.device()));
    if (views.augment)
      b.labeled = views.augment(b.labeled, mix_seed(step_seed, streams::kJointAugment)).to(device);
    if (data.unlabeled_images.defined()) {
      const auto pool_index =
          torch::randint(data.unlabeled_images.size(0), {batch}, b.rng, on(device, torch::kInt64));
      b.unlabeled = data.unlabeled_images.index_select(0, pool_index);
      if (data.unlabeled_host.defined()) {
        // FixMatch's mu: pool_ratio x the labeled batch, drawn apart from the GAN's pool batch.
        const int64_t viewed =
            std::max<int64_t>(1, std::llround(labeled_batch * o.classifier().pool_ratio()));
        const auto view_index =
            torch::randint(data.unlabeled_host.size(0), {viewed}, b.rng, on(device, torch::kInt64));
        const auto host = data.unlabeled_host.index_select(0, view_index.cpu());
        const auto& weak = views.weak ? views.weak : views.augment;
        b.weak =
            (weak ? weak(host, mix_seed(step_seed, streams::kJointWeakView)) : host).to(device);
        b.strong = views.strong(host, mix_seed(step_seed, streams::kJointStrongView)).to(device);
      }
    }
    b.noise = torch::randn({batch, o.gan().latent_dim()}, b.rng, on(device, torch::kFloat32));
    b.fake_classes = data.fake_classes.draw(batch, b.rng);
    // The classifier's dropout masks: from the step's seed, so a resumed run draws the same.
    for (const auto& m : classifier->modules())
      if (auto* dropout = m->as<SeededDropoutImpl>())
        dropout->reseed(mix_seed(step_seed, streams::kJointDropout));
    return b;
  }

  // How much of the classifier's unsupervised terms a step takes: all but for kTriple, which
  // trains on the labeled images alone for warmup_share of the steps, then ramps them in.
  double ramp() const {
    const auto& o = options;
    if (o.form() != JointForm::kTriple) return 1.0;
    const double warm = o.warmup_share() * static_cast<double>(o.iterations());
    if (warm <= 0) return 1.0;
    return std::clamp((static_cast<double>(iteration) - warm) / warm, 0.0, 1.0);
  }

  // The step's fakes for the classifier (and discriminator), by the generator in training mode
  // whatever a caller left it in (sampling_generator() may hand it out).
  torch::Tensor fakes(const StepBatches& b) {
    torch::NoGradGuard no_grad;
    generator->train();
    return generator(b.noise, b.fake_classes);
  }

  // The classifier's step; returns (loss, labeled cross-entropy) on the device.
  torch::Tensor classifier_step(const JointData& data, const StepBatches& b,
                                const torch::Tensor& fake) {
    const auto& o = options;
    const int64_t k = o.num_classes();
    classifier->train();
    const auto labeled_logits = classifier(b.labeled);
    torch::Tensor supervised, unsupervised;
    switch (o.form()) {
      case JointForm::kKPlus1: {
        supervised = kplus1_labeled_loss(labeled_logits, b.labels);
        unsupervised =
            kplus1_unlabeled_loss(classifier(b.unlabeled)) + kplus1_fake_loss(classifier(fake));
        break;
      }
      case JointForm::kTwoK: {
        supervised = two_k_loss(labeled_logits, b.labels);
        unsupervised = two_k_loss(classifier(fake), b.fake_classes + k);
        if (data.has_pool) {
          // -log P(real, any class) for pool images.
          const auto logits = classifier(b.unlabeled);
          unsupervised =
              unsupervised +
              (torch::logsumexp(logits, 1) - torch::logsumexp(logits.slice(1, 0, k), 1)).mean();
        }
        break;
      }
      case JointForm::kTriple: {
        supervised = torch::nn::functional::cross_entropy(labeled_logits, b.labels);
        unsupervised = torch::nn::functional::cross_entropy(classifier(fake), b.fake_classes);
        if (data.has_pool) unsupervised = unsupervised + pool_adversarial_loss(b);
        break;
      }
    }
    auto loss = supervised + o.unsupervised_weight() * ramp() * unsupervised;
    if (b.strong.defined())
      loss = loss + o.consistency_weight() * consistency_ramp() * consistency_term(b);
    c_optimizer->zero_grad();
    loss.backward();
    c_optimizer->step(scheduled_learning_rate(o.classifier_options(), iteration,
                                              std::max<int64_t>(1, o.iterations())));
    if (c_average) c_average->update(c_optimizer->values());
    return torch::stack({loss.detach(), supervised.detach()});
  }

  // How much of the consistency loss a step takes: ramped in linearly over the classifier's
  // pool_ramp_share of the steps, as in the pool arm.
  double consistency_ramp() const {
    const double steps = options.classifier().pool_ramp_share() *
                         static_cast<double>(std::max<int64_t>(1, options.iterations()));
    return steps > 0 ? std::min(1.0, static_cast<double>(iteration) / steps) : 1.0;
  }

  // FixMatch's loss on the step's pool images: the weak view's confident class (over the K
  // real classes) is the strong view's target.
  torch::Tensor consistency_term(const StepBatches& b) {
    torch::Tensor guess;
    {
      torch::NoGradGuard no_grad;
      detail::DropoutOff dropout_off(classifier, !options.classifier().pool_target_dropout());
      guess = torch::softmax(classifier(b.weak).slice(1, 0, options.num_classes()), 1);
      if (alignment) guess = alignment->align(guess);
    }
    return consistency_loss(guess, classifier(b.strong), options.classifier().pool_threshold())
        .first;
  }

  // Triple-GAN's classifier term on the pool: alpha = 1/2 of E_{y ~ C(x)} log(1 - D(x, y)),
  // the expectation taken exactly over the K classes with D's verdicts detached (no sampled
  // label, no variance): C moves its probability towards the classes D takes for real pairs.
  torch::Tensor pool_adversarial_loss(const StepBatches& b) {
    const int64_t n = b.unlabeled.size(0), k = options.num_classes();
    torch::Tensor verdicts;
    {
      torch::NoGradGuard no_grad;
      // Image i with class j at row i * K + j.
      const auto classes = torch::arange(k, on(device, torch::kInt64)).repeat({n});
      const auto scores = discriminator(b.unlabeled.repeat_interleave(k, 0), classes);
      verdicts = -torch::nn::functional::softplus(scores).view({n, k});
    }
    return 0.5 * (torch::softmax(classifier(b.unlabeled), 1) * verdicts).sum(1).mean();
  }

  // kTriple's discriminator step: labeled pairs real; generated pairs and pool pairs (with
  // the classifier's classes) fake, half each when there is a pool. Returns its loss.
  torch::Tensor discriminator_step(const JointData& data, StepBatches& b,
                                   const torch::Tensor& fake) {
    const auto g = gan();
    discriminator->train();
    std::vector<torch::Tensor> images{b.labeled, fake};
    std::vector<torch::Tensor> classes{b.labels, b.fake_classes};
    if (data.has_pool) {
      torch::NoGradGuard no_grad;
      classifier->eval();
      images.push_back(b.unlabeled);
      classes.push_back(classifier(b.unlabeled).argmax(1));
      classifier->train();
    }
    auto all = torch::cat(images);
    if (data.policy.any()) all = diff_augment(all, data.policy, b.rng);
    const auto scores = discriminator(all, torch::cat(classes));
    const int64_t l = b.labeled.size(0), f = fake.size(0);
    const auto real = scores.slice(0, 0, l), generated = scores.slice(0, l, l + f);
    const auto fake_term = [&](const torch::Tensor& s) { return detail::fake_term(s, g.loss()); };
    auto loss = detail::real_term(real, g.loss());
    loss = data.has_pool ? loss + 0.5 * (fake_term(generated) + fake_term(scores.slice(0, l + f)))
                         : loss + fake_term(generated);
    d_optimizer->zero_grad();
    loss.backward();
    d_optimizer->step();
    return loss.detach();
  }

  // The generator's step (fresh noise, the same classes); returns its loss on the device.
  torch::Tensor generator_step(const JointData& data, StepBatches& b) {
    const auto& o = options;
    const int64_t batch = o.gan().batch_size();
    torch::nn::Module& judge = o.form() == JointForm::kTriple
                                   ? static_cast<torch::nn::Module&>(*discriminator)
                                   : static_cast<torch::nn::Module&>(*classifier);
    set_requires_grad(judge, false);
    const auto noise =
        torch::randn({batch, o.gan().latent_dim()}, b.rng, on(device, torch::kFloat32));
    // Images i and half + i share a class for the mode-seeking term (as in GanTrainer).
    const int64_t half = batch / 2;
    const bool seeking = o.gan().mode_seeking() > 0 && half > 0;
    const auto classes = seeking ? detail::paired_classes(b.fake_classes, half) : b.fake_classes;
    generator->train();
    auto fake = generator(noise, classes);
    const auto diversity =
        seeking ? o.gan().mode_seeking() * detail::mode_seeking_term(fake, noise, half)
                : torch::zeros({}, on(device, torch::kFloat32));
    torch::Tensor loss;
    switch (o.form()) {
      case JointForm::kKPlus1: {
        torch::Tensor real_features;
        {
          torch::NoGradGuard no_grad;
          real_features = classifier->embed(b.unlabeled);
        }
        loss = feature_matching_loss(real_features, classifier->embed(fake));
        break;
      }
      case JointForm::kTwoK:
        loss = two_k_loss(classifier(fake), classes);
        break;
      case JointForm::kTriple: {
        if (data.policy.any()) fake = diff_augment(fake, data.policy, b.rng);
        const auto scores = discriminator(fake, classes);
        loss = detail::generator_term(scores, o.gan().loss());
        break;
      }
    }
    loss = loss + diversity;
    g_optimizer->zero_grad();
    loss.backward();
    g_optimizer->step();
    set_requires_grad(judge, true);
    return loss.detach();
  }

  // One step of every network; returns (c_loss, labeled_loss, g_loss, d_loss) on the device.
  torch::Tensor step(const JointData& data, const Views& views) {
    auto b = draw(data, views);
    const auto fake = fakes(b);
    auto d_loss = torch::zeros({}, on(device, torch::kFloat32));
    if (options.form() == JointForm::kTriple) d_loss = discriminator_step(data, b, fake);
    const auto c_losses = classifier_step(data, b, fake);
    const auto g_loss = generator_step(data, b);
    if (options.gan().ema_decay() > 0)
      detail::update_moving_average(*generator, *generator_ema, options.gan().ema_decay(),
                                    iteration + 1);
    return torch::cat({c_losses, g_loss.reshape({1}), d_loss.reshape({1})});
  }

  // The index each classifier parameter's optimizer state was saved under: v1's SGD had two
  // parameter groups (the decayed weights of 2-D and up, then the rest); otherwise their order.
  std::vector<size_t> stored_order(int64_t version) const {
    const auto parameters = classifier->parameters();
    std::vector<size_t> order(parameters.size());
    size_t next = 0;
    if (version >= 2 || options.classifier().optimizer() != ClassifierOptimizer::kSgd) {
      for (auto& index : order) index = next++;
      return order;
    }
    for (const bool decayed : {true, false})
      for (size_t i = 0; i < parameters.size(); ++i)
        if ((parameters[i].dim() > 1) == decayed) order[i] = next++;
    return order;
  }

  // The classifier's weights, optimizer state, weight average and pool alignment from a
  // checkpoint. The weights are copied into the optimizer's buffer (LibTorch's Module::load would
  // put others in its place); v1's torch::optim state was written keyed by parameter index, as
  // the flat optimizers read it.
  void resume_classifier(detail::CheckpointReader& reader, const std::string& path, int64_t steps) {
    const auto c = options.classifier_options();
    Classifier loaded(c);
    loaded->to(device);
    reader.load("classifier", *loaded);
    reader.check_finite_weights(*loaded, "classifier");
    // Checkpoints from before the choice of optimizer were all Adam's.
    const auto optimizer = reader.text_or("classifier_optimizer", "adam");
    GANAUG_CHECK(optimizer == to_string(c.optimizer()), "checkpoint ", path,
                 "'s classifier was trained with ", optimizer, ", this run's uses ",
                 to_string(c.optimizer()), "; use the same --optimizer or start a new run");
    GANAUG_CHECK(!c_average || reader.version() < 2 || reader.contains("classifier_weight_average"),
                 "checkpoint ", path,
                 "'s classifier was trained without a weight average (ema_decay 0); resume with "
                 "the same ema_decay (--ema) or start a new run");
    detail::copy_state(*loaded, *classifier);
    reader.load_optimizer("c_optimizer", *c_optimizer, stored_order(reader.version()));
    if (c_average) resume_average(reader, steps);
    alignment.reset();
    if (reader.contains("pool_alignment")) {
      const auto k = options.num_classes();
      alignment = std::make_unique<detail::DistributionAlignment>(
          torch::full({k}, 1.0 / static_cast<double>(k), on(device, torch::kFloat32)));
      reader.load_alignment("pool_alignment", *alignment);
    }
  }

  // The classifier's weight average from a checkpoint: v2's WeightAverage; v1 kept it as a
  // module (the GAN's warm-up average), carried on as the average of the `steps` steps taken.
  void resume_average(detail::CheckpointReader& reader, int64_t steps) {
    if (reader.version() >= 2) {
      reader.load_average("classifier_weight_average", *c_average);
      return;
    }
    Classifier average(options.classifier_options());
    average->to(device);
    reader.load("classifier_average", *average);
    reader.check_finite_weights(*average, "classifier_average");
    torch::NoGradGuard no_grad;
    auto flat = torch::empty_like(c_optimizer->values());
    const auto views = c_optimizer->views(flat);
    const auto parameters = average->parameters();
    for (size_t i = 0; i < views.size(); ++i) views[i].copy_(parameters[i]);
    c_average->assume(flat, steps);
  }

  void check_weights() const {
    detail::check_finite(*classifier, "classifier", iteration);
    detail::check_finite(*generator, "generator", iteration);
    if (discriminator) detail::check_finite(*discriminator, "discriminator", iteration);
  }
};

namespace {

// log.csv and the progress reports of one train() call; the losses are read from the device
// every log_every steps and checked for NaN/Inf then.
class JointLog {
 public:
  JointLog(const JointOptions& o, int64_t first)
      : o_(o),
        start_(std::chrono::steady_clock::now()),
        file_(o.out_dir(), "iteration,c_loss,labeled_loss,g_loss,d_loss,seconds", first) {
    progress_.iterations = o.iterations();
  }

  const std::string& checkpoint_path() const { return file_.checkpoint_path(); }

  const JointProgress& report(int64_t iteration, const torch::Tensor& losses) {
    progress_.iteration = iteration;
    progress_.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (losses.defined()) {
      const auto v = losses.to(torch::kCPU, torch::kFloat64).contiguous();
      const double* x = v.data_ptr<double>();
      progress_.c_loss = x[0];
      progress_.labeled_loss = x[1];
      progress_.g_loss = x[2];
      progress_.d_loss = x[3];
      for (int i = 0; i < 4; ++i)
        GANAUG_CHECK(std::isfinite(x[i]), "joint training diverged by step ", iteration,
                     " (losses are checked every ", o_.log_every(), "): classifier loss ", x[0],
                     ", generator loss ", x[2], ", discriminator loss ", x[3],
                     "; the last checkpoint is left intact. Lower the learning rates or change "
                     "the seed");
    }
    file_.row(iteration, {progress_.c_loss, progress_.labeled_loss, progress_.g_loss,
                          progress_.d_loss, progress_.seconds});
    return progress_;
  }

 private:
  const JointOptions& o_;
  std::chrono::steady_clock::time_point start_;
  detail::RunLog file_;
  JointProgress progress_;
};

// The images of `data` must have the run's shape; `what` names it in messages.
void check_images(const LabeledDataset& data, const JointOptions& o, const char* what) {
  const auto& x = data.images;
  GANAUG_CHECK(x.defined() && x.dim() == 4 && x.scalar_type() == torch::kFloat32, "the ", what, " ",
               data.source, " needs N x C x H x W float32 images");
  data.check_image_shape(o.channels(), o.image_size(), "joint training", what);
}

}  // namespace

JointTrainer::JointTrainer(JointOptions options, std::vector<std::string> class_names)
    : JointTrainer(detail::run_of(options), options, std::move(class_names)) {}

JointTrainer::JointTrainer(const RunContext& run, JointOptions options,
                           std::vector<std::string> class_names)
    : state_(std::make_unique<State>(detail::with_run(std::move(options), run, "JointOptions"),
                                     std::move(class_names))) {
  auto& s = *state_;
  s.options.validate();
  GANAUG_CHECK(static_cast<int64_t>(s.class_names.size()) == s.options.num_classes(), "got ",
               s.class_names.size(), " class names for ", s.options.num_classes(), " classes");
  if (s.options.threads() > 0) configure_threads(s.options.threads());
  s.build();
}

JointTrainer::~JointTrainer() = default;
JointTrainer::JointTrainer(JointTrainer&&) noexcept = default;
JointTrainer& JointTrainer::operator=(JointTrainer&&) noexcept = default;

bool JointTrainer::train(const LabeledDataset& labeled, const LabeledDataset* pool) {
  auto& s = *state_;
  const auto& o = s.options;
  labeled.validate();
  check_images(labeled, o, "labeled data");
  if (pool) check_images(*pool, o, "pool");  // its labels are not read, not even checked
  GANAUG_CHECK(labeled.num_classes() == o.num_classes(), "joint training was set up for ",
               o.num_classes(), " classes but ", labeled.source, " has ", labeled.num_classes());
  GANAUG_CHECK((labeled.labels >= 0).any().item<bool>(), "no labeled images in ", labeled.source);
  const bool has_pool = (labeled.labels < 0).any().item<bool>() || (pool && pool->size() > 0);
  GANAUG_CHECK(o.consistency_weight() <= 0 || !has_pool || strong_augment,
               "consistency training on the pool (JointOptions::consistency_weight) needs "
               "JointTrainer::strong_augment, the strong view");
  const JointData data(labeled, pool, o, s.device, static_cast<bool>(augment));
  const Views views{augment, weak_augment, strong_augment};
  // The alignment's window carries over from earlier train() calls and checkpoints.
  if (!s.alignment && data.unlabeled_host.defined() && o.classifier().distribution_alignment()) {
    const auto shares = torch::bincount(data.labels.cpu(), {}, o.num_classes()).to(torch::kFloat32);
    s.alignment = std::make_unique<detail::DistributionAlignment>((shares / data.n).to(s.device));
  }
  s.recalibration = data.recalibration;
  JointLog log(o, s.iteration);
  torch::Tensor losses;
  while (s.iteration < o.iterations()) {
    if (should_stop && should_stop()) {
      if (!log.checkpoint_path().empty()) save_checkpoint(log.checkpoint_path());
      return false;
    }
    losses = s.step(data, views);
    ++s.iteration;
    if (s.iteration % o.log_every() == 0 || s.iteration == o.iterations()) {
      const auto& progress = log.report(s.iteration, losses);
      s.check_weights();
      if (on_progress) on_progress(progress);
    }
    if (!log.checkpoint_path().empty() && o.checkpoint_every() > 0 &&
        s.iteration % o.checkpoint_every() == 0 && s.iteration < o.iterations())
      save_checkpoint(log.checkpoint_path());
  }
  if (!log.checkpoint_path().empty()) save_checkpoint(log.checkpoint_path());
  return true;
}

void JointTrainer::save_checkpoint(const std::string& path) const {
  auto& s = *state_;
  s.check_weights();
  torch::serialize::OutputArchive archive;
  detail::write_options(archive, s.gan());
  const auto c = s.options.classifier_options();
  archive.write("form", c10::IValue(to_string(s.options.form())));
  archive.write("classifier_network", c10::IValue(to_string(c.network())));
  archive.write("classifier_width", c10::IValue(c.network_width()));
  archive.write("iteration", c10::IValue(s.iteration));
  c10::List<std::string> names;
  for (const auto& name : s.class_names) names.push_back(name);
  archive.write("class_names", c10::IValue(names));
  auto add = [&](const char* key, const torch::nn::Module& module) {
    torch::serialize::OutputArchive sub;
    module.save(sub);
    archive.write(key, sub);
  };
  auto add_adam = [&](const char* key, torch::optim::Adam& optimizer) {
    torch::serialize::OutputArchive sub;
    detail::save_adam(sub, optimizer);
    archive.write(key, sub);
  };
  add("classifier", *s.classifier);
  add("generator", *s.generator);
  add("generator_ema", *s.generator_ema);
  archive.write("classifier_optimizer", c10::IValue(to_string(c.optimizer())));
  {
    torch::serialize::OutputArchive sub;
    s.c_optimizer->save(sub);
    archive.write("c_optimizer", sub);
  }
  if (s.c_average) {
    torch::serialize::OutputArchive sub;
    s.c_average->save(sub);
    archive.write("classifier_weight_average", sub);
  }
  if (s.alignment) {
    torch::serialize::OutputArchive sub;
    s.alignment->save(sub);
    archive.write("pool_alignment", sub);
  }
  add_adam("g_optimizer", *s.g_optimizer);
  if (s.discriminator) {
    add("discriminator", *s.discriminator);
    add_adam("d_optimizer", *s.d_optimizer);
  }
  detail::write_checkpoint_file(archive, path, kJointCheckpoint);
}

void JointTrainer::resume(const std::string& path) {
  auto& s = *state_;
  detail::CheckpointReader reader(path, s.device, kJointCheckpoint);
  const auto form = reader.text("form");
  GANAUG_CHECK(form == to_string(s.options.form()), "checkpoint ", path, " is of the joint form ",
               form, ", this run's is ", to_string(s.options.form()));
  const auto c = s.options.classifier_options();
  const auto network = reader.text("classifier_network");
  const auto width = reader.integer("classifier_width");
  GANAUG_CHECK(network == to_string(c.network()) && width == c.network_width(), "checkpoint ", path,
               " holds a ", network, " classifier of width ", width, ", this run builds a ",
               to_string(c.network()), " of width ", c.network_width());
  const auto differences = detail::architecture_differences(reader.options(), s.gan());
  GANAUG_CHECK(differences.empty(), "checkpoint ", path, " was trained with another architecture (",
               differences, " in this run); use the same model options or start a new run");
  GANAUG_CHECK(reader.class_names() == s.class_names, "checkpoint ", path,
               " was trained on other classes than this dataset's");
  const auto steps = reader.integer("iteration");
  GANAUG_CHECK(steps <= s.options.iterations(), "checkpoint ", path, " has trained ", steps,
               " steps, more than this run's ", s.options.iterations(),
               "; give at least as many steps or start a new run");
  s.resume_classifier(reader, path, steps);
  for (const auto& [key, module] :
       {std::pair<const char*, torch::nn::Module*>{"generator", s.generator.get()},
        {"generator_ema", s.generator_ema.get()}}) {
    reader.load(key, *module);
    reader.check_finite_weights(*module, key);
  }
  reader.load_optimizer("g_optimizer", *s.g_optimizer);
  if (s.discriminator) {
    reader.load("discriminator", *s.discriminator);
    reader.check_finite_weights(*s.discriminator, "discriminator");
    reader.load_optimizer("d_optimizer", *s.d_optimizer);
  }
  s.iteration = steps;
}

Classifier JointTrainer::classifier() {
  auto& s = *state_;
  const auto c = s.options.classifier_options();
  Classifier out(c);
  out->to(s.device);
  detail::copy_state(*s.classifier, *out);
  if (s.c_average && s.iteration > 0) {
    torch::NoGradGuard no_grad;
    const auto average = s.c_optimizer->views(s.c_average->average());
    auto parameters = out->parameters();
    for (size_t i = 0; i < parameters.size(); ++i) parameters[i].copy_(average[i]);
  }
  if (c.recalibrate_batchnorm() && s.recalibration.defined())
    recalibrate_batchnorm(out, s.recalibration.to(s.device));
  out->eval();
  return out;
}

Generator JointTrainer::sampling_generator() {
  auto& s = *state_;
  if (s.options.gan().ema_decay() <= 0) {
    s.generator->eval();
    return s.generator;
  }
  detail::recompute_batchnorm_statistics(s.generator_ema, s.gan(), s.iteration, s.device);
  return s.generator_ema;
}

Discriminator JointTrainer::discriminator() const { return state_->discriminator; }
int64_t JointTrainer::iteration() const { return state_->iteration; }
const JointOptions& JointTrainer::options() const { return state_->options; }
torch::Device JointTrainer::device() const { return state_->device; }

}  // namespace ganaug
