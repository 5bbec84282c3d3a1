#include "ganaug/gan.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gan_checkpoint.hpp"
#include "ganaug/diffaugment.hpp"
#include "ganaug/error.hpp"
#include "ganaug/file_io.hpp"
#include "ganaug/runtime.hpp"

namespace ganaug {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kSamplesPerClass = 8;
// Seed streams of the initial weights; training iterations use streams 0, 1, 2, ...
constexpr uint64_t kGeneratorInitStream = 0x6E0000000000ULL;
constexpr uint64_t kDiscriminatorInitStream = 0xD10000000000ULL;
constexpr uint64_t kEmaStatisticsStream = 0xE3A000000000ULL;
// Batches of the EMA generator's own samples its batch-norm statistics are recomputed from.
constexpr int64_t kEmaStatisticsBatches = 16;

// Architecture differences between two option sets, as "width 64 vs 32" phrases.
std::string architecture_differences(const GanOptions& file, const GanOptions& run) {
  std::ostringstream out;
  auto compare = [&](const char* name, auto a, auto b) {
    if (a != b) out << (out.tellp() > 0 ? ", " : "") << name << " " << a << " in the file vs " << b;
  };
  compare("num_classes", file.num_classes(), run.num_classes());
  compare("image_size", file.image_size(), run.image_size());
  compare("channels", file.channels(), run.channels());
  compare("latent_dim", file.latent_dim(), run.latent_dim());
  compare("g_width", file.g_width(), run.g_width());
  compare("d_width", file.d_width(), run.d_width());
  compare("spectral_norm", file.spectral_norm(), run.spectral_norm());
  compare("projection", file.projection(), run.projection());
  compare("minibatch_std", file.minibatch_std(), run.minibatch_std());
  return out.str();
}

void check_finite(const torch::nn::Module& module, const char* what, int64_t iteration) {
  torch::NoGradGuard no_grad;
  const auto parameters = module.named_parameters();
  std::vector<torch::Tensor> finite;
  for (const auto& item : parameters) finite.push_back(torch::isfinite(item.value()).all());
  if (finite.empty()) return;
  // One read from the device for all weights.
  const auto flags = torch::stack(finite).to(torch::kCPU).contiguous();
  for (size_t i = 0; i < parameters.size(); ++i) {
    GANAUG_CHECK(flags.data_ptr<bool>()[i], "training diverged by iteration ", iteration, ": the ",
                 what, " weight '", parameters[i].key(),
                 "' holds NaN or Inf; the last checkpoint is left intact. Lower the learning "
                 "rates or change the seed");
  }
}

void copy_state(torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  auto source = from.parameters(), target = to.parameters();
  for (size_t i = 0; i < source.size(); ++i) target[i].copy_(source[i]);
  auto source_buffers = from.buffers(), target_buffers = to.buffers();
  for (size_t i = 0; i < source_buffers.size(); ++i) target_buffers[i].copy_(source_buffers[i]);
}

}  // namespace

GanLoss parse_gan_loss(const std::string& name) {
  if (name == "hinge") return GanLoss::kHinge;
  if (name == "bce") return GanLoss::kBce;
  GANAUG_FAIL("unknown GAN loss '", name, "': use hinge or bce");
}

std::string to_string(GanLoss loss) { return loss == GanLoss::kHinge ? "hinge" : "bce"; }

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
  GANAUG_CHECK(latent_dim() >= 1 && latent_dim() <= 4096,
               "the latent dimension must lie in [1, 4096], got ", latent_dim());
  GANAUG_CHECK(g_width() >= 4 && g_width() <= 4096 && d_width() >= 4 && d_width() <= 4096,
               "network widths must lie in [4, 4096], got ", g_width(), " and ", d_width());
  GANAUG_CHECK(threads() >= 0, "the thread count must be 0 (leave as is) or positive, got ",
               threads());
  GANAUG_CHECK(checkpoint_every() >= 0 && sample_every() >= 0,
               "checkpoint and sample intervals must be 0 (off) or positive, got ",
               checkpoint_every(), " and ", sample_every());
  GANAUG_CHECK(iterations() >= 0, "GAN iterations must not be negative, got ", iterations());
  GANAUG_CHECK(batch_size() >= 1, "GAN batch size must be positive, got ", batch_size());
  GANAUG_CHECK(g_lr() > 0 && d_lr() > 0, "GAN learning rates must be positive");
  GANAUG_CHECK(mode_seeking() >= 0 && std::isfinite(mode_seeking()),
               "the mode-seeking weight must be 0 (off) or positive, got ", mode_seeking());
  GANAUG_CHECK(beta1() >= 0 && beta1() < 1 && beta2() >= 0 && beta2() < 1,
               "Adam betas must lie in [0, 1)");
  GANAUG_CHECK(d_steps() >= 1, "discriminator steps per generator step must be at least 1");
  GANAUG_CHECK(ema_decay() >= 0 && ema_decay() < 1, "EMA decay must lie in [0, 1)");
  GANAUG_CHECK(unlabeled_share() >= 0 && unlabeled_share() < 1,
               "the unlabeled share of the real batches must lie in [0, 1), got ",
               unlabeled_share());
  GANAUG_CHECK(log_every() >= 1, "log_every must be positive");
  if (diffaugment() != "auto") DiffAugmentPolicy::parse(diffaugment());
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

FakeClasses::FakeClasses(const torch::Tensor& class_counts, const torch::Device& device)
    : device_(device) {
  const auto counts = class_counts.to(torch::kCPU, torch::kInt64);
  GANAUG_CHECK(counts.dim() == 1 && counts.size(0) >= 1 && counts.sum().item<int64_t>() > 0,
               "fake classes need class counts with at least one image");
  num_classes_ = counts.size(0);
  balanced_ = counts.eq(counts[0]).all().item<bool>();
  if (!balanced_) weights_ = counts.to(device, torch::kFloat64);
}

torch::Tensor FakeClasses::draw(int64_t count, const at::Generator& rng) const {
  if (balanced_)
    return torch::randint(num_classes_, {count}, rng,
                          torch::TensorOptions().dtype(torch::kInt64).device(device_));
  return torch::multinomial(weights_, count, /*replacement=*/true, rng);
}

torch::Tensor balanced_classes(int64_t first, int64_t count, int64_t num_classes) {
  GANAUG_CHECK(num_classes >= 1, "need at least one class");
  return torch::arange(first, first + count, torch::kInt64).remainder(num_classes);
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
void recompute_batchnorm_statistics(Generator& generator, const GanOptions& o, int64_t iteration,
                                    const torch::Device& device) {
  using Momentum = std::decay_t<decltype(std::declval<torch::nn::BatchNormOptions>().momentum())>;
  std::vector<std::pair<torch::nn::BatchNorm2dImpl*, Momentum>> layers;
  for (auto& module : generator->modules(/*include_self=*/false)) {
    if (auto* bn = module->as<torch::nn::BatchNorm2d>()) {
      layers.emplace_back(bn, bn->options.momentum());
      bn->reset_running_stats();
      bn->options.momentum(Momentum());  // a cumulative average over the batches below
    }
  }
  if (layers.empty()) return;
  torch::NoGradGuard no_grad;
  generator->train();
  auto rng = make_generator(
      device, mix_seed(mix_seed(o.seed(), kEmaStatisticsStream), static_cast<uint64_t>(iteration)));
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
  for (auto& [bn, momentum] : layers) bn->options.momentum(momentum);
  generator->eval();
}

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
};

GanTrainer::GanTrainer(GanOptions options, std::vector<std::string> class_names)
    : state_(std::make_unique<State>(std::move(options), std::move(class_names))) {
  auto& s = *state_;
  s.options.validate();
  GANAUG_CHECK(static_cast<int64_t>(s.class_names.size()) == s.options.num_classes(), "got ",
               s.class_names.size(), " class names for ", s.options.num_classes(), " classes");
  if (s.options.threads() > 0) configure_threads(s.options.threads());
  // Initial weights from the run's seed alone: LibTorch's global generator is not seeded.
  s.generator = Generator(s.options.generator_options());
  s.discriminator = Discriminator(s.options.discriminator_options());
  reset_parameters(*s.generator, mix_seed(s.options.seed(), kGeneratorInitStream));
  reset_parameters(*s.discriminator, mix_seed(s.options.seed(), kDiscriminatorInitStream));
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
  // Serialised in memory: a LibTorch archive that fails to write its file throws from a
  // destructor and aborts the process, so the file is written here, where a full disk is an
  // ordinary error.
  auto to_bytes = [](torch::serialize::OutputArchive& a) {
    std::string bytes;
    a.save_to([&bytes](const void* data, size_t size) {
      bytes.append(static_cast<const char*>(data), size);
      return size;
    });
    return bytes;
  };
  const std::string payload = to_bytes(archive);
  const std::string bytes = detail::checkpoint_file_bytes(payload);
  const fs::path target(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path());
  try {
    write_file_atomic(target, bytes.data(), bytes.size(), Durability::kDurable);
  } catch (const Error& e) {
    GANAUG_FAIL("could not write checkpoint ", path, " (", e.what(),
                "); the previous checkpoint, if any, is intact");
  }
}

void GanTrainer::resume(const std::string& path) {
  auto& s = *state_;
  detail::CheckpointReader reader(path, s.device);
  const auto differences = architecture_differences(reader.options(), s.options);
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

bool GanTrainer::train(const LabeledDataset& data) {
  auto& s = *state_;
  const auto& o = s.options;
  data.validate();
  GANAUG_CHECK(data.channels() == o.channels() && data.height() == o.image_size() &&
                   data.width() == o.image_size(),
               "the GAN was set up for ", o.channels(), "x", o.image_size(), "x", o.image_size(),
               " images but ", data.source, " holds ", data.channels(), "x", data.height(), "x",
               data.width());
  GANAUG_CHECK(data.num_classes() == o.num_classes(), "the GAN was set up for ", o.num_classes(),
               " classes but ", data.source, " has ", data.num_classes());
  const auto labelled = torch::nonzero(data.labels >= 0).flatten();
  GANAUG_CHECK(labelled.numel() > 0, "no labelled images to train the GAN on in ", data.source);
  const int64_t n = labelled.numel();
  // With unlabeled_share, the images labelled -1 follow the labelled ones (labels kept at -1).
  const auto unlabelled = o.unlabeled_share() > 0 ? torch::nonzero(data.labels < 0).flatten()
                                                  : torch::empty({0}, torch::kInt64);
  const int64_t pool_n = unlabelled.numel();
  const auto rows = pool_n > 0 ? torch::cat({labelled, unlabelled}) : labelled;
  const auto images = data.images.index_select(0, rows).to(s.device);
  const auto labels = data.labels.index_select(0, rows).to(s.device);
  // Real rows per global batch drawn from the pool, the last of the batch (and as many fakes).
  const int64_t pool_rows =
      pool_n > 0 ? std::min(o.batch_size() - 1,
                            std::max<int64_t>(1, std::llround(o.unlabeled_share() *
                                                              static_cast<double>(o.batch_size()))))
                 : 0;
  const FakeClasses fake_class_sampler(
      torch::bincount(data.labels.index_select(0, labelled).cpu(), {}, o.num_classes()), s.device);
  const auto policy =
      o.diffaugment() == "auto"
          ? DiffAugmentPolicy::parse(
                n < 10000 ? (o.channels() == 3 ? "translation,cutout,color" : "translation,cutout")
                          : "off")
          : DiffAugmentPolicy::parse(o.diffaugment());

  ProcessGroup* group = s.group.get();
  const int64_t world = group ? group->world_size() : 1, rank = group ? group->rank() : 0;
  GANAUG_CHECK(o.batch_size() % world == 0, "the batch size ", o.batch_size(),
               " does not split evenly over ", world, " processes");
  const int64_t local = o.batch_size() / world;  // this rank's share of every global batch
  // Module state kept equal on every rank: rank 0's at the start, its buffers every iteration.
  auto module_state = [](std::vector<torch::nn::Module*> modules, bool with_parameters) {
    std::vector<torch::Tensor> out;
    for (auto* m : modules) {
      if (with_parameters)
        for (const auto& p : m->parameters()) out.push_back(p);
      for (const auto& b : m->buffers()) out.push_back(b);
    }
    return out;
  };
  const std::vector<torch::nn::Module*> modules{s.generator.get(), s.discriminator.get(),
                                                s.ema.get()};
  if (group && world > 1) {
    group->broadcast(module_state(modules, true), "copying rank 0's weights before training");
  }

  std::ofstream log;
  std::string checkpoint_path;
  if (rank == 0 && !o.out_dir().empty()) {
    fs::create_directories(o.out_dir());
    remove_temporary_files(o.out_dir());  // a checkpoint half written by a killed run
    const auto log_path = fs::path(o.out_dir()) / "log.csv";
    const bool fresh = !fs::exists(log_path) || s.iteration == 0;
    log.open(log_path, fresh ? std::ios::trunc : std::ios::app);
    GANAUG_CHECK(log.good(), "cannot write the training log ", log_path.string());
    if (fresh) log << "iteration,d_loss,g_loss,d_real,d_fake,seconds,images_per_s\n";
    checkpoint_path = (fs::path(o.out_dir()) / "checkpoint.pt").string();
  }

  const int64_t batch = o.batch_size();
  const int64_t k = o.num_classes();
  const auto long_cpu = torch::TensorOptions().dtype(torch::kInt64);
  const auto long_on_device = long_cpu.device(s.device);
  const auto float_on_device = torch::TensorOptions().dtype(torch::kFloat32).device(s.device);
  // The last step's losses and mean scores, kept on the device: they are read (and checked for
  // NaN/Inf) only every log_every iterations, so that a CUDA step never waits for the host.
  torch::Tensor last_d_losses, last_g_loss;
  const auto start_time = std::chrono::steady_clock::now();
  const int64_t first_iteration = s.iteration;
  GanProgress progress;
  progress.iterations = o.iterations();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count();
  };
  auto read_losses = [&] {
    if (!last_d_losses.defined() || !last_g_loss.defined()) return;
    const auto values = torch::cat({last_d_losses, last_g_loss.reshape({1})})
                            .to(torch::kCPU, torch::kFloat64)
                            .contiguous();
    const double* v = values.data_ptr<double>();
    progress.d_loss = v[0];
    progress.d_real = v[1];
    progress.d_fake = v[2];
    progress.g_loss = v[3];
    GANAUG_CHECK(std::isfinite(progress.d_loss) && std::isfinite(progress.g_loss),
                 "training diverged by iteration ", s.iteration, " (losses are checked every ",
                 o.log_every(), "): discriminator loss ", progress.d_loss, ", generator loss ",
                 progress.g_loss,
                 "; the last checkpoint is left intact. Lower the learning rates or change the "
                 "seed");
  };
  auto report = [&] {
    progress.iteration = s.iteration;
    progress.seconds = elapsed();
    progress.images_per_second =
        progress.seconds > 0 ? (s.iteration - first_iteration) * batch / progress.seconds : 0;
    if (log.is_open()) {
      log << s.iteration << ',' << progress.d_loss << ',' << progress.g_loss << ','
          << progress.d_real << ',' << progress.d_fake << ',' << progress.seconds << ','
          << progress.images_per_second << '\n';
      log.flush();
    }
    if (on_progress) on_progress(progress);
  };
  auto emit_samples = [&] {
    if (!on_samples) return;
    const auto classes = torch::arange(k, long_cpu).repeat_interleave(kSamplesPerClass);
    auto sampler = sampling_generator();
    on_samples(s.iteration, generate(sampler, classes, mix_seed(o.seed(), 0xA11CE)));
    if (o.ema_decay() == 0) s.generator->train();
  };

  s.generator->train();
  s.discriminator->train();
  while (s.iteration < o.iterations()) {
    if (should_stop && should_stop()) {
      if (!checkpoint_path.empty()) save_checkpoint(checkpoint_path);
      return false;
    }
    // Every random draw of this iteration comes from a generator seeded by (seed, iteration),
    // on the training device: no step copies anything from the host.
    auto rng = make_generator(s.device, mix_seed(o.seed(), static_cast<uint64_t>(s.iteration)));
    // With several ranks, each takes its slice of the global draws, and augments with a
    // generator of its own.
    auto mine = [&](const torch::Tensor& global) {
      return world > 1 ? global.slice(0, rank * local, (rank + 1) * local) : global;
    };
    auto augment_rng =
        world > 1 ? make_generator(s.device, mix_seed(mix_seed(o.seed(), s.iteration), 7 + rank))
                  : rng;
    const std::string at = " at iteration " + std::to_string(s.iteration + 1);
    for (int64_t step = 0; step < o.d_steps(); ++step) {
      auto global_index = torch::randint(n, {batch - pool_rows}, rng, long_on_device);
      if (pool_rows > 0)
        global_index = torch::cat(
            {global_index, torch::randint(n, n + pool_n, {pool_rows}, rng, long_on_device)});
      const auto index = mine(global_index);
      const auto noise = mine(torch::randn({batch, o.latent_dim()}, rng, float_on_device));
      const auto global_fake_classes = fake_class_sampler.draw(batch, rng);
      const auto fake_classes = mine(global_fake_classes);
      torch::Tensor fake;
      {
        torch::NoGradGuard no_grad;
        fake = s.generator(noise, fake_classes);
      }
      // As many fakes as pool images are scored without their class.
      auto scored_fake_classes = fake_classes;
      if (pool_rows > 0) {
        scored_fake_classes = global_fake_classes.clone();
        scored_fake_classes.slice(0, batch - pool_rows).fill_(-1);
        scored_fake_classes = mine(scored_fake_classes);
      }
      // Real and fake in one batch: one discriminator pass instead of two.
      auto both = torch::cat({images.index_select(0, index), fake});
      if (policy.any()) both = diff_augment(both, policy, augment_rng);
      const auto scores =
          s.discriminator(both, torch::cat({labels.index_select(0, index), scored_fake_classes}));
      const auto real_scores = scores.slice(0, 0, local), fake_scores = scores.slice(0, local);
      const auto d_loss =
          o.loss() == GanLoss::kHinge
              ? torch::relu(1 - real_scores).mean() + torch::relu(1 + fake_scores).mean()
              : torch::softplus(-real_scores).mean() + torch::softplus(fake_scores).mean();
      s.d_optimizer->zero_grad();
      d_loss.backward();
      if (group && world > 1)
        group->average_gradients(s.discriminator->parameters(),
                                 "averaging the discriminator's gradients" + at);
      s.d_optimizer->step();
      last_d_losses =
          torch::stack({d_loss.detach(), real_scores.mean().detach(), fake_scores.mean().detach()});
    }
    // Generator step; the discriminator's weights need no gradient here.
    for (auto& p : s.discriminator->parameters()) p.set_requires_grad(false);
    const auto noise = mine(torch::randn({batch, o.latent_dim()}, rng, float_on_device));
    auto fake_classes = mine(fake_class_sampler.draw(batch, rng));
    const int64_t half = local / 2;
    const bool mode_seeking = o.mode_seeking() > 0 && half > 0;
    if (mode_seeking) {
      // Image i and image half + i share a class and differ in noise.
      fake_classes = fake_classes.clone();
      fake_classes.slice(0, half, 2 * half).copy_(fake_classes.slice(0, 0, half));
    }
    auto fake = s.generator(noise, fake_classes);
    torch::Tensor seeking;
    if (mode_seeking) {
      // MSGAN: the ratio of image distance to noise distance, which the generator raises.
      const auto image_distance =
          (fake.slice(0, 0, half) - fake.slice(0, half, 2 * half)).abs().mean();
      const auto noise_distance =
          (noise.slice(0, 0, half) - noise.slice(0, half, 2 * half)).abs().mean();
      seeking = 1.0 / (image_distance / noise_distance + 1e-5);
    }
    if (policy.any()) fake = diff_augment(fake, policy, augment_rng);
    const auto scores = s.discriminator(fake, fake_classes);
    auto g_loss = o.loss() == GanLoss::kHinge ? -scores.mean() : torch::softplus(-scores).mean();
    if (mode_seeking) g_loss = g_loss + o.mode_seeking() * seeking;
    s.g_optimizer->zero_grad();
    g_loss.backward();
    if (group && world > 1)
      group->average_gradients(s.generator->parameters(),
                               "averaging the generator's gradients" + at);
    s.g_optimizer->step();
    for (auto& p : s.discriminator->parameters()) p.set_requires_grad(true);
    last_g_loss = g_loss.detach();
    if (group && world > 1) {
      group->broadcast(module_state({s.generator.get(), s.discriminator.get()}, false),
                       "copying rank 0's batch-norm statistics" + at);
    }
    ++s.iteration;
    if (o.ema_decay() > 0) {
      // Warm-up: a short run should not average in its random initial weights.
      const double decay = std::min(o.ema_decay(), (1.0 + s.iteration) / (10.0 + s.iteration));
      torch::NoGradGuard no_grad;
      auto source = s.generator->parameters(), target = s.ema->parameters();
      for (size_t i = 0; i < source.size(); ++i) target[i].mul_(decay).add_(source[i], 1 - decay);
      auto source_buffers = s.generator->buffers(), target_buffers = s.ema->buffers();
      for (size_t i = 0; i < source_buffers.size(); ++i) target_buffers[i].copy_(source_buffers[i]);
    }
    if (s.iteration % o.log_every() == 0 || s.iteration == o.iterations()) {
      read_losses();
      check_finite(*s.generator, "generator", s.iteration);
      check_finite(*s.discriminator, "discriminator", s.iteration);
      report();
    }
    if (o.sample_every() > 0 && s.iteration % o.sample_every() == 0) emit_samples();
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
