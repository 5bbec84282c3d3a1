// The one-call API and the library's manners: no global seeding, no thread changes unless asked,
// nothing written unless asked, two trainers in two threads.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <thread>

#include "ganaug/ganaug.hpp"
#include "test_support.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_synthesize {

namespace fs = std::filesystem;

namespace {

// Three classes of 16x16 images: a bright bar whose row is the class.
ganaug::LabeledDataset bars(int64_t per_class) {
  const int64_t n = 3 * per_class;
  ganaug::LabeledDataset data;
  data.images = -torch::ones({n, 1, 16, 16});
  data.labels = torch::arange(n, torch::kInt64).remainder(3);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = i % 3;
    data.images[i].slice(1, 5 * c, 5 * c + 4).slice(2, i % 5, 16 - i % 4).fill_(1.0);
  }
  data.class_names = {"top", "middle", "bottom"};
  data.source = "bars";
  return data;
}

ganaug::SynthesizeOptions tiny(ganaug::Scheme scheme, uint64_t seed) {
  return ganaug::SynthesizeOptions()
      .scheme(scheme)
      .n(10)
      .gan(ganaug::GanOptions(1)
               .iterations(4)
               .g_width(8)
               .d_width(8)
               .latent_dim(8)
               .batch_size(8)
               .log_every(2))
      .teacher_epochs(2)
      .batch_size(4)
      .device("cpu")
      .seed(seed);
}

ganaug::GanOptions small_gan(uint64_t seed, int64_t iterations) {
  return ganaug::testing::tiny_gan_options(3, iterations, seed);
}

std::vector<torch::Tensor> weights(torch::nn::Module& module) {
  std::vector<torch::Tensor> out;
  for (const auto& p : module.parameters()) out.push_back(p.detach().clone());
  for (const auto& b : module.buffers()) out.push_back(b.detach().clone());
  return out;
}

bool same(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!torch::equal(a[i], b[i])) return false;
  }
  return true;
}

}  // namespace

TEST(Synthesize, ReturnsImagesAndTargetsOfEveryScheme) {
  const auto data = bars(6);
  for (const auto scheme : ganaug::all_schemes()) {
    SCOPED_TRACE(ganaug::to_string(scheme));
    const auto out = ganaug::synthesize(data, tiny(scheme, 1));
    ASSERT_EQ(out.size(), 10);
    EXPECT_EQ(out.images.sizes(), torch::IntArrayRef({10, 1, 16, 16}));
    EXPECT_LE(out.images.max().item<float>(), 1.0f);
    EXPECT_GE(out.images.min().item<float>(), -1.0f);
    EXPECT_TRUE(torch::equal(out.classes, torch::arange(10, torch::kInt64).remainder(3)));
    EXPECT_EQ(out.targets.size(0), 10);
    EXPECT_EQ(out.targets.size(1), ganaug::target_width(scheme, 3));
    EXPECT_TRUE(torch::allclose(out.targets.sum(1), torch::ones({10})));
    EXPECT_EQ(out.gan_iterations, 4);
    EXPECT_EQ(out.class_names, data.class_names);
    const auto as_data = out.dataset();
    EXPECT_NO_THROW(as_data.validate());
    switch (scheme) {
      case ganaug::Scheme::kSmooth:
        EXPECT_TRUE(torch::allclose(out.targets, torch::full({10, 3}, 1.0 / 3)));
        EXPECT_TRUE(torch::equal(out.labels, torch::full({10}, -1, torch::kInt64)));
        break;
      case ganaug::Scheme::kCond:
        EXPECT_TRUE(torch::equal(out.labels, out.classes));
        break;
      case ganaug::Scheme::kNewClass:
        EXPECT_TRUE(torch::equal(out.labels, torch::full({10}, 3, torch::kInt64)));
        EXPECT_TRUE(torch::equal(as_data.labels, torch::full({10}, -1, torch::kInt64)));
        break;
      case ganaug::Scheme::kArgmax:
        EXPECT_TRUE(torch::equal(out.targets.sum(1), torch::ones({10})));
        EXPECT_TRUE(torch::equal(std::get<0>(out.targets.max(1)), torch::ones({10})));
        break;
    }
  }
}

TEST(Synthesize, IsDeterministicPerSeedAndLeavesGlobalStateAlone) {
  const auto data = bars(6);
  const int threads_before = torch::get_num_threads();
  torch::manual_seed(77);
  const auto a = ganaug::synthesize(data, tiny(ganaug::Scheme::kArgmax, 5));
  // LibTorch's global generator was not seeded with the run's seed...
  EXPECT_EQ(at::detail::getDefaultCPUGenerator().current_seed(), 77u);
  EXPECT_EQ(torch::get_num_threads(), threads_before);
  // ...and its state does not matter: another global seed gives the same result.
  torch::manual_seed(12345);
  const auto b = ganaug::synthesize(data, tiny(ganaug::Scheme::kArgmax, 5));
  EXPECT_TRUE(torch::equal(a.images, b.images));
  EXPECT_TRUE(torch::equal(a.targets, b.targets));
  const auto c = ganaug::synthesize(data, tiny(ganaug::Scheme::kArgmax, 6));
  EXPECT_FALSE(torch::equal(a.images, c.images));
}

TEST(Synthesize, ReportsProgressStopsOnRequestAndWritesOnlyWhenAsked) {
  ganaug::testing::TempDir dir;
  const auto data = bars(6);
  std::vector<std::string> stages;
  ganaug::SynthesizeCallbacks callbacks;
  callbacks.on_progress = [&](const ganaug::SynthesisProgress& p) {
    if (stages.empty() || stages.back() != p.stage) stages.push_back(p.stage);
    EXPECT_LE(p.done, p.total);
  };
  const auto cwd = fs::current_path();
  fs::current_path(dir.path());
  ganaug::synthesize(data, tiny(ganaug::Scheme::kArgmax, 2), callbacks);
  fs::current_path(cwd);
  // The teacher comes first: it also labels an unlabeled pool for the GAN.
  EXPECT_EQ(stages, (std::vector<std::string>{"teacher", "gan", "generate"}));
  EXPECT_TRUE(fs::is_empty(dir.path())) << "synthesize wrote files without being asked";

  // Asked: the GAN's log and checkpoint, and the checkpoint serves a later call.
  const auto gan_dir = dir / "gan";
  auto writing = tiny(ganaug::Scheme::kCond, 3);
  writing.gan().out_dir(gan_dir.string());
  const auto trained = ganaug::synthesize(data, writing);
  ASSERT_TRUE(fs::exists(gan_dir / "checkpoint.pt"));
  EXPECT_TRUE(fs::exists(gan_dir / "log.csv"));
  const auto reused = ganaug::synthesize(
      data, tiny(ganaug::Scheme::kCond, 3).generator((gan_dir / "checkpoint.pt").string()));
  EXPECT_TRUE(torch::equal(trained.images, reused.images));
  auto renamed = data;
  renamed.class_names[1] = "centre";
  ganaug::testing::expect_error(
      [&] {
        ganaug::synthesize(
            renamed,
            tiny(ganaug::Scheme::kCond, 3).generator((gan_dir / "checkpoint.pt").string()));
      },
      {"checkpoint.pt", "other classes", "bars"});

  int polls = 0;
  callbacks.should_stop = [&] { return ++polls > 2; };
  EXPECT_THROW(ganaug::synthesize(data, tiny(ganaug::Scheme::kSmooth, 2), callbacks),
               ganaug::Interrupted);
}

TEST(Synthesize, AnUnlabeledPoolInTheDataTrainsTheGanWithTheTeachersLabels) {
  // 4 labeled images per class and a pool of 30 more, labeled -1.
  auto data = ganaug::concatenate({bars(4), bars(10)});
  data.labels.slice(0, 12).fill_(-1);
  // Above a third, on three classes: every pool image the teacher is that sure of trains the GAN.
  const auto with_pool =
      ganaug::synthesize(data, tiny(ganaug::Scheme::kCond, 3).pool_confidence(0.34));
  EXPECT_GT(with_pool.pool_images_used, 0);
  EXPECT_LE(with_pool.pool_images_used, 30);
  // Confidence 0 leaves the pool out: the same images as the labeled data alone.
  const auto without = ganaug::synthesize(data, tiny(ganaug::Scheme::kCond, 3).pool_confidence(0));
  const auto labeled_only = ganaug::synthesize(bars(4), tiny(ganaug::Scheme::kCond, 3));
  EXPECT_EQ(without.pool_images_used, 0);
  EXPECT_TRUE(torch::equal(without.images, labeled_only.images));
  EXPECT_FALSE(torch::equal(with_pool.images, labeled_only.images));
  EXPECT_THROW(ganaug::synthesize(data, tiny(ganaug::Scheme::kCond, 3).pool_confidence(1.5)),
               ganaug::Error);
}

TEST(Synthesize, RefusesBadOptionsAndData) {
  auto data = bars(4);
  ganaug::testing::expect_error(
      [&] { ganaug::synthesize(data, tiny(ganaug::Scheme::kSmooth, 0).n(-1)); }, {"-1"});
  data.labels.fill_(0);
  ganaug::testing::expect_error([&] { ganaug::synthesize(data, tiny(ganaug::Scheme::kSmooth, 0)); },
                                {"class 'middle'", "bars"});
}

TEST(LibraryManners, TwoTrainersInTwoThreadsReproduceTheirSingleThreadResults) {
  const auto data = bars(6);
  // Each run: a GAN and a classifier, as synthesize and the tools run them.
  auto run = [&](uint64_t seed) {
    ganaug::GanTrainer trainer(small_gan(seed, 4), data.class_names);
    EXPECT_TRUE(trainer.train(data));
    auto classifier = ganaug::train_classifier(
        data, nullptr,
        ganaug::ClassifierOptions(3, 16, 1).width(4).epochs(2).batch_size(8).device("cpu").seed(
            seed));
    auto out = weights(*trainer.generator());
    const auto d = weights(*trainer.discriminator());
    const auto c = weights(*classifier);
    out.insert(out.end(), d.begin(), d.end());
    out.insert(out.end(), c.begin(), c.end());
    return out;
  };
  const auto alone_a = run(21), alone_b = run(22);
  ASSERT_FALSE(same(alone_a, alone_b));
  std::vector<torch::Tensor> threaded_a, threaded_b;
  std::thread first([&] { threaded_a = run(21); });
  std::thread second([&] { threaded_b = run(22); });
  first.join();
  second.join();
  EXPECT_TRUE(same(alone_a, threaded_a));
  EXPECT_TRUE(same(alone_b, threaded_b));
}

TEST(LibraryManners, InitialWeightsDependOnTheSeedAlone) {
  torch::manual_seed(1);
  ganaug::Generator a(ganaug::GeneratorOptions(3, 16, 1).width(8));
  ganaug::reset_parameters(*a, 9);
  torch::manual_seed(2);
  ganaug::Generator b(ganaug::GeneratorOptions(3, 16, 1).width(8));
  ganaug::reset_parameters(*b, 9);
  EXPECT_TRUE(same(weights(*a), weights(*b)));
  ganaug::reset_parameters(*b, 10);
  EXPECT_FALSE(same(weights(*a), weights(*b)));
  // LibTorch's default ranges: |w| <= 1/sqrt(fan_in) for the projection.
  const auto project = a->named_parameters()["project.weight"];  // a copy: the dict is a temporary
  EXPECT_LE(project.abs().max().item<double>(), 1.0 / std::sqrt(project.size(1)) + 1e-6);
  // Conditional batch norm keeps its constant start: scale 1, shift 0.
  EXPECT_TRUE(torch::equal(a->named_parameters()["norm0.scale.weight"],
                           torch::ones_like(a->named_parameters()["norm0.scale.weight"])));
}

TEST(LibraryManners, ThreadCountChangesOnlyWhenAsked) {
  const int before = torch::get_num_threads();
  const int wanted = before == 1 ? 2 : 1;
  ganaug::GanTrainer leave(small_gan(1, 0), {"a", "b", "c"});
  EXPECT_EQ(torch::get_num_threads(), before);
  ganaug::GanTrainer set(small_gan(1, 0).threads(wanted), {"a", "b", "c"});
  EXPECT_EQ(torch::get_num_threads(), wanted);
  torch::set_num_threads(before);
}

TEST(Version, HeaderAndLibraryAgree) {
  EXPECT_STREQ(ganaug::version(), GANAUG_VERSION_STRING);
  EXPECT_EQ(GANAUG_VERSION,
            GANAUG_VERSION_MAJOR * 10000 + GANAUG_VERSION_MINOR * 100 + GANAUG_VERSION_PATCH);
}

}  // namespace ganaug_tests_synthesize
