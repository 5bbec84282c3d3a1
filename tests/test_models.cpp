#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ganaug/error.hpp"
#include "ganaug/models.hpp"
#include "ganaug/spectral_norm.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_models {

TEST(Models, GeneratorAndDiscriminatorShapes) {
  torch::manual_seed(0);
  for (int64_t size : {16, 28, 32, 64, 96, 128}) {
    for (int64_t channels : {1, 3}) {
      ganaug::Generator g(ganaug::GeneratorOptions(4, size, channels).width(8));
      ganaug::Discriminator d(ganaug::DiscriminatorOptions(4, size, channels).width(8));
      const auto classes = torch::tensor({0, 1, 2, 3, 3}, torch::kInt64);
      const auto images = g(torch::randn({5, g->options.latent_dim()}), classes);
      ASSERT_EQ(images.sizes(), (std::vector<int64_t>{5, channels, size, size}))
          << "size " << size << " channels " << channels;
      EXPECT_LE(images.max().item<float>(), 1.0f);
      EXPECT_GE(images.min().item<float>(), -1.0f);
      EXPECT_EQ(d(images, classes).sizes(), (std::vector<int64_t>{5}));
    }
  }
}

TEST(Models, GrayDiscriminatorRunsChannelsLastWithTheSameScores) {
  torch::manual_seed(0);
  const auto options = ganaug::DiscriminatorOptions(4, 16, 1).width(8);
  ganaug::Discriminator fast(options), plain(options);
  plain->eval();
  fast->eval();  // spectral norm leaves its vectors alone
  torch::NoGradGuard no_grad;
  auto plain_parameters = plain->named_parameters();
  for (const auto& p : fast->named_parameters()) plain_parameters[p.key()].copy_(p.value());
  auto plain_buffers = plain->named_buffers();
  for (const auto& b : fast->named_buffers()) plain_buffers[b.key()].copy_(b.value());
  for (auto& p : fast->parameters()) {
    if (p.dim() == 4) {
      EXPECT_EQ(p.suggest_memory_format(), at::MemoryFormat::ChannelsLast);
    }
  }
  for (auto& p : plain->parameters())
    if (p.dim() == 4 && p.size(1) == 1) p.set_data(torch::empty(p.sizes()).copy_(p.data()));
  const auto images = torch::rand({6, 1, 16, 16}) * 2 - 1;
  const auto classes = torch::tensor({0, 1, 2, 3, -1, 2}, torch::kInt64);
  EXPECT_TRUE(torch::allclose(fast(images, classes), plain(images, classes), 1e-4, 1e-5));
}

TEST(Models, MinibatchStdKeepsRealAndFakeHalvesApart) {
  // 8 identical images then 8 varied ones: the first half's groups see no spread at all, the
  // second half's do, and no group mixes the two.
  const auto same = torch::ones({8, 3, 5, 5}) * 0.3;
  const auto varied = torch::randn({8, 3, 5, 5});
  ganaug::MinibatchStd layer;
  const auto out = layer(torch::cat({same, varied}));
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{16, 4, 5, 5}));
  EXPECT_TRUE(torch::equal(out.slice(1, 0, 3), torch::cat({same, varied})));
  const auto spread = out.select(1, 3).mean({1, 2});
  EXPECT_LT(spread.slice(0, 0, 8).max().item<float>(), 1e-3f);
  EXPECT_GT(spread.slice(0, 8, 16).min().item<float>(), 0.3f);
  // Odd batches fall back to groups of one.
  EXPECT_EQ(layer(torch::randn({5, 2, 3, 3})).size(1), 3);
  // The feature is the population std over each group of 4, averaged over features, whatever
  // the input's memory format.
  const auto x = torch::randn({8, 6, 5, 5});
  const auto expected = (x.reshape({2, 4, -1}).var(1, /*unbiased=*/false) + 1e-8).sqrt().mean(1);
  for (const auto& input : {x, x.contiguous(torch::MemoryFormat::ChannelsLast)}) {
    const auto feature = layer(input).select(1, 6);
    EXPECT_TRUE(torch::allclose(feature.amax({1, 2}), expected.repeat_interleave(4), 1e-5, 1e-6));
    EXPECT_TRUE(torch::allclose(feature.amin({1, 2}), expected.repeat_interleave(4), 1e-5, 1e-6));
  }
}

TEST(Models, DiscriminatorWithoutProjectionOrSpectralNorm) {
  ganaug::Discriminator d(
      ganaug::DiscriminatorOptions(3, 28, 1).width(8).projection(false).spectral_norm(false));
  EXPECT_EQ(d(torch::randn({2, 1, 28, 28}), torch::tensor({0, 2}, torch::kInt64)).sizes(),
            (std::vector<int64_t>{2}));
}

TEST(Models, RejectsUnsupportedShapes) {
  try {
    ganaug::Generator g(ganaug::GeneratorOptions(10, 30, 1));
    FAIL() << "expected ganaug::Error";
  } catch (const ganaug::Error& e) {
    EXPECT_NE(std::string(e.what()).find("image size 30 is not supported"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(ganaug::Discriminator(ganaug::DiscriminatorOptions(10, 28, 2)), ganaug::Error);
  for (const int64_t size : {12, 68, 100, 132, 136})  // above 64: multiples of 8 up to 128
    EXPECT_THROW(ganaug::Generator(ganaug::GeneratorOptions(10, size, 1)), ganaug::Error) << size;
}

TEST(Models, Above64PixelsTheGeneratorGainsAnUpsamplingStage) {
  // Up to 64 pixels the generator is as it was (the same layers, so the same weights and
  // images for a seed); above, one more sub-pixel stage ("conv3", "norm3") keeps the
  // projection at 16 x 16 at most.
  const auto names = [](int64_t size) {
    ganaug::Generator g(ganaug::GeneratorOptions(3, size, 1).width(8));
    std::vector<std::string> out;
    for (const auto& p : g->named_parameters()) out.push_back(p.key());
    return std::make_pair(out, g->named_parameters()["project.weight"].size(0));
  };
  const std::vector<std::string> original = {
      "class_embedding.weight", "project.weight",  "project.bias", "norm0.scale.weight",
      "norm0.shift.weight",     "conv1.weight",    "conv1.bias",   "norm1.scale.weight",
      "norm1.shift.weight",     "conv2.weight",    "conv2.bias",   "norm2.scale.weight",
      "norm2.shift.weight",     "to_image.weight", "to_image.bias"};
  for (const int64_t size : {16, 64}) EXPECT_EQ(names(size).first, original) << size;
  auto extended = original;
  extended.insert(extended.begin() + 13,
                  {"conv3.weight", "conv3.bias", "norm3.scale.weight", "norm3.shift.weight"});
  for (const int64_t size : {96, 128}) EXPECT_EQ(names(size).first, extended) << size;
  EXPECT_EQ(names(128).second, 2 * 8 * 16 * 16);  // the projection: 2 x width x 16 x 16
  EXPECT_EQ(names(96).second, 2 * 8 * 12 * 12);
  EXPECT_EQ(names(64).second, 2 * 8 * 16 * 16);
}

TEST(Models, ProjectionMakesScoreDependOnClass) {
  torch::manual_seed(1);
  ganaug::Discriminator d(ganaug::DiscriminatorOptions(3, 16, 1).width(8));
  d->eval();
  const auto images = torch::randn({1, 1, 16, 16});
  const auto a = d(images, torch::tensor({0}, torch::kInt64)).item<float>();
  const auto b = d(images, torch::tensor({2}, torch::kInt64)).item<float>();
  EXPECT_NE(a, b);
}

TEST(Models, ClassMinusOneScoresWithoutAClass) {
  torch::manual_seed(2);
  const auto images = torch::randn({4, 1, 16, 16});
  const auto unknown = torch::full({4}, -1, torch::kInt64);
  for (const bool projection : {true, false}) {
    // Without minibatch std, so that rows of a batch do not see each other.
    ganaug::Discriminator d(ganaug::DiscriminatorOptions(3, 16, 1)
                                .width(8)
                                .projection(projection)
                                .spectral_norm(false)
                                .minibatch_std(false));
    d->eval();
    const auto none = d(images, unknown);
    ASSERT_TRUE(torch::isfinite(none).all().item<bool>());
    EXPECT_FALSE(torch::allclose(none, d(images, torch::zeros({4}, torch::kInt64))));
    // With the class input silenced (projection: the embedding; otherwise the class channels'
    // weights), every class scores as no class: -1 is exactly the unconditional term.
    torch::NoGradGuard no_grad;
    for (const auto& item : d->named_parameters()) {
      if (projection && item.key().find("embedding") != std::string::npos) item.value().zero_();
      if (!projection && item.value().dim() == 4 && item.value().size(1) == 1 + 3)
        item.value().slice(1, 1).zero_();
    }
    for (int64_t c = 0; c < 3; ++c)
      EXPECT_TRUE(torch::allclose(none, d(images, torch::full({4}, c, torch::kInt64)), 1e-5, 1e-6))
          << "projection " << projection << ", class " << c;
    // Mixed batches score each row on its own.
    const auto mixed = torch::tensor({-1, 0, -1, 2}, torch::kInt64);
    EXPECT_TRUE(torch::allclose(d(images, mixed).index_select(0, torch::tensor({0, 2})),
                                none.index_select(0, torch::tensor({0, 2}))));
  }
}

TEST(Models, ConditionalBatchNormSamplingMatchesTheUnfusedFormula) {
  // In evaluation mode the layer folds the running statistics into the per-class scale and
  // shift; the result must equal normalise-then-scale-and-shift.
  torch::manual_seed(3);
  ganaug::ConditionalBatchNorm layer(6, 4);
  for (int i = 0; i < 5; ++i) layer(torch::randn({8, 6, 5, 5}) * 3 + 1, torch::randint(4, {8}));
  {
    torch::NoGradGuard no_grad;
    for (auto& p : layer->parameters()) p.normal_();
  }
  layer->eval();
  const auto x = torch::randn({3, 6, 5, 5});
  const auto classes = torch::tensor({0, 3, 1}, torch::kInt64);
  const auto& norm = layer->norm;
  const auto normalised = (x - norm->running_mean.view({1, 6, 1, 1})) /
                          (norm->running_var.view({1, 6, 1, 1}) + norm->options.eps()).sqrt();
  const auto expected = normalised * layer->scale(classes).view({3, 6, 1, 1}) +
                        layer->shift(classes).view({3, 6, 1, 1});
  EXPECT_TRUE(torch::allclose(layer(x, classes), expected, 1e-4, 1e-5));
}

TEST(Models, FlopsGrowWithWidth) {
  EXPECT_GT(ganaug::forward_flops(ganaug::GeneratorOptions(10).width(64)),
            3 * ganaug::forward_flops(ganaug::GeneratorOptions(10).width(32)));
  EXPECT_GT(ganaug::forward_flops(ganaug::DiscriminatorOptions(10)), 0);
}

TEST(SpectralNorm, LargestSingularValueNearOne) {
  torch::manual_seed(2);
  ganaug::SNLinear linear(torch::nn::LinearOptions(20, 30));
  ganaug::SNConv2d conv(ganaug::SNConv2dOptions(3, 8, 3).padding(1));
  {
    torch::NoGradGuard no_grad;
    linear->weight_orig.mul_(10);  // far from 1 before normalisation
    conv->weight_orig.mul_(10);
  }
  const auto x = torch::randn({4, 20});
  const auto image = torch::randn({2, 3, 8, 8});
  for (int i = 0; i < 30; ++i) {  // one power-iteration step per training forward
    linear(x);
    conv(image);
  }
  const auto sigma_linear =
      at::linalg_svdvals(linear->normalised_weight().detach()).max().item<double>();
  const auto sigma_conv =
      at::linalg_svdvals(conv->normalised_weight().detach().reshape({8, -1})).max().item<double>();
  EXPECT_NEAR(sigma_linear, 1.0, 0.05);
  EXPECT_NEAR(sigma_conv, 1.0, 0.05);
  EXPECT_GT(at::linalg_svdvals(linear->weight_orig.detach()).max().item<double>(), 5.0);
}

TEST(SpectralNorm, EvaluationModeDoesNotUpdateVectors) {
  ganaug::SNLinear linear(torch::nn::LinearOptions(5, 5));
  linear->eval();
  const auto u = linear->named_buffers()["u"].clone();
  linear(torch::randn({2, 5}));
  EXPECT_TRUE(torch::equal(u, linear->named_buffers()["u"]));
  linear->train();
  linear(torch::randn({2, 5}));
  EXPECT_FALSE(torch::equal(u, linear->named_buffers()["u"]));
}

}  // namespace ganaug_tests_models
