#pragma once
/// Pseudo-label schemes: the soft target each synthetic image is trained towards.

#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ganaug {

/// How synthetic images are labeled (Zheng, Zheng & Yang, ICCV 2017, and the plain cGAN label).
enum class Scheme {
  kNewClass,  ///< one extra class K; the classifier gets K+1 outputs ("all in one")
  kArgmax,    ///< one-hot on the argmax of a classifier trained on the real data ("pseudo label")
  kSmooth,    ///< uniform 1/K over the K real classes (LSRO)
  kCond,      ///< one-hot on the class the generator was conditioned on
};

/// Parses newclass, argmax, smooth or cond; throws ganaug::Error naming the valid ones.
Scheme parse_scheme(const std::string& name);
/// The scheme's name as parse_scheme() reads it: newclass, argmax, smooth or cond.
std::string to_string(Scheme scheme);
/// All schemes, in the order above.
std::vector<Scheme> all_schemes();

/// How a classifier trained jointly with the GAN takes part in its game (joint.hpp).
enum class JointForm {
  kKPlus1,  ///< K + 1 discriminator (implicit fake class), feature matching
  kTwoK,    ///< DADA's 2K outputs
  kTriple,  ///< Triple-GAN: classifier, generator, projection discriminator
};
/// "kplus1", "2k" or "triple".
std::string to_string(JointForm form);
/// The form named "kplus1", "2k" or "triple"; throws ganaug::Error naming the valid ones.
JointForm parse_joint_form(const std::string& name);

/// A scheme as the tools and reports name it: the labels, and whether the retrained classifier
/// relabels the synthetic images with the paper's dynamic argmax (ClassifierOptions::
/// dynamic_argmax), named "argmax-dynamic".
struct SchemeChoice {
  Scheme scheme = Scheme::kSmooth;
  bool dynamic = false;
  /// Set when the classifier is trained jointly with the GAN in place of retraining on its
  /// images: "newclass-joint" (kKPlus1; the images written are labeled newclass),
  /// "dada-joint" (kTwoK) and "triple-joint" (kTriple), whose images are labeled cond.
  std::optional<JointForm> joint;
  /// Parses newclass, argmax, argmax-dynamic, smooth, cond, newclass-joint, dada-joint or
  /// triple-joint; throws ganaug::Error naming the valid ones.
  static SchemeChoice parse(const std::string& name);
  /// Every name parse() reads, in the order above.
  static std::vector<std::string> names();
  /// The name parse() reads back.
  std::string name() const;
};

/// Width of a target vector under `scheme`: K + 1 for newclass, K otherwise.
int64_t target_width(Scheme scheme, int64_t num_classes);

/// Soft targets (N x target_width, float32, rows summing to 1) for N synthetic images generated
/// for `conditioned` classes (N int64). `argmax` needs `classifier_probabilities` (N x K, from a
/// classifier trained on real data); the other schemes ignore it. Returns a CPU tensor. Throws
/// ganaug::Error when num_classes < 1, or for argmax when the probabilities are missing or not
/// N x K.
torch::Tensor scheme_targets(Scheme scheme, const torch::Tensor& conditioned, int64_t num_classes,
                             const torch::Tensor& classifier_probabilities = {});

/// Which synthetic images a classifier trained on the real data vouches for: true where the
/// label `scheme` gives the image has probability at least `min_confidence` under
/// `classifier_probabilities` (N x K). For cond that label is the conditioned class, for argmax
/// the classifier's own choice; smooth and newclass give no real-class label, so every image is
/// kept. min_confidence 0 keeps everything; it must lie in [0, 1]. Returns N bool on the CPU.
/// Throws ganaug::Error for min_confidence outside [0, 1], or, when it filters, for missing
/// probabilities or probabilities not N rows long.
torch::Tensor confident_mask(Scheme scheme, const torch::Tensor& conditioned,
                             const torch::Tensor& classifier_probabilities, double min_confidence);

/// Whether confident_mask can drop images under `scheme` (cond and argmax).
bool filters_by_confidence(Scheme scheme);

/// The hard label of each target row (N int64): its argmax (K for newclass), or -1 for every row
/// under smooth, whose targets are uniform.
torch::Tensor hard_labels(Scheme scheme, const torch::Tensor& targets);

/// Soft-target cross-entropy per sample: -sum_k target_k * log softmax(logits)_k. With a
/// uniform target over K classes this is the LSRO loss -(1/K) sum_k log p_k. Returns N values,
/// differentiable in `logits`. Throws ganaug::Error when the two shapes differ.
torch::Tensor soft_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets);

/// FixMatch's consistency loss (Sohn et al., NeurIPS 2020) on N unlabeled images: where a weak
/// view's top class probability (`guess`, N x K, computed without gradient) reaches
/// `threshold`, that class is the hard target of the strong view's logits (`strong_logits`,
/// N x outputs with outputs >= K; class k is output k). Returns the loss averaged over all N
/// images (an unconfident one adds 0) and the share of confident images, both scalars. Throws
/// ganaug::Error for shapes that do not fit.
std::pair<torch::Tensor, torch::Tensor> consistency_loss(const torch::Tensor& guess,
                                                         const torch::Tensor& strong_logits,
                                                         double threshold);

}  // namespace ganaug
