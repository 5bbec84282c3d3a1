#pragma once
// Shared by tests/dist_worker.cpp (one rank of a multi-process run) and test_distributed.cpp
// (which checks the ranks' results): the data and models both sides build the same way.

#include <torch/torch.h>

#include "ganaug/dataset.hpp"
#include "ganaug/gan.hpp"
#include "ganaug/models.hpp"
#include "ganaug/runtime.hpp"
#include "test_support.hpp"

namespace ganaug::testing {

// 32 16x16 images of 2 classes (a bright blob on the left or right), the same on every rank.
inline LabeledDataset dist_blobs() {
  LabeledDataset data;
  auto rng = make_cpu_generator(3);
  data.images = torch::rand({32, 1, 16, 16}, rng) * 0.2 - 1;
  data.labels = torch::arange(32, torch::kInt64).remainder(2);
  for (int64_t i = 0; i < 32; ++i) {
    const int64_t left = i % 2 == 0 ? 2 : 9;
    data.images[i].slice(1, 4, 12).slice(2, left, left + 5).fill_(1.0);
  }
  data.class_names = {"left", "right"};
  data.source = "blobs";
  return data;
}

inline GanOptions dist_gan_options(int64_t iterations) {
  return tiny_gan_options(2, iterations, 11).threads(1).log_every(1);
}

// A discriminator with seeded weights and a global batch of 8 images for the gradient check;
// rank r of w takes images [8r/w, 8(r+1)/w).
inline Discriminator dist_discriminator() {
  Discriminator d(dist_gan_options(1).discriminator_options());
  reset_parameters(*d, 42);
  return d;
}

inline torch::Tensor dist_discriminator_loss(Discriminator& d, int64_t rank, int64_t world) {
  const auto data = dist_blobs();
  const int64_t local = 8 / world;
  const auto images = data.images.slice(0, rank * local, (rank + 1) * local);
  const auto labels = data.labels.slice(0, rank * local, (rank + 1) * local);
  return torch::relu(1 - d(images, labels)).mean();
}

}  // namespace ganaug::testing
