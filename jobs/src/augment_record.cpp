#include "augment_record.hpp"

#include <sys/statvfs.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>

#include "classifier_flags.hpp"
#include "ganaug/classifier.hpp"
#include "ganaug/file_io.hpp"
#include "ganaug/job.hpp"
#include "ganaug/pipelines/generate.hpp"
#include "ganaug/version.hpp"
#include "output_lock.hpp"

namespace ganaug::jobs::detail {

namespace fs = std::filesystem;

namespace {
constexpr const char* kRunRecordFormat = "ganaug-augment-run-v1";
}  // namespace

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

namespace {
// `identity` with the absolute path it was read from, when one was given: informative for
// resuming (a moved data set still matches), a guard for merging (never written over).
nlohmann::json located(nlohmann::json identity, const std::string& path) {
  if (!path.empty()) identity["path"] = fs::absolute(path).lexically_normal().string();
  return identity;
}

// Continues `hash` over the bytes of `path`.
uint64_t hash_file(const fs::path& path, uint64_t hash) {
  std::ifstream in(path, std::ios::binary);
  GANAUG_CHECK(in.good(), "cannot read ", path.string());
  std::vector<char> buffer(1 << 16);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    hash = hash_bytes(buffer.data(), static_cast<size_t>(in.gcount()), hash);
  }
  return hash;
}

std::string file_hash(const fs::path& path) { return hash_hex(hash_file(path, kHashSeed)); }

}  // namespace

std::string custom_classifier_hash(const ClassifierOptions& options) {
  const auto& custom = options.custom();
  return custom && fs::is_regular_file(custom.name) ? file_hash(custom.name) : std::string();
}

nlohmann::json shard_content(const fs::path& dir, int64_t first, int64_t count) {
  uint64_t images = kHashSeed;
  for (int64_t i = first; i < first + count; ++i) {
    const auto path = dir / image_file_name(i);
    std::error_code error;
    const auto size = static_cast<uint64_t>(fs::file_size(path, error));
    GANAUG_CHECK(!error, "cannot read ", path.string(), " (", error.message(), ")");
    images = hash_file(path, hash_bytes(&size, sizeof size, images));
  }
  std::ifstream in(dir / "labels.csv", std::ios::binary);
  GANAUG_CHECK(in.good(), "cannot read ", (dir / "labels.csv").string());
  std::string line;
  std::getline(in, line);  // the header, compared on its own
  uint64_t rows = kHashSeed;
  while (std::getline(in, line)) rows = hash_bytes(line.data(), line.size() + 1, rows);
  return {{"images_fnv1a64", hash_hex(images)}, {"labels_fnv1a64", hash_hex(rows)}};
}

// "argmax-dynamic" for argmax retrained with dynamic argmax, else the scheme's name.
std::string scheme_name(const AugmentOptions& o) {
  return SchemeChoice{o.scheme(), o.dynamic_argmax(),
                      o.joint() ? std::optional<JointForm>(o.joint()->form()) : std::nullopt}
      .name();
}

// The joint training's settings and the classifier network it trains (the generator's are
// the GAN's, recorded beside them).
nlohmann::json joint_record(const AugmentOptions& o, int64_t channels) {
  const auto& joint = *o.joint();
  const auto& classifier = o.classifier();
  const auto network = ClassifierOptions(classifier).channels(channels);
  const auto trained = joint_classifier_options(classifier, joint);
  nlohmann::json record = {{"form", to_string(joint.form())},
                           {"steps", joint.iterations()},
                           {"unsupervised_weight", joint.unsupervised_weight()},
                           {"warmup_share", joint.warmup_share()},
                           {"network", to_string(network.network())},
                           {"width", network.network_width()},
                           {"batch_size", classifier.batch_size()},
                           {"lr", classifier.learning_rate()},
                           {"lr_schedule", to_string(classifier.lr_schedule())},
                           {"ema_decay", trained.ema_decay()},
                           {"classic", o.classic() ? o.classic_options().to_string() : "off"}};
  const auto tuning = classifier_tuning(classifier);
  if (!tuning.empty()) record["tuning"] = tuning;
  // Only when not the default, so that joint runs from before the option resume as before.
  if (trained.optimizer() != ClassifierOptimizer::kAdam)
    record["optimizer"] = to_string(trained.optimizer());
  // Only when used, so that joint runs from before the option resume as before.
  if (joint.consistency_weight() > 0 && !o.unlabeled().empty()) {
    record["consistency_weight"] = joint.consistency_weight();
    record["strong_view"] = o.strong_view().to_string();
  }
  return record;
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
      {"data", located(data_identity(data.train), o.data().path())},
      {"test_data", located(data_identity(data.test), o.test_data())}};
  if (o.generator().empty()) {
    record["generator"] = {{"trained_here", true}, {"gan_iterations", o.gan().iterations()}};
    // Recorded only when not the default, so that folders from before the option still resume.
    const auto defaults = AugmentOptions().gan();
    if (o.gan().batch_size() != defaults.batch_size())
      record["generator"]["gan_batch"] = o.gan().batch_size();
    const auto tuning = gan_tuning(o.gan(), defaults, {"iterations", "batch_size"});
    if (!tuning.empty()) record["generator"]["tuning"] = tuning;
    if (o.joint()) {  // its steps are the joint training's, recorded with it
      record["generator"].erase("gan_iterations");
      record["joint"] = joint_record(o, data.train.channels());
    }
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
  const auto network = ClassifierOptions(o.classifier()).channels(data.train.channels());
  nlohmann::json labeller = {{"epochs", o.classifier().epochs()},
                             {"lr_schedule", to_string(o.classifier().lr_schedule())},
                             {"classic", o.classic() ? o.classic_options().to_string() : "off"},
                             {"network", to_string(network.network())},
                             {"width", network.network_width()}};
  // A user's classifier file is known by its contents.
  if (const auto hash = custom_classifier_hash(o.classifier()); !hash.empty())
    labeller["file_hash"] = hash;
  const auto tuning = classifier_tuning(o.classifier());
  if (!tuning.empty()) labeller["tuning"] = tuning;  // absent from records of default runs
  if (pool && o.joint()) {                           // the pool trains the joint networks
    record["unlabeled"] = located(data_identity(*pool), o.unlabeled());
  } else if (pool && o.generator().empty()) {  // the pool's pseudo-labels train the GAN
    record["unlabeled"] = located(data_identity(*pool), o.unlabeled());
    record["unlabeled"]["confidence"] = o.pool_confidence();
    record["unlabeled"]["teacher"] = labeller;
    // Only for --teacher, so that folders from before it resume as before.
    if (o.pool_teacher() == PoolTeacher::kPseudo) {
      record["unlabeled"]["teacher"]["trained_on"] = "labeled images and the pool (--teacher)";
      record["unlabeled"]["teacher"]["strong_view"] = o.strong_view().to_string();
    }
  }
  if (o.scheme() == Scheme::kArgmax) record["labeller"] = labeller;
  return record;
}

namespace {
// The first difference between a folder's record and this run's, as an actionable sentence.
std::string record_difference(nlohmann::json was, const nlohmann::json& now) {
  const std::vector<std::pair<const char*, const char*>> fields = {
      {"revision", "the ganaug revision that made it (another version draws other images)"},
      {"scheme", "--scheme"},
      {"seed", "--seed"},
      {"n", "--n"},
      {"joint",
       "the joint training (--joint-steps, --joint-weight, --joint-warmup, --classic, --lr, "
       "--lr-schedule, --ema, --classifier, --classifier-width)"},
      {"generator", "--gan-steps / --generator"},
      {"shard", "--shard / --num-shards / --generate-batch"},
      {"image_shape", "the image shape (--image-size, --channels)"},
      {"class_names", "the classes"},
      {"data", "--data (its images or labels)"},
      {"test_data", "--test-data"},
      {"labeller",
       "--epochs / --lr-schedule / --classic / --classifier / --classifier-width or the "
       "classifier's other training fields (argmax labeller)"},
      {"unlabeled",
       "--unlabeled / --pool-confidence / --teacher / the teacher's --epochs, --lr-schedule, "
       "--classic, --strong, --classifier, --classifier-width"}};
  // Where things were found is informative only: a moved data set or checkpoint with the same
  // contents is the same input.
  auto identity = [](const nlohmann::json& record, const char* key) {
    auto value = record.contains(key) ? record[key] : nlohmann::json();
    if (value.is_object()) {
      for (const char* where : {"source", "checkpoint", "path"}) value.erase(where);
    }
    return value;
  };
  // Folders from before the network was recorded were labeled by the network then the default.
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

}  // namespace

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
      const auto name = entry.path().filename().string();
      GANAUG_CHECK(is_temporary_file_name(name) || name == kLockFileName, "cannot resume in ",
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

}  // namespace ganaug::jobs::detail
