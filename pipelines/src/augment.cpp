#include "ganaug/pipelines/augment.hpp"

#include <sys/statvfs.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>

#include "ganaug/classifier.hpp"
#include "ganaug/datasets/csv_manifest.hpp"
#include "ganaug/datasets/image.hpp"
#include "ganaug/file_io.hpp"
#include "ganaug/gan.hpp"
#include "ganaug/pipelines/generate.hpp"
#include "ganaug/runtime.hpp"
#include "ganaug/version.hpp"
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

constexpr const char* kRunRecordFormat = "ganaug-augment-run-v1";

// What identifies a data set: where it came from, its size and a hash of its contents.
nlohmann::json data_identity(const LabeledDataset& data) {
  uint64_t hash = kHashSeed;
  const auto images = data.images.contiguous();
  const auto labels = data.labels.contiguous();
  hash = hash_bytes(images.data_ptr(), images.numel() * images.element_size(), hash);
  hash = hash_bytes(labels.data_ptr(), labels.numel() * labels.element_size(), hash);
  for (const auto& name : data.class_names) hash = hash_bytes(name.data(), name.size() + 1, hash);
  return {{"source", data.source}, {"images", data.size()}, {"hash", hash_hex(hash)}};
}

std::string file_hash(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  GANAUG_CHECK(in.good(), "cannot read ", path.string());
  uint64_t hash = kHashSeed;
  std::vector<char> buffer(1 << 16);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    hash = hash_bytes(buffer.data(), static_cast<size_t>(in.gcount()), hash);
  }
  return hash_hex(hash);
}

// "argmax-dynamic" for argmax retrained with dynamic argmax, else the scheme's name.
std::string scheme_name(const AugmentOptions& o) {
  return to_string(o.scheme()) + (o.dynamic_argmax() ? "-dynamic" : "");
}

// What made an output folder: everything that decides its images and their labels. A resumed
// run must agree on all of it, or the folder would mix two runs.
nlohmann::json run_record(const AugmentOptions& o, const TrainTestData& data,
                          const LabeledDataset* pool) {
  nlohmann::json record = {
      {"format", kRunRecordFormat},
      {"revision", kOutputRevision},
      {"scheme", scheme_name(o)},
      {"seed", o.seed()},
      {"n", o.n()},
      {"image_shape", {data.train.channels(), data.train.height(), data.train.width()}},
      {"class_names", data.train.class_names},
      {"data", data_identity(data.train)},
      {"test_data", data_identity(data.test)}};
  if (o.generator().empty()) {
    record["generator"] = {{"trained_here", true}, {"gan_iterations", o.gan_iterations()}};
    // Recorded only when not the default, so that folders from before the option still resume.
    if (o.gan_batch_size() != AugmentOptions().gan_batch_size())
      record["generator"]["gan_batch"] = o.gan_batch_size();
  } else {
    record["generator"] = {{"checkpoint", fs::absolute(o.generator()).string()},
                           {"hash", file_hash(o.generator())}};
  }
  if (o.num_shards() > 1) {
    const auto range = shard_range(o.n(), o.generate_batch_size(), o.shard(), o.num_shards());
    record["shard"] = {{"index", o.shard()},
                       {"count", o.num_shards()},
                       {"first", range.first},
                       {"images", range.count},
                       {"gen_batch", o.generate_batch_size()}};
  }
  // The baseline classifier labels the pool and the argmax images.
  const auto network = ClassifierOptions(2, 28, data.train.channels())
                           .architecture(o.classifier())
                           .width(o.classifier_width());
  const nlohmann::json labeller = {
      {"epochs", o.classifier_epochs()},
      {"lr_schedule", o.lr_schedule()},
      {"classic", o.classic() ? o.classic_options().to_string() : "off"},
      {"network", network.network()},
      {"width", network.network_width()}};
  if (pool && o.generator().empty()) {  // the pool's pseudo-labels train the GAN
    record["unlabeled"] = data_identity(*pool);
    record["unlabeled"]["confidence"] = o.pool_confidence();
    record["unlabeled"]["teacher"] = labeller;
  }
  if (o.scheme() == Scheme::kArgmax) record["labeller"] = labeller;
  return record;
}

// The first difference between a folder's record and this run's, as an actionable sentence.
std::string record_difference(nlohmann::json was, const nlohmann::json& now) {
  const std::vector<std::pair<const char*, const char*>> fields = {
      {"revision", "the ganaug revision that made it (another version draws other images)"},
      {"scheme", "--scheme"},
      {"seed", "--seed"},
      {"n", "--n"},
      {"generator", "--gan-iters / --generator"},
      {"shard", "--shard / --num-shards / --gen-batch"},
      {"image_shape", "the image shape (--image-size, --channels)"},
      {"class_names", "the classes"},
      {"data", "--data (its images or labels)"},
      {"test_data", "--test-data"},
      {"labeller",
       "--epochs / --lr-schedule / --classic / --classifier / --classifier-width (argmax "
       "labeller)"},
      {"unlabeled",
       "--unlabeled / --pool-confidence / the teacher's --epochs, --lr-schedule, "
       "--classic, --classifier, --classifier-width"}};
  // Where things were found is informative only: a moved data set or checkpoint with the same
  // contents is the same input.
  auto identity = [](const nlohmann::json& record, const char* key) {
    auto value = record.contains(key) ? record[key] : nlohmann::json();
    if (value.is_object()) {
      value.erase("source");
      value.erase("checkpoint");
    }
    return value;
  };
  // Folders from before the network was recorded were labelled by the network then the default.
  const bool color = was.value("image_shape", nlohmann::json::array({1}))[0] == 3;
  for (auto* labeller : {was.contains("labeller") ? &was["labeller"] : nullptr,
                         was.contains("unlabeled") && was["unlabeled"].contains("teacher")
                             ? &was["unlabeled"]["teacher"]
                             : nullptr}) {
    if (labeller && labeller->is_object() && !labeller->contains("network")) {
      (*labeller)["network"] = color ? "resnet" : "cnn";
      (*labeller)["width"] = 32;
    }
  }
  for (const auto& [key, flag] : fields) {
    const auto a = identity(was, key);
    const auto b = identity(now, key);
    if (a != b) {
      return std::string(flag) + " differs: the folder has " +
             a.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + ", this run " +
             b.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
  }
  return "";
}

// Writes the folder's record, or checks a resumed folder's against it.
void settle_run_record(const fs::path& out, const nlohmann::json& raw_record, bool resume) {
  const auto path = out / "run.json";
  // As it reads back from the file: bytes that are not UTF-8 (a Latin-1 class name) become
  // U+FFFD there, so they do here too before comparing.
  const auto text = raw_record.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  const auto record = nlohmann::json::parse(text);
  if (resume && fs::exists(path)) {
    nlohmann::json was;
    try {
      std::ifstream in(path);
      was = nlohmann::json::parse(in);
    } catch (const std::exception& e) {
      GANAUG_FAIL("cannot resume in ", out.string(), ": its record ", path.string(),
                  " is damaged (", e.what(), "); use --force or another --out");
    }
    const auto difference = record_difference(was, record);
    GANAUG_CHECK(difference.empty(), "cannot resume in ", out.string(), ": it holds another run (",
                 difference,
                 "); rerun with the folder's settings, or use --force or another --out");
    return;
  }
  if (resume) {
    // A folder with outputs but no record was not made by this version of augment.
    for (const auto& entry : fs::directory_iterator(out)) {
      GANAUG_CHECK(is_temporary_file_name(entry.path().filename().string()), "cannot resume in ",
                   out.string(),
                   ": it has no run.json, so it was not made by this version of "
                   "augment (or not by augment) and cannot be checked; use --force or another "
                   "--out");
    }
  }
  write_text_atomic(path, text + "\n");
}

// Refuses a run whose images would not fit on the output disk (space or file count).
void check_free_space(const fs::path& out, const LabeledDataset& train, int64_t n) {
  if (n == 0) return;
  int64_t existing = 0;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(out / "images", error)) {
    existing += entry.path().extension() == ".png";
  }
  const int64_t remaining = std::max<int64_t>(0, n - existing);
  struct statvfs disk {};
  if (remaining == 0 || ::statvfs(out.c_str(), &disk) != 0) return;
  // A PNG of 8-bit pixels is at most the raw pixels, a filter byte per row and its chunks; each
  // file takes whole blocks; each manifest row about 12 bytes per target.
  const double block = disk.f_frsize > 0 ? static_cast<double>(disk.f_frsize) : 4096.0;
  const double png =
      static_cast<double>(train.channels() * train.height() * train.width() + train.height() + 200);
  const double per_image = std::ceil(png / block) * block + 40 + 12.0 * (train.num_classes() + 1);
  const double needed = per_image * static_cast<double>(remaining);
  const double available = static_cast<double>(disk.f_bavail) * block;
  GANAUG_CHECK(needed <= available, "not enough free space in ", out.string(), " for ", remaining,
               " images: they need about ", std::ceil(needed / 1e6), " MB but the disk has ",
               std::floor(available / 1e6),
               " MB free; free some space, lower --n or choose "
               "another --out");
  GANAUG_CHECK(disk.f_files == 0 || static_cast<double>(disk.f_favail) >= remaining + 16.0,
               "not enough free files (inodes) in ", out.string(), " for ", remaining,
               " images: the disk has ", disk.f_favail,
               " left; lower --n or choose another "
               "--out");
}

GanOptions gan_options(const AugmentOptions& o, const LabeledDataset& train,
                       const std::string& device) {
  GANAUG_CHECK(train.height() == train.width(), "the GAN needs square images; ", train.source,
               " holds ", train.height(), "x", train.width(), " (set --image-size)");
  return GanOptions(train.num_classes(), train.height(), train.channels())
      .iterations(o.gan_iterations())
      .batch_size(o.gan_batch_size())
      .seed(o.seed())
      .device(device)
      .threads(o.threads())
      .checkpoint_every(o.gan_checkpoint_every())
      .log_every(25);
}

// A rank other than 0 of a multi-process run: loads the same data and trains the GAN together
// with rank 0, which alone writes the output folder.
nlohmann::json train_gan_as_follower(const AugmentOptions& o, const std::string& device,
                                     const AugmentCallbacks& callbacks) {
  configure_threads(o.threads());
  auto spec = o.data();
  spec.threads(o.threads()).seed(o.seed());
  const auto data = load_train_test(spec, o.test_data(), o.test_fraction());
  GanTrainer trainer(gan_options(o, data.train, device), data.train.class_names);
  const auto checkpoint = fs::path(o.out_dir()) / "gan" / "checkpoint.pt";
  if (o.resume() && fs::exists(checkpoint)) trainer.resume(checkpoint.string());
  auto group = std::make_shared<ProcessGroup>(o.distributed());
  trainer.distribute(group);
  trainer.should_stop = [&] { return callbacks.should_stop && callbacks.should_stop(); };
  trainer.on_progress = [&](const GanProgress& p) {
    if (callbacks.on_progress)
      callbacks.on_progress("gan", static_cast<double>(p.iteration),
                            static_cast<double>(p.iterations), "");
  };
  if (!trainer.train(data.train)) {
    throw Interrupted("interrupted during GAN training at iteration " +
                      std::to_string(trainer.iteration()));
  }
  return {{"rank", o.distributed().rank()},
          {"world_size", o.distributed().world_size()},
          {"role", "trained the GAN with rank 0, which writes the output"},
          {"gan_iterations", trainer.iteration()}};
}

}  // namespace

ShardRange shard_range(int64_t n, int64_t batch_size, int64_t shard, int64_t num_shards) {
  GANAUG_CHECK(n >= 0 && batch_size >= 1, "shard_range needs n >= 0 and a positive batch size");
  GANAUG_CHECK(num_shards >= 1 && shard >= 0 && shard < num_shards, "shard ", shard, " of ",
               num_shards, " does not exist: shards are numbered 0 to num_shards - 1");
  const int64_t batches = (n + batch_size - 1) / batch_size;
  const int64_t begin = batches * shard / num_shards, end = batches * (shard + 1) / num_shards;
  ShardRange range;
  range.first = std::min(n, begin * batch_size);
  range.count = std::min(n, end * batch_size) - range.first;
  return range;
}

void AugmentOptions::validate() const {
  GANAUG_CHECK(n() >= 0, "--n must be 0 or positive, got ", n());
  GANAUG_CHECK(!dynamic_argmax() || scheme() == Scheme::kArgmax,
               "dynamic argmax relabels argmax labels: it goes with the argmax scheme only");
  GANAUG_CHECK(num_shards() >= 1, "--num-shards must be positive, got ", num_shards());
  GANAUG_CHECK(shard() >= 0 && shard() < num_shards(), "--shard ", shard(),
               " is not between 0 and --num-shards - 1 (", num_shards() - 1, ")");
  if (num_shards() > 1) {
    GANAUG_CHECK(!generator().empty(),
                 "--num-shards needs --generator: every shard samples the same trained "
                 "generator (train it once with augment --n 0 --no-retrain, or take a run's "
                 "gan/checkpoint.pt)");
    GANAUG_CHECK(!retrain(),
                 "--num-shards needs --no-retrain: join the shards with augment-merge first");
  }
  distributed().validate();
  if (distributed().world_size() > 1) {
    GANAUG_CHECK(generator().empty(), "several processes (WORLD_SIZE ", distributed().world_size(),
                 ") only train a GAN; with --generator run one process, or shard the "
                 "generation with --num-shards");
    GANAUG_CHECK(gan_batch_size() % distributed().world_size() == 0, "the GAN's batch of ",
                 gan_batch_size(), " images (--gan-batch) does not split evenly over ",
                 distributed().world_size(), " processes");
  }
  GANAUG_CHECK(gan_batch_size() >= 1, "--gan-batch must be positive, got ", gan_batch_size());
  GANAUG_CHECK(gan_iterations() >= 0, "--gan-iters must be 0 or positive, got ", gan_iterations());
  GANAUG_CHECK(gan_checkpoint_every() >= 1, "--checkpoint-every must be positive, got ",
               gan_checkpoint_every());
  GANAUG_CHECK(generate_batch_size() >= 1, "--gen-batch must be positive, got ",
               generate_batch_size());
  GANAUG_CHECK(classifier_epochs() >= 1, "--epochs must be positive, got ", classifier_epochs());
  check_lr_schedule(lr_schedule());
  check_architecture(classifier());
  GANAUG_CHECK(classifier_width() >= 0 && classifier_width() <= 4096,
               "--classifier-width must lie in [1, 4096] (or be 0: the network's own), got ",
               classifier_width());
  GANAUG_CHECK(synthetic_share() >= 0 && synthetic_share() < 1,
               "--synthetic-share must lie in [0, 1), got ", synthetic_share());
  GANAUG_CHECK(synthetic_weight() >= 0 && std::isfinite(synthetic_weight()),
               "--synthetic-weight must be 0 or positive, got ", synthetic_weight());
  GANAUG_CHECK(test_fraction() > 0 && test_fraction() < 1,
               "the test fraction must lie strictly between 0 and 1, got ", test_fraction());
  GANAUG_CHECK(!(resume() && force()), "--resume and --force contradict each other; pick one");
  GANAUG_CHECK(threads() >= 0 && threads() <= hardware_threads(), "--threads ", threads(),
               " is not between 0 (all) and the ", hardware_threads(),
               " CPUs this process may use");
  GANAUG_CHECK(!out_dir().empty(), "--out must name a folder");
  const int64_t size = data().image_size();
  if (size > 0 && generator().empty()) {
    GANAUG_CHECK(size >= 16 && size <= 64 && size % 4 == 0, "--image-size ", size,
                 " is not supported by the GAN: use a multiple of 4 from 16 to 64");
  }
  GANAUG_CHECK(pool_confidence() > 0 && pool_confidence() <= 1,
               "--pool-confidence must lie in (0, 1], got ", pool_confidence());
  GANAUG_CHECK(!pseudo() || !unlabeled().empty(), "--pseudo needs an unlabeled pool (--unlabeled)");
  GANAUG_CHECK(unlabeled().empty() || distributed().world_size() == 1,
               "--unlabeled runs in one process (WORLD_SIZE ", distributed().world_size(),
               "): the pool's pseudo-labels come from a classifier trained by one process");
  select_device(device());
}

namespace {}  // namespace

nlohmann::json run_augment(const AugmentOptions& o, const AugmentCallbacks& callbacks) {
  const auto total_start = Clock::now();
  o.validate();
  auto progress = [&](const std::string& stage, double done, double total,
                      const std::string& detail = "") {
    if (callbacks.on_progress) callbacks.on_progress(stage, done, total, detail);
  };
  auto stop_requested = [&] { return callbacks.should_stop && callbacks.should_stop(); };
  const auto& dist = o.distributed();
  const bool distributed = dist.world_size() > 1;
  // A CUDA rank trains on its node's GPU number local_rank, modulo the GPUs it sees: with one
  // GPU per task (Slurm's --gpus-per-task sets CUDA_VISIBLE_DEVICES) every rank sees cuda:0.
  const std::string device =
      distributed && o.device() != "cpu" && cuda_available() &&
              o.device().find(':') == std::string::npos
          ? "cuda:" + std::to_string(dist.local_rank() %
                                     static_cast<int64_t>(torch::cuda::device_count()))
          : o.device();
  if (distributed && dist.rank() != 0) return train_gan_as_follower(o, device, callbacks);
  const fs::path out(o.out_dir());
  // Checked before loading, changed only after: a run that fails to load loses nothing.
  detail::check_output_dir(out, o.resume(), o.force(), "continue the run in it",
                           {{"training data", o.data().path()},
                            {"test data", o.test_data()},
                            {"unlabeled pool", o.unlabeled()},
                            {"generator checkpoint", o.generator(), true}});
  const int threads = configure_threads(o.threads());
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
  std::optional<LabeledDataset> pool;
  if (!o.unlabeled().empty()) {
    pool = load_unlabeled_pool(UnlabeledSpec()
                                   .path(o.unlabeled())
                                   .image_size(train.height())
                                   .channels(train.channels())
                                   .threads(o.threads())
                                   .allow_outside_paths(o.data().allow_outside_paths()),
                               train.class_names);
  }
  timings["load_s"] = seconds_since(start);
  progress("load", 1, 1, train.source);
  const auto record = run_record(o, data, pool ? &*pool : nullptr);
  detail::make_output_dir(out, o.force());
  remove_temporary_files(out);  // left by a killed run: a checkpoint or image half written
  settle_run_record(out, record, o.resume());
  const auto range = shard_range(o.n(), o.generate_batch_size(), o.shard(), o.num_shards());
  check_free_space(out, train, range.count);

  // How both classifiers train.
  const auto classifier_options = [&](int64_t outputs) {
    return ClassifierOptions(outputs, train.height(), train.channels())
        .architecture(o.classifier())
        .width(o.classifier_width())
        .epochs(o.classifier_epochs())
        .lr_schedule(o.lr_schedule())
        .seed(o.seed())
        .device(device)
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
    if (o.classic()) {
      hooks.augment = classic_augmenter(o.classic_options());
      hooks.weak_augment = classic_augmenter(weak_augment_options(o.classic_options()));
    }
    hooks.strong_augment = classic_augmenter(
        strong_augment_options(o.classic() ? o.classic_options() : ClassicAugmentOptions()));
    return hooks;
  };
  // -- baseline classifier (also the labeller of the argmax scheme and of the pool) --
  Classifier baseline{nullptr};
  double baseline_seconds = 0;
  const auto train_baseline = [&] {
    const auto baseline_start = Clock::now();
    try {
      baseline =
          train_classifier(train, nullptr, classifier_options(k), classifier_hooks("baseline"));
    } catch (const Error&) {
      if (stop_requested())
        throw Interrupted(
            "interrupted while training the baseline classifier; rerun with --resume");
      throw;
    }
    baseline_seconds = seconds_since(baseline_start);
  };

  // -- the pool's pseudo-labels for the GAN: the images the baseline is confident of --
  auto gan_data = train;
  nlohmann::json pool_summary;
  if (pool) {
    pool_summary = {{"source", o.unlabeled()}, {"images", pool->size()}, {"pseudo", o.pseudo()}};
  }
  if (pool && o.generator().empty()) {
    train_baseline();
    const auto [confidence, predicted] = predict_probabilities(baseline, pool->images, k).max(1);
    const auto keep = torch::nonzero(confidence >= o.pool_confidence()).flatten();
    auto kept = pool->select(keep);
    kept.labels = predicted.index_select(0, keep);
    if (kept.size() > 0) gan_data = concatenate({train, kept});
    pool_summary["gan"] = {{"confidence", o.pool_confidence()},
                           {"kept", kept.size()},
                           {"class_counts", kept.class_counts()},
                           {"labels",
                            "the baseline classifier's class, where its probability "
                            "reaches the confidence"}};
  }

  // -- GAN --
  start = Clock::now();
  Generator generator{nullptr};
  double gan_rate = 0;
  if (!o.generator().empty()) {
    auto loaded = load_generator(o.generator(), device);
    check_generator_fits(loaded, train, o.generator());
    generator = loaded.generator;
  } else {
    GanTrainer trainer(gan_options(o, train, device).out_dir((out / "gan").string()),
                       train.class_names);
    const auto checkpoint = out / "gan" / "checkpoint.pt";
    if (o.resume() && fs::exists(checkpoint)) trainer.resume(checkpoint.string());
    if (distributed) trainer.distribute(std::make_shared<ProcessGroup>(dist));
    trainer.on_progress = [&](const GanProgress& p) {
      gan_rate = p.images_per_second;
      progress("gan", static_cast<double>(p.iteration), static_cast<double>(p.iterations),
               "d " + std::to_string(p.d_loss).substr(0, 5) + " g " +
                   std::to_string(p.g_loss).substr(0, 5));
    };
    trainer.should_stop = stop_requested;
    if (!trainer.train(gan_data)) {
      throw Interrupted("interrupted during GAN training at iteration " +
                        std::to_string(trainer.iteration()) + "; rerun with --resume to continue");
    }
    generator = trainer.sampling_generator();
    const auto classes = torch::arange(k, torch::kInt64).repeat_interleave(8);
    save_image_grid(out / "gan" / "samples.png", ganaug::generate(generator, classes, o.seed() + 1),
                    8);
  }
  timings["gan_train_s"] = seconds_since(start);

  if (!baseline && (o.retrain() || o.scheme() == Scheme::kArgmax)) train_baseline();
  timings["baseline_s"] = baseline_seconds;

  // -- generate and label --
  start = Clock::now();
  GeneratePipeline pipeline(generator, o.scheme(),
                            GenerateOptions(out.string())
                                .n(range.count)
                                .first(range.first)
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
                      std::to_string(range.count) + " images; rerun with --resume to finish");
  }
  timings["generate_s"] = seconds_since(start);

  summary["scheme"] = scheme_name(o);
  summary["num_classes"] = k;
  summary["class_names"] = train.class_names;
  summary["n"] = o.n();
  summary["seed"] = o.seed();
  if (o.num_shards() > 1) summary["shard"] = record["shard"];
  summary["train"] = {
      {"source", train.source}, {"images", train.size()}, {"class_counts", train.class_counts()}};
  summary["test"] = test_description;
  summary["test"]["images"] = test.size();
  summary["image_shape"] = {train.channels(), train.height(), train.width()};
  summary["device"] = select_device(device).str();
  if (distributed) summary["distributed"] = {{"world_size", dist.world_size()}};
  summary["threads"] = threads;
  summary["deterministic"] = deterministic_algorithms();
  summary["gan_images_per_s"] = gan_rate;
  summary["classic"] = o.classic() ? nlohmann::json(o.classic_options().to_string()) : nullptr;
  summary["generated"] = {{"resumed_from", generated.already_done}, {"written", generated.written}};

  // -- retrain on real + synthetic, evaluate --
  start = Clock::now();
  if (o.retrain()) {
    // Read the images back from the written output: what is trained on is what users get.
    // With --n 0 there is nothing to read: the retrained classifier sees the real data alone.
    LabeledDataset synthetic;
    if (o.n() > 0) {
      synthetic =
          LoadPipeline(read_csv_manifest(out / "labels.csv"), LoadOptions().threads(o.threads()))
              .run();
      configure_threads(o.threads());
      synthetic.class_names = train.class_names;
    }
    const int64_t outputs = target_width(o.scheme(), k);
    Classifier retrained{nullptr};
    try {
      // --pseudo: the pool joins as images labelled -1, trained on by consistency.
      retrained = train_classifier(o.pseudo() ? concatenate({train, *pool}) : train,
                                   o.n() > 0 ? &synthetic : nullptr,
                                   classifier_options(outputs)
                                       .dynamic_argmax(o.dynamic_argmax())
                                       .pool_weight(o.pseudo() ? 1.0 : 0.0),
                                   classifier_hooks("retrain"));
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
    if (o.pseudo()) {
      // What the retrained classifier makes of the pool: its confident labels.
      const double threshold = ClassifierOptions(2).pool_threshold();
      const auto [confidence, predicted] = predict_probabilities(retrained, pool->images, k).max(1);
      const auto labels = predicted.masked_select(confidence >= threshold);
      const auto counts = torch::bincount(labels, {}, k);
      pool_summary["retrained"] = {
          {"confidence", threshold},
          {"confident", labels.numel()},
          {"class_counts",
           std::vector<int64_t>(counts.data_ptr<int64_t>(), counts.data_ptr<int64_t>() + k)}};
    }
  }
  if (pool) summary["unlabeled"] = pool_summary;
  timings["retrain_s"] = seconds_since(start);
  timings["total_s"] = seconds_since(total_start);
  summary["timings"] = timings;
  summary["out_dir"] = fs::absolute(out).string();
  // Names and paths need not be UTF-8 (a Latin-1 folder name): JSON gets U+FFFD for such bytes.
  write_text_atomic(out / "summary.json",
                    summary.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  return summary;
}

}  // namespace ganaug
