#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ganaug/classifier.hpp"
#include "ganaug/datasets/classic_augment.hpp"
#include "ganaug/datasets/rand_augment.hpp"
#include "ganaug/seed_streams.hpp"
#include "test_support.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_classic_augment {

using ganaug::ClassicAugmentOptions;
using ganaug::testing::expect_error;

namespace {

// An asymmetric 2-channel 12x12 test pattern: a bright bar off the vertical axis, 2 pixels clear of
// the edges.
torch::Tensor pattern(int64_t n) {
  auto image = torch::full({1, 2, 12, 12}, -1.0f);
  image.index_put_(
      {0, torch::indexing::Slice(), torch::indexing::Slice(2, 5), torch::indexing::Slice(3, 8)},
      1.0f);
  return image.repeat({n, 1, 1, 1});
}

ClassicAugmentOptions nothing() {
  return ClassicAugmentOptions().max_shift(0).max_rotation(0).max_zoom(1).horizontal_flip(false);
}

}  // namespace

TEST(ClassicAugment, AllOffIsIdentity) {
  const auto x = pattern(3);
  EXPECT_TRUE(torch::allclose(ganaug::classic_augment(x, 7, nothing()), x, 0, 1e-5));
}

TEST(ClassicAugment, FlipOnlyGivesTheImageOrItsMirrorAndBoth) {
  const auto x = pattern(32);
  const auto y = ganaug::classic_augment(x, 3, nothing().horizontal_flip(true));
  const auto mirror = x[0].flip({2});
  int flipped = 0, kept = 0;
  for (int64_t i = 0; i < y.size(0); ++i) {
    const bool same = torch::allclose(y[i], x[0], 0, 1e-5);
    const bool mirrored = torch::allclose(y[i], mirror, 0, 1e-5);
    EXPECT_TRUE(same || mirrored) << "image " << i;
    kept += same;
    flipped += mirrored;
  }
  EXPECT_GT(kept, 0);
  EXPECT_GT(flipped, 0);
}

TEST(ClassicAugment, ShiftMovesContentAndFillsBlack) {
  // Whole-pixel shifts up to 2: pixels are copied, never blended.
  auto o = nothing().max_shift(2);
  const auto x = pattern(64);
  const auto y = ganaug::classic_augment(x, 11, o);
  EXPECT_LE(y.max().item<float>(), 1.0f + 1e-5);
  EXPECT_GE(y.min().item<float>(), -1.0f - 1e-5);
  EXPECT_TRUE(torch::logical_or(y == 1.0f, y == -1.0f).all().item<bool>());
  // The bright mass is preserved up to what leaves the frame (it is far from the edge here).
  const auto mass = (y + 1).sum({1, 2, 3});
  EXPECT_TRUE(torch::allclose(mass, (x + 1).sum({1, 2, 3}), 1e-3, 1e-2));
  // Shifts differ between images, so the centres of mass do.
  const auto columns = torch::arange(12, torch::kFloat32).view({1, 1, 1, 12});
  const auto centre_x = ((y + 1) * columns).sum({1, 2, 3}) / mass;
  EXPECT_GT(centre_x.std().item<float>(), 0.3f);
  EXPECT_LE((centre_x - centre_x.mean()).abs().max().item<float>(), 4.0f + 1e-3);
}

TEST(ClassicAugment, DeterministicPerSeedAndDifferentAcrossSeeds) {
  const auto x = pattern(8);
  const auto a = ganaug::classic_augment(x, 5);
  EXPECT_TRUE(torch::equal(a, ganaug::classic_augment(x, 5)));
  EXPECT_FALSE(torch::equal(a, ganaug::classic_augment(x, 6)));
  EXPECT_EQ(a.sizes(), x.sizes());
  // Reflect border: no black pulled in for an all-white image.
  const auto white = torch::ones({4, 1, 10, 10});
  const auto r = ganaug::classic_augment(
      white, 1, ClassicAugmentOptions().border(ClassicAugmentOptions::Border::kReflect));
  EXPECT_TRUE(torch::allclose(r, white, 0, 1e-5));
}

TEST(ClassicAugment, ParseRoundTripAndErrors) {
  const auto o = ClassicAugmentOptions::parse("shift=3,rotate=5,zoom=1.2,flip=0,border=reflect");
  EXPECT_DOUBLE_EQ(o.max_shift(), 3);
  EXPECT_DOUBLE_EQ(o.max_rotation(), 5);
  EXPECT_DOUBLE_EQ(o.max_zoom(), 1.2);
  EXPECT_FALSE(o.horizontal_flip());
  EXPECT_EQ(o.border(), ClassicAugmentOptions::Border::kReflect);
  EXPECT_EQ(ClassicAugmentOptions::parse(o.to_string()).to_string(), o.to_string());
  EXPECT_EQ(ClassicAugmentOptions::parse("default").to_string(),
            ClassicAugmentOptions().to_string());
  expect_error([] { ClassicAugmentOptions::parse("spin=3"); }, {"unknown key 'spin'"});
  expect_error([] { ClassicAugmentOptions::parse("shift=abc"); }, {"'shift' needs a number"});
  expect_error([] { ClassicAugmentOptions::parse("shift=1.5"); }, {"whole pixels"});
  expect_error([] { ClassicAugmentOptions::parse("zoom=0.5"); }, {"zoom must lie in [1, 4]"});
  expect_error([] { ClassicAugmentOptions::parse("flip"); }, {"not key=value"});
  expect_error([] { ClassicAugmentOptions::parse("border=wrap"); },
               {"border is constant or reflect", "'wrap'"});
  // Random erasing: in the spec only when on, so that older specs read the same.
  EXPECT_EQ(ClassicAugmentOptions().to_string().find("erase"), std::string::npos);
  const auto erasing = ClassicAugmentOptions::parse("erase=0.5");
  EXPECT_DOUBLE_EQ(erasing.erase(), 0.5);
  EXPECT_EQ(ClassicAugmentOptions::parse(erasing.to_string()).erase(), 0.5);
  expect_error([] { ClassicAugmentOptions::parse("erase=2"); }, {"erase is a probability"});
}

TEST(ClassicAugment, RandomErasingFillsOneRectangleOfTheStatedSize) {
  const int64_t n = 400;
  const auto x = pattern(n);
  const auto plain = ganaug::classic_augment(x, 5, nothing());
  // Every other draw is unchanged: where nothing is erased, the image is the plain one.
  const auto erased = ganaug::classic_augment(x, 5, nothing().erase(1.0));
  int64_t touched = 0;
  for (int64_t i = 0; i < n; ++i) {
    const auto changed = erased[i].ne(plain[i]).any(0);  // H x W
    const auto rows = torch::nonzero(changed.any(1)).flatten();
    const auto cols = torch::nonzero(changed.any(0)).flatten();
    if (rows.numel() == 0) continue;
    ++touched;
    const int64_t h = rows.max().item<int64_t>() - rows.min().item<int64_t>() + 1;
    const int64_t w = cols.max().item<int64_t>() - cols.min().item<int64_t>() + 1;
    // One rectangle (random values may equal the old ones here and there, never outside it),
    // with 2-40% of the 144 pixels give or take the rounding of its sides.
    EXPECT_LE(h * w, static_cast<int64_t>(0.4 * 144 * 1.3) + 1) << i;
    EXPECT_GE(h * w, 1) << i;
    EXPECT_TRUE(torch::all(erased[i].le(1) & erased[i].ge(-1)).item<bool>());
  }
  EXPECT_GE(touched, n * 95 / 100) << "probability 1 erases (nearly) every image";
  // Probability 0.5: about half of them.
  const auto half = ganaug::classic_augment(x, 5, nothing().erase(0.5));
  const auto hit = half.ne(plain).flatten(1).any(1).sum().item<int64_t>();
  EXPECT_NEAR(static_cast<double>(hit) / n, 0.5, 0.1);
}

TEST(ClassicAugment, WeakAndStrongViewsOfConsistencyTraining) {
  const auto classic = ganaug::ClassicAugmentOptions::parse("shift=3,rotate=5,flip=0,erase=0.5");
  // The weak view: the same setting without erasing.
  EXPECT_EQ(ganaug::weak_augment_options(classic).to_string(),
            "shift=3,rotate=5,zoom=1,flip=0,border=constant");
  EXPECT_EQ(ganaug::weak_augment_options().to_string(),
            ganaug::ClassicAugmentOptions().to_string());
  // The strong view: at least shift 4, rotation 15, zoom 1.2, and erasing on every image.
  EXPECT_EQ(ganaug::strong_augment_options(classic).to_string(),
            "shift=4,rotate=15,zoom=1.2,flip=0,border=constant,erase=1");
  EXPECT_EQ(
      ganaug::strong_augment_options(ganaug::ClassicAugmentOptions::parse("shift=6,rotate=20"))
          .to_string(),
      "shift=6,rotate=20,zoom=1.2,flip=1,border=constant,erase=1");
}

// randaugment=1: the warp, then RandAugment and Cutout (FixMatch's strong augmentation of the
// labeled images), drawn from the batch's seed; the weak view of pool images leaves it out.
TEST(ClassicAugment, RandAugmentOnTheLabeledImagesAfterTheWarp) {
  const auto with = ClassicAugmentOptions::parse("erase=0.5,randaugment=1");
  EXPECT_TRUE(with.rand_augment());
  EXPECT_EQ(with.to_string(),
            "shift=2,rotate=0,zoom=1,flip=1,border=constant,erase=0.5,randaugment=1");
  EXPECT_EQ(ClassicAugmentOptions::parse(with.to_string()).to_string(), with.to_string());
  EXPECT_FALSE(ganaug::weak_augment_options(with).rand_augment());
  expect_error([] { ClassicAugmentOptions::parse("randaugment=2"); }, {"randaugment is 0 or 1"});
  const auto x = torch::rand({6, 1, 16, 16}) * 2 - 1;
  const auto plain = ganaug::classic_augment(x, 7, ClassicAugmentOptions().erase(0.5));
  const auto augmented = ganaug::classic_augment(x, 7, with);
  EXPECT_TRUE(torch::equal(augmented, ganaug::classic_augment(x, 7, with)));
  EXPECT_TRUE(torch::equal(
      augmented,
      ganaug::rand_augment(plain, ganaug::mix_seed(7, ganaug::streams::kClassicRandAugment))));
  EXPECT_FALSE(torch::equal(augmented, plain));
}

TEST(ClassicAugment, DrivesClassifierTraining) {
  ganaug::LabeledDataset data;
  data.images = torch::rand({40, 1, 12, 12}) * 2 - 1;
  data.labels = torch::arange(40, torch::kInt64) % 2;
  data.class_names = {"a", "b"};
  data.source = "random";
  int calls = 0;
  ganaug::ClassifierHooks hooks;
  const auto augmenter = ganaug::classic_augmenter();
  hooks.augment = [&](const torch::Tensor& images, uint64_t seed) {
    ++calls;
    return augmenter(images, seed);
  };
  auto model = ganaug::train_classifier(
      data, nullptr, ganaug::ClassifierOptions(2, 12, 1).epochs(2).batch_size(16).width(4), hooks);
  EXPECT_EQ(calls, 2 * 3);
  EXPECT_FALSE(
      torch::isnan(ganaug::predict_probabilities(model, data.images, 2)).any().item<bool>());
}

}  // namespace ganaug_tests_classic_augment
