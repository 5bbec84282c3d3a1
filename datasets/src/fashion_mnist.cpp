#include "ganaug/datasets/fashion_mnist.hpp"

#include <cstdlib>

#include "ganaug/choices.hpp"
#include "ganaug/datasets/idx.hpp"
#include "ganaug/error.hpp"

namespace ganaug {

namespace {

// The split's file-name prefix.
std::string split_prefix(IdxSplit split) { return split == IdxSplit::kTest ? "t10k" : "train"; }

std::optional<std::filesystem::path> find_either(const std::filesystem::path& dir,
                                                 const std::string& name) {
  std::error_code error;
  for (const auto& candidate : {dir / (name + ".gz"), dir / name}) {
    if (std::filesystem::is_regular_file(candidate, error)) return candidate;
  }
  return std::nullopt;
}

}  // namespace

namespace {
const Choices<IdxSplit>& idx_splits() {
  static const Choices<IdxSplit> choices("split",
                                         {{IdxSplit::kTrain, "train"}, {IdxSplit::kTest, "test"}});
  return choices;
}
}  // namespace

std::string to_string(IdxSplit split) { return idx_splits().name(split); }

IdxSplit parse_idx_split(const std::string& name) { return idx_splits().parse(name); }

std::filesystem::path default_fashion_mnist_dir() {
  const char* overridden = std::getenv("GANAUG_FASHION_MNIST_DIR");
  if (overridden != nullptr && *overridden != '\0') return overridden;
  return "/usr/share/datasets/fashion-mnist";
}

std::vector<std::string> fashion_mnist_class_names() {
  return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
}

std::optional<IdxSplitFiles> find_idx_split(const std::filesystem::path& dir, IdxSplit split) {
  const std::string prefix = split_prefix(split);
  auto images = find_either(dir, prefix + "-images-idx3-ubyte");
  auto labels = find_either(dir, prefix + "-labels-idx1-ubyte");
  if (!images || !labels) return std::nullopt;
  return IdxSplitFiles{*images, *labels};
}

bool is_idx_dir(const std::filesystem::path& dir) {
  return find_idx_split(dir, IdxSplit::kTrain).has_value() ||
         find_idx_split(dir, IdxSplit::kTest).has_value();
}

LabeledDataset read_idx_dir(const std::filesystem::path& dir, IdxSplit split,
                            const std::vector<std::string>& class_names) {
  const auto files = find_idx_split(dir, split);
  const std::string prefix = split_prefix(split);
  GANAUG_CHECK(files.has_value(), "no ", to_string(split), " split in ", dir.string(),
               ": expected ", prefix, "-images-idx3-ubyte[.gz] and ", prefix,
               "-labels-idx1-ubyte[.gz]");
  return read_idx(files->images, files->labels, class_names);
}

IdxSplitFiles require_fashion_mnist(const std::filesystem::path& dir, IdxSplit split) {
  const auto files = find_idx_split(dir, split);
  GANAUG_CHECK(files.has_value(), "Fashion-MNIST not found in ", dir.string(),
               ": install the dataset-fashion-mnist package or pass --data");
  return *files;
}

LabeledDataset load_fashion_mnist(const std::filesystem::path& dir, bool train) {
  const auto files = require_fashion_mnist(dir, train ? IdxSplit::kTrain : IdxSplit::kTest);
  auto data = read_idx(files.images, files.labels, fashion_mnist_class_names());
  return data;
}

}  // namespace ganaug
