#pragma once
// A tiny labeled data set the classifier learns in a few epochs, shared by the tests.

#include <torch/torch.h>

#include <cstdint>

#include "ganaug/dataset.hpp"

namespace ganaug::testing {

// Three classes of 8x8 images: a bright square in one of three places plus noise.
inline LabeledDataset blobs(int64_t per_class, uint64_t seed) {
  torch::manual_seed(seed);
  const int64_t n = 3 * per_class;
  LabeledDataset data;
  data.images = torch::randn({n, 1, 8, 8}) * 0.3 - 0.5;
  data.labels = torch::arange(n, torch::kInt64).remainder(3);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = i % 3;
    data.images[i].slice(1, 2 * c, 2 * c + 3).slice(2, 2 * c, 2 * c + 3).add_(1.5);
  }
  data.images.clamp_(-1, 1);
  data.class_names = {"a", "b", "c"};
  data.source = "blobs";
  return data;
}

// Two classes of 16x16 images (the tiny GAN's size), `n` of them alternating: a bright block on
// the left (class 0, "left") or on the right (class 1, "right") of a dark background.
inline LabeledDataset left_right_blobs(int64_t n = 32) {
  LabeledDataset data;
  data.images = -torch::ones({n, 1, 16, 16});
  data.labels = torch::arange(n, torch::kInt64).remainder(2);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t left = i % 2 == 0 ? 2 : 9;
    data.images[i].slice(1, 4, 12).slice(2, left, left + 5).fill_(1.0);
  }
  data.class_names = {"left", "right"};
  data.source = "blobs";
  return data;
}

}  // namespace ganaug::testing
