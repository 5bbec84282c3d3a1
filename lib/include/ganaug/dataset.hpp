#pragma once
/// The in-memory labeled dataset that every stage of ganaug takes and gives.

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ganaug {

/// The shape of the images a network takes: channels x size x size; {size, channels}, in the
/// order of the options' (num_classes, image_size, channels) constructors.
struct ImageShape {
  int64_t size = 28;
  int64_t channels = 1;
  bool operator==(const ImageShape& other) const {
    return size == other.size && channels == other.channels;
  }
};

/// A labeled image dataset held in memory.
///
/// Represents N images of one shape with one class each (and, for synthetic data, optionally a
/// soft target per image). Owns its tensors; copies share storage as torch::Tensor does.
struct LabeledDataset {
  /// N x C x H x W float32 in [-1, 1].
  torch::Tensor images;
  /// N int64 class indices in [0, num_classes()); -1 marks an image with no hard label.
  torch::Tensor labels;
  /// Optional N x T float32 soft targets (rows sum to 1); undefined for hard-labeled data.
  torch::Tensor targets;
  /// One name per class; class k is class_names[k].
  std::vector<std::string> class_names;
  /// Where the data came from (a path or a description), for messages and summaries.
  std::string source;

  /// N; 0 while `images` is undefined.
  int64_t size() const { return images.defined() ? images.size(0) : 0; }
  /// C, H and W of `images` (which must be defined and 4-D).
  int64_t channels() const { return images.size(1); }
  int64_t height() const { return images.size(2); }
  int64_t width() const { return images.size(3); }
  /// K, the number of class names.
  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
  /// Images per class, indexed by class; images labeled -1 are not counted.
  std::vector<int64_t> class_counts() const;
  /// Throws ganaug::Error (naming `source`) unless images are N x C x H x W float32, labels N
  /// int64 in [-1, K), there is at least one class name, and targets, when defined, are N x T.
  /// Pixel values are not checked.
  void validate() const;
  /// Throws ganaug::Error unless the images are `channels` x `size` x `size`, naming both shapes:
  /// "<user> was set up for 1x28x28 images but [the <what>] <source> holds 3x32x32". The one
  /// shape check of the trainers (GAN, classifier, joint).
  void check_image_shape(int64_t channels, int64_t size, const std::string& user,
                         const std::string& what = "") const;
  /// The images at `indices` (int64 tensor, moved to each tensor's device), with their labels
  /// and targets (copies), class names and source.
  LabeledDataset select(const torch::Tensor& indices) const;
};

/// `per_class` images of every class, chosen at random with `seed`; the result lists them
/// class by class in their original order within a class, and `source` notes the choice. Images
/// labeled -1 are never chosen. Throws ganaug::Error when per_class is not positive, and naming
/// the class when a class has fewer than `per_class` images.
LabeledDataset subset_per_class(const LabeledDataset& data, int64_t per_class, uint64_t seed);

/// An unlabeled pool beside the labeled subset subset_per_class(data, per_class, seed): `size`
/// images drawn at random with `pool_seed` from the others (those that subset leaves out,
/// images labeled -1 included), in their original order, every label set to -1 and no soft
/// targets. Only the subset's choice reads labels; the pool's draw does not, and the pool
/// carries none; `true_labels`, when given, gets the pool images' labels in `data`, for
/// measurement only (ClassifierHooks::pool_truth). Throws ganaug::Error as subset_per_class
/// does, and when size is negative or larger than the images left.
LabeledDataset unlabeled_pool(const LabeledDataset& data, int64_t per_class, uint64_t seed,
                              int64_t size, uint64_t pool_seed,
                              torch::Tensor* true_labels = nullptr);

/// A seeded, stratified split: about `test_fraction` of every class goes to the second part,
/// at least one image of each class to each part. Both parts keep the original order; images
/// labeled -1 go to neither. Throws ganaug::Error when the fraction is outside (0, 1) or a class
/// has fewer than 2 images.
std::pair<LabeledDataset, LabeledDataset> split_train_test(const LabeledDataset& data,
                                                           double test_fraction, uint64_t seed);

/// Concatenates datasets of one image shape and one class list, in order; the result takes the
/// first part's source. Throws ganaug::Error for an empty list, parts whose image shapes or class
/// lists differ, or a mix of parts with and without soft targets.
LabeledDataset concatenate(const std::vector<LabeledDataset>& parts);

/// The shape of `data`'s images, set once by a job and given to every network's options. Throws
/// ganaug::Error naming data.source when its images are not square (the networks take square
/// images: resize them, --image-size in the tools) or `images` is not N x C x H x W.
ImageShape image_shape(const LabeledDataset& data);

}  // namespace ganaug
