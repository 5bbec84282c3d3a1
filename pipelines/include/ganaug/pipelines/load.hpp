#pragma once
/// Loading datasets through oneTBB flow graphs: image files are decoded in parallel and written
/// in their listed order; IDX pixels are normalised in parallel chunks (see normalize.hpp).

#include <tbb/flow_graph.h>
#include <tbb/task_arena.h>
#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "ganaug/dataset.hpp"
#include "ganaug/datasets/fashion_mnist.hpp"
#include "ganaug/datasets/image.hpp"
#include "ganaug/datasets/image_list.hpp"

namespace ganaug {

/// How a LoadPipeline decodes and schedules.
struct LoadOptions {
  /// Size and channels of the decoded images. With image_size 0 every image must have the
  /// first image's size; with channels 0 the first image decides.
  TORCH_ARG(ImageOptions, image) = ImageOptions();
  /// Worker threads, the calling thread included; 0 = oneTBB's default (one per core).
  TORCH_ARG(int, threads) = 0;
  /// Images admitted into the graph and not yet written (bounds memory); 0 = 4 x threads.
  TORCH_ARG(int64_t, max_in_flight) = 0;
};

/// Decodes the files of an ImageList into a LabeledDataset.
///
/// Owns its flow graph and nodes: input_node (sequence index) -> limiter_node (bounds the
/// images in flight) -> parallel function_node (OpenCV decode, convert, resize, normalise)
/// -> sequencer_node (restores list order) -> serial function_node (copies into the
/// preallocated N x C x H x W tensor and decrements the limiter). The result does not depend on
/// the thread count. Holds a copy of the list; no references to the caller's data.
class LoadPipeline {
 public:
  /// Takes the list by value and wires the graph in its own task_arena of options.threads().
  /// Throws ganaug::Error for a negative thread count or in-flight limit.
  explicit LoadPipeline(ImageList list, LoadOptions options = {});
  /// Waits for any graph task still pending; never throws.
  ~LoadPipeline();
  /// Neither copyable nor movable: the graph's nodes point back at this object.
  LoadPipeline(const LoadPipeline&) = delete;
  LoadPipeline& operator=(const LoadPipeline&) = delete;

  /// Decodes every image. Throws ganaug::Error for an empty list, an unreadable or corrupt file
  /// (named), images of different sizes when no image size is set (naming the odd file and
  /// both sizes), or inconsistent soft targets. Node exceptions cancel the graph and reach the
  /// caller; run() may be called again afterwards.
  ///
  /// Also throws ganaug::Error for a label outside [-1, K), invalid image options, or images
  /// that would take more than half the machine's memory as floats. Blocks the calling thread,
  /// which joins the pipeline's arena; OpenCV's own threading is set to 1 thread (process-wide)
  /// for the call and restored after. Returns CPU tensors, with `targets` when the records have
  /// soft targets. One run at a time per pipeline.
  LabeledDataset run();

  /// The list it decodes.
  const ImageList& list() const { return list_; }

 private:
  struct Decoded {
    size_t index = 0;
    torch::Tensor image;  // C x H x W float32
  };

  Decoded decode(size_t index) const;
  void write(const Decoded& decoded);

  ImageList list_;
  LoadOptions options_;
  // State of one run, set before the graph starts.
  ImageOptions resolved_;
  torch::Tensor images_;
  size_t next_ = 0;
  // The arena outlives the graph that attaches to it; the graph outlives its nodes.
  tbb::task_arena arena_;
  tbb::flow::graph graph_;
  tbb::flow::input_node<size_t> source_;
  tbb::flow::limiter_node<size_t> limiter_;
  tbb::flow::function_node<size_t, Decoded> decoder_;
  tbb::flow::sequencer_node<Decoded> sequencer_;
  tbb::flow::function_node<Decoded, tbb::flow::continue_msg> writer_;
};

/// How a dataset is stored.
enum class DatasetFormat {
  /// Told from the path (see DatasetSpec::format); resolve_format() says which.
  kAuto,
  /// The Fashion-MNIST package folder (IDX files and its class names).
  kFashionMnist,
  /// An MNIST-like folder of IDX files.
  kIdx,
  /// An image folder: root/<class>/<image>.
  kFolder,
  /// A CSV manifest (see csv_manifest.hpp).
  kCsv,
};

/// "auto", "fashion-mnist", "idx", "folder" or "csv".
std::string to_string(DatasetFormat format);
/// The format named as to_string() names it; throws ganaug::Error naming `name` otherwise.
DatasetFormat parse_dataset_format(const std::string& name);

/// What to load and how: the one description every tool and example turns its options into.
struct DatasetSpec {
  /// How the data is stored. kAuto: no path -> Fashion-MNIST; a folder with *-idx3-ubyte[.gz]
  /// files -> IDX (Fashion-MNIST for the Fashion-MNIST folder itself); a .csv file -> CSV; a
  /// folder with subfolders -> an image folder.
  TORCH_ARG(DatasetFormat, format) = DatasetFormat::kAuto;
  /// File or folder; empty = the Fashion-MNIST package folder (default_fashion_mnist_dir()).
  TORCH_ARG(std::string, path) = "";
  /// The training or the test split (IDX formats only: the t10k files).
  TORCH_ARG(IdxSplit, split) = IdxSplit::kTrain;
  /// Square side to resize to; 0 keeps the stored size.
  TORCH_ARG(int64_t, image_size) = 0;
  /// 1 or 3; 0 keeps the stored channels.
  TORCH_ARG(int64_t, channels) = 0;
  /// Loading threads; 0 = one per core.
  TORCH_ARG(int, threads) = 0;
  /// Images per class, chosen as subset_per_class() chooses them; 0 = all.
  TORCH_ARG(int64_t, per_class) = 0;
  /// Seed of the per-class choice.
  TORCH_ARG(uint64_t, seed) = 0;
  /// Read CSV manifest paths that lead outside the manifest's folder and follow symbolic links
  /// out of an image folder (refused by default: a manifest from elsewhere should not make
  /// ganaug read arbitrary files).
  TORCH_ARG(bool, allow_outside_paths) = false;
};

/// The concrete format `spec` loads as (never kAuto). Reads no data. Throws ganaug::Error for
/// image_size, channels, threads or per_class out of range, a missing path, or a path whose
/// format cannot be told.
DatasetFormat resolve_format(const DatasetSpec& spec);

/// Loads the dataset `spec` describes through a flow graph on spec.threads() threads, choosing
/// spec.per_class() images per class (before decoding; then every class must have an image).
/// Returns CPU tensors. Throws ganaug::Error as resolve_format(), the readers and pipelines do,
/// naming the file at fault, and for split "test" with the folder and csv formats.
LabeledDataset load_dataset(const DatasetSpec& spec);

/// The test split that goes with `spec` (the t10k files of an IDX folder or Fashion-MNIST), all
/// of it, shaped as `spec` asks; std::nullopt for formats without one, or when the folder has
/// no t10k files. Throws ganaug::Error as resolve_format() and load_dataset() do.
std::optional<LabeledDataset> load_test_set(const DatasetSpec& spec);

/// A training set and the test set it is measured on.
struct TrainTestData {
  /// The training data and the test data, with the same classes and image shape.
  LabeledDataset train, test;
  /// Where the test set came from: "source", and "split" {fraction, seed} when it was split off.
  nlohmann::json test_description;
};

/// The training data of `spec` (spec.per_class applied with spec.seed) and a test set: the
/// dataset `test_data` names (any format, shaped like the training data, same classes) when it
/// is not empty, else the dataset's own test split, else a seeded stratified split of
/// `test_fraction` of the data (taken before the per-class choice). Throws ganaug::Error naming
/// the data at fault: as load_dataset() does, for a test_fraction outside (0, 1), a training
/// class without images, or test data with other classes.
TrainTestData load_train_test(const DatasetSpec& spec, const std::string& test_data = "",
                              double test_fraction = 0.2);

/// Where an unlabeled pool comes from and how its images are shaped.
struct UnlabeledSpec {
  /// An image folder (every image under it, at any depth: class folders are not read as
  /// labels), an IDX images file (*-idx3-ubyte[.gz]) or a CSV manifest with a "path" (or
  /// "file") column, or paths in its first column without a header; other columns are ignored.
  TORCH_ARG(std::string, path) = "";
  /// Square side and channels of the decoded images (those of the labeled data they join;
  /// channels 0 keeps each image's stored channels, 1 for IDX files).
  TORCH_ARG(int64_t, image_size) = 28;
  TORCH_ARG(int64_t, channels) = 1;
  /// Loading threads; 0 = one per core.
  TORCH_ARG(int, threads) = 0;
  /// As DatasetSpec::allow_outside_paths.
  TORCH_ARG(bool, allow_outside_paths) = false;
};

/// Loads an unlabeled pool: its images, every label -1, the given class names (those of the
/// labeled data). A folder is told by being one, a manifest by its .csv extension, anything else
/// is read as an IDX images file. Throws ganaug::Error naming the path for a missing path, a
/// folder without images, a bad manifest or IDX file, or an image that cannot be decoded.
LabeledDataset load_unlabeled_pool(const UnlabeledSpec& spec,
                                   const std::vector<std::string>& class_names);

}  // namespace ganaug
