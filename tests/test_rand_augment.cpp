#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ganaug/datasets/classic_augment.hpp"
#include "ganaug/datasets/rand_augment.hpp"
#include "ganaug/seed_streams.hpp"
#include "test_support.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_rand_augment {

using ganaug::RandAugmentOp;
using ganaug::RandAugmentOptions;
using ganaug::StrongViewOptions;
using ganaug::testing::expect_error;
using torch::indexing::Slice;

namespace {

// 8-bit pixel values (H x W, one channel) as an image in [-1, 1].
torch::Tensor gray(const torch::Tensor& bytes) {
  return (bytes.to(torch::kFloat32) / 127.5 - 1).unsqueeze(0);
}

// An image back to its 8-bit values (rounded), C x H x W.
torch::Tensor bytes_of(const torch::Tensor& image) {
  return ((image + 1) * 127.5).round().to(torch::kInt64);
}

// Equal up to the rounding of the float <-> 8-bit conversion.
bool same(const torch::Tensor& a, const torch::Tensor& b) { return torch::allclose(a, b, 0, 1e-6); }

torch::Tensor op(const torch::Tensor& image, RandAugmentOp o, double magnitude) {
  return ganaug::apply_rand_augment_op(image, o, magnitude);
}

// A 20x20 gray image, black but for a bright vertical line in column 10.
torch::Tensor line_image() {
  auto b = torch::zeros({20, 20}, torch::kInt64);
  b.index_put_({Slice(), 10}, 255);
  return gray(b);
}

// Column of the bright pixel in row `r` of a C x H x W image (-1 when none).
int64_t bright_column(const torch::Tensor& image, int64_t r) {
  const auto row = image[0][r];
  if (row.max().item<float>() < 0.5f) return -1;
  return row.argmax().item<int64_t>();
}

}  // namespace

TEST(RandAugment, OpListFollowsFixMatchAndLeavesColorToRgb) {
  EXPECT_EQ(ganaug::rand_augment_ops(3).size(), 14u);
  const auto gray_ops = ganaug::rand_augment_ops(1);
  EXPECT_EQ(gray_ops.size(), 13u);
  EXPECT_EQ(std::count(gray_ops.begin(), gray_ops.end(), RandAugmentOp::kColor), 0);
  EXPECT_EQ(ganaug::to_string(RandAugmentOp::kShearX), "shear-x");
  EXPECT_EQ(ganaug::to_string(RandAugmentOp::kTranslateY), "translate-y");
}

TEST(RandAugment, IdentityAutoContrastAndEqualize) {
  const auto b = torch::tensor({64, 96, 128, 192}, torch::kInt64).view({2, 2});
  const auto x = gray(b);
  EXPECT_TRUE(same(op(x, RandAugmentOp::kIdentity, 0.3), x));
  // Autocontrast stretches [64, 192] to [0, 255]: 96 -> 63.75, 128 -> 127.5.
  const auto stretched = bytes_of(op(x, RandAugmentOp::kAutoContrast, 0));
  EXPECT_EQ(stretched[0][0][0].item<int64_t>(), 0);
  EXPECT_EQ(stretched[0][1][1].item<int64_t>(), 255);
  EXPECT_NEAR(stretched[0][0][1].item<int64_t>(), 64, 1);
  EXPECT_NEAR(stretched[0][1][0].item<int64_t>(), 128, 1);
  // A flat image stays as it is.
  const auto flat = gray(torch::full({3, 3}, 90, torch::kInt64));
  EXPECT_TRUE(same(op(flat, RandAugmentOp::kAutoContrast, 0), flat));
  // Two levels equalize to black and white.
  const auto two = gray(torch::tensor({100, 100, 150, 150}, torch::kInt64).view({2, 2}));
  EXPECT_TRUE(torch::equal(bytes_of(op(two, RandAugmentOp::kEqualize, 0)),
                           torch::tensor({0, 0, 255, 255}, torch::kInt64).view({1, 2, 2})));
}

TEST(RandAugment, SolarizePosterizeBrightnessContrast) {
  const auto b = torch::tensor({0, 55, 128, 255}, torch::kInt64).view({2, 2});
  const auto x = gray(b);
  // Threshold 0 inverts every pixel, threshold 1 (256) none, 0.5 those from 128 up.
  EXPECT_TRUE(torch::allclose(op(x, RandAugmentOp::kSolarize, 0), -x, 0, 1e-6));
  EXPECT_TRUE(same(op(x, RandAugmentOp::kSolarize, 1), x));
  EXPECT_TRUE(torch::equal(bytes_of(op(x, RandAugmentOp::kSolarize, 0.5)),
                           torch::tensor({0, 55, 127, 0}, torch::kInt64).view({1, 2, 2})));
  // Posterize keeps the top 4 bits at magnitude 0 and all 8 at 1.
  EXPECT_TRUE(torch::equal(bytes_of(op(x, RandAugmentOp::kPosterize, 0)),
                           torch::tensor({0, 48, 128, 240}, torch::kInt64).view({1, 2, 2})));
  EXPECT_TRUE(same(op(x, RandAugmentOp::kPosterize, 1), x));
  // Brightness 0.95 (magnitude 1) scales towards black.
  EXPECT_TRUE(torch::equal(bytes_of(op(x, RandAugmentOp::kBrightness, 1)),
                           torch::tensor({0, 52, 122, 242}, torch::kInt64).view({1, 2, 2})));
  // Contrast 0.05 (magnitude 0) pulls every pixel towards the mean (109.5 -> 110):
  // 110 + 0.05 (p - 110), rounded.
  const auto c = bytes_of(op(x, RandAugmentOp::kContrast, 0)).to(torch::kFloat64);
  const auto want = torch::tensor({104.5, 107.25, 110.9, 117.25}, torch::kFloat64).view({1, 2, 2});
  EXPECT_TRUE(torch::allclose(c, want, 0, 0.51)) << c;
}

TEST(RandAugment, SharpnessBlendsTowardsThePilSmoothFilter) {
  auto b = torch::zeros({5, 5}, torch::kInt64);
  b[2][2] = 255;
  const auto x = gray(b);
  // Smoothed centre: 255 * 5 / 13 = 98.1; factor 0.05: 98.1 + 0.05 * (255 - 98.1) = 105.9.
  const auto s = bytes_of(op(x, RandAugmentOp::kSharpness, 0));
  EXPECT_EQ(s[0][2][2].item<int64_t>(), 106);
  // A neighbour: 255 / 13 = 19.6, times 0.95 = 18.6.
  EXPECT_EQ(s[0][1][2].item<int64_t>(), 19);
  // The outermost pixels keep their values.
  EXPECT_TRUE(torch::equal(s[0][0], b[0]));
  const auto flat = gray(torch::full({4, 4}, 70, torch::kInt64));
  EXPECT_TRUE(same(op(flat, RandAugmentOp::kSharpness, 0.7), flat));
}

TEST(RandAugment, GeometricOpsMoveContentAsTheyShould) {
  const auto x = line_image();
  // Magnitude 0.5 is the middle of +-range: no shear, shift or rotation.
  for (const auto o : {RandAugmentOp::kShearX, RandAugmentOp::kShearY, RandAugmentOp::kTranslateX,
                       RandAugmentOp::kTranslateY, RandAugmentOp::kRotate})
    EXPECT_TRUE(same(op(x, o, 0.5), x)) << ganaug::to_string(o);
  // Shear x by 0.3: row y samples column x + 0.3 y, so the line moves left by 0.3 y.
  const auto sheared = op(x, RandAugmentOp::kShearX, 1);
  EXPECT_EQ(bright_column(sheared, 0), 10);
  EXPECT_EQ(bright_column(sheared, 10), 7);
  // Translate x by 0.3 of 20 = 6 pixels (black comes in).
  const auto moved = op(x, RandAugmentOp::kTranslateX, 1);
  EXPECT_EQ(bright_column(moved, 5), 4);
  EXPECT_EQ(bright_column(op(x, RandAugmentOp::kTranslateX, 0), 5), 16);
  EXPECT_TRUE(torch::all(moved.index({0, Slice(), Slice(14, 20)}) == -1).item<bool>());
  // Shear y and translate y do to rows what the x ops do to columns.
  const auto across = x.transpose(1, 2).contiguous();
  EXPECT_TRUE(torch::equal(op(across, RandAugmentOp::kShearY, 1).transpose(1, 2), sheared));
  EXPECT_TRUE(torch::equal(op(across, RandAugmentOp::kTranslateY, 1).transpose(1, 2), moved));
  // Rotate +30 degrees (counter-clockwise as shown): a blob 6 pixels right of the centre of a
  // 17x17 image goes to about (row 8 - 3, column 8 + 5.2).
  auto b = torch::zeros({17, 17}, torch::kInt64);
  b.index_put_({Slice(7, 10), Slice(13, 16)}, 255);
  const auto turned = op(gray(b), RandAugmentOp::kRotate, 1)[0] + 1;
  const auto rows = torch::arange(17, torch::kFloat32).view({17, 1});
  const auto cols = torch::arange(17, torch::kFloat32).view({1, 17});
  const double mass = turned.sum().item<double>();
  EXPECT_NEAR((turned * rows).sum().item<double>() / mass, 5.0, 0.6);
  EXPECT_NEAR((turned * cols).sum().item<double>() / mass, 13.2, 0.6);
}

TEST(RandAugment, ColorDesaturatesRgbAndEveryOpTreatsEqualChannelsAsGray) {
  // Pure red at factor 0.05 (magnitude 0): gray 76.2, R 76.2 + 0.05 * 178.8 = 85.2, G and B
  // 76.2 * 0.95 = 72.4.
  auto red = torch::full({3, 2, 2}, -1.0f);
  red[0].fill_(1.0f);
  const auto c = bytes_of(op(red, RandAugmentOp::kColor, 0));
  EXPECT_EQ(c[0][0][0].item<int64_t>(), 85);
  EXPECT_EQ(c[1][0][0].item<int64_t>(), 72);
  EXPECT_EQ(c[2][0][0].item<int64_t>(), 72);
  // An RGB image whose channels are equal comes out as the gray image does, op by op.
  torch::manual_seed(3);
  const auto g = gray(torch::randint(0, 256, {9, 9}, torch::kInt64));
  const auto rgb = g.repeat({3, 1, 1});
  for (const auto o : ganaug::rand_augment_ops(3)) {
    for (const double m : {0.0, 0.35, 1.0}) {
      const auto want = o == RandAugmentOp::kColor ? g : op(g, o, m);
      const auto got = op(rgb, o, m);
      for (int64_t ch = 0; ch < 3; ++ch)
        EXPECT_TRUE(same(got[ch], want[0])) << ganaug::to_string(o) << " at " << m;
    }
  }
}

TEST(RandAugment, CutoutFillsAClippedGraySquare) {
  const auto x = torch::full({3, 12, 12}, -1.0f);
  const auto y = ganaug::cutout(x, 4, 5, 5);
  EXPECT_TRUE(torch::all(y.index({Slice(), Slice(3, 7), Slice(3, 7)}) == 0).item<bool>());
  EXPECT_EQ((y == 0).sum().item<int64_t>(), 3 * 16);
  // At a corner only the part inside the image.
  EXPECT_EQ((ganaug::cutout(x, 4, 0, 0) == 0).sum().item<int64_t>(), 3 * 4);
  EXPECT_TRUE(torch::equal(ganaug::cutout(x, 0, 5, 5), x));
}

TEST(RandAugment, BatchesRepeatPerSeedAndStayInRange) {
  torch::manual_seed(0);
  for (const int64_t channels : {1, 3}) {
    const auto x = torch::rand({16, channels, 14, 14}) * 2 - 1;
    const auto a = ganaug::rand_augment(x, 9);
    EXPECT_EQ(a.sizes(), x.sizes());
    EXPECT_TRUE(torch::equal(a, ganaug::rand_augment(x, 9)));
    EXPECT_FALSE(torch::equal(a, ganaug::rand_augment(x, 10)));
    EXPECT_TRUE(torch::all(a.ge(-1) & a.le(1)).item<bool>());
    // Images of one batch get draws of their own.
    const auto same = x[0].unsqueeze(0).repeat({16, 1, 1, 1});
    const auto views = ganaug::rand_augment(same, 9);
    EXPECT_FALSE(torch::equal(views[0], views[1]) && torch::equal(views[1], views[2]));
  }
  // No op and no Cutout: the image itself, up to 8-bit rounding.
  const auto x = torch::rand({4, 1, 8, 8}) * 2 - 1;
  EXPECT_TRUE(torch::allclose(ganaug::rand_augment(x, 1, RandAugmentOptions().ops(0).cutout(0)), x,
                              0, 1 / 255.0));
  expect_error([] { ganaug::rand_augment(torch::zeros({2, 2, 8, 8}), 1); }, {"1 or 3 channels"});
}

// The published code's draws (kekmodel/FixMatch-pytorch, RandAugmentMC and CutoutAbs): each op
// applied with probability p, Cutout always of the full side asked for.
TEST(RandAugment, PublishedOpProbabilityAndFixedCutout) {
  const auto x = torch::rand({200, 1, 16, 16}) * 2 - 1;
  // p = 0: no op is applied, as with no ops at all.
  EXPECT_TRUE(
      torch::equal(ganaug::rand_augment(x, 3, RandAugmentOptions().op_probability(0).cutout(0)),
                   ganaug::rand_augment(x, 3, RandAugmentOptions().ops(0).cutout(0))));
  // p = 0.5: some images keep both ops off, others not.
  const auto half = ganaug::rand_augment(x, 3, RandAugmentOptions().op_probability(0.5).cutout(0));
  const auto none = ganaug::rand_augment(x, 3, RandAugmentOptions().ops(0).cutout(0));
  const auto unchanged = (half == none).flatten(1).all(1).sum().item<int64_t>();
  EXPECT_GT(unchanged, 20);  // about a quarter of 200
  EXPECT_LT(unchanged, 100);
  // Cutout of a drawn side hides nothing on some images; of the fixed side (8 of 16 pixels,
  // clipped at the edges) at least a 4 x 4 corner on every image, the whole square on most.
  const auto ones = torch::ones({200, 1, 16, 16});
  const auto hidden = [&](RandAugmentOptions o) {
    return (ganaug::rand_augment(ones, 5, o.ops(0)) == 0).flatten(1).sum(1);
  };
  const auto drawn = hidden(RandAugmentOptions());
  const auto fixed = hidden(RandAugmentOptions().fixed_cutout(true));
  EXPECT_EQ(drawn.min().item<int64_t>(), 0);
  EXPECT_GE(fixed.min().item<int64_t>(), 16);
  EXPECT_EQ(fixed.max().item<int64_t>(), 64);
  EXPECT_GT(fixed.to(torch::kFloat64).mean().item<double>(),
            drawn.to(torch::kFloat64).mean().item<double>());
  // Their spec, read back; the default's spec is unchanged.
  const auto published = RandAugmentOptions::parse("p=0.5,fixed=1");
  EXPECT_DOUBLE_EQ(published.op_probability(), 0.5);
  EXPECT_TRUE(published.fixed_cutout());
  EXPECT_EQ(published.to_string(), "ops=2,cutout=0.5,p=0.5,fixed=1");
  EXPECT_EQ(RandAugmentOptions::parse(published.to_string()).to_string(), published.to_string());
  expect_error([] { RandAugmentOptions::parse("p=1.5"); }, {"p is a probability in [0, 1]"});
  expect_error([] { RandAugmentOptions::parse("fixed=2"); }, {"fixed is 0 or 1"});
}

TEST(RandAugment, SpecsParseAndRefuseWhatIsWrong) {
  const auto o = RandAugmentOptions::parse("ops=3,cutout=0.25");
  EXPECT_EQ(o.ops(), 3);
  EXPECT_DOUBLE_EQ(o.cutout(), 0.25);
  EXPECT_EQ(RandAugmentOptions::parse(o.to_string()).to_string(), o.to_string());
  EXPECT_EQ(RandAugmentOptions::parse("").to_string(), "ops=2,cutout=0.5");
  expect_error([] { RandAugmentOptions::parse("ops=1.5"); }, {"whole number"});
  expect_error([] { RandAugmentOptions::parse("cutout=2"); }, {"cutout", "[0, 1]"});
  expect_error([] { RandAugmentOptions::parse("level=3"); }, {"unknown key 'level'"});
  expect_error([] { RandAugmentOptions::parse("ops"); }, {"not key=value"});

  EXPECT_EQ(StrongViewOptions::parse("classic").kind(), StrongViewOptions::Kind::kClassicWarp);
  const auto ra = StrongViewOptions::parse("randaugment:ops=1");
  EXPECT_EQ(ra.kind(), StrongViewOptions::Kind::kRandAugment);
  EXPECT_EQ(ra.rand_augment().ops(), 1);
  EXPECT_EQ(ra.to_string(), "randaugment:ops=1,cutout=0.5");
  EXPECT_EQ(StrongViewOptions::parse(ra.to_string()).to_string(), ra.to_string());
  EXPECT_EQ(StrongViewOptions::parse("randaugment").to_string(), "randaugment:ops=2,cutout=0.5");
  expect_error([] { StrongViewOptions::parse("randomaugment"); }, {"neither classic nor"});
  expect_error([] { StrongViewOptions::parse("randaugment:ops=9"); }, {"ops must lie in [0, 8]"});
}

TEST(RandAugment, StrongViewShiftsFlipsThenAugments) {
  torch::manual_seed(1);
  const auto x = torch::rand({8, 1, 12, 12}) * 2 - 1;
  const auto strong = ganaug::strong_augmenter(
      nullptr, StrongViewOptions().kind(StrongViewOptions::Kind::kRandAugment));
  const auto a = strong(x, 4);
  EXPECT_TRUE(torch::equal(a, strong(x, 4)));
  // The weak view's shift and flip, then RandAugment from a stream of its own.
  const auto weak = ganaug::classic_augment(x, 4, ganaug::weak_augment_options());
  EXPECT_TRUE(torch::equal(
      a, ganaug::rand_augment(weak, ganaug::mix_seed(4, ganaug::streams::kStrongRandAugment))));
  // The classic-warp view is ganaug 0.4's.
  const auto old = ganaug::strong_augmenter(nullptr, StrongViewOptions::parse("classic"));
  EXPECT_TRUE(
      torch::equal(old(x, 4), ganaug::classic_augment(x, 4, ganaug::strong_augment_options())));
  // classic_hooks hands it on as the strong view of the pool.
  const auto hooks = ganaug::classic_hooks(nullptr, StrongViewOptions::parse("randaugment"));
  EXPECT_TRUE(torch::equal(hooks.strong_augment(x, 4), a));
  EXPECT_FALSE(hooks.augment);
}

}  // namespace ganaug_tests_rand_augment
