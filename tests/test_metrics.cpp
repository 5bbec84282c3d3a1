#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "ganaug/metrics.hpp"
#include "test_support.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_metrics {

TEST(Metrics, WithinClassSpreadSeesCollapse) {
  torch::manual_seed(4);
  const auto labels = torch::arange(40, torch::kInt64).remainder(2);
  const auto varied = torch::randn({40, 1, 4, 4}) * 0.5;
  EXPECT_NEAR(ganaug::within_class_spread(varied, labels), 0.5, 0.08);
  // One image per class, repeated: no spread at all, whatever the class means are.
  const auto prototypes = torch::randn({2, 1, 4, 4});
  const auto collapsed = prototypes.index_select(0, labels);
  EXPECT_NEAR(ganaug::within_class_spread(collapsed, labels), 0.0, 1e-12);
  // Class means do not count: shifting one class changes nothing.
  auto shifted = varied.clone();
  shifted.index_put_({labels == 1}, shifted.index({labels == 1}) + 3.0);
  EXPECT_NEAR(ganaug::within_class_spread(shifted, labels),
              ganaug::within_class_spread(varied, labels), 1e-6);
  EXPECT_THROW(ganaug::within_class_spread(varied, labels.slice(0, 0, 10)), ganaug::Error);
}

TEST(Metrics, FrechetDistanceOfASetWithItselfIsZero) {
  torch::manual_seed(1);
  const auto a = torch::randn({500, 6}, torch::kFloat64);
  EXPECT_NEAR(ganaug::frechet_distance(a, a), 0.0, 1e-6);
}

TEST(Metrics, FrechetDistanceMatchesTheClosedForm) {
  torch::manual_seed(2);
  const auto a = torch::randn({400, 5}, torch::kFloat64) * 0.7 + 0.3;
  // A mean shift alone adds |shift|^2.
  const auto shift = torch::tensor({1.0, -2.0, 0.0, 0.5, 0.0}, torch::kFloat64);
  EXPECT_NEAR(ganaug::frechet_distance(a, a + shift), shift.pow(2).sum().item<double>(), 1e-6);
  // b = 2a: mu_b = 2 mu_a, S_b = 4 S_a, so the distance is |mu_a|^2 + tr(S_a) exactly.
  const auto mu = a.mean(0);
  const auto centred = a - mu;
  const double trace = (centred.pow(2).sum() / (a.size(0) - 1)).item<double>();
  EXPECT_NEAR(ganaug::frechet_distance(a, 2 * a), mu.pow(2).sum().item<double>() + trace, 1e-6);
  // Symmetric, and float32 inputs are accepted.
  EXPECT_NEAR(ganaug::frechet_distance(2 * a, a), ganaug::frechet_distance(a, 2 * a), 1e-6);
  EXPECT_GT(ganaug::frechet_distance(a.to(torch::kFloat32), (a + shift).to(torch::kFloat32)), 5);
}

TEST(Metrics, FrechetDistanceRejectsBadShapes) {
  ganaug::testing::expect_error(
      [] {
        ganaug::frechet_distance(torch::zeros({4, 3}), torch::zeros({4, 2}));
      },
      {"one width"});
  ganaug::testing::expect_error(
      [] {
        ganaug::frechet_distance(torch::zeros({1, 3}), torch::zeros({4, 3}));
      },
      {"at least 2 samples"});
}

TEST(Metrics, IntervalOverSeeds) {
  // Hand-computed: mean 2, sd 1, t(2) = 4.302653, half-width 4.302653 / sqrt(3).
  const auto i = ganaug::mean_interval_95({1.0, 2.0, 3.0});
  EXPECT_DOUBLE_EQ(i.mean, 2.0);
  EXPECT_DOUBLE_EQ(i.stddev, 1.0);
  EXPECT_NEAR(i.low, 2.0 - 4.302653 / std::sqrt(3.0), 1e-6);
  EXPECT_NEAR(i.high, 2.0 + 4.302653 / std::sqrt(3.0), 1e-6);
  EXPECT_EQ(i.n, 3);
  const auto one = ganaug::mean_interval_95({0.5});
  EXPECT_DOUBLE_EQ(one.mean, 0.5);
  EXPECT_TRUE(std::isnan(one.low) && std::isnan(one.high));
  // Closed forms for 1 and 2 degrees of freedom (tan(0.475 pi); 0.95 sqrt(2 / (4 p (1 - p)))
  // with p = 0.975), R's qt(0.975, df) beyond.
  EXPECT_NEAR(ganaug::student_t_975(1), std::tan(0.475 * M_PI), 1e-9);
  EXPECT_NEAR(ganaug::student_t_975(2), 4.302652729749, 1e-9);
  EXPECT_NEAR(ganaug::student_t_975(31), 2.039513446396, 1e-9);
  EXPECT_NEAR(ganaug::student_t_975(1000), 1.962339, 1e-6);
  ganaug::testing::expect_error([] { ganaug::mean_interval_95({}); }, {"at least one value"});
}

TEST(Metrics, ClassifierFeaturesArePenultimateActivations) {
  ganaug::Classifier model(ganaug::ClassifierOptions(3, 12, 1).width(4));
  const auto images = torch::rand({7, 1, 12, 12}) * 2 - 1;
  const auto features = ganaug::classifier_features(model, images, 3);
  ASSERT_EQ(features.sizes(), (std::vector<int64_t>{7, 128}));
  EXPECT_EQ(features.scalar_type(), torch::kFloat64);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(features.to(torch::kFloat32), model->embed(images), 1e-4, 1e-5));
  ganaug::Classifier resnet(ganaug::ClassifierOptions(3, 12, 3)
                                .architecture(ganaug::ClassifierArchitecture::kResnet)
                                .width(4));
  EXPECT_EQ(ganaug::classifier_features(resnet, torch::zeros({2, 3, 12, 12})).size(1), 16);
}

}  // namespace ganaug_tests_metrics
