#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "ganaug/error.hpp"
#include "ganaug/schemes.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_schemes {

namespace {
const auto kCond = torch::tensor({0, 2, 1, 2}, torch::kInt64);
}

TEST(Schemes, ParseAndNames) {
  for (auto scheme : ganaug::all_schemes()) {
    EXPECT_EQ(ganaug::parse_scheme(ganaug::to_string(scheme)), scheme);
  }
  try {
    ganaug::parse_scheme("mixup");
    FAIL();
  } catch (const ganaug::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'mixup'"), std::string::npos);
  }
}

TEST(Schemes, NewClassIsOneHotOnExtraClass) {
  const auto t = ganaug::scheme_targets(ganaug::Scheme::kNewClass, kCond, 3);
  EXPECT_EQ(t.sizes(), (std::vector<int64_t>{4, 4}));
  EXPECT_TRUE(torch::allclose(t.sum(1), torch::ones({4})));
  EXPECT_TRUE(torch::equal(t.select(1, 3), torch::ones({4})));
  EXPECT_TRUE(torch::equal(ganaug::hard_labels(ganaug::Scheme::kNewClass, t),
                           torch::full({4}, 3, torch::kInt64)));
}

TEST(Schemes, SmoothIsUniformOverRealClasses) {
  const auto t = ganaug::scheme_targets(ganaug::Scheme::kSmooth, kCond, 3);
  EXPECT_EQ(t.sizes(), (std::vector<int64_t>{4, 3}));
  EXPECT_TRUE(torch::allclose(t, torch::full({4, 3}, 1.0 / 3)));
  EXPECT_TRUE(torch::equal(ganaug::hard_labels(ganaug::Scheme::kSmooth, t),
                           torch::full({4}, -1, torch::kInt64)));
}

TEST(Schemes, CondIsOneHotOnConditionedClass) {
  const auto t = ganaug::scheme_targets(ganaug::Scheme::kCond, kCond, 3);
  EXPECT_EQ(t.sizes(), (std::vector<int64_t>{4, 3}));
  EXPECT_TRUE(torch::equal(t.argmax(1), kCond));
  EXPECT_TRUE(torch::allclose(t.sum(1), torch::ones({4})));
}

TEST(Schemes, ArgmaxFollowsClassifierNotCondition) {
  const auto probabilities =
      torch::tensor({0.1f, 0.7f, 0.2f, 0.5f, 0.3f, 0.2f, 0.2f, 0.2f, 0.6f, 0.3f, 0.4f, 0.3f})
          .view({4, 3});
  const auto t = ganaug::scheme_targets(ganaug::Scheme::kArgmax, kCond, 3, probabilities);
  EXPECT_TRUE(torch::equal(t.argmax(1), torch::tensor({1, 0, 2, 1}, torch::kInt64)));
  EXPECT_TRUE(torch::allclose(t.sum(1), torch::ones({4})));
  EXPECT_THROW(ganaug::scheme_targets(ganaug::Scheme::kArgmax, kCond, 3), ganaug::Error);
}

TEST(Schemes, SoftCrossEntropyMatchesLsroFormula) {
  // logits (1, 2, 3): log-softmax = x - log(e + e^2 + e^3).
  const auto logits = torch::tensor({1.0, 2.0, 3.0}, torch::kFloat64).view({1, 3});
  const double log_z = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  // LSRO: -(1/K) sum_k log p_k = -(1/3) * ((1 + 2 + 3) - 3 log Z) = log Z - 2.
  const auto uniform = torch::full({1, 3}, 1.0 / 3, torch::kFloat64);
  EXPECT_NEAR(ganaug::soft_cross_entropy(logits, uniform).item<double>(), log_z - 2.0, 1e-12);
  // One-hot target: ordinary cross-entropy, -log p_3 = log Z - 3.
  const auto one_hot = torch::tensor({0.0, 0.0, 1.0}, torch::kFloat64).view({1, 3});
  EXPECT_NEAR(ganaug::soft_cross_entropy(logits, one_hot).item<double>(), log_z - 3.0, 1e-12);
  EXPECT_THROW(ganaug::soft_cross_entropy(logits, torch::ones({1, 4})), ganaug::Error);
}

TEST(Schemes, ConfidentMaskKeepsWhatTheClassifierVouchesFor) {
  // Rows: the classifier's probabilities for four images conditioned on 0, 2, 1, 2.
  const auto p = torch::tensor({0.9f, 0.05f, 0.05f,  //
                                0.6f, 0.1f, 0.3f,    //
                                0.2f, 0.7f, 0.1f,    //
                                0.1f, 0.45f, 0.45f})
                     .view({4, 3});
  using ganaug::Scheme;
  // cond: the probability of the conditioned class.
  EXPECT_TRUE(torch::equal(ganaug::confident_mask(Scheme::kCond, kCond, p, 0.5),
                           torch::tensor({true, false, true, false})));
  // argmax: the probability of the classifier's own choice, whatever the condition.
  EXPECT_TRUE(torch::equal(ganaug::confident_mask(Scheme::kArgmax, kCond, p, 0.5),
                           torch::tensor({true, true, true, false})));
  // smooth and newclass give no real-class label: nothing is dropped, no probabilities needed.
  for (auto scheme : {Scheme::kSmooth, Scheme::kNewClass}) {
    EXPECT_FALSE(ganaug::filters_by_confidence(scheme));
    EXPECT_TRUE(ganaug::confident_mask(scheme, kCond, {}, 0.9).all().item<bool>());
  }
  // 0 keeps everything; a threshold outside [0, 1] or missing probabilities are refused.
  EXPECT_TRUE(ganaug::confident_mask(Scheme::kCond, kCond, p, 0).all().item<bool>());
  EXPECT_THROW(ganaug::confident_mask(Scheme::kCond, kCond, p, 1.5), ganaug::Error);
  EXPECT_THROW(ganaug::confident_mask(Scheme::kCond, kCond, {}, 0.5), ganaug::Error);
}

TEST(Schemes, ConsistencyLossTakesTheConfidentWeakViewsAsTargets) {
  // K = 2 classes, 3 outputs (as a 2K or K + 1 classifier may have): row 0 is confident.
  const auto guess = torch::tensor({{0.9f, 0.1f}, {0.6f, 0.4f}});
  const auto strong = torch::tensor({{0.0f, 1.0f, 0.5f}, {2.0f, 0.0f, 0.0f}});
  const auto [loss, confident] = ganaug::consistency_loss(guess, strong, 0.8);
  // Row 0's cross-entropy towards class 0, row 1 adds 0, averaged over both.
  const double expected = -torch::log_softmax(strong[0], 0)[0].item<double>() / 2;
  EXPECT_NEAR(loss.item<double>(), expected, 1e-6);
  EXPECT_NEAR(confident.item<double>(), 0.5, 1e-9);
  const auto [none, no_share] = ganaug::consistency_loss(guess, strong, 0.95);
  EXPECT_EQ(none.item<double>(), 0.0);
  EXPECT_EQ(no_share.item<double>(), 0.0);
  EXPECT_THROW(ganaug::consistency_loss(guess, strong.slice(1, 0, 1), 0.8), ganaug::Error);
}

}  // namespace ganaug_tests_schemes
