// The losses of a GAN whose discriminator is the classifier (issue 31): the K + 1 form with
// feature matching, and DADA's 2K outputs.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "ganaug/error.hpp"
#include "ganaug/joint_losses.hpp"
#include "test_support.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_joint_losses {

using ganaug::testing::expect_error;

TEST(JointLosses, KPlusOneLossesEqualTheirDefinitionsOnHandMadeLogits) {
  // Row 0: Z = 1 + 1 = 2, D = 2/3. Row 1: Z = 3 + 1 = 4, D = 4/5.
  const auto logits = torch::tensor({{0.0, 0.0}, {std::log(3.0), 0.0}}, torch::kFloat64);
  const auto d = ganaug::kplus1_real_probability(logits);
  EXPECT_NEAR(d[0].item<double>(), 2.0 / 3, 1e-12);
  EXPECT_NEAR(d[1].item<double>(), 4.0 / 5, 1e-12);
  EXPECT_NEAR(ganaug::kplus1_unlabeled_loss(logits).item<double>(),
              (-std::log(2.0 / 3) - std::log(4.0 / 5)) / 2, 1e-12);
  EXPECT_NEAR(ganaug::kplus1_fake_loss(logits).item<double>(),
              (-std::log(1 - 2.0 / 3) - std::log(1 - 4.0 / 5)) / 2, 1e-12);
  // Labeled: -log(exp(l_y) / Z): row 0 label 0: log 2; row 1 label 1: log 4.
  const auto labels = torch::tensor({0, 1}, torch::kInt64);
  EXPECT_NEAR(ganaug::kplus1_labeled_loss(logits, labels).item<double>(),
              (std::log(2.0) + std::log(4.0)) / 2, 1e-12);
  // The spellings of 0.5, kept for a release, give the same.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  EXPECT_TRUE(torch::equal(ganaug::kplus1_labelled_loss(logits, labels),
                           ganaug::kplus1_labeled_loss(logits, labels)));
  EXPECT_TRUE(
      torch::equal(ganaug::kplus1_unlabelled_loss(logits), ganaug::kplus1_unlabeled_loss(logits)));
#pragma GCC diagnostic pop
}

TEST(JointLosses, KPlusOneLossesAndTheirGradientsStayFiniteForLargeLogits) {
  for (const double big : {1e3, -1e3, 1e30, -1e30}) {
    auto logits = torch::full({3, 4}, big, torch::kFloat32).requires_grad_();
    const auto total = ganaug::kplus1_unlabeled_loss(logits) + ganaug::kplus1_fake_loss(logits) +
                       ganaug::kplus1_labeled_loss(logits, torch::tensor({0, 1, 3}));
    EXPECT_TRUE(std::isfinite(total.item<double>())) << big;
    total.backward();
    EXPECT_TRUE(torch::isfinite(logits.grad()).all().item<bool>()) << big;
  }
  // Very confident real images cost nothing as unlabeled ones and everything as fakes.
  const auto sure = torch::full({1, 3}, 50.0, torch::kFloat32);
  EXPECT_NEAR(ganaug::kplus1_unlabeled_loss(sure).item<double>(), 0.0, 1e-6);
  EXPECT_NEAR(ganaug::kplus1_fake_loss(sure).item<double>(), 50 + std::log(3.0), 1e-3);
}

TEST(JointLosses, FeatureMatchingMovesTheGeneratorTowardTheRealBatchsMeanFeatures) {
  // A linear generator of noise and a fixed inner layer of a discriminator: the real images lie
  // far from what the generator starts with, and feature matching alone brings the generated
  // batch's mean features to theirs.
  auto rng = at::make_generator<at::CPUGeneratorImpl>(7);
  torch::manual_seed(7);
  torch::nn::Linear generator(4, 3), features(3, 5);
  {
    torch::NoGradGuard no_grad;
    features->weight.mul_(3);
  }
  for (auto& p : features->parameters()) p.set_requires_grad(false);  // the discriminator's layer
  const auto real = torch::randn({256, 3}, rng) + 3.0;
  const auto real_features = features(real).detach();
  torch::optim::SGD optimizer(generator->parameters(), torch::optim::SGDOptions(0.02));
  const auto fixed_noise = torch::randn({1024, 4}, rng);
  const auto distance = [&] {
    torch::NoGradGuard no_grad;
    return (features(generator(fixed_noise)).mean(0) - real_features.mean(0)).norm().item<double>();
  };
  const double before = distance();
  double first_loss = 0, last_loss = 0;
  for (int step = 0; step < 300; ++step) {
    const auto fake = features(generator(torch::randn({256, 4}, rng)));
    const auto loss = ganaug::feature_matching_loss(real_features, fake);
    if (step == 0) first_loss = loss.item<double>();
    last_loss = loss.item<double>();
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  }
  EXPECT_GT(before, 5.0);
  EXPECT_LT(last_loss, 0.01 * first_loss);
  EXPECT_LT(distance(), 0.1 * before);
  expect_error(
      [&] {
        ganaug::feature_matching_loss(torch::zeros({2, 3}), torch::zeros({2, 4}));
      },
      {"one width"});
  expect_error(
      [&] {
        ganaug::feature_matching_loss(torch::zeros({0, 3}), torch::zeros({2, 3}));
      },
      {"N >= 1"});
}

TEST(JointLosses, TheTwoKClassifierPredictsOverTheRealClassesOnly) {
  // K = 3: outputs 0-2 "real, class k", 3-5 "generated, class k". The largest outputs here are
  // generated ones; the prediction is the largest real one.
  const auto logits =
      torch::tensor({{1.0, 2.0, 0.5, 9.0, 0.0, 0.0}, {0.1, 0.0, 0.3, 0.0, 0.0, 8.0}});
  EXPECT_TRUE(torch::equal(ganaug::two_k_predict(logits), torch::tensor({1, 2}, torch::kInt64)));
  const auto targets = torch::tensor({1, 5}, torch::kInt64);  // real class 1; generated class 2
  const auto lse = [](std::vector<double> row) {
    double z = 0;
    for (const double l : row) z += std::exp(l);
    return std::log(z);
  };
  const double expected =
      ((lse({1.0, 2.0, 0.5, 9.0, 0.0, 0.0}) - 2.0) + (lse({0.1, 0.0, 0.3, 0.0, 0.0, 8.0}) - 8.0)) /
      2;
  EXPECT_NEAR(ganaug::two_k_loss(logits, targets).item<double>(), expected, 1e-5);
  expect_error([&] { ganaug::two_k_predict(torch::zeros({2, 5})); }, {"even number"});
  expect_error([&] { ganaug::two_k_loss(logits, torch::tensor({0, 6})); }, {"[0, 6)"});
  expect_error([&] { ganaug::kplus1_labeled_loss(logits, torch::tensor({0})); },
               {"one target per image"});
  expect_error([&] { ganaug::kplus1_labeled_loss(logits, torch::tensor({0, -1})); }, {"[0, 6)"});
}

}  // namespace ganaug_tests_joint_losses
