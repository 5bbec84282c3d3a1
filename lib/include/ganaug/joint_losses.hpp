#pragma once
/// The losses of a GAN whose discriminator is the classifier: the semi-supervised K + 1 form
/// (Odena 2016; Salimans et al. 2016, "Improved Techniques for Training GANs") with feature
/// matching, and DADA's 2K outputs (Zhang et al. 2018). Each takes logits and returns a scalar
/// mean over the batch, written with log-sum-exp and softplus so that it stays finite for
/// logits of any size.

#include <torch/types.h>

#include <cstdint>

namespace ganaug {

/// The K + 1 discriminator's probability that each image is real, D(x) = Z / (Z + 1) with
/// Z = sum_k exp(logits_k) over its K logits (the fake class's logit fixed at 0): the sigmoid of
/// their log-sum-exp. N.
torch::Tensor kplus1_real_probability(const torch::Tensor& logits);

/// Cross-entropy of labeled real images over the K real classes: the mean of
/// logsumexp(logits) - logits[label]. Throws ganaug::Error for labels outside [0, K) or counts
/// that differ.
torch::Tensor kplus1_labeled_loss(const torch::Tensor& logits, const torch::Tensor& labels);

/// -log D(x) for unlabeled real images: the mean of softplus(-logsumexp(logits)).
torch::Tensor kplus1_unlabeled_loss(const torch::Tensor& logits);

/// The spellings of 0.5 and before, kept for a release.
[[deprecated("use kplus1_labeled_loss")]] inline torch::Tensor kplus1_labelled_loss(
    const torch::Tensor& logits, const torch::Tensor& labels) {
  return kplus1_labeled_loss(logits, labels);
}
[[deprecated("use kplus1_unlabeled_loss")]] inline torch::Tensor kplus1_unlabelled_loss(
    const torch::Tensor& logits) {
  return kplus1_unlabeled_loss(logits);
}

/// -log(1 - D(G(z))) for generated images: the mean of softplus(logsumexp(logits)).
torch::Tensor kplus1_fake_loss(const torch::Tensor& logits);

/// Feature matching (Salimans et al. 2016): the mean over features of the squared difference
/// between the batch means of an inner layer's features on real and on generated images
/// (N x D each, N of each at least 1). The generator's loss; gradients reach both sides, so
/// detach the real features. Throws ganaug::Error for empty batches or widths that differ.
torch::Tensor feature_matching_loss(const torch::Tensor& real_features,
                                    const torch::Tensor& fake_features);

/// DADA's 2K-output discriminator (Zhang et al. 2018): output k is "real, class k", output
/// K + k "generated, class k". The cross-entropy over the 2K outputs towards `target` (a class
/// in [0, K) for real images, K + class for generated ones). Throws ganaug::Error for logits
/// of odd width, targets outside [0, 2K) or counts that differ.
torch::Tensor two_k_loss(const torch::Tensor& logits, const torch::Tensor& targets);

/// The class a 2K-output discriminator predicts as a classifier: the argmax over its K "real"
/// outputs alone (the "generated" ones never name a class). N int64.
torch::Tensor two_k_predict(const torch::Tensor& logits);

}  // namespace ganaug
