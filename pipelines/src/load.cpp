#include "ganaug/pipelines/load.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "flow_support.hpp"
#include "ganaug/choices.hpp"
#include "ganaug/datasets/csv_manifest.hpp"
#include "ganaug/datasets/fashion_mnist.hpp"
#include "ganaug/datasets/idx.hpp"
#include "ganaug/datasets/image_folder.hpp"
#include "ganaug/error.hpp"
#include "ganaug/pipelines/normalize.hpp"

namespace ganaug {

namespace {

size_t in_flight_limit(const LoadOptions& options) {
  GANAUG_CHECK(options.threads() >= 0, "the thread count must be 0 (all cores) or positive, got ",
               options.threads());
  GANAUG_CHECK(options.max_in_flight() >= 0, "the in-flight limit must be 0 (automatic) or ",
               "positive, got ", options.max_in_flight());
  if (options.max_in_flight() > 0) return static_cast<size_t>(options.max_in_flight());
  const int threads =
      options.threads() > 0 ? options.threads() : tbb::this_task_arena::max_concurrency();
  return static_cast<size_t>(4 * std::max(threads, 1));
}

std::string size_text(int64_t height, int64_t width) {
  return std::to_string(width) + "x" + std::to_string(height);
}

}  // namespace

LoadPipeline::LoadPipeline(ImageList list, LoadOptions options)
    : list_(std::move(list)),
      options_(std::move(options)),
      arena_(detail::arena_threads(options_.threads())),
      source_(graph_,
              [this](tbb::flow_control& control) -> size_t {
                if (next_ >= list_.records.size()) {
                  control.stop();
                  return 0;
                }
                return next_++;
              }),
      limiter_(graph_, in_flight_limit(options_)),
      decoder_(graph_, tbb::flow::unlimited, [this](size_t index) { return decode(index); }),
      sequencer_(graph_, [](const Decoded& decoded) { return decoded.index; }),
      writer_(graph_, tbb::flow::serial, [this](const Decoded& decoded) {
        write(decoded);
        return tbb::flow::continue_msg();
      }) {
  tbb::flow::make_edge(source_, limiter_);
  tbb::flow::make_edge(limiter_, decoder_);
  tbb::flow::make_edge(decoder_, sequencer_);
  tbb::flow::make_edge(sequencer_, writer_);
  tbb::flow::make_edge(writer_, limiter_.decrementer());
}

// Wiring the nodes already queues graph tasks (a buffer forwarding to its new successor), and a
// failed run may leave some: let them finish while the nodes still exist.
LoadPipeline::~LoadPipeline() { detail::wait_quietly(arena_, graph_); }

LoadPipeline::Decoded LoadPipeline::decode(size_t index) const {
  return {index, decode_image(list_.records[index].path, resolved_)};
}

void LoadPipeline::write(const Decoded& decoded) {
  const auto& image = decoded.image;
  if (image.size(1) != images_.size(2) || image.size(2) != images_.size(3)) {
    GANAUG_FAIL("image ", list_.records[decoded.index].path.string(), " is ",
                size_text(image.size(1), image.size(2)), " but ", list_.records[0].path.string(),
                " is ", size_text(images_.size(2), images_.size(3)),
                "; set an image size (--image-size) to resize them all to one size");
  }
  // A plain copy: no LibTorch kernels (and so no OpenMP pool) on this worker thread.
  const auto count = static_cast<size_t>(image.numel());
  std::memcpy(images_.data_ptr<float>() + decoded.index * count, image.data_ptr<float>(),
              count * sizeof(float));
}

LabeledDataset LoadPipeline::run() {
  at::NoGradGuard no_grad;
  GANAUG_CHECK(!list_.records.empty(), "no images to load from ", list_.source);
  const auto count = static_cast<int64_t>(list_.records.size());
  const auto num_classes = static_cast<int64_t>(list_.class_names.size());

  LabeledDataset out;
  out.labels = torch::empty({count}, torch::kInt64);
  const size_t num_targets = list_.records[0].target.size();
  if (num_targets > 0) out.targets = torch::empty({count, static_cast<int64_t>(num_targets)});
  int64_t* label = out.labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < count; ++i) {
    const auto& record = list_.records[static_cast<size_t>(i)];
    GANAUG_CHECK(record.label >= -1 && record.label < num_classes, "label ", record.label, " of ",
                 record.path.string(), " is out of range for ", num_classes, " classes in ",
                 list_.source);
    GANAUG_CHECK(record.target.size() == num_targets, record.path.string(), " has ",
                 record.target.size(), " soft-target values but ", list_.records[0].path.string(),
                 " has ", num_targets, " in ", list_.source);
    label[i] = record.label;
    if (num_targets > 0) {
      std::copy(record.target.begin(), record.target.end(),
                out.targets.data_ptr<float>() + i * static_cast<int64_t>(num_targets));
    }
  }

  detail::SerialOpenCV serial_opencv;
  // The first image fixes the channels (when not asked for) and, without an image size, the
  // size every other image must have.
  const cv::Mat first = decode_image_u8(list_.records[0].path, options_.image());
  resolved_ = options_.image();
  resolved_.channels(first.channels());
  detail::check_memory(count, first.channels(), first.rows, first.cols,
                       list_.records[0].path.string());
  images_ = torch::empty({count, first.channels(), first.rows, first.cols}, torch::kFloat32);
  next_ = 0;
  detail::run_graph_in_arena(
      arena_, graph_, [this] { source_.activate(); }, [this] { images_ = torch::Tensor(); });
  out.images = std::exchange(images_, torch::Tensor());
  out.class_names = list_.class_names;
  out.source = list_.source;
  return out;
}

namespace {

bool has_subfolder(const std::filesystem::path& dir) {
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_directory()) return true;
  }
  return false;
}

bool same_folder(const std::filesystem::path& a, const std::filesystem::path& b) {
  std::error_code error;
  return std::filesystem::equivalent(a, b, error);
}

// The indices subset_per_class() would keep. It is run on a stand-in dataset whose "images" are
// the row numbers, so that subsetting before decoding keeps exactly the images subsetting after
// would keep, and the source gets the same annotation.
std::pair<torch::Tensor, std::string> per_class_indices(const torch::Tensor& labels,
                                                        const std::vector<std::string>& names,
                                                        const std::string& source,
                                                        int64_t per_class, uint64_t seed) {
  LabeledDataset stand_in;
  stand_in.images = torch::arange(labels.size(0), torch::kInt64).view({-1, 1, 1, 1});
  stand_in.labels = labels;
  stand_in.class_names = names;
  stand_in.source = source;
  auto chosen = subset_per_class(stand_in, per_class, seed);
  return {chosen.images.flatten(), chosen.source};
}

// Refuses training data with a class that has no image: labels 1..K, or one stray label, would
// otherwise make classes that the GAN conditions on and every scheme gives a share of its
// targets (and per-class subsetting would fail with a misleading message).
void check_classes_present(const torch::Tensor& labels, const std::vector<std::string>& names,
                           const std::string& source) {
  std::vector<int64_t> counts(names.size(), 0);
  const auto values = labels.to(torch::kInt64).contiguous();
  const int64_t* label = values.data_ptr<int64_t>();
  for (int64_t i = 0; i < values.numel(); ++i) {
    if (label[i] >= 0 && label[i] < static_cast<int64_t>(counts.size())) ++counts[label[i]];
  }
  // A manifest of soft targets only (augment's labels.csv of the smooth scheme: label -1).
  GANAUG_CHECK(std::any_of(counts.begin(), counts.end(), [](int64_t n) { return n > 0; }),
               "the training data ", source,
               " has no hard label (every label is -1, as in a labels.csv of the smooth "
               "scheme): training needs one class per image; give it as --unlabeled (a pool), "
               "or read its soft targets with ganaug::load_dataset or ganaug-info");
  std::string missing;
  int64_t missing_count = 0;
  for (size_t k = 0; k < counts.size(); ++k) {
    if (counts[k] > 0) continue;
    if (++missing_count <= 8) missing += (missing.empty() ? "'" : ", '") + names[k] + "'";
  }
  GANAUG_CHECK(missing_count == 0, "the training data ", source, " has no image of class ", missing,
               missing_count > 8 ? ", ..." : "", " (", missing_count, " of ", counts.size(),
               " classes): labels must number the classes 0..K-1 with every class present; "
               "labels 1..K or a stray label make empty classes");
}

LabeledDataset load_idx(const IdxSplitFiles& files, const std::vector<std::string>& class_names,
                        const DatasetSpec& spec) {
  auto contents = read_idx_contents(files.images, files.labels, class_names);
  if (spec.per_class() > 0) {
    check_classes_present(contents.labels, contents.class_names, contents.source);
    auto [indices, source] = per_class_indices(contents.labels, contents.class_names,
                                               contents.source, spec.per_class(), spec.seed());
    contents.pixels = contents.pixels.index_select(0, indices);
    contents.labels = contents.labels.index_select(0, indices);
    contents.source = source;
  }
  NormalizePipeline normalize(
      contents.pixels, ImageOptions().image_size(spec.image_size()).channels(spec.channels()),
      spec.threads());
  LabeledDataset out;
  out.images = normalize.run();
  out.labels = std::move(contents.labels);
  out.class_names = std::move(contents.class_names);
  out.source = std::move(contents.source);
  return out;
}

LabeledDataset load_list(ImageList list, const DatasetSpec& spec) {
  if (spec.per_class() > 0) {
    std::vector<int64_t> labels;
    for (const auto& record : list.records) labels.push_back(record.label);
    check_classes_present(torch::tensor(labels, torch::kInt64), list.class_names, list.source);
    auto [indices, source] =
        per_class_indices(torch::tensor(labels, torch::kInt64), list.class_names, list.source,
                          spec.per_class(), spec.seed());
    std::vector<ImageRecord> chosen;
    const int64_t* index = indices.data_ptr<int64_t>();
    for (int64_t i = 0; i < indices.numel(); ++i) {
      chosen.push_back(list.records[static_cast<size_t>(index[i])]);
    }
    list.records = std::move(chosen);
    list.source = source;
  }
  LoadPipeline pipeline(
      std::move(list),
      LoadOptions()
          .image(ImageOptions().image_size(spec.image_size()).channels(spec.channels()))
          .threads(spec.threads()));
  return pipeline.run();
}

void check_spec(const DatasetSpec& spec) {
  GANAUG_CHECK(spec.image_size() >= 0 && spec.image_size() <= kMaxImageSide,
               "the image size must be 0 (as stored) or from 1 to ", kMaxImageSide, ", got ",
               spec.image_size());
  GANAUG_CHECK(spec.channels() == 0 || spec.channels() == 1 || spec.channels() == 3,
               "channels must be 0 (as stored), 1 or 3, got ", spec.channels());
  GANAUG_CHECK(spec.threads() >= 0, "the thread count must be 0 (all cores) or positive, got ",
               spec.threads());
  GANAUG_CHECK(spec.per_class() >= 0, "images per class must be 0 (all) or positive, got ",
               spec.per_class());
}

}  // namespace

namespace {
const Choices<DatasetFormat>& dataset_formats() {
  static const Choices<DatasetFormat> choices("dataset format",
                                              {{DatasetFormat::kAuto, "auto"},
                                               {DatasetFormat::kFashionMnist, "fashion-mnist"},
                                               {DatasetFormat::kIdx, "idx"},
                                               {DatasetFormat::kFolder, "folder"},
                                               {DatasetFormat::kCsv, "csv"}});
  return choices;
}
}  // namespace

std::string to_string(DatasetFormat format) { return dataset_formats().name(format); }

DatasetFormat parse_dataset_format(const std::string& name) {
  return dataset_formats().parse(name);
}

DatasetFormat resolve_format(const DatasetSpec& spec) {
  check_spec(spec);
  const auto format = spec.format();
  if (format != DatasetFormat::kAuto) {
    GANAUG_CHECK(format == DatasetFormat::kFashionMnist || !spec.path().empty(), "the ",
                 to_string(format), " format needs a path (--data)");
    return format;
  }
  if (spec.path().empty()) return DatasetFormat::kFashionMnist;
  const std::filesystem::path path = spec.path();
  std::error_code error;
  GANAUG_CHECK(std::filesystem::exists(path, error), "dataset not found: ", path.string());
  if (std::filesystem::is_directory(path, error)) {
    if (is_idx_dir(path)) {
      return same_folder(path, default_fashion_mnist_dir()) ? DatasetFormat::kFashionMnist
                                                            : DatasetFormat::kIdx;
    }
    if (has_subfolder(path)) return DatasetFormat::kFolder;
    GANAUG_FAIL("cannot tell the format of ", path.string(),
                ": it holds no *-idx3-ubyte[.gz] files and no class subfolders; pass a format "
                "(--format)");
  }
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (extension == ".csv") return DatasetFormat::kCsv;
  GANAUG_FAIL("cannot tell the format of ", path.string(),
              ": expected a folder or a .csv manifest; pass a format (--format)");
}

LabeledDataset load_dataset(const DatasetSpec& spec) {
  const auto format = resolve_format(spec);
  if (format == DatasetFormat::kFashionMnist) {
    const std::filesystem::path dir =
        spec.path().empty() ? default_fashion_mnist_dir() : std::filesystem::path(spec.path());
    return load_idx(require_fashion_mnist(dir, spec.split()), fashion_mnist_class_names(), spec);
  }
  if (format == DatasetFormat::kIdx) {
    const auto files = find_idx_split(spec.path(), spec.split());
    const std::string prefix = spec.split() == IdxSplit::kTrain ? "train" : "t10k";
    GANAUG_CHECK(files.has_value(), "no ", to_string(spec.split()), " split in ", spec.path(),
                 ": expected ", prefix, "-images-idx3-ubyte[.gz] and ", prefix,
                 "-labels-idx1-ubyte[.gz]");
    return load_idx(*files, {}, spec);
  }
  GANAUG_CHECK(spec.split() == IdxSplit::kTrain, "the ", to_string(format),
               " format has no test split (", spec.path(),
               "); hold out part of it with split_train_test()");
  if (format == DatasetFormat::kFolder) {
    return load_list(list_image_folder(spec.path(), spec.allow_outside_paths()), spec);
  }
  return load_list(read_csv_manifest(spec.path(), {}, spec.allow_outside_paths()), spec);
}

std::optional<LabeledDataset> load_test_set(const DatasetSpec& spec) {
  const auto format = resolve_format(spec);
  if (format != DatasetFormat::kFashionMnist && format != DatasetFormat::kIdx) return std::nullopt;
  const std::filesystem::path dir =
      spec.path().empty() ? default_fashion_mnist_dir() : std::filesystem::path(spec.path());
  if (!find_idx_split(dir, IdxSplit::kTest)) return std::nullopt;
  auto test_spec = spec;
  test_spec.split(IdxSplit::kTest).per_class(0);
  return load_dataset(test_spec);
}

TrainTestData load_train_test(const DatasetSpec& spec, const std::string& test_data,
                              double test_fraction) {
  GANAUG_CHECK(test_fraction > 0 && test_fraction < 1,
               "the test fraction must lie strictly between 0 and 1, got ", test_fraction);
  TrainTestData out;
  if (!test_data.empty()) {
    out.train = load_dataset(spec);
    check_classes_present(out.train.labels, out.train.class_names, out.train.source);
    out.test = load_dataset(DatasetSpec()
                                .path(test_data)
                                .allow_outside_paths(spec.allow_outside_paths())
                                .threads(spec.threads())
                                .image_size(out.train.height())
                                .channels(out.train.channels()));
    GANAUG_CHECK(out.test.class_names == out.train.class_names, "test data ", test_data,
                 " has other classes than the training data ", out.train.source);
    out.test_description = {{"source", out.test.source}};
  } else if (auto own_test = load_test_set(spec)) {
    out.train = load_dataset(spec);
    check_classes_present(out.train.labels, out.train.class_names, out.train.source);
    out.test = std::move(*own_test);
    out.test_description = {{"source", out.test.source}};
  } else {
    auto all = load_dataset(DatasetSpec(spec).per_class(0));
    check_classes_present(all.labels, all.class_names, all.source);
    auto parts = split_train_test(all, test_fraction, spec.seed());
    out.train = spec.per_class() > 0 ? subset_per_class(parts.first, spec.per_class(), spec.seed())
                                     : std::move(parts.first);
    out.test = std::move(parts.second);
    out.test_description = {{"source", out.test.source},
                            {"split", {{"fraction", test_fraction}, {"seed", spec.seed()}}}};
  }
  return out;
}

LabeledDataset load_unlabeled_pool(const UnlabeledSpec& spec,
                                   const std::vector<std::string>& class_names) {
  const std::filesystem::path path = spec.path();
  std::error_code error;
  GANAUG_CHECK(!spec.path().empty() && std::filesystem::exists(path, error),
               "unlabeled pool not found: ", spec.path().empty() ? "(no path)" : spec.path());
  const auto image = ImageOptions().image_size(spec.image_size()).channels(spec.channels());
  LabeledDataset pool;
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (std::filesystem::is_directory(path, error) || extension == ".csv") {
    auto list = std::filesystem::is_directory(path, error)
                    ? list_images_under(path, class_names, spec.allow_outside_paths())
                    : read_image_paths(path, class_names, spec.allow_outside_paths());
    pool = LoadPipeline(std::move(list), LoadOptions().image(image).threads(spec.threads())).run();
  } else {
    NormalizePipeline normalize(read_idx_pixels(path), image, spec.threads());
    pool.images = normalize.run();
    pool.labels = torch::full({pool.images.size(0)}, -1, torch::kInt64);
    pool.class_names = class_names;
  }
  pool.source = "unlabeled pool " + spec.path();
  return pool;
}

}  // namespace ganaug
