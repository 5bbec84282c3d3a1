#pragma once
/// Fashion-MNIST, and any MNIST-like folder of IDX files named
/// {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz].

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "ganaug/dataset.hpp"

namespace ganaug {

/// One split of an MNIST-like folder.
enum class IdxSplit {
  kTrain,  ///< the train-* files
  kTest,   ///< the t10k-* files
};

/// "train" or "test".
std::string to_string(IdxSplit split);
/// The split named "train" or "test"; throws ganaug::Error naming `name` otherwise.
IdxSplit parse_idx_split(const std::string& name);

/// The two files of one split of an MNIST-like folder.
struct IdxSplitFiles {
  /// The *-images-idx3-ubyte[.gz] file.
  std::filesystem::path images;
  /// The *-labels-idx1-ubyte[.gz] file.
  std::filesystem::path labels;
};

/// Where the dataset-fashion-mnist package puts the data: /usr/share/datasets/fashion-mnist, or
/// the folder named by the environment variable GANAUG_FASHION_MNIST_DIR when it is set.
std::filesystem::path default_fashion_mnist_dir();

/// The ten Fashion-MNIST class names, "T-shirt/top" to "Ankle boot".
std::vector<std::string> fashion_mnist_class_names();

/// The files of `split` in `dir`, preferring the gzip file when both exist; std::nullopt when
/// either is absent.
std::optional<IdxSplitFiles> find_idx_split(const std::filesystem::path& dir, IdxSplit split);

/// Whether `dir` holds at least one MNIST-like split (both files of train or of test). Never
/// throws; a missing folder holds none.
bool is_idx_dir(const std::filesystem::path& dir);

/// Reads one split of an MNIST-like folder on the calling thread (see read_idx()). Throws
/// ganaug::Error naming the folder and the file names looked for when the split is absent, or
/// as read_idx() does.
LabeledDataset read_idx_dir(const std::filesystem::path& dir, IdxSplit split = IdxSplit::kTrain,
                            const std::vector<std::string>& class_names = {});

/// Fashion-MNIST from `dir` with its class names: the 60000 training images, or the 10000 test
/// images when `train` is false. Throws ganaug::Error telling how to install the data when the
/// files are absent, or as read_idx() does.
LabeledDataset load_fashion_mnist(const std::filesystem::path& dir = default_fashion_mnist_dir(),
                                  bool train = true);

/// Throws the "Fashion-MNIST not found" ganaug::Error when `dir` lacks the files of `split`;
/// returns them otherwise.
IdxSplitFiles require_fashion_mnist(const std::filesystem::path& dir, IdxSplit split);

}  // namespace ganaug
