#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "blobs.hpp"
#include "ganaug/classifier.hpp"
#include "ganaug/dataset.hpp"
#include "ganaug/error.hpp"
#include "ganaug/metrics.hpp"
#include "ganaug/runtime.hpp"
#include "ganaug/schemes.hpp"
#include "test_support.hpp"
#include "training/dropout_off.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_classifier {

namespace {

using ganaug::testing::blobs;

ganaug::ClassifierOptions small(int64_t outputs) {
  return ganaug::ClassifierOptions(outputs, 8, 1).width(4).epochs(8).batch_size(16).device("cpu");
}

// 15 labeled blobs followed by a pool of 120 (labels -1), and the strong view of the pool's
// consistency training: the image with noise.
struct PoolSetup {
  ganaug::LabeledDataset real;
  ganaug::ClassifierHooks hooks;
};
PoolSetup blobs_with_pool() {
  auto pool = blobs(40, 7);
  pool.labels.fill_(-1);
  PoolSetup setup{ganaug::concatenate({blobs(5, 1), pool}), {}};
  setup.hooks.strong_augment = [](const torch::Tensor& x, uint64_t seed) {
    auto rng = ganaug::make_cpu_generator(seed);
    return (x + 0.3 * torch::randn(x.sizes(), rng, torch::TensorOptions())).clamp(-1, 1);
  };
  return setup;
}

// 20 synthetic images that look like class 0 but carry the target of class 2.
ganaug::LabeledDataset class0_labeled_2() {
  auto synthetic = blobs(20, 6).select(torch::arange(0, 60, 3));
  synthetic.targets =
      ganaug::scheme_targets(ganaug::Scheme::kCond, torch::full({20}, 2, torch::kInt64), 3);
  return synthetic;
}

}  // namespace

TEST(Classifier, LearnsSeparableClasses) {
  const auto train = blobs(30, 1), test = blobs(20, 2);
  auto model = ganaug::train_classifier(train, nullptr, small(3));
  const auto m = ganaug::evaluate(model, test);
  EXPECT_GT(m.accuracy, 0.9);
  EXPECT_EQ(m.per_class_accuracy.size(), 3u);
  EXPECT_EQ(m.confusion.size(), 3u);
}

TEST(Classifier, ResnetOptionRuns) {
  const auto train = blobs(10, 1);
  auto model = ganaug::train_classifier(
      train, nullptr, small(3).architecture(ganaug::ClassifierArchitecture::kResnet).epochs(1));
  EXPECT_EQ(ganaug::predict_probabilities(model, train.images, 3).sizes(),
            (std::vector<int64_t>{30, 3}));
}

TEST(Classifier, AutoPicksTheNetworkAndWidthAndTheStridedOneSkipsAPooling) {
  using Architecture = ganaug::ClassifierArchitecture;
  EXPECT_EQ(ganaug::ClassifierOptions(3).architecture(), Architecture::kAuto);
  EXPECT_EQ(ganaug::ClassifierOptions(3).network(), Architecture::kCnn);
  EXPECT_EQ(ganaug::ClassifierOptions(3, 28, 3).network(), Architecture::kResnet);
  EXPECT_EQ(ganaug::ClassifierOptions(3, 28, 3).architecture(Architecture::kCnnStrided).network(),
            Architecture::kCnnStrided);
  ganaug::Classifier strided(ganaug::ClassifierOptions(3).architecture(Architecture::kCnnStrided)),
      pooled(ganaug::ClassifierOptions(3));
  EXPECT_EQ(pooled->options.architecture(), Architecture::kCnn);  // resolved
  EXPECT_EQ(pooled->options.width(), 24);
  EXPECT_EQ(ganaug::ClassifierOptions(3, 28, 3).network_width(), 32);
  EXPECT_EQ(ganaug::ClassifierOptions(3).width(16).network_width(), 16);
  // The same parameters (shapes), the same 7x7 grid before the fully connected layers: the second
  // convolution has stride 2 in place of the second 2x2 max pooling.
  const auto a = strided->named_parameters(), b = pooled->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].key(), b[i].key());
    EXPECT_EQ(a[i].value().sizes(), b[i].value().sizes()) << a[i].key();
  }
  auto count_pooling = [](ganaug::Classifier& model) {
    int n = 0;
    for (const auto& m : model->modules()) n += m->as<torch::nn::MaxPool2d>() != nullptr;
    return n;
  };
  EXPECT_EQ(count_pooling(strided), 1);
  EXPECT_EQ(count_pooling(pooled), 2);
  const auto stride =
      strided->named_modules()["features.4"]->as<torch::nn::Conv2d>()->options.stride();
  EXPECT_EQ(stride->at(0), 2);
  EXPECT_EQ(stride->at(1), 2);
  const auto images = torch::rand({5, 1, 28, 28});
  for (auto* model : {&strided, &pooled}) {
    EXPECT_EQ((*model)(images).sizes(), (std::vector<int64_t>{5, 3}));
    EXPECT_EQ((*model)->embed(images).sizes(), (std::vector<int64_t>{5, 128}));
  }
  // One name per network, read back by the parser; an unknown name is refused naming the known.
  for (const auto a :
       {Architecture::kAuto, Architecture::kCnn, Architecture::kCnnStrided, Architecture::kResnet})
    EXPECT_EQ(ganaug::parse_classifier_architecture(ganaug::to_string(a)), a);
  EXPECT_EQ(ganaug::to_string(Architecture::kCnnStrided), "cnn-strided");
  ganaug::testing::expect_error([] { ganaug::parse_classifier_architecture("vgg"); },
                                {"'vgg'", "auto, cnn-strided, cnn, resnet or a TorchScript file"});
  // A user's network is named in outputs, but its name is not a network to ask for.
  EXPECT_EQ(ganaug::to_string(Architecture::kCustom), "custom");
  ganaug::testing::expect_error([] { ganaug::parse_classifier_architecture("custom"); },
                                {"'custom'", "resnet or a TorchScript file"});
}

TEST(Classifier, DeterministicForSeed) {
  const auto train = blobs(10, 1);
  auto a = ganaug::train_classifier(train, nullptr, small(3).epochs(2).seed(4));
  auto b = ganaug::train_classifier(train, nullptr, small(3).epochs(2).seed(4));
  EXPECT_TRUE(torch::equal(ganaug::predict_probabilities(a, train.images, 3),
                           ganaug::predict_probabilities(b, train.images, 3)));
}

TEST(Classifier, GrayImagesRunChannelsLastWithTheSameResults) {
  // A 1-channel tensor counts as channels-last whatever its strides, so LibTorch would pick NCHW
  // kernels for the first stage unless the weights carry explicit NHWC strides.
  for (const auto network :
       {ganaug::ClassifierArchitecture::kCnnStrided, ganaug::ClassifierArchitecture::kCnn}) {
    SCOPED_TRACE(ganaug::to_string(network));
    const auto options = small(3).width(8).architecture(network);
    ganaug::Classifier fast(options), plain(options);
    fast->reset_parameters(3);
    plain->reset_parameters(3);
    const auto images = blobs(4, 9).images;
    {
      torch::NoGradGuard no_grad;
      for (auto& p : fast->parameters()) {
        if (p.dim() == 4) {
          EXPECT_EQ(p.suggest_memory_format(), at::MemoryFormat::ChannelsLast);
        }
      }
      // The same weights in NCHW strides: the old, slow path.
      for (auto& p : plain->parameters())
        if (p.dim() == 4 && p.size(1) == 1) p.set_data(torch::empty(p.sizes()).copy_(p.data()));
      ASSERT_EQ(plain->parameters().front().suggest_memory_format(), at::MemoryFormat::Contiguous);
      for (bool training : {true, false}) {
        fast->train(training);
        plain->train(training);
        EXPECT_TRUE(torch::allclose(fast(images), plain(images), 1e-4, 1e-5)) << training;
      }
    }
    fast->train();
    plain->train();
    fast(images).square().sum().backward();
    plain(images).square().sum().backward();
    const auto a = fast->parameters(), b = plain->parameters();
    for (size_t i = 0; i < a.size(); ++i)
      EXPECT_TRUE(torch::allclose(a[i].grad(), b[i].grad(), 1e-3, 1e-4)) << "parameter " << i;
  }
}

TEST(Classifier, NewClassPredictsOverFirstK) {
  const auto train = blobs(20, 1);
  // Synthetic images: pure noise, all labeled as the extra class 3.
  auto synthetic = blobs(20, 3);
  synthetic.images = torch::rand_like(synthetic.images) * 2 - 1;
  synthetic.targets = ganaug::scheme_targets(ganaug::Scheme::kNewClass, synthetic.labels, 3);
  auto model = ganaug::train_classifier(train, &synthetic, small(4).synthetic_share(0.5));
  EXPECT_EQ(model->options.num_outputs(), 4);
  // The classifier does predict the extra class on noise...
  const auto logits = model(synthetic.images);
  EXPECT_GT(logits.argmax(1).eq(3).sum().item<int64_t>(), synthetic.size() / 2);
  // ...but predictions and metrics only ever name real classes.
  const auto probabilities = ganaug::predict_probabilities(model, synthetic.images, 3);
  EXPECT_EQ(probabilities.size(1), 3);
  EXPECT_TRUE(torch::allclose(probabilities.sum(1), torch::ones({synthetic.size()}), 1e-5));
  EXPECT_GT(ganaug::evaluate(model, blobs(10, 5)).accuracy, 0.8);
}

TEST(Classifier, DynamicArgmaxRelabelsEveryBatchAfterTheWarmUp) {
  // 60 real images in batches of 16: 4 steps an epoch, 32 in all; a warm-up of half of them.
  const auto train = blobs(20, 1);
  const auto synthetic = class0_labeled_2();
  std::vector<int64_t> steps;
  int64_t relabeled = 0, own_targets = 0;
  ganaug::ClassifierHooks hooks;
  hooks.on_synthetic_batch = [&](int64_t step, const torch::Tensor& logits,
                                 const torch::Tensor& targets) {
    steps.push_back(step);
    const auto own = torch::nn::functional::one_hot(logits.argmax(1), 3).to(torch::kFloat32);
    relabeled += torch::equal(targets, own) ? 1 : 0;
    own_targets += targets.select(1, 2).eq(1).all().item<bool>() ? 1 : 0;
  };
  ganaug::train_classifier(train, &synthetic,
                           small(3).dynamic_argmax(true).warmup_share(0.5).synthetic_share(0.5),
                           hooks);
  ASSERT_EQ(steps.size(), 16u) << "synthetic images in every step after the warm-up, none before";
  EXPECT_EQ(steps.front(), 16);
  EXPECT_EQ(steps.back(), 31);
  EXPECT_EQ(relabeled, 16) << "each batch's targets are that batch's own predictions";
  // Without dynamic argmax the synthetic set's targets (class 2) are used from the first step.
  steps.clear();
  relabeled = own_targets = 0;
  ganaug::train_classifier(train, &synthetic, small(3).synthetic_share(0.5), hooks);
  ASSERT_EQ(steps.size(), 32u);
  EXPECT_EQ(steps.front(), 0);
  EXPECT_EQ(own_targets, 32);
}

TEST(Classifier, DynamicArgmaxRelabelsSyntheticImages) {
  const auto train = blobs(20, 1);
  // Synthetic images that look like class 0 but carry the wrong (class 2) target: dynamic
  // argmax replaces the target with the model's own prediction after the warm-up.
  const auto synthetic = class0_labeled_2();
  std::vector<double> losses;
  ganaug::ClassifierHooks hooks;
  hooks.on_epoch = [&](const ganaug::ClassifierProgress& p) { losses.push_back(p.loss); };
  auto dynamic = ganaug::train_classifier(
      train, &synthetic,
      small(3).dynamic_argmax(true).warmup_share(0.375).dynamic_weight(1.0).synthetic_share(0.5),
      hooks);
  auto fixed = ganaug::train_classifier(train, &synthetic,
                                        small(3).synthetic_share(0.5).synthetic_weight(1.0));
  EXPECT_EQ(losses.size(), 8u);
  const auto dynamic_zero =
      ganaug::predict_probabilities(dynamic, synthetic.images, 3).argmax(1).eq(0).sum();
  const auto fixed_zero =
      ganaug::predict_probabilities(fixed, synthetic.images, 3).argmax(1).eq(0).sum();
  // Relabeled by the model itself, the synthetic images stay class 0; trained on the wrong
  // fixed label, far fewer do.
  EXPECT_GE(dynamic_zero.item<int64_t>(), 18);
  EXPECT_GT(dynamic_zero.item<int64_t>(), fixed_zero.item<int64_t>());
}

TEST(Classifier, RecalibratedBatchNormHoldsTheRealImagesStatistics) {
  const auto train = blobs(10, 1);
  auto model = ganaug::train_classifier(train, nullptr, small(3).epochs(1));
  // Shifted images: their first-layer statistics differ from the training images'.
  const auto shifted = (train.images * 0.5 + 0.4).contiguous();
  ganaug::recalibrate_batchnorm(model, shifted, 1000);
  EXPECT_FALSE(model->is_training());
  auto modules = model->named_modules();
  auto conv = modules["features.0"]->as<torch::nn::Conv2d>();
  auto bn = modules["features.1"]->as<torch::nn::BatchNorm2d>();
  ASSERT_NE(conv, nullptr);
  ASSERT_NE(bn, nullptr);
  torch::NoGradGuard no_grad;
  const auto activations = conv->forward(shifted);
  EXPECT_TRUE(torch::allclose(bn->running_mean, activations.mean({0, 2, 3}), 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(bn->running_var, activations.var({0, 2, 3}), 1e-3, 1e-4));
  EXPECT_TRUE(bn->options.momentum().has_value()) << "the layer's momentum is restored";
}

TEST(Classifier, SeparateSyntheticBatchesChangeTraining) {
  const auto train = blobs(20, 1);
  auto synthetic = blobs(10, 3);
  synthetic.images = synthetic.images * 0.3 + 0.5;  // another distribution
  synthetic.targets = ganaug::scheme_targets(ganaug::Scheme::kSmooth, synthetic.labels, 3);
  auto apart = ganaug::train_classifier(train, &synthetic, small(3).synthetic_share(0.5));
  auto together = ganaug::train_classifier(
      train, &synthetic, small(3).synthetic_share(0.5).separate_synthetic_batches(false));
  EXPECT_FALSE(torch::allclose(ganaug::predict_probabilities(apart, train.images, 3),
                               ganaug::predict_probabilities(together, train.images, 3)));
  EXPECT_GT(ganaug::evaluate(apart, blobs(10, 5)).accuracy, 0.8);
  // One synthetic image per batch cannot be normalised alone: it joins the real ones.
  auto one = ganaug::train_classifier(train, &synthetic, small(3).synthetic_share(0.02).epochs(1));
  EXPECT_EQ(ganaug::predict_probabilities(one, train.images, 3).size(0), train.size());
}

TEST(Classifier, MetricsOnHandExample) {
  const auto truth = torch::tensor({0, 0, 1, 1}, torch::kInt64);
  const auto predicted = torch::tensor({0, 1, 1, 1}, torch::kInt64);
  const auto m = ganaug::compute_metrics(truth, predicted, 2);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.75);
  EXPECT_DOUBLE_EQ(m.per_class_accuracy[0], 0.5);
  EXPECT_DOUBLE_EQ(m.per_class_accuracy[1], 1.0);
  // F1 class 0: p=1, r=0.5 -> 2/3; class 1: p=2/3, r=1 -> 0.8.
  EXPECT_NEAR(m.macro_f1, (2.0 / 3 + 0.8) / 2, 1e-12);
  EXPECT_EQ(m.confusion[0][1], 1);
}

TEST(Classifier, CosineScheduleDecaysToZero) {
  const auto cosine = ganaug::ClassifierOptions(3).lr(0.01);
  EXPECT_DOUBLE_EQ(ganaug::scheduled_learning_rate(cosine, 0, 100), 0.01);
  EXPECT_NEAR(ganaug::scheduled_learning_rate(cosine, 50, 100), 0.005, 1e-12);
  EXPECT_NEAR(ganaug::scheduled_learning_rate(cosine, 100, 100), 0.0, 1e-12);
  EXPECT_GT(ganaug::scheduled_learning_rate(cosine, 20, 100),
            ganaug::scheduled_learning_rate(cosine, 21, 100));
  const auto constant =
      ganaug::ClassifierOptions(3).lr(0.01).lr_schedule(ganaug::LrSchedule::kConstant);
  EXPECT_DOUBLE_EQ(ganaug::scheduled_learning_rate(constant, 99, 100), 0.01);
  // FixMatch's: lr cos(7 pi k / 16 K), from the full rate to cos(7 pi / 16) of it.
  const auto fixmatch =
      ganaug::ClassifierOptions(3).lr(0.01).lr_schedule(ganaug::LrSchedule::kFixMatchCosine);
  EXPECT_DOUBLE_EQ(ganaug::scheduled_learning_rate(fixmatch, 0, 100), 0.01);
  EXPECT_NEAR(ganaug::scheduled_learning_rate(fixmatch, 100, 100), 0.01 * 0.19509032201612825,
              1e-12);
  EXPECT_NEAR(ganaug::scheduled_learning_rate(fixmatch, 50, 100),
              0.01 * std::cos(7 * std::acos(-1.0) / 32), 1e-12);
  EXPECT_EQ(ganaug::parse_lr_schedule("fixmatch-cosine"), ganaug::LrSchedule::kFixMatchCosine);
  EXPECT_EQ(ganaug::to_string(ganaug::LrSchedule::kFixMatchCosine), "fixmatch-cosine");
  ganaug::testing::expect_error([] { ganaug::parse_lr_schedule("step"); },
                                {"use cosine, constant or fixmatch-cosine"});
  // The schedule reaches the optimizer: the two runs end with different weights.
  const auto train = blobs(10, 1);
  auto a = ganaug::train_classifier(train, nullptr, small(3).epochs(2));
  auto b = ganaug::train_classifier(train, nullptr,
                                    small(3).epochs(2).lr_schedule(ganaug::LrSchedule::kConstant));
  EXPECT_FALSE(torch::allclose(ganaug::predict_probabilities(a, train.images, 3),
                               ganaug::predict_probabilities(b, train.images, 3)));
}

TEST(Classifier, ConsistencyTrainingOnAnUnlabeledPool) {
  const auto train = blobs(5, 1), test = blobs(20, 2);
  auto setup = blobs_with_pool();
  const auto& real = setup.real;
  // At weight 0 (the default) the pool's images are skipped: training is unchanged.
  auto plain = ganaug::train_classifier(train, nullptr, small(3).seed(2));
  auto ignored = ganaug::train_classifier(real, nullptr, small(3).seed(2));
  EXPECT_TRUE(torch::equal(ganaug::predict_probabilities(plain, test.images, 3),
                           ganaug::predict_probabilities(ignored, test.images, 3)));
  // With a weight it needs a strong view.
  ganaug::testing::expect_error(
      [&] { ganaug::train_classifier(real, nullptr, small(3).pool_weight(1)); },
      {"unlabeled pool", "strong_augment"});
  // Weak view: the image; strong view: the image with noise. The share of confident weak views
  // is reported per epoch and grows as the network learns the blobs.
  auto& hooks = setup.hooks;
  std::vector<double> confident;
  hooks.on_epoch = [&](const ganaug::ClassifierProgress& p) {
    confident.push_back(p.pool_confident);
  };
  const auto options =
      small(3).epochs(40).seed(2).pool_weight(1).pool_threshold(0.7).pool_ramp_share(0);
  auto model = ganaug::train_classifier(real, nullptr, options, hooks);
  ASSERT_EQ(confident.size(), 40u);
  for (double c : confident) EXPECT_TRUE(c >= 0 && c <= 1) << c;
  EXPECT_GT(confident.back(), confident.front());
  EXPECT_GT(confident.back(), 0.5);
  EXPECT_FALSE(torch::equal(ganaug::predict_probabilities(plain, test.images, 3),
                            ganaug::predict_probabilities(model, test.images, 3)));
  EXPECT_GT(ganaug::evaluate(model, test).accuracy, 0.9);
  // Repeatable for a seed.
  auto again = ganaug::train_classifier(real, nullptr, options, hooks);
  EXPECT_TRUE(torch::equal(ganaug::predict_probabilities(model, test.images, 3),
                           ganaug::predict_probabilities(again, test.images, 3)));
  // The weak view comes from weak_augment when set, else from augment; never both.
  int64_t augment_calls = 0, weak_calls = 0;
  const auto counting = [](int64_t& calls) {
    return [&calls](const torch::Tensor& x, uint64_t) {
      ++calls;
      return x;
    };
  };
  auto viewed = hooks;
  viewed.augment = counting(augment_calls);
  const auto short_options = ganaug::ClassifierOptions(options).epochs(2);
  ganaug::train_classifier(real, nullptr, short_options, viewed);
  const int64_t both_from_augment = augment_calls;
  augment_calls = 0;
  viewed.weak_augment = counting(weak_calls);
  auto weak_model = ganaug::train_classifier(real, nullptr, short_options, viewed);
  EXPECT_GT(weak_calls, 0);
  EXPECT_EQ(augment_calls + weak_calls, both_from_augment)
      << "every step's pool batch takes its weak view from weak_augment instead";
  // An identity weak_augment is the same as an identity augment for the pool.
  viewed.weak_augment = nullptr;
  auto identity_model = ganaug::train_classifier(real, nullptr, short_options, viewed);
  EXPECT_TRUE(torch::equal(ganaug::predict_probabilities(weak_model, test.images, 3),
                           ganaug::predict_probabilities(identity_model, test.images, 3)));
}

// DropoutOff switches only the dropout layers off, and only while it lives.
TEST(Classifier, DropoutOffSwitchesOnlyDropoutAndOnlyForAWhile) {
  ganaug::Classifier model(small(3));
  model->train();
  const auto modes = [&] {
    std::vector<std::pair<bool, bool>> out;  // (is dropout, training)
    for (const auto& m : model->modules(false))
      out.emplace_back(m->as<ganaug::SeededDropoutImpl>() != nullptr, m->is_training());
    return out;
  };
  const auto before = modes();
  ASSERT_TRUE(std::any_of(before.begin(), before.end(), [](const auto& m) { return m.first; }));
  {
    ganaug::detail::DropoutOff off(model, true);
    for (const auto& [dropout, training] : modes()) EXPECT_EQ(training, !dropout);
  }
  EXPECT_EQ(modes(), before);
  {
    ganaug::detail::DropoutOff kept(model, false);
    EXPECT_EQ(modes(), before);
  }
  // A model already evaluating stays so.
  model->eval();
  { ganaug::detail::DropoutOff off(model, true); }
  for (const auto& m : modes()) EXPECT_FALSE(m.second);
}

// The weak view's pass without dropout: the targets change, the network's modes are restored,
// and a network without dropout trains the same either way.
TEST(Classifier, PoolTargetsWithoutDropoutComeFromTheWholeNetwork) {
  auto setup = blobs_with_pool();
  const auto test = blobs(20, 2);
  const auto options = small(3).epochs(3).seed(2).pool_weight(1).pool_threshold(0.5);
  std::vector<double> with_dropout, without;
  auto hooks = setup.hooks;
  hooks.on_epoch = [&](const ganaug::ClassifierProgress& p) {
    with_dropout.push_back(p.pool_confident);
  };
  auto a = ganaug::train_classifier(setup.real, nullptr, options, hooks);
  hooks.on_epoch = [&](const ganaug::ClassifierProgress& p) {
    without.push_back(p.pool_confident);
  };
  auto b = ganaug::train_classifier(
      setup.real, nullptr, ganaug::ClassifierOptions(options).pool_target_dropout(false), hooks);
  EXPECT_NE(with_dropout, without);
  EXPECT_FALSE(torch::equal(ganaug::predict_probabilities(a, test.images, 3),
                            ganaug::predict_probabilities(b, test.images, 3)));
  // The targets' pass switches only the dropout layers, and only for that pass: a network
  // without dropout (the ResNet) trains bit for bit the same.
  const auto resnet =
      ganaug::ClassifierOptions(options).architecture(ganaug::ClassifierArchitecture::kResnet);
  ganaug::Classifier probe(resnet);
  for (const auto& m : probe->modules(false))
    ASSERT_EQ(m->as<ganaug::SeededDropoutImpl>(), nullptr);
  auto c = ganaug::train_classifier(setup.real, nullptr, resnet, setup.hooks);
  auto d = ganaug::train_classifier(setup.real, nullptr,
                                    ganaug::ClassifierOptions(resnet).pool_target_dropout(false),
                                    setup.hooks);
  EXPECT_TRUE(torch::equal(ganaug::predict_probabilities(c, test.images, 3),
                           ganaug::predict_probabilities(d, test.images, 3)));
}

// FixMatch's one batch-norm pass over the labeled images and both pool views: other
// statistics, so another training, repeatable; the targets then come from that pass.
TEST(Classifier, OnePassOverLabeledAndPoolViewsMixesTheirBatchNorm) {
  auto setup = blobs_with_pool();
  const auto test = blobs(20, 2);
  const auto options = small(3).epochs(3).seed(2).pool_weight(1).pool_threshold(0.5);
  auto three = ganaug::train_classifier(setup.real, nullptr, options, setup.hooks);
  const auto one_pass = ganaug::ClassifierOptions(options).pool_one_pass(true);
  std::vector<double> confident;
  auto hooks = setup.hooks;
  hooks.on_epoch = [&](const ganaug::ClassifierProgress& p) {
    confident.push_back(p.pool_confident);
  };
  auto one = ganaug::train_classifier(setup.real, nullptr, one_pass, hooks);
  auto again = ganaug::train_classifier(setup.real, nullptr, one_pass, setup.hooks);
  const auto p_three = ganaug::predict_probabilities(three, test.images, 3);
  const auto p_one = ganaug::predict_probabilities(one, test.images, 3);
  EXPECT_FALSE(torch::equal(p_three, p_one));
  EXPECT_TRUE(torch::equal(p_one, ganaug::predict_probabilities(again, test.images, 3)));
  ASSERT_EQ(confident.size(), 3u);
  for (double c : confident) EXPECT_TRUE(c >= 0 && c <= 1) << c;
  EXPECT_GT(ganaug::evaluate(one, test).accuracy, 0.5);
  // With synthetic images in a pass of their own, the pool's views still join the real ones.
  auto synthetic = class0_labeled_2();
  auto mixed = ganaug::train_classifier(setup.real, &synthetic, one_pass, setup.hooks);
  EXPECT_FALSE(torch::equal(p_one, ganaug::predict_probabilities(mixed, test.images, 3)));
  ganaug::testing::expect_error(
      [&] { ganaug::ClassifierOptions(one_pass).pool_target_dropout(false).validate(); },
      {"pool_one_pass", "pool_target_dropout"});
}

// Where the pool's true classes are known, each epoch reports how often its targets are right;
// training does not read them.
TEST(Classifier, ThePoolsTrueClassesMeasureItsTargetsAndChangeNothing) {
  const auto test = blobs(20, 2);
  auto setup = blobs_with_pool();
  const auto& real = setup.real;
  auto& hooks = setup.hooks;
  const auto truth = blobs(40, 7).labels;  // the pool's classes, in its order
  const auto options =
      small(3).epochs(30).seed(2).pool_weight(1).pool_threshold(0.7).pool_ramp_share(0);
  std::vector<std::optional<double>> accuracy;
  hooks.on_epoch = [&](const ganaug::ClassifierProgress& p) {
    accuracy.push_back(p.pool_accuracy);
  };
  auto blind = ganaug::train_classifier(real, nullptr, options, hooks);
  for (const auto& a : accuracy) EXPECT_FALSE(a.has_value());
  accuracy.clear();
  auto measured_hooks = hooks;
  measured_hooks.pool_truth = truth;
  auto measured = ganaug::train_classifier(real, nullptr, options, measured_hooks);
  EXPECT_TRUE(torch::equal(ganaug::predict_probabilities(blind, test.images, 3),
                           ganaug::predict_probabilities(measured, test.images, 3)));
  ASSERT_EQ(accuracy.size(), 30u);
  ASSERT_TRUE(accuracy.back().has_value());
  for (const auto& a : accuracy) {
    if (a) {
      EXPECT_TRUE(*a >= 0 && *a <= 1) << *a;
    }
  }
  EXPECT_GT(*accuracy.back(), 0.9);
  // Every class named wrongly: the same targets, all wrong.
  accuracy.clear();
  measured_hooks.pool_truth = (truth + 1).remainder(3);
  ganaug::train_classifier(real, nullptr, options, measured_hooks);
  EXPECT_LT(*accuracy.back(), 0.1);
  measured_hooks.pool_truth = truth.slice(0, 0, 5);
  ganaug::testing::expect_error(
      [&] { ganaug::train_classifier(real, nullptr, options, measured_hooks); },
      {"pool_truth holds 5 classes for 120 pool images"});
}

TEST(Classifier, SgdWithNesterovMomentumTakesItsOwnRateAndLearns) {
  EXPECT_DOUBLE_EQ(ganaug::ClassifierOptions(3).learning_rate(), 1e-3);
  const auto sgd = small(3).optimizer(ganaug::ClassifierOptimizer::kSgd);
  EXPECT_DOUBLE_EQ(sgd.learning_rate(), 0.03);
  EXPECT_DOUBLE_EQ(ganaug::ClassifierOptions(sgd).lr(0.1).learning_rate(), 0.1);
  EXPECT_DOUBLE_EQ(ganaug::scheduled_learning_rate(sgd, 0, 10), 0.03);
  EXPECT_EQ(ganaug::parse_classifier_optimizer("sgd"), ganaug::ClassifierOptimizer::kSgd);
  EXPECT_EQ(ganaug::to_string(ganaug::ClassifierOptimizer::kAdam), "adam");
  ganaug::testing::expect_error([] { ganaug::parse_classifier_optimizer("rmsprop"); },
                                {"unknown optimizer 'rmsprop'", "adam or sgd"});
  const auto train = blobs(30, 1), test = blobs(20, 2);
  auto model =
      ganaug::train_classifier(train, nullptr, ganaug::ClassifierOptions(sgd).weight_decay(5e-4));
  EXPECT_GT(ganaug::evaluate(model, test).accuracy, 0.9);
  // Not Adam's run, and the decay reaches the weights.
  auto adam = ganaug::train_classifier(train, nullptr, small(3));
  auto undecayed = ganaug::train_classifier(train, nullptr, sgd);
  const auto p = [&](ganaug::Classifier& m) {
    return ganaug::predict_probabilities(m, test.images, 3);
  };
  EXPECT_FALSE(torch::allclose(p(model), p(adam)));
  EXPECT_FALSE(torch::equal(p(model), p(undecayed)));
}

TEST(Classifier, TheReturnedModelIsTheDebiasedWeightAverage) {
  // 15 images in batches of 16: one step per epoch; a constant rate, so that the first epoch of
  // a 2-epoch run is the 1-epoch run.
  const auto train = blobs(5, 1);
  const auto options =
      small(3).lr_schedule(ganaug::LrSchedule::kConstant).recalibrate_batchnorm(false).seed(4);
  auto one = ganaug::train_classifier(train, nullptr, ganaug::ClassifierOptions(options).epochs(1));
  auto two = ganaug::train_classifier(train, nullptr, ganaug::ClassifierOptions(options).epochs(2));
  auto averaged = ganaug::train_classifier(
      train, nullptr, ganaug::ClassifierOptions(options).epochs(2).ema_decay(0.5));
  // After weights w1 and w2 at decay 0.5: (0.25 w1 + 0.5 w2) / 0.75; the starting weights are
  // not part of it.
  const auto w1 = one->parameters(), w2 = two->parameters(), a = averaged->parameters();
  ASSERT_EQ(a.size(), w2.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_FALSE(torch::allclose(w1[i], w2[i])) << i;
    EXPECT_TRUE(torch::allclose(a[i], (0.25 * w1[i] + 0.5 * w2[i]) / 0.75, 1e-5, 1e-6)) << i;
  }
  // Batch-norm statistics are the training network's (not recalibrated here).
  const auto buffers = averaged->buffers(), trained = two->buffers();
  for (size_t i = 0; i < buffers.size(); ++i) EXPECT_TRUE(torch::equal(buffers[i], trained[i]));
  // So what is evaluated and saved is the average.
  ganaug::testing::TempDir dir;
  ganaug::save_classifier(averaged, (dir / "c.pt").string());
  ganaug::Classifier loaded(ganaug::ClassifierOptions(options).epochs(2).ema_decay(0.5));
  ganaug::load_classifier(loaded, (dir / "c.pt").string());
  EXPECT_TRUE(torch::equal(ganaug::predict_probabilities(loaded, train.images, 3),
                           ganaug::predict_probabilities(averaged, train.images, 3)));
  EXPECT_FALSE(torch::equal(ganaug::predict_probabilities(two, train.images, 3),
                            ganaug::predict_probabilities(averaged, train.images, 3)));
}

TEST(Classifier, DistributionAlignmentReachesThePoolTargets) {
  const auto test = blobs(20, 2);
  const auto [real, hooks] = blobs_with_pool();
  const auto options =
      small(3).epochs(20).seed(2).pool_weight(1).pool_threshold(0.7).pool_ramp_share(0);
  auto plain = ganaug::train_classifier(real, nullptr, options, hooks);
  const auto aligned_options = ganaug::ClassifierOptions(options).distribution_alignment(true);
  auto aligned = ganaug::train_classifier(real, nullptr, aligned_options, hooks);
  auto again = ganaug::train_classifier(real, nullptr, aligned_options, hooks);
  const auto p = [&](ganaug::Classifier& m) {
    return ganaug::predict_probabilities(m, test.images, 3);
  };
  EXPECT_FALSE(torch::equal(p(plain), p(aligned)));
  EXPECT_TRUE(torch::equal(p(aligned), p(again)));
  EXPECT_GT(ganaug::evaluate(aligned, test).accuracy, 0.9);
}

TEST(Classifier, RejectsBadOptions) {
  EXPECT_THROW(ganaug::ClassifierOptions(3).lr(-1).validate(), ganaug::Error);
  EXPECT_THROW(ganaug::ClassifierOptions(3).momentum(1).validate(), ganaug::Error);
  EXPECT_THROW(ganaug::ClassifierOptions(3).ema_decay(1).validate(), ganaug::Error);
  EXPECT_THROW(ganaug::ClassifierOptions(3).ema_decay(-0.1).validate(), ganaug::Error);
  EXPECT_THROW(ganaug::ClassifierOptions(3).pool_weight(-1).validate(), ganaug::Error);
  EXPECT_THROW(ganaug::ClassifierOptions(3).pool_threshold(0).validate(), ganaug::Error);
  EXPECT_THROW(ganaug::ClassifierOptions(3).pool_ratio(0).validate(), ganaug::Error);
  EXPECT_THROW(ganaug::ClassifierOptions(3).pool_ramp_share(1).validate(), ganaug::Error);
  for (const auto s : {ganaug::LrSchedule::kCosine, ganaug::LrSchedule::kConstant})
    EXPECT_EQ(ganaug::parse_lr_schedule(ganaug::to_string(s)), s);
  ganaug::testing::expect_error([] { ganaug::parse_lr_schedule("step"); },
                                {"'step'", "cosine, constant or fixmatch-cosine"});
  EXPECT_THROW(ganaug::ClassifierOptions(3).synthetic_share(1.0).validate(), ganaug::Error);
  EXPECT_THROW(ganaug::ClassifierOptions(3).width(-1).validate(), ganaug::Error);
  EXPECT_THROW(ganaug::ClassifierOptions(3).weight_decay(-1).validate(), ganaug::Error);
  EXPECT_THROW(ganaug::ClassifierOptions(3).warmup_share(-0.1).validate(), ganaug::Error);
  EXPECT_THROW(ganaug::ClassifierOptions(3).warmup_share(1.0).validate(), ganaug::Error);
  EXPECT_THROW(ganaug::ClassifierOptions(3).threads(-2).validate(), ganaug::Error);
  // Images of another width than the options' size are refused by name, not by LibTorch.
  const auto wide = blobs(4, 1);
  auto cropped = wide;
  cropped.images = wide.images.slice(3, 0, 4).contiguous();
  ganaug::testing::expect_error([&] { ganaug::train_classifier(cropped, nullptr, small(3)); },
                                {"1x8x8", "1x8x4", "blobs"});
}

// One table describes the options: validate() checks its ranges by it, naming the field and
// the range, and run records note its training fields when they are changed.
TEST(Classifier, OneFieldTableChecksTheRangesAndListsTheChangedTrainingFields) {
  using ganaug::ClassifierOptions;
  using ganaug::testing::expect_error;
  std::set<std::string> names;
  for (const auto& field : ganaug::classifier_fields())
    EXPECT_TRUE(names.insert(field.name).second) << field.name << " is listed twice";
  EXPECT_NO_THROW(ClassifierOptions(3).validate());  // every default lies in its range
  expect_error([] { ClassifierOptions(3).ema_decay(1).validate(); },
               {"ema_decay (the weight average's decay) must lie in [0, 1), got 1"});
  expect_error([] { ClassifierOptions(3).lr(-0.1).validate(); },
               {"lr must be positive (or be 0: the optimizer's own), got -0.1"});
  expect_error([] { ClassifierOptions(3).width(5000).validate(); },
               {"width must lie in [1, 4096] (or be 0: the network's own), got 5000"});
  expect_error([] { ClassifierOptions(3).prefetch(-2).validate(); },
               {"prefetch (steps prepared ahead) must lie in [0, 64] (or be -1: automatic)"});
  expect_error([] { ClassifierOptions(3).epochs(0).validate(); }, {"epochs must be positive"});
  expect_error([] { ClassifierOptions(3).synthetic_share(std::nan("")).validate(); },
               {"synthetic_share must lie in [0, 1)"});
  expect_error(
      [] {
        ClassifierOptions(3).batch_size(0).validate([](const std::string& f) { return "--" + f; });
      },
      {"--batch_size must be positive"});
  EXPECT_NO_THROW(ClassifierOptions(3).lr(0).width(0).prefetch(0).threads(0).validate());
  // The changed recorded fields, in the table's order; epochs and the width have keys of
  // their own in records, the thread count is not a result.
  const auto changed = ganaug::classifier_option_differences(
      ClassifierOptions(3).lr(0.01).batch_size(32).epochs(3).width(8).threads(1).pool_one_pass(
          true),
      ClassifierOptions(3));
  ASSERT_EQ(changed.size(), 3u);
  EXPECT_EQ(changed[0].first, "batch_size");
  EXPECT_EQ(changed[0].second.toInt(), 32);
  EXPECT_EQ(changed[1].first, "lr");
  EXPECT_DOUBLE_EQ(changed[1].second.toDouble(), 0.01);
  EXPECT_EQ(changed[2].first, "pool_one_pass");
  EXPECT_TRUE(changed[2].second.toBool());
}

TEST(Classifier, TrainsOnCudaWithSyntheticImagesAndAHostAugmentation_CUDA) {
  if (!ganaug::cuda_available()) GTEST_SKIP() << "no CUDA device";
  const auto train = blobs(30, 1), test = blobs(20, 2);
  ganaug::LabeledDataset synthetic = blobs(10, 3);
  synthetic.targets = ganaug::scheme_targets(ganaug::Scheme::kSmooth, synthetic.labels, 3);
  auto on_cuda = small(3).device("cuda").dynamic_argmax(true).warmup_share(0.25);
  auto model = ganaug::train_classifier(train, &synthetic, on_cuda);
  EXPECT_TRUE(model->parameters().front().is_cuda());
  EXPECT_GT(ganaug::evaluate(model, test).accuracy, 0.9);
  // An augmentation hook runs on the host: its batches are copied to the device after it.
  ganaug::ClassifierHooks hooks;
  hooks.augment = [](const torch::Tensor& images, uint64_t) {
    EXPECT_TRUE(images.device().is_cpu());
    return images.flip({3});
  };
  hooks.augment_synthetic = true;
  auto augmented = ganaug::train_classifier(train, &synthetic, small(3).device("cuda"), hooks);
  EXPECT_TRUE(augmented->parameters().front().is_cuda());
}

}  // namespace ganaug_tests_classifier
