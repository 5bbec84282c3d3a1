#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ganaug/diffaugment.hpp"
#include "ganaug/error.hpp"
#include "ganaug/runtime.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_diffaugment {

TEST(DiffAugment, ParsesPolicies) {
  EXPECT_FALSE(ganaug::DiffAugmentPolicy::parse("off").any());
  const auto policy = ganaug::DiffAugmentPolicy::parse("translation,cutout");
  EXPECT_TRUE(policy.translation && policy.cutout && !policy.color);
  EXPECT_EQ(policy.to_string(), "translation,cutout");
  try {
    ganaug::DiffAugmentPolicy::parse("translation,blur");
    FAIL();
  } catch (const ganaug::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'blur'"), std::string::npos);
  }
}

TEST(DiffAugment, AChoiceIsAutoOrAPolicyAndReadsBack) {
  EXPECT_FALSE(ganaug::parse_diffaugment_choice("auto").has_value());
  EXPECT_EQ(ganaug::to_string(std::optional<ganaug::DiffAugmentPolicy>()), "auto");
  const auto chosen = ganaug::parse_diffaugment_choice("cutout,translation");
  ASSERT_TRUE(chosen.has_value());
  EXPECT_TRUE(chosen->translation && chosen->cutout && !chosen->color);
  EXPECT_EQ(ganaug::to_string(chosen), "translation,cutout");
  EXPECT_EQ(ganaug::to_string(ganaug::parse_diffaugment_choice("none")), "off");
  EXPECT_THROW(ganaug::parse_diffaugment_choice("blur"), ganaug::Error);
}

TEST(DiffAugment, TranslationShiftsContentAndPadsWithZero) {
  auto rng = ganaug::make_cpu_generator(3);
  const auto x = torch::rand({16, 1, 16, 16}) + 1;  // all values >= 1, so zeros are padding
  const auto y = ganaug::diff_augment(x, ganaug::DiffAugmentPolicy::parse("translation"), rng);
  EXPECT_EQ(y.sizes(), x.sizes());
  // Shifts are at most 2 pixels: each image keeps at least its central 12x12 block of values.
  EXPECT_GT(y.eq(0).sum().item<int64_t>(), 0);
  EXPECT_LE(y.eq(0).view({16, -1}).sum(1).max().item<int64_t>(), 16 * 16 - 12 * 12);
}

TEST(DiffAugment, CutoutZerosAQuarterAtMost) {
  auto rng = ganaug::make_cpu_generator(4);
  const auto x = torch::ones({8, 3, 16, 16});
  const auto y = ganaug::diff_augment(x, ganaug::DiffAugmentPolicy::parse("cutout"), rng);
  const auto zeros = y.eq(0).view({8, -1}).sum(1);
  EXPECT_GT(zeros.min().item<int64_t>(), 0);
  EXPECT_LE(zeros.max().item<int64_t>(), 3 * 8 * 8);
}

TEST(DiffAugment, IsDifferentiableAndSeeded) {
  const auto policy = ganaug::DiffAugmentPolicy::parse("translation,cutout,color");
  auto x = torch::randn({4, 3, 16, 16}, torch::requires_grad());
  auto rng1 = ganaug::make_cpu_generator(5), rng2 = ganaug::make_cpu_generator(5);
  const auto a = ganaug::diff_augment(x, policy, rng1);
  const auto b = ganaug::diff_augment(x, policy, rng2);
  EXPECT_TRUE(torch::equal(a, b));
  a.sum().backward();
  EXPECT_TRUE(x.grad().defined());
  EXPECT_GT(x.grad().abs().sum().item<float>(), 0);
}

}  // namespace ganaug_tests_diffaugment
