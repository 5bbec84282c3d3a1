#include "ganaug/joint_losses.hpp"

#include <torch/torch.h>

#include "ganaug/error.hpp"

namespace ganaug {

namespace {

void check_logits(const torch::Tensor& logits, const char* what) {
  GANAUG_CHECK(logits.defined() && logits.dim() == 2 && logits.size(1) >= 1, what,
               " needs N x K logits, got ", logits.defined() ? logits.sizes() : c10::IntArrayRef{});
}

void check_targets(const torch::Tensor& logits, const torch::Tensor& targets, int64_t classes,
                   const char* what) {
  GANAUG_CHECK(targets.defined() && targets.dim() == 1 && targets.size(0) == logits.size(0), what,
               " needs one target per image: ", logits.size(0), " logits rows, ",
               targets.defined() ? targets.numel() : 0, " targets");
  GANAUG_CHECK(!((targets < 0) | (targets >= classes)).any().item<bool>(), what,
               " needs targets in [0, ", classes, ")");
}

}  // namespace

torch::Tensor kplus1_real_probability(const torch::Tensor& logits) {
  check_logits(logits, "the K + 1 real probability");
  return torch::sigmoid(torch::logsumexp(logits, 1));
}

torch::Tensor kplus1_labeled_loss(const torch::Tensor& logits, const torch::Tensor& labels) {
  check_logits(logits, "the K + 1 labeled loss");
  check_targets(logits, labels, logits.size(1), "the K + 1 labeled loss");
  return torch::nn::functional::cross_entropy(logits, labels);
}

torch::Tensor kplus1_unlabeled_loss(const torch::Tensor& logits) {
  check_logits(logits, "the K + 1 unlabeled loss");
  return torch::nn::functional::softplus(-torch::logsumexp(logits, 1)).mean();
}

torch::Tensor kplus1_fake_loss(const torch::Tensor& logits) {
  check_logits(logits, "the K + 1 fake loss");
  return torch::nn::functional::softplus(torch::logsumexp(logits, 1)).mean();
}

torch::Tensor feature_matching_loss(const torch::Tensor& real_features,
                                    const torch::Tensor& fake_features) {
  GANAUG_CHECK(real_features.defined() && fake_features.defined() && real_features.dim() == 2 &&
                   fake_features.dim() == 2 && real_features.size(0) > 0 &&
                   fake_features.size(0) > 0 && real_features.size(1) == fake_features.size(1),
               "feature matching needs N x D features (N >= 1) of one width, got ",
               real_features.sizes(), " and ", fake_features.sizes());
  return (real_features.mean(0) - fake_features.mean(0)).square().mean();
}

torch::Tensor two_k_loss(const torch::Tensor& logits, const torch::Tensor& targets) {
  check_logits(logits, "the 2K loss");
  GANAUG_CHECK(logits.size(1) % 2 == 0, "the 2K loss needs an even number of outputs, got ",
               logits.size(1));
  check_targets(logits, targets, logits.size(1), "the 2K loss");
  return torch::nn::functional::cross_entropy(logits, targets);
}

torch::Tensor two_k_predict(const torch::Tensor& logits) {
  check_logits(logits, "a 2K prediction");
  GANAUG_CHECK(logits.size(1) % 2 == 0, "a 2K prediction needs an even number of outputs, got ",
               logits.size(1));
  return logits.slice(1, 0, logits.size(1) / 2).argmax(1);
}

}  // namespace ganaug
