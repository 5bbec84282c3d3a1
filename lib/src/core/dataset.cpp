#include "ganaug/dataset.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "ganaug/error.hpp"

namespace ganaug {

namespace {

// Per-class index lists, each in original order.
std::vector<std::vector<int64_t>> indices_by_class(const LabeledDataset& data) {
  std::vector<std::vector<int64_t>> by_class(static_cast<size_t>(data.num_classes()));
  const auto labels = data.labels.to(torch::kCPU).contiguous();
  const int64_t* label = labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < data.size(); ++i) {
    if (label[i] >= 0) by_class[static_cast<size_t>(label[i])].push_back(i);
  }
  return by_class;
}

torch::Tensor to_index_tensor(const std::vector<int64_t>& indices) {
  return torch::tensor(indices, torch::kInt64);
}

}  // namespace

std::vector<int64_t> LabeledDataset::class_counts() const {
  std::vector<int64_t> counts(static_cast<size_t>(num_classes()), 0);
  const auto by_class = indices_by_class(*this);
  for (size_t k = 0; k < by_class.size(); ++k) counts[k] = static_cast<int64_t>(by_class[k].size());
  return counts;
}

void LabeledDataset::check_image_shape(int64_t c, int64_t s, const std::string& user,
                                       const std::string& what) const {
  GANAUG_CHECK(images.defined() && images.dim() == 4, user, " needs N x C x H x W images but ",
               what.empty() ? "" : "the " + what + " ", source, " holds none of that shape");
  GANAUG_CHECK(channels() == c && height() == s && width() == s, user, " was set up for ", c, "x",
               s, "x", s, " images but ", what.empty() ? "" : "the " + what + " ", source,
               " holds ", channels(), "x", height(), "x", width());
}

ImageShape image_shape(const LabeledDataset& data) {
  GANAUG_CHECK(data.images.defined() && data.images.dim() == 4, data.source,
               ": the images must be N x C x H x W");
  GANAUG_CHECK(data.height() == data.width(), "the networks take square images; ", data.source,
               " holds ", data.height(), "x", data.width(),
               " (resize them: --image-size in the tools)");
  return {data.height(), data.channels()};
}

void LabeledDataset::validate() const {
  GANAUG_CHECK(images.defined() && images.dim() == 4, "dataset from ", source,
               " must hold images as an N x C x H x W tensor");
  GANAUG_CHECK(images.scalar_type() == torch::kFloat32, "dataset from ", source,
               " must hold float32 images");
  GANAUG_CHECK(labels.defined() && labels.dim() == 1 && labels.size(0) == images.size(0),
               "dataset from ", source, " has ", labels.defined() ? labels.numel() : 0,
               " labels for ", images.size(0), " images");
  GANAUG_CHECK(labels.scalar_type() == torch::kInt64, "dataset from ", source,
               " must hold int64 labels");
  GANAUG_CHECK(!class_names.empty(), "dataset from ", source, " has no class names");
  if (size() > 0) {
    const int64_t lowest = labels.min().item<int64_t>();
    const int64_t highest = labels.max().item<int64_t>();
    GANAUG_CHECK(lowest >= -1 && highest < num_classes(), "dataset from ", source,
                 " has labels in [", lowest, ", ", highest, "] but only ", num_classes(),
                 " classes");
  }
  if (targets.defined()) {
    GANAUG_CHECK(targets.dim() == 2 && targets.size(0) == size(), "dataset from ", source,
                 " has soft targets of the wrong shape");
  }
}

LabeledDataset LabeledDataset::select(const torch::Tensor& indices) const {
  LabeledDataset out;
  out.images = images.index_select(0, indices.to(images.device()));
  out.labels = labels.index_select(0, indices.to(labels.device()));
  if (targets.defined()) out.targets = targets.index_select(0, indices.to(targets.device()));
  out.class_names = class_names;
  out.source = source;
  return out;
}

namespace {

// The indices subset_per_class chooses, class by class, sorted within a class.
std::vector<int64_t> per_class_choice(const LabeledDataset& data, int64_t per_class,
                                      uint64_t seed) {
  GANAUG_CHECK(per_class > 0, "images per class must be positive, got ", per_class);
  std::mt19937_64 rng(seed);
  std::vector<int64_t> chosen;
  const auto by_class = indices_by_class(data);
  for (size_t k = 0; k < by_class.size(); ++k) {
    auto members = by_class[k];
    GANAUG_CHECK(static_cast<int64_t>(members.size()) >= per_class, "asked for ", per_class,
                 " images per class but class '", data.class_names[k], "' has only ",
                 members.size(), " in ", data.source);
    std::shuffle(members.begin(), members.end(), rng);
    members.resize(static_cast<size_t>(per_class));
    std::sort(members.begin(), members.end());
    chosen.insert(chosen.end(), members.begin(), members.end());
  }
  return chosen;
}

}  // namespace

LabeledDataset subset_per_class(const LabeledDataset& data, int64_t per_class, uint64_t seed) {
  auto out = data.select(to_index_tensor(per_class_choice(data, per_class, seed)));
  out.source = detail::concat(data.source, " (", per_class, " per class, seed ", seed, ")");
  return out;
}

LabeledDataset unlabeled_pool(const LabeledDataset& data, int64_t per_class, uint64_t seed,
                              int64_t size, uint64_t pool_seed, torch::Tensor* true_labels) {
  auto chosen = per_class_choice(data, per_class, seed);
  std::sort(chosen.begin(), chosen.end());
  std::vector<int64_t> rest;
  for (int64_t i = 0, c = 0; i < data.size(); ++i) {
    while (c < static_cast<int64_t>(chosen.size()) && chosen[static_cast<size_t>(c)] < i) ++c;
    if (c < static_cast<int64_t>(chosen.size()) && chosen[static_cast<size_t>(c)] == i) continue;
    rest.push_back(i);
  }
  GANAUG_CHECK(size >= 0 && size <= static_cast<int64_t>(rest.size()), "an unlabeled pool of ",
               size, " images was asked for, but ", data.source, " has ", rest.size(),
               " images besides the ", chosen.size(), " labeled ones");
  std::mt19937_64 rng(pool_seed);
  std::shuffle(rest.begin(), rest.end(), rng);
  rest.resize(static_cast<size_t>(size));
  std::sort(rest.begin(), rest.end());
  LabeledDataset pool;
  pool.images = data.images.index_select(0, to_index_tensor(rest).to(data.images.device()));
  if (true_labels)
    *true_labels = data.labels.index_select(0, to_index_tensor(rest).to(data.labels.device()));
  pool.labels = torch::full({size}, -1, torch::TensorOptions().dtype(torch::kInt64));
  pool.class_names = data.class_names;
  pool.source =
      detail::concat("an unlabeled pool of ", size, " images (seed ", pool_seed, ") from ",
                     data.source, " outside ", per_class, " per class (seed ", seed, ")");
  return pool;
}

std::pair<LabeledDataset, LabeledDataset> split_train_test(const LabeledDataset& data,
                                                           double test_fraction, uint64_t seed) {
  GANAUG_CHECK(test_fraction > 0.0 && test_fraction < 1.0,
               "the test fraction must lie strictly between 0 and 1, got ", test_fraction);
  std::mt19937_64 rng(seed);
  std::vector<int64_t> train, test;
  const auto by_class = indices_by_class(data);
  for (size_t k = 0; k < by_class.size(); ++k) {
    auto members = by_class[k];
    GANAUG_CHECK(members.size() >= 2, "class '", data.class_names[k], "' in ", data.source, " has ",
                 members.size(), " image(s); at least 2 are needed to split it");
    std::shuffle(members.begin(), members.end(), rng);
    auto n_test = static_cast<size_t>(std::llround(test_fraction * members.size()));
    n_test = std::clamp<size_t>(n_test, 1, members.size() - 1);
    test.insert(test.end(), members.begin(), members.begin() + n_test);
    train.insert(train.end(), members.begin() + n_test, members.end());
  }
  std::sort(train.begin(), train.end());
  std::sort(test.begin(), test.end());
  auto train_part = data.select(to_index_tensor(train));
  auto test_part = data.select(to_index_tensor(test));
  train_part.source = detail::concat(data.source, " (train split, seed ", seed, ")");
  test_part.source =
      detail::concat(data.source, " (test split ", test_fraction, ", seed ", seed, ")");
  return {std::move(train_part), std::move(test_part)};
}

LabeledDataset concatenate(const std::vector<LabeledDataset>& parts) {
  GANAUG_CHECK(!parts.empty(), "nothing to concatenate");
  std::vector<torch::Tensor> images, labels, targets;
  for (const auto& part : parts) {
    GANAUG_CHECK(part.images.sizes().slice(1) == parts[0].images.sizes().slice(1),
                 "cannot concatenate ", part.source, " with ", parts[0].source,
                 ": image shapes differ");
    GANAUG_CHECK(part.class_names == parts[0].class_names, "cannot concatenate ", part.source,
                 " with ", parts[0].source, ": class lists differ");
    images.push_back(part.images);
    labels.push_back(part.labels);
    if (part.targets.defined()) targets.push_back(part.targets);
  }
  GANAUG_CHECK(targets.empty() || targets.size() == parts.size(),
               "cannot concatenate hard-labeled and soft-labeled datasets");
  LabeledDataset out;
  out.images = torch::cat(images);
  out.labels = torch::cat(labels);
  if (!targets.empty()) out.targets = torch::cat(targets);
  out.class_names = parts[0].class_names;
  out.source = parts[0].source;
  return out;
}

}  // namespace ganaug
