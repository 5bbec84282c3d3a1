#include "ganaug/schemes.hpp"

#include <torch/torch.h>

#include "ganaug/choices.hpp"
#include "ganaug/error.hpp"

namespace ganaug {

namespace {
const Choices<Scheme>& schemes() {
  static const Choices<Scheme> choices("pseudo-label scheme", {{Scheme::kNewClass, "newclass"},
                                                               {Scheme::kArgmax, "argmax"},
                                                               {Scheme::kSmooth, "smooth"},
                                                               {Scheme::kCond, "cond"}});
  return choices;
}
}  // namespace

Scheme parse_scheme(const std::string& name) { return schemes().parse(name); }

std::string to_string(Scheme scheme) { return schemes().name(scheme); }

std::vector<Scheme> all_schemes() { return schemes().values(); }

namespace {
const Choices<JointForm>& joint_forms() {
  static const Choices<JointForm> choices(
      "joint form",
      {{JointForm::kKPlus1, "kplus1"}, {JointForm::kTwoK, "2k"}, {JointForm::kTriple, "triple"}});
  return choices;
}
}  // namespace

std::string to_string(JointForm form) { return joint_forms().name(form); }

JointForm parse_joint_form(const std::string& name) { return joint_forms().parse(name); }

namespace {

// The scheme names of the joint forms, and the labels their written images get.
struct JointName {
  JointForm form;
  const char* name;
  Scheme labels;
};
constexpr JointName kJointNames[] = {{JointForm::kKPlus1, "newclass-joint", Scheme::kNewClass},
                                     {JointForm::kTwoK, "dada-joint", Scheme::kCond},
                                     {JointForm::kTriple, "triple-joint", Scheme::kCond}};

}  // namespace

SchemeChoice SchemeChoice::parse(const std::string& name) {
  SchemeChoice choice;
  for (const auto& joint : kJointNames) {
    if (name == joint.name) {
      choice.scheme = joint.labels;
      choice.joint = joint.form;
      return choice;
    }
  }
  choice.dynamic = name == "argmax-dynamic";
  try {
    choice.scheme = parse_scheme(choice.dynamic ? "argmax" : name);
  } catch (const Error&) {
    GANAUG_FAIL("unknown pseudo-label scheme '", name, "': use ", list_names(names()));
  }
  return choice;
}

std::vector<std::string> SchemeChoice::names() {
  std::vector<std::string> out;  // the schemes, argmax's dynamic variant, the joint forms
  for (const auto scheme : all_schemes()) {
    out.push_back(to_string(scheme));
    if (scheme == Scheme::kArgmax) out.push_back("argmax-dynamic");
  }
  for (const auto& joint : kJointNames) out.emplace_back(joint.name);
  return out;
}

std::string SchemeChoice::name() const {
  if (joint) {
    for (const auto& j : kJointNames)
      if (j.form == *joint) return j.name;
  }
  return to_string(scheme) + (dynamic ? "-dynamic" : "");
}

int64_t target_width(Scheme scheme, int64_t num_classes) {
  return scheme == Scheme::kNewClass ? num_classes + 1 : num_classes;
}

torch::Tensor scheme_targets(Scheme scheme, const torch::Tensor& conditioned, int64_t num_classes,
                             const torch::Tensor& classifier_probabilities) {
  GANAUG_CHECK(num_classes >= 1, "need at least one class");
  const int64_t n = conditioned.size(0);
  const auto cond = conditioned.to(torch::kCPU, torch::kInt64);
  namespace F = torch::nn::functional;
  switch (scheme) {
    case Scheme::kNewClass:
      return F::one_hot(torch::full({n}, num_classes, torch::kInt64), num_classes + 1)
          .to(torch::kFloat32);
    case Scheme::kSmooth:
      return torch::full({n, num_classes}, 1.0 / static_cast<double>(num_classes));
    case Scheme::kCond:
      return F::one_hot(cond, num_classes).to(torch::kFloat32);
    case Scheme::kArgmax: {
      GANAUG_CHECK(classifier_probabilities.defined() && classifier_probabilities.dim() == 2 &&
                       classifier_probabilities.size(0) == n &&
                       classifier_probabilities.size(1) == num_classes,
                   "the argmax scheme needs the real-data classifier's N x ", num_classes,
                   " probabilities for the ", n, " synthetic images");
      return F::one_hot(classifier_probabilities.to(torch::kCPU).argmax(1), num_classes)
          .to(torch::kFloat32);
    }
  }
  GANAUG_FAIL("unknown scheme");
}

bool filters_by_confidence(Scheme scheme) {
  return scheme == Scheme::kCond || scheme == Scheme::kArgmax;
}

torch::Tensor confident_mask(Scheme scheme, const torch::Tensor& conditioned,
                             const torch::Tensor& classifier_probabilities, double min_confidence) {
  GANAUG_CHECK(min_confidence >= 0 && min_confidence <= 1,
               "the minimum confidence must lie in [0, 1], got ", min_confidence);
  const int64_t n = conditioned.size(0);
  if (!filters_by_confidence(scheme) || min_confidence == 0) return torch::ones({n}, torch::kBool);
  GANAUG_CHECK(classifier_probabilities.defined() && classifier_probabilities.dim() == 2 &&
                   classifier_probabilities.size(0) == n,
               "filtering by confidence needs the real-data classifier's probabilities for the ", n,
               " synthetic images");
  const auto p = classifier_probabilities.to(torch::kCPU, torch::kFloat32);
  const auto confidence =
      scheme == Scheme::kArgmax
          ? std::get<0>(p.max(1))
          : p.gather(1, conditioned.to(torch::kCPU, torch::kInt64).view({n, 1})).squeeze(1);
  return confidence >= min_confidence;
}

torch::Tensor hard_labels(Scheme scheme, const torch::Tensor& targets) {
  if (scheme == Scheme::kSmooth) return torch::full({targets.size(0)}, -1, torch::kInt64);
  return targets.argmax(1);
}

torch::Tensor soft_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets) {
  GANAUG_CHECK(logits.sizes() == targets.sizes(), "logits ", logits.sizes(), " and targets ",
               targets.sizes(), " differ in shape");
  return -(targets * torch::log_softmax(logits, 1)).sum(1);
}

std::pair<torch::Tensor, torch::Tensor> consistency_loss(const torch::Tensor& guess,
                                                         const torch::Tensor& strong_logits,
                                                         double threshold) {
  GANAUG_CHECK(guess.dim() == 2 && strong_logits.dim() == 2 &&
                   guess.size(0) == strong_logits.size(0) && strong_logits.size(1) >= guess.size(1),
               "consistency needs N x K probabilities and N x (K or more) logits, got ",
               guess.sizes(), " and ", strong_logits.sizes());
  const auto [probability, predicted] = guess.max(1);
  const auto mask = probability.ge(threshold).to(torch::kFloat32);
  const auto targets =
      torch::nn::functional::one_hot(predicted, strong_logits.size(1)).to(torch::kFloat32);
  return {(soft_cross_entropy(strong_logits, targets) * mask).mean(), mask.mean()};
}

}  // namespace ganaug
