#include "ganaug/gan.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <sstream>

#include "core/run_fields.hpp"
#include "gan/fake_classes.hpp"
#include "gan/gan_checkpoint.hpp"
#include "gan/gan_fields.hpp"
#include "gan/gan_support.hpp"
#include "ganaug/choices.hpp"
#include "ganaug/diffaugment.hpp"
#include "ganaug/error.hpp"
#include "ganaug/file_io.hpp"
#include "ganaug/runtime.hpp"
#include "runtime/cuda_graph.hpp"
#include "training/batchnorm_stats.hpp"

namespace ganaug {

using detail::check_finite;
using detail::copy_state;
using detail::recompute_batchnorm_statistics;

namespace {

constexpr int64_t kSamplesPerClass = 8;
// Batches of the EMA generator's own samples its batch-norm statistics are recomputed from.
constexpr int64_t kEmaStatisticsBatches = 16;
// Eager iterations of each train() call before its CUDA graph is captured: they create the
// gradients and optimizer states the graph writes to, and set up cuBLAS and cuDNN on its stream.
constexpr int64_t kEagerIterations = 3;

}  // namespace

namespace {
const Choices<GanLoss>& gan_losses() {
  static const Choices<GanLoss> choices("GAN loss",
                                        {{GanLoss::kHinge, "hinge"}, {GanLoss::kBce, "bce"}});
  return choices;
}
}  // namespace

GanLoss parse_gan_loss(const std::string& name) { return gan_losses().parse(name); }

std::string to_string(GanLoss loss) { return gan_losses().name(loss); }

GeneratorOptions GanOptions::generator_options() const {
  return GeneratorOptions(num_classes(), image_size(), channels())
      .latent_dim(latent_dim())
      .width(g_width());
}

DiscriminatorOptions GanOptions::discriminator_options() const {
  return DiscriminatorOptions(num_classes(), image_size(), channels())
      .width(d_width())
      .spectral_norm(spectral_norm())
      .projection(projection())
      .minibatch_std(minibatch_std());
}

void GanOptions::validate() const {
  check_model_shape(num_classes(), image_size(), channels());
  detail::check_field_ranges(*this);
  GANAUG_CHECK(threads() >= 0, "the thread count must be 0 (leave as is) or positive, got ",
               threads());
  GANAUG_CHECK(checkpoint_every() >= 0 && sample_every() >= 0,
               "checkpoint and sample intervals must be 0 (off) or positive, got ",
               checkpoint_every(), " and ", sample_every());
  GANAUG_CHECK(log_every() >= 1, "log_every must be positive");
}

void GanOptions::validate_settings() const {
  GanOptions(*this).num_classes(1).image_size(28).channels(1).validate();
}

uint64_t mix_seed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

torch::Tensor latent_noise(uint64_t seed, int64_t first, int64_t count, int64_t latent_dim) {
  // One small generator per image, so that an image's noise does not depend on its batch.
  auto noise = torch::empty({count, latent_dim});
  for (int64_t i = 0; i < count; ++i) {
    noise[i].normal_(0.0, 1.0,
                     make_cpu_generator(mix_seed(seed, static_cast<uint64_t>(first + i))));
  }
  return noise;
}

detail::FakeClasses::FakeClasses(const torch::Tensor& class_counts, const torch::Device& device)
    : device_(device) {
  const auto counts = class_counts.to(torch::kCPU, torch::kInt64);
  GANAUG_CHECK(counts.dim() == 1 && counts.size(0) >= 1 && counts.sum().item<int64_t>() > 0,
               "fake classes need class counts with at least one image");
  num_classes_ = counts.size(0);
  balanced_ = counts.eq(counts[0]).all().item<bool>();
  if (!balanced_) weights_ = counts.to(device, torch::kFloat64);
}

torch::Tensor detail::FakeClasses::draw(int64_t count, const at::Generator& rng) const {
  if (balanced_)
    return torch::randint(num_classes_, {count}, rng,
                          torch::TensorOptions().dtype(torch::kInt64).device(device_));
  return torch::multinomial(weights_, count, /*replacement=*/true, rng);
}

torch::Tensor balanced_classes(int64_t first, int64_t count, int64_t num_classes) {
  GANAUG_CHECK(num_classes >= 1, "need at least one class");
  return torch::arange(first, first + count, torch::kInt64).remainder(num_classes);
}

torch::Tensor sample_grid_classes(int64_t num_classes, int64_t per_class) {
  return torch::arange(num_classes, torch::kInt64).repeat_interleave(per_class);
}

torch::Tensor generate(Generator& generator, const torch::Tensor& classes, uint64_t seed,
                       int64_t first_index, int64_t batch_size) {
  GANAUG_CHECK(batch_size >= 1, "generation batch size must be positive");
  torch::NoGradGuard no_grad;
  generator->eval();
  const auto device = generator->parameters().front().device();
  const int64_t n = classes.size(0);
  const auto& o = generator->options;
  auto out = torch::empty({n, o.channels(), o.image_size(), o.image_size()});
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t count = std::min(batch_size, n - start);
    const auto noise = latent_noise(seed, first_index + start, count, o.latent_dim()).to(device);
    const auto batch_classes = classes.slice(0, start, start + count).to(device);
    out.slice(0, start, start + count).copy_(generator(noise, batch_classes).to(torch::kCPU));
  }
  return out;
}

AcceptedImages generate_accepted(Generator& generator, int64_t count, uint64_t seed,
                                 const ImageFilter& keep, int64_t max_rounds) {
  GANAUG_CHECK(count >= 1 && max_rounds >= 1, "need at least one image and one round");
  const int64_t k = generator->options.num_classes();
  AcceptedImages out;
  const auto quota = torch::bincount(balanced_classes(0, count, k), {}, k);
  auto taken = torch::zeros({k}, torch::kInt64);
  std::vector<torch::Tensor> images, classes;
  for (int64_t round = 0; round < max_rounds && !taken.equal(quota); ++round) {
    const int64_t first = round * count;
    const auto candidate_classes = balanced_classes(first, count, k);
    const auto candidates = generate(generator, candidate_classes, seed, first);
    // Without a filter the first round fills every class.
    const auto accepted = keep ? keep(candidates, candidate_classes).to(torch::kCPU, torch::kBool)
                               : torch::ones({count}, torch::kBool);
    GANAUG_CHECK(accepted.dim() == 1 && accepted.size(0) == count,
                 "an image filter must return one entry per image: got ", accepted.sizes(), " for ",
                 count, " images");
    out.drawn += count;
    auto* t = taken.data_ptr<int64_t>();
    const auto* q = quota.data_ptr<int64_t>();
    const auto* c = candidate_classes.data_ptr<int64_t>();
    const auto* a = accepted.data_ptr<bool>();
    std::vector<int64_t> chosen;
    for (int64_t i = 0; i < count; ++i) {
      if (a[i] && t[c[i]] < q[c[i]]) {
        ++t[c[i]];
        chosen.push_back(i);
      }
    }
    const auto index = torch::tensor(chosen, torch::kInt64);
    images.push_back(candidates.index_select(0, index));
    classes.push_back(candidate_classes.index_select(0, index));
  }
  out.images = torch::cat(images);
  out.classes = torch::cat(classes);
  return out;
}

// The EMA generator's batch-norm statistics, recomputed from its own samples (balanced classes,
// noise seeded by the run's seed and iteration): its weights are an average over the run, so
// the raw generator's statistics, copied every step, do not describe its activations. Depends
// only on the weights, the seed and the iteration: repeated calls give the same statistics.
void detail::recompute_batchnorm_statistics(Generator& generator, const GanOptions& o,
                                            int64_t iteration, const torch::Device& device) {
  detail::reestimate_batchnorm(*generator, [&] {
    auto rng = make_generator(device, mix_seed(mix_seed(o.seed(), streams::kEmaStatistics),
                                               static_cast<uint64_t>(iteration)));
    const int64_t batch = std::max<int64_t>(2, o.batch_size());
    for (int64_t b = 0; b < kEmaStatisticsBatches; ++b) {
      const auto noise = torch::randn({batch, o.latent_dim()}, rng,
                                      torch::TensorOptions().dtype(torch::kFloat32).device(device));
      // balanced_classes(b * batch, batch, K), made on the device.
      const auto classes = torch::arange(b * batch, (b + 1) * batch,
                                         torch::TensorOptions().dtype(torch::kInt64).device(device))
                               .remainder(o.num_classes());
      generator(noise, classes);
    }
  });
}

namespace {

// The real images of one train() call, on the device, and how every step draws from them.
struct RealImages {
  RealImages(const LabeledDataset& data, const GanOptions& o, const torch::Device& device)
      : labeled(torch::nonzero(data.labels >= 0).flatten()),
        fake_classes(
            torch::bincount(data.labels.index_select(0, labeled).cpu(), {}, o.num_classes()),
            device) {
    n = labeled.numel();
    // With unlabeled_share, the images labeled -1 follow the labeled ones (labels kept -1).
    const auto unlabeled = o.unlabeled_share() > 0 ? torch::nonzero(data.labels < 0).flatten()
                                                   : torch::empty({0}, torch::kInt64);
    pool_n = unlabeled.numel();
    const auto rows = pool_n > 0 ? torch::cat({labeled, unlabeled}) : labeled;
    images = data.images.index_select(0, rows).to(device);
    labels = data.labels.index_select(0, rows).to(device);
    if (pool_n > 0) {
      pool_rows = std::min(o.batch_size() - 1,
                           std::max<int64_t>(1, std::llround(o.unlabeled_share() *
                                                             static_cast<double>(o.batch_size()))));
    }
    policy = detail::diffaugment_policy(o, n);
  }

  torch::Tensor labeled;             // rows of the labeled images in the data
  torch::Tensor images, labels;      // the labeled rows, then the pool's, on the device
  int64_t n = 0, pool_n = 0;         // labeled and pool rows
  int64_t pool_rows = 0;             // real rows of a global batch drawn from the pool (the last)
  detail::FakeClasses fake_classes;  // the fakes' classes, with the data's class frequencies
  DiffAugmentPolicy policy;
};

// One iteration's random draws, from generators seeded by (seed, iteration) on the training
// device, and this rank's slice of them.
struct StepDraws {
  at::Generator rng, augment_rng;
  int64_t world = 1, rank = 0, local = 0;
  std::string at;  // " at iteration N", for error messages

  torch::Tensor mine(const torch::Tensor& global) const {
    return world > 1 ? global.slice(0, rank * local, (rank + 1) * local) : global;
  }
};

}  // namespace

struct GanTrainer::State {
  State(GanOptions options_, std::vector<std::string> names)
      : options(std::move(options_)),
        class_names(std::move(names)),
        device(select_device(options.device())) {}

  GanOptions options;
  std::vector<std::string> class_names;
  torch::Device device;
  Generator generator{nullptr}, ema{nullptr};
  Discriminator discriminator{nullptr};
  std::unique_ptr<torch::optim::Adam> g_optimizer, d_optimizer;
  int64_t iteration = 0;
  std::shared_ptr<ProcessGroup> group;  // data-parallel training when set

  bool distributed() const { return group && group->world_size() > 1; }

  StepDraws draws() const {
    const auto& o = options;
    StepDraws d;
    d.world = group ? group->world_size() : 1;
    d.rank = group ? group->rank() : 0;
    d.local = o.batch_size() / d.world;
    d.rng = make_generator(device, mix_seed(o.seed(), static_cast<uint64_t>(iteration)));
    // With several ranks, each augments with a generator of its own.
    d.augment_rng = d.world > 1 ? make_generator(device, mix_seed(mix_seed(o.seed(), iteration),
                                                                  streams::kRankAugment + d.rank))
                                : d.rng;
    d.at = " at iteration " + std::to_string(iteration + 1);
    return d;
  }

  // One discriminator step: real and fake images in one pass. Returns its loss and the mean
  // real and fake scores, on the device.
  torch::Tensor discriminator_step(const RealImages& real, StepDraws& d) {
    const auto& o = options;
    const int64_t batch = o.batch_size();
    const auto long_on_device = torch::TensorOptions().dtype(torch::kInt64).device(device);
    const auto float_on_device = torch::TensorOptions().dtype(torch::kFloat32).device(device);
    auto global_index = torch::randint(real.n, {batch - real.pool_rows}, d.rng, long_on_device);
    if (real.pool_rows > 0)
      global_index =
          torch::cat({global_index, torch::randint(real.n, real.n + real.pool_n, {real.pool_rows},
                                                   d.rng, long_on_device)});
    const auto index = d.mine(global_index);
    const auto noise = d.mine(torch::randn({batch, o.latent_dim()}, d.rng, float_on_device));
    const auto global_fake_classes = real.fake_classes.draw(batch, d.rng);
    const auto fake_classes = d.mine(global_fake_classes);
    torch::Tensor fake, d_loss, real_scores, fake_scores;
    {
      detail::Autocast autocast(o.precision(), device);
      {
        torch::NoGradGuard no_grad;
        fake = generator(noise, fake_classes);
      }
      // As many fakes as pool images are scored without their class.
      auto scored_fake_classes = fake_classes;
      if (real.pool_rows > 0) {
        scored_fake_classes = global_fake_classes.clone();
        scored_fake_classes.slice(0, batch - real.pool_rows).fill_(-1);
        scored_fake_classes = d.mine(scored_fake_classes);
      }
      auto both = torch::cat({real.images.index_select(0, index), fake.to(torch::kFloat32)});
      if (real.policy.any()) both = diff_augment(both, real.policy, d.augment_rng);
      const auto scores = discriminator(
          both, torch::cat({real.labels.index_select(0, index), scored_fake_classes}));
      real_scores = scores.slice(0, 0, d.local).to(torch::kFloat32);
      fake_scores = scores.slice(0, d.local).to(torch::kFloat32);
      d_loss = detail::real_term(real_scores, o.loss()) + detail::fake_term(fake_scores, o.loss());
    }
    detail::zero_gradients(discriminator->parameters());
    d_loss.backward();
    if (distributed())
      group->average_gradients(discriminator->parameters(),
                               "averaging the discriminator's gradients" + d.at);
    optimizer_step(*d_optimizer, d_steps_on_device);
    return torch::stack(
        {d_loss.detach(), real_scores.mean().detach(), fake_scores.mean().detach()});
  }

  // One generator step (adversarial loss plus the mode-seeking term); the discriminator's
  // weights need no gradient here. Returns the loss, on the device.
  torch::Tensor generator_step(const RealImages& real, StepDraws& d) {
    const auto& o = options;
    const int64_t batch = o.batch_size();
    const auto float_on_device = torch::TensorOptions().dtype(torch::kFloat32).device(device);
    for (auto& p : discriminator->parameters()) p.set_requires_grad(false);
    const auto noise = d.mine(torch::randn({batch, o.latent_dim()}, d.rng, float_on_device));
    auto fake_classes = d.mine(real.fake_classes.draw(batch, d.rng));
    const int64_t half = d.local / 2;
    const bool mode_seeking = o.mode_seeking() > 0 && half > 0;
    if (mode_seeking) fake_classes = detail::paired_classes(fake_classes, half);
    torch::Tensor g_loss;
    {
      detail::Autocast autocast(o.precision(), device);
      auto fake = generator(noise, fake_classes).to(torch::kFloat32);
      torch::Tensor seeking;
      if (mode_seeking) seeking = detail::mode_seeking_term(fake, noise, half);
      if (real.policy.any()) fake = diff_augment(fake, real.policy, d.augment_rng);
      const auto scores = discriminator(fake, fake_classes).to(torch::kFloat32);
      g_loss = detail::generator_term(scores, o.loss());
      if (mode_seeking) g_loss = g_loss + o.mode_seeking() * seeking;
    }
    detail::zero_gradients(generator->parameters());
    g_loss.backward();
    if (distributed())
      group->average_gradients(generator->parameters(),
                               "averaging the generator's gradients" + d.at);
    optimizer_step(*g_optimizer, g_steps_on_device);
    for (auto& p : discriminator->parameters()) p.set_requires_grad(true);
    return g_loss.detach();
  }

  // The moving average of the generator's weights after step `iteration`, with a warm-up: a
  // short run should not average in its random initial weights. Buffers are copied.
  void update_ema() {
    if (options.ema_decay() > 0)
      detail::update_moving_average(*generator, *ema, options.ema_decay(), iteration);
  }

  // The optimizers' and the iteration's counts on the device, which each replay of a CUDA
  // graph raises: set before its capture, kept while it may replay (it writes to them).
  torch::Tensor d_steps_on_device, g_steps_on_device, iteration_on_device;
  bool capturing = false;

  void optimizer_step(torch::optim::Adam& optimizer, const torch::Tensor& steps_on_device) const {
    if (capturing)
      detail::adam_step_on_device(optimizer, steps_on_device);
    else
      optimizer.step();
  }

  bool graphs_wanted() const {
    return options.cuda_graphs() && device.is_cuda() && !distributed() && cuda_graphs_available();
  }

  // One eager iteration. Returns the discriminator's and the generator's losses, on the device.
  std::pair<torch::Tensor, torch::Tensor> eager_iteration(const RealImages& real) {
    auto d = draws();
    torch::Tensor d_losses;
    for (int64_t step = 0; step < options.d_steps(); ++step) d_losses = discriminator_step(real, d);
    auto g_loss = generator_step(real, d);
    synchronise(false, "copying rank 0's batch-norm statistics" + d.at);
    ++iteration;
    update_ema();
    return {d_losses, g_loss};
  }

  // The same iteration replayed from `graph` (captured at its first call): the draws of a
  // generator seeded as draws() seeds it, the counts on the device, the host's counts raised
  // after the replay.
  std::pair<torch::Tensor, torch::Tensor> graph_iteration(
      const RealImages& real, detail::CudaStepGraph& graph,
      std::pair<torch::Tensor, torch::Tensor>& out) {
    graph.seed(mix_seed(options.seed(), static_cast<uint64_t>(iteration)));
    if (!graph.captured()) {
      const auto on_device = torch::TensorOptions().dtype(torch::kFloat64).device(device);
      d_steps_on_device = detail::adam_steps_tensor(*d_optimizer, device);
      g_steps_on_device = detail::adam_steps_tensor(*g_optimizer, device);
      iteration_on_device = torch::full({}, static_cast<double>(iteration), on_device);
      capturing = true;
      try {
        graph.capture([&] {
          StepDraws d;
          d.rng = d.augment_rng = graph.generator();
          d.local = options.batch_size();
          for (int64_t step = 0; step < options.d_steps(); ++step)
            out.first = discriminator_step(real, d);
          out.second = generator_step(real, d);
          iteration_on_device.add_(1);
          if (options.ema_decay() > 0)
            detail::update_moving_average_on_device(*generator, *ema, options.ema_decay(),
                                                    iteration_on_device);
        });
        capturing = false;
      } catch (const std::exception& e) {
        capturing = false;
        GANAUG_FAIL("capturing the GAN's training step as a CUDA graph failed: ", e.what(),
                    "; train without graphs (GanOptions::cuda_graphs(false), --no-cuda-graphs)");
      }
    }
    graph.replay();
    detail::advance_adam_steps(*d_optimizer, options.d_steps());
    detail::advance_adam_steps(*g_optimizer, 1);
    ++iteration;
    return out;
  }

  // Module state kept equal on every rank: rank 0's at the start (weights and buffers), its
  // buffers (batch-norm statistics) after every iteration.
  void synchronise(bool with_parameters, const std::string& why) {
    if (!distributed()) return;
    std::vector<torch::nn::Module*> modules{generator.get(), discriminator.get()};
    if (with_parameters) modules.push_back(ema.get());
    std::vector<torch::Tensor> tensors;
    for (auto* m : modules) {
      if (with_parameters)
        for (const auto& p : m->parameters()) tensors.push_back(p);
      for (const auto& b : m->buffers()) tensors.push_back(b);
    }
    group->broadcast(tensors, why);
  }
};

namespace {

// log.csv and the progress reports of one train() call. The last step's losses stay on the
// device and are read (and checked for NaN/Inf) only every log_every iterations, so that a
// CUDA step never waits for the host.
class TrainingLog {
 public:
  TrainingLog(const GanOptions& o, int64_t first_iteration, bool writes)
      : o_(o),
        first_iteration_(first_iteration),
        start_(std::chrono::steady_clock::now()),
        file_(writes ? o.out_dir() : "",
              "iteration,d_loss,g_loss,d_real,d_fake,seconds,images_per_s", first_iteration) {
    progress_.iterations = o.iterations();
  }

  // Where checkpoints go: empty when this process writes none.
  const std::string& checkpoint_path() const { return file_.checkpoint_path(); }

  // Reads the last step's losses (d_losses: loss, real and fake scores; undefined before the
  // first step) and throws ganaug::Error when one is NaN or Inf.
  void read_losses(int64_t iteration, const torch::Tensor& d_losses, const torch::Tensor& g_loss) {
    if (!d_losses.defined() || !g_loss.defined()) return;
    const auto values =
        torch::cat({d_losses, g_loss.reshape({1})}).to(torch::kCPU, torch::kFloat64).contiguous();
    const double* v = values.data_ptr<double>();
    progress_.d_loss = v[0];
    progress_.d_real = v[1];
    progress_.d_fake = v[2];
    progress_.g_loss = v[3];
    GANAUG_CHECK(std::isfinite(progress_.d_loss) && std::isfinite(progress_.g_loss),
                 "training diverged by iteration ", iteration, " (losses are checked every ",
                 o_.log_every(), "): discriminator loss ", progress_.d_loss, ", generator loss ",
                 progress_.g_loss,
                 "; the last checkpoint is left intact. Lower the learning rates or change the "
                 "seed");
  }

  // Writes the row of `iteration` (with the losses read last) and returns the progress.
  const GanProgress& report(int64_t iteration) {
    progress_.iteration = iteration;
    progress_.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    progress_.images_per_second =
        progress_.seconds > 0 ? (iteration - first_iteration_) * o_.batch_size() / progress_.seconds
                              : 0;
    file_.row(iteration, {progress_.d_loss, progress_.g_loss, progress_.d_real, progress_.d_fake,
                          progress_.seconds, progress_.images_per_second});
    return progress_;
  }

 private:
  const GanOptions& o_;
  int64_t first_iteration_;
  std::chrono::steady_clock::time_point start_;
  detail::RunLog file_;
  GanProgress progress_;
};

}  // namespace

GanTrainer::GanTrainer(GanOptions options, std::vector<std::string> class_names)
    : GanTrainer(detail::run_of(options), options, std::move(class_names)) {}

GanTrainer::GanTrainer(const RunContext& run, GanOptions options,
                       std::vector<std::string> class_names)
    : state_(std::make_unique<State>(detail::with_run(std::move(options), run, "GanOptions"),
                                     std::move(class_names))) {
  auto& s = *state_;
  s.options.validate();
  GANAUG_CHECK(static_cast<int64_t>(s.class_names.size()) == s.options.num_classes(), "got ",
               s.class_names.size(), " class names for ", s.options.num_classes(), " classes");
  check_precision(s.options.precision(), s.device);
  if (s.options.threads() > 0) configure_threads(s.options.threads());
  // Initial weights from the run's seed alone: LibTorch's global generator is not seeded.
  s.generator = Generator(s.options.generator_options());
  s.discriminator = Discriminator(s.options.discriminator_options());
  reset_parameters(*s.generator, mix_seed(s.options.seed(), streams::kGeneratorInit));
  reset_parameters(*s.discriminator, mix_seed(s.options.seed(), streams::kDiscriminatorInit));
  s.ema = Generator(s.options.generator_options());
  copy_state(*s.generator, *s.ema);
  s.generator->to(s.device);
  s.discriminator->to(s.device);
  s.ema->to(s.device);
  s.ema->eval();
  for (auto& p : s.ema->parameters()) p.set_requires_grad(false);
  const auto& o = s.options;
  s.g_optimizer = std::make_unique<torch::optim::Adam>(
      s.generator->parameters(),
      torch::optim::AdamOptions(o.g_lr()).betas(std::make_tuple(o.beta1(), o.beta2())));
  s.d_optimizer = std::make_unique<torch::optim::Adam>(
      s.discriminator->parameters(),
      torch::optim::AdamOptions(o.d_lr()).betas(std::make_tuple(o.beta1(), o.beta2())));
}

GanTrainer::~GanTrainer() = default;
GanTrainer::GanTrainer(GanTrainer&&) noexcept = default;
GanTrainer& GanTrainer::operator=(GanTrainer&&) noexcept = default;

void GanTrainer::distribute(std::shared_ptr<ProcessGroup> group) {
  state_->group = std::move(group);
}

Generator GanTrainer::sampling_generator() const {
  auto& s = *state_;
  if (s.options.ema_decay() == 0) return s.generator;
  recompute_batchnorm_statistics(s.ema, s.options, s.iteration, s.device);
  return s.ema;
}
Generator GanTrainer::generator() const { return state_->generator; }
Discriminator GanTrainer::discriminator() const { return state_->discriminator; }
int64_t GanTrainer::iteration() const { return state_->iteration; }
const GanOptions& GanTrainer::options() const { return state_->options; }
GanOptions& GanTrainer::options() { return state_->options; }
const std::vector<std::string>& GanTrainer::class_names() const { return state_->class_names; }
torch::Device GanTrainer::device() const { return state_->device; }

void GanTrainer::save_checkpoint(const std::string& path) const {
  auto& s = *state_;
  // The EMA generator is saved as it samples. Training copies the raw generator's statistics
  // into it again at its next step, so this changes nothing for a run that goes on.
  if (s.options.ema_decay() > 0)
    recompute_batchnorm_statistics(s.ema, s.options, s.iteration, s.device);
  check_finite(*s.generator, "generator", s.iteration);
  check_finite(*s.discriminator, "discriminator", s.iteration);
  torch::serialize::OutputArchive archive;
  detail::write_options(archive, s.options);
  archive.write("iteration", c10::IValue(s.iteration));
  c10::List<std::string> names;
  for (const auto& name : s.class_names) names.push_back(name);
  archive.write("class_names", c10::IValue(names));
  auto add = [&](const char* key, const auto& saveable) {
    torch::serialize::OutputArchive sub;
    saveable.save(sub);
    archive.write(key, sub);
  };
  add("generator", *s.generator);
  add("discriminator", *s.discriminator);
  add("generator_ema", *s.ema);
  auto add_adam = [&](const char* key, torch::optim::Adam& optimizer) {
    torch::serialize::OutputArchive sub;
    detail::save_adam(sub, optimizer);
    archive.write(key, sub);
  };
  add_adam("g_optimizer", *s.g_optimizer);
  add_adam("d_optimizer", *s.d_optimizer);
  detail::write_checkpoint_file(archive, path, detail::kGanCheckpoint);
}

void GanTrainer::resume(const std::string& path) {
  auto& s = *state_;
  detail::CheckpointReader reader(path, s.device);
  const auto differences = detail::architecture_differences(reader.options(), s.options);
  GANAUG_CHECK(differences.empty(), "checkpoint ", path, " was trained with another architecture (",
               differences, " in this run); use the same model options or start a new run");
  const auto names = reader.class_names();
  GANAUG_CHECK(names == s.class_names, "checkpoint ", path,
               " was trained on other classes than this dataset's");
  reader.load("generator", *s.generator);
  reader.load("discriminator", *s.discriminator);
  reader.load("generator_ema", *s.ema);
  reader.check_finite_weights(*s.generator, "generator");
  reader.check_finite_weights(*s.discriminator, "discriminator");
  reader.check_finite_weights(*s.ema, "generator_ema");
  reader.load_optimizer("g_optimizer", *s.g_optimizer);
  reader.load_optimizer("d_optimizer", *s.d_optimizer);
  s.iteration = reader.integer("iteration");
}

std::vector<std::pair<std::string, std::string>> gan_training_facts(const LabeledDataset& data,
                                                                    const GanOptions& o) {
  std::vector<std::pair<std::string, std::string>> facts;
  facts.emplace_back("image shape (--image-size, --channels)",
                     std::to_string(data.channels()) + "x" + std::to_string(data.height()) + "x" +
                         std::to_string(data.width()));
  std::string names;
  for (const auto& name : data.class_names) names += (names.empty() ? "" : ",") + name;
  facts.emplace_back("classes", std::to_string(data.num_classes()) + " (" + names + ")");
  facts.emplace_back("training images (--data, --per-class)", std::to_string(data.size()));
  const auto images = data.images.to(torch::kCPU).contiguous();
  const auto labels = data.labels.to(torch::kCPU).contiguous();
  uint64_t hash = hash_bytes(images.data_ptr(), images.nbytes());
  hash = hash_bytes(labels.data_ptr(), labels.nbytes(), hash);
  facts.emplace_back("training data (--data, --per-class, --seed)", "hash " + hash_hex(hash));
  for (const auto& field : detail::gan_fields()) {
    std::ostringstream value;
    value << field.get(o);
    std::string description = field.description;
    if (description.rfind("the ", 0) == 0) description.erase(0, 4);  // "its seed", not "its the"
    facts.emplace_back(description + " (" + field.name + ")", value.str());
  }
  return facts;
}

std::vector<std::pair<std::string, std::string>> gan_training_facts(const RunContext& run,
                                                                    const LabeledDataset& data,
                                                                    const GanOptions& options) {
  return gan_training_facts(data, detail::with_run(options, run, "GanOptions"));
}

std::vector<std::pair<std::string, c10::IValue>> gan_option_differences(
    const GanOptions& options, const GanOptions& reference) {
  std::vector<std::pair<std::string, c10::IValue>> out;
  for (const auto& field : detail::gan_fields()) {
    auto value = field.get(options);
    if (value != field.get(reference)) out.emplace_back(field.name, std::move(value));
  }
  return out;
}

namespace {

// What every rank of a data-parallel run must share: the training's facts and the iteration it
// starts from.
ProcessGroup::JobFacts job_facts(const LabeledDataset& data, const GanOptions& o,
                                 int64_t iteration) {
  auto facts = gan_training_facts(data, o);
  facts.insert(facts.begin() + 4, {"starting iteration (--resume)", std::to_string(iteration)});
  return facts;
}

}  // namespace

bool GanTrainer::train(const LabeledDataset& data) {
  auto& s = *state_;
  const auto& o = s.options;
  data.validate();
  data.check_image_shape(o.channels(), o.image_size(), "the GAN");
  GANAUG_CHECK(data.num_classes() == o.num_classes(), "the GAN was set up for ", o.num_classes(),
               " classes but ", data.source, " has ", data.num_classes());
  GANAUG_CHECK((data.labels >= 0).any().item<bool>(), "no labeled images to train the GAN on in ",
               data.source);
  // Before the first collective: a rank with other shapes would abort inside Gloo, one with
  // another seed or data would average the gradients of two jobs.
  if (s.distributed())
    s.group->check_same_job(job_facts(data, o, s.iteration),
                            "checking that every rank runs the same job");
  const RealImages real(data, o, s.device);
  const int64_t world = s.group ? s.group->world_size() : 1;
  GANAUG_CHECK(o.batch_size() % world == 0, "the batch size ", o.batch_size(),
               " does not split evenly over ", world, " processes");
  s.synchronise(true, "copying rank 0's weights before training");
  TrainingLog log(o, s.iteration, !s.group || s.group->rank() == 0);
  const auto& checkpoint_path = log.checkpoint_path();
  torch::Tensor last_d_losses, last_g_loss;
  s.generator->train();
  s.discriminator->train();
  // On CUDA, the iterations after the first few replay one captured graph (State::graph_iteration).
  std::unique_ptr<detail::CudaStepGraph> graph;
  if (s.graphs_wanted()) graph = std::make_unique<detail::CudaStepGraph>(s.device);
  std::pair<torch::Tensor, torch::Tensor> graph_losses;
  const int64_t eager_until = s.iteration + kEagerIterations;
  while (s.iteration < o.iterations()) {
    if (should_stop && should_stop()) {
      if (!checkpoint_path.empty()) save_checkpoint(checkpoint_path);
      return false;
    }
    std::tie(last_d_losses, last_g_loss) = graph && s.iteration >= eager_until
                                               ? s.graph_iteration(real, *graph, graph_losses)
                                               : s.eager_iteration(real);
    if (s.iteration % o.log_every() == 0 || s.iteration == o.iterations()) {
      log.read_losses(s.iteration, last_d_losses, last_g_loss);
      check_finite(*s.generator, "generator", s.iteration);
      check_finite(*s.discriminator, "discriminator", s.iteration);
      const auto& progress = log.report(s.iteration);
      if (on_progress) on_progress(progress);
    }
    if (o.sample_every() > 0 && s.iteration % o.sample_every() == 0 && on_samples) {
      auto sampler = sampling_generator();
      on_samples(s.iteration,
                 generate(sampler, sample_grid_classes(o.num_classes(), kSamplesPerClass),
                          mix_seed(o.seed(), streams::kTrainingSamples)));
      if (o.ema_decay() == 0) s.generator->train();
    }
    if (!checkpoint_path.empty() && o.checkpoint_every() > 0 &&
        s.iteration % o.checkpoint_every() == 0 && s.iteration < o.iterations()) {
      save_checkpoint(checkpoint_path);
    }
  }
  if (!checkpoint_path.empty()) save_checkpoint(checkpoint_path);
  return true;
}

GeneratorCheckpoint load_generator(const std::string& path, const std::string& device) {
  const auto target_device = select_device(device);
  detail::CheckpointReader reader(path, target_device);
  GeneratorCheckpoint out;
  out.options = reader.options();
  out.options.device(device);
  try {
    out.options.validate();
  } catch (const Error& e) {
    GANAUG_FAIL("checkpoint ", path, " is damaged: its settings are invalid (", e.what(), ")");
  }
  out.class_names = reader.class_names();
  out.iteration = reader.integer("iteration");
  GANAUG_CHECK(out.iteration >= 0, "checkpoint ", path, " is damaged: negative iteration");
  GANAUG_CHECK(static_cast<int64_t>(out.class_names.size()) == out.options.num_classes(),
               "checkpoint ", path, " is damaged: its class list does not match its class count");
  out.generator = Generator(out.options.generator_options());
  const char* key = out.options.ema_decay() > 0 ? "generator_ema" : "generator";
  reader.load(key, *out.generator);
  reader.check_finite_weights(*out.generator, key);
  out.generator->to(target_device);
  out.generator->eval();
  return out;
}

void check_generator_fits(const GeneratorCheckpoint& loaded, const LabeledDataset& data,
                          const std::string& path) {
  GANAUG_CHECK(loaded.class_names == data.class_names, "generator ", path,
               " was trained on other classes than ", data.source);
  const int64_t size = loaded.options.image_size(), channels = loaded.options.channels();
  GANAUG_CHECK(size == data.height() && size == data.width() && channels == data.channels(),
               "generator ", path, " makes ", channels, "x", size, "x", size, " images but ",
               data.source, " holds ", data.channels(), "x", data.height(), "x", data.width());
}

}  // namespace ganaug
