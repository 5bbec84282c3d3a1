#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>

#include "gan/gan_checkpoint.hpp"
#include "ganaug/error.hpp"
#include "ganaug/job.hpp"
#include "ganaug/joint.hpp"
#include "ganaug/metrics.hpp"
#include "ganaug/runtime.hpp"
#include "test_support.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_joint {

namespace fs = std::filesystem;
using ganaug::JointForm;

namespace {

// Three classes of 16 x 16 images: a bright square in one of three places, on noise drawn from
// `seed`; `mirrored` flips them top to bottom (another distribution, for a pool that differs).
ganaug::LabeledDataset squares(int64_t per_class, uint64_t seed, bool mirrored = false) {
  auto rng = ganaug::make_cpu_generator(seed);
  const int64_t n = 3 * per_class;
  ganaug::LabeledDataset data;
  data.images = torch::randn({n, 1, 16, 16}, rng) * 0.2 - 0.7;
  data.labels = torch::arange(n, torch::kInt64).remainder(3);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = i % 3;
    data.images[i].slice(1, 2, 7).slice(2, 1 + 5 * c, 5 + 5 * c).add_(1.5);
  }
  data.images.clamp_(-1, 1);
  if (mirrored) data.images = data.images.flip({2});
  data.class_names = {"a", "b", "c"};
  data.source = mirrored ? "mirrored squares" : "squares";
  return data;
}

ganaug::JointOptions tiny(JointForm form, int64_t iterations, uint64_t seed = 3) {
  return ganaug::JointOptions(3, 16, 1)
      .form(form)
      .classifier(ganaug::ClassifierOptions(3).width(8).batch_size(8).lr(2e-3).ema_decay(0.9))
      .gan(ganaug::testing::tiny_gan_options(3, 1, 0).beta1(0.5))
      .iterations(iterations)
      .log_every(2)
      .seed(seed)
      .device("cpu");
}

bool same_weights(torch::nn::Module& a, torch::nn::Module& b) {
  auto pa = a.parameters(), pb = b.parameters();
  if (pa.size() != pb.size()) return false;
  for (size_t i = 0; i < pa.size(); ++i)
    if (!torch::equal(pa[i], pb[i])) return false;
  auto ba = a.buffers(), bb = b.buffers();
  for (size_t i = 0; i < ba.size(); ++i)
    if (!torch::equal(ba[i], bb[i])) return false;
  return true;
}

// The consistency loss's views: the pool images with noise drawn from the view's seed; the
// strong one records the rows it was given.
void set_views(ganaug::JointTrainer& trainer, std::vector<int64_t>* strong_rows = nullptr) {
  const auto noisy = [](const torch::Tensor& x, uint64_t seed, double amount) {
    auto rng = ganaug::make_cpu_generator(seed);
    return (x + amount * torch::randn(x.sizes(), rng, torch::TensorOptions())).clamp(-1, 1);
  };
  trainer.weak_augment = [noisy](const torch::Tensor& x, uint64_t seed) {
    return noisy(x, seed, 0.05);
  };
  trainer.strong_augment = [noisy, strong_rows](const torch::Tensor& x, uint64_t seed) {
    if (strong_rows) strong_rows->push_back(x.size(0));
    return noisy(x, seed, 0.4);
  };
}

// A run with the pool's views killed after step 4 (its checkpoint of step 3 on disk), then
// resumed from that checkpoint and trained to the end: its classifier.
ganaug::Classifier killed_and_resumed(const ganaug::JointOptions& options,
                                      const ganaug::LabeledDataset& data,
                                      const ganaug::LabeledDataset& pool) {
  ganaug::testing::TempDir dir;
  {
    ganaug::JointTrainer killed(
        ganaug::JointOptions(options).out_dir(dir.path().string()).checkpoint_every(3),
        data.class_names);
    set_views(killed);
    killed.on_progress = [](const ganaug::JointProgress& p) {
      if (p.iteration == 4) throw std::runtime_error("killed");
    };
    EXPECT_THROW(killed.train(data, &pool), std::runtime_error);
  }
  ganaug::JointTrainer resumed(options, data.class_names);
  set_views(resumed);
  resumed.resume((dir / "checkpoint.pt").string());
  EXPECT_TRUE(resumed.train(data, &pool));
  return resumed.classifier();
}

class JointFormTest : public ::testing::TestWithParam<JointForm> {};

}  // namespace

TEST_P(JointFormTest, RepeatsBitForBitPerSeedAndResumesAfterAKillToTheSameWeights) {
  const auto data = squares(6, 1);
  auto pool = squares(4, 2, true);
  ganaug::JointTrainer straight(tiny(GetParam(), 6), data.class_names);
  straight.train(data, &pool);
  ganaug::JointTrainer again(tiny(GetParam(), 6), data.class_names);
  again.train(data, &pool);
  auto a = straight.classifier(), b = again.classifier();
  EXPECT_TRUE(same_weights(*a, *b));
  EXPECT_TRUE(same_weights(*straight.sampling_generator(), *again.sampling_generator()));
  ganaug::JointTrainer other_seed(tiny(GetParam(), 6, 4), data.class_names);
  other_seed.train(data, &pool);
  auto c = other_seed.classifier();
  EXPECT_FALSE(same_weights(*a, *c));

  // Killed at step 5: the checkpoint of step 3 is on disk and the process ends without another.
  ganaug::testing::TempDir dir;
  {
    ganaug::JointTrainer killed(
        tiny(GetParam(), 6).out_dir(dir.path().string()).checkpoint_every(3), data.class_names);
    killed.on_progress = [](const ganaug::JointProgress& p) {
      if (p.iteration == 4) throw std::runtime_error("killed");
    };
    EXPECT_THROW(killed.train(data, &pool), std::runtime_error);
  }
  ganaug::JointTrainer resumed(tiny(GetParam(), 6), data.class_names);
  resumed.resume((dir / "checkpoint.pt").string());
  EXPECT_EQ(resumed.iteration(), 3);
  EXPECT_TRUE(resumed.train(data, &pool));
  auto r = resumed.classifier();
  EXPECT_TRUE(same_weights(*a, *r));
  EXPECT_TRUE(same_weights(*straight.sampling_generator(), *resumed.sampling_generator()));
  if (GetParam() == JointForm::kTriple) {
    EXPECT_TRUE(same_weights(*straight.discriminator(), *resumed.discriminator()));
  }
}

TEST_P(JointFormTest, NeverReadsThePoolsLabels) {
  const auto data = squares(6, 1);
  auto pool = squares(4, 2, true);
  auto relabeled = pool;
  relabeled.labels = torch::full_like(pool.labels, -1);
  ganaug::JointTrainer with_labels(tiny(GetParam(), 4), data.class_names);
  with_labels.train(data, &pool);
  ganaug::JointTrainer without(tiny(GetParam(), 4), data.class_names);
  without.train(data, &relabeled);
  auto a = with_labels.classifier(), b = without.classifier();
  EXPECT_TRUE(same_weights(*a, *b));
  // Labels that no dataset could hold, and no class names: never looked at.
  auto garbage = pool;
  garbage.labels = torch::full_like(pool.labels, 12345);
  garbage.class_names.clear();
  ganaug::JointTrainer with_garbage(tiny(GetParam(), 4), data.class_names);
  with_garbage.train(data, &garbage);
  auto g = with_garbage.classifier();
  EXPECT_TRUE(same_weights(*a, *g));
  // The same pool as images labeled -1 in the labeled data trains the same networks.
  ganaug::JointTrainer inline_pool(tiny(GetParam(), 4), data.class_names);
  inline_pool.train(ganaug::concatenate({data, relabeled}));
  auto c = inline_pool.classifier();
  EXPECT_TRUE(same_weights(*a, *c));
  // And the pool counts: without it the networks differ.
  ganaug::JointTrainer no_pool(tiny(GetParam(), 4), data.class_names);
  no_pool.train(data);
  auto d = no_pool.classifier();
  EXPECT_FALSE(same_weights(*a, *d));
}

TEST_P(JointFormTest, TheJointClassifierLearnsTheClassesAndPredictsOverTheRealOnes) {
  const auto data = squares(8, 1), test = squares(20, 9);
  auto pool = squares(20, 5);
  pool.labels.fill_(-1);
  ganaug::JointTrainer trainer(tiny(GetParam(), 60), data.class_names);
  trainer.train(data, &pool);
  auto classifier = trainer.classifier();
  EXPECT_EQ(classifier->options.num_outputs(), GetParam() == JointForm::kTwoK ? 6 : 3);
  EXPECT_FALSE(classifier->is_training());
  const auto metrics = ganaug::evaluate(classifier, test);
  EXPECT_GE(metrics.accuracy, 0.9) << "joint form " << ganaug::to_string(GetParam());
  auto generator = trainer.sampling_generator();
  const auto images = ganaug::generate(generator, ganaug::balanced_classes(0, 6, 3), 1);
  EXPECT_EQ(images.sizes(), (std::vector<int64_t>{6, 1, 16, 16}));
  EXPECT_TRUE(torch::isfinite(images).all().item<bool>());
}

TEST_P(JointFormTest, ConsistencyOnThePoolRepeatsResumesAndNeedsTheStrongView) {
  const auto data = squares(6, 1);
  auto pool = squares(4, 2, true);
  pool.labels.fill_(12345);  // never read
  // A threshold every prediction of 3 classes reaches: the loss acts at every step. FixMatch's
  // mu of 2.5 pool images per labeled one: 20 views a step for a labeled batch of 8.
  auto options = tiny(GetParam(), 6).consistency_weight(1.0);
  options.classifier(
      ganaug::ClassifierOptions(options.classifier()).pool_threshold(0.3).pool_ratio(2.5));
  {
    ganaug::JointTrainer without_view(options, data.class_names);
    ganaug::testing::expect_error([&] { without_view.train(data, &pool); },
                                  {"consistency", "strong_augment"});
  }
  std::vector<int64_t> rows;
  ganaug::JointTrainer straight(options, data.class_names);
  set_views(straight, &rows);
  ASSERT_TRUE(straight.train(data, &pool));
  // One strong view per step, of pool_ratio x the labeled batch's pool images.
  EXPECT_EQ(rows, std::vector<int64_t>(6, 20));
  EXPECT_NE(options.gan().batch_size(), 20);
  ganaug::JointTrainer again(options, data.class_names);
  set_views(again);
  again.train(data, &pool);
  auto a = straight.classifier(), b = again.classifier();
  EXPECT_TRUE(same_weights(*a, *b));
  // The loss counts: without it (the same views given) the classifier differs.
  ganaug::JointTrainer off(ganaug::JointOptions(options).consistency_weight(0), data.class_names);
  set_views(off);
  off.train(data, &pool);
  auto c = off.classifier();
  EXPECT_FALSE(same_weights(*a, *c));
  // Distribution alignment of the targets, as the classifier's own training does it, is honoured.
  auto aligned_options = ganaug::JointOptions(options);
  aligned_options.classifier().distribution_alignment(true);
  ganaug::JointTrainer aligned(aligned_options, data.class_names);
  set_views(aligned);
  aligned.train(data, &pool);
  auto d = aligned.classifier();
  EXPECT_FALSE(same_weights(*a, *d));
  // Its window of recent predictions is in the checkpoint: a resumed run aligns as before.
  auto resumed_aligned = killed_and_resumed(aligned_options, data, pool);
  EXPECT_TRUE(same_weights(*d, *resumed_aligned));
  auto r = killed_and_resumed(options, data, pool);
  EXPECT_TRUE(same_weights(*a, *r));
}

INSTANTIATE_TEST_SUITE_P(Forms, JointFormTest,
                         ::testing::Values(JointForm::kKPlus1, JointForm::kTwoK,
                                           JointForm::kTriple),
                         [](const auto& info) {
                           return info.param == JointForm::kKPlus1 ? std::string("KPlus1")
                                  : info.param == JointForm::kTwoK ? std::string("TwoK")
                                                                   : std::string("Triple");
                         });

TEST(Joint, TheTripleDiscriminatorSeesLabeledPairsAsRealAndPoolAndGeneratedPairsAsFake) {
  const auto data = squares(8, 1);
  const auto pool = squares(8, 2, true);  // another distribution: D can tell its pairs apart
  auto options = tiny(JointForm::kTriple, 40);
  options.gan(options.gan().d_lr(2e-3).diffaugment(ganaug::DiffAugmentPolicy{}));
  ganaug::JointTrainer trainer(options, data.class_names);
  trainer.train(data, &pool);
  auto d = trainer.discriminator();
  ASSERT_TRUE(d);
  torch::NoGradGuard no_grad;
  d->eval();
  auto c = trainer.classifier();
  const double real = d(data.images, data.labels).mean().item<double>();
  const double pool_pairs = d(pool.images, c(pool.images).argmax(1)).mean().item<double>();
  auto g = trainer.sampling_generator();
  const auto classes = ganaug::balanced_classes(0, 24, 3);
  const double generated = d(ganaug::generate(g, classes, 7), classes).mean().item<double>();
  EXPECT_GT(real, pool_pairs);
  EXPECT_GT(real, generated);
  EXPECT_FALSE(ganaug::JointTrainer(tiny(JointForm::kKPlus1, 1), data.class_names).discriminator());
}

TEST(Joint, LossesAreCheckedForNaNEveryLogInterval) {
  const auto data = squares(6, 1);
  auto options = tiny(JointForm::kKPlus1, 8);
  options.gan(options.gan().ema_decay(0));
  ganaug::JointTrainer trainer(options, data.class_names);
  trainer.on_progress = [&](const ganaug::JointProgress& p) {
    if (p.iteration != 2) return;
    torch::NoGradGuard no_grad;
    trainer.sampling_generator()->parameters()[0].fill_(std::numeric_limits<float>::quiet_NaN());
  };
  ganaug::testing::expect_error([&] { trainer.train(data); },
                                {"joint training diverged by step 4", "Lower the learning rates"});
}

TEST(Joint, StopsOnRequestWithACheckpointAndLogs) {
  const auto data = squares(6, 1);
  ganaug::testing::TempDir dir;
  ganaug::JointTrainer trainer(tiny(JointForm::kTwoK, 10).out_dir(dir.path().string()),
                               data.class_names);
  trainer.should_stop = [&] { return trainer.iteration() >= 4; };
  std::vector<int64_t> reported;
  trainer.on_progress = [&](const ganaug::JointProgress& p) { reported.push_back(p.iteration); };
  EXPECT_FALSE(trainer.train(data));
  EXPECT_EQ(reported, (std::vector<int64_t>{2, 4}));
  ganaug::JointTrainer resumed(tiny(JointForm::kTwoK, 10), data.class_names);
  resumed.resume((dir / "checkpoint.pt").string());
  EXPECT_EQ(resumed.iteration(), 4);
  std::ifstream log(dir / "log.csv");
  std::string header;
  std::getline(log, header);
  EXPECT_EQ(header, "iteration,c_loss,labeled_loss,g_loss,d_loss,seconds");
  // Another form, classifier or generator is refused, naming the file and the difference.
  ganaug::testing::expect_error(
      [&] {
        ganaug::JointTrainer(tiny(JointForm::kKPlus1, 10), data.class_names)
            .resume((dir / "checkpoint.pt").string());
      },
      {"checkpoint.pt", "joint form 2k", "kplus1"});
  auto wider = tiny(JointForm::kTwoK, 10);
  wider.classifier(wider.classifier().width(16));
  ganaug::testing::expect_error(
      [&] {
        ganaug::JointTrainer(wider, data.class_names).resume((dir / "checkpoint.pt").string());
      },
      {"checkpoint.pt", "width 8", "width 16"});
  auto other_generator = tiny(JointForm::kTwoK, 10);
  other_generator.gan(other_generator.gan().g_width(16));
  ganaug::testing::expect_error(
      [&] {
        ganaug::JointTrainer(other_generator, data.class_names)
            .resume((dir / "checkpoint.pt").string());
      },
      {"checkpoint.pt", "another architecture"});
  // A GAN checkpoint is not a joint one.
  ganaug::GanTrainer gan(ganaug::testing::tiny_gan_options(3, 1, 0), data.class_names);
  gan.save_checkpoint((dir / "gan.pt").string());
  ganaug::testing::expect_error(
      [&] {
        ganaug::JointTrainer(tiny(JointForm::kTwoK, 10), data.class_names)
            .resume((dir / "gan.pt").string());
      },
      {"gan.pt", "not a ganaug joint checkpoint"});
  // Nor one of a longer run than this one.
  ganaug::testing::expect_error(
      [&] {
        ganaug::JointTrainer(tiny(JointForm::kTwoK, 3), data.class_names)
            .resume((dir / "checkpoint.pt").string());
      },
      {"checkpoint.pt", "has trained 4 steps, more than this run's 3"});
}

// A job's joint stage (job.hpp): the job's classifier, GAN, seed and output folder in the joint
// options; a stop throws Interrupted naming the step and the job's hint, and the stage resumes.
TEST(Joint, AJobsJointStageTakesTheJobsSettingsStopsWithItsHintAndResumes) {
  const auto data = squares(6, 1);
  ganaug::testing::TempDir dir;
  const auto classifier = ganaug::ClassifierOptions(3).width(8).batch_size(8).lr(2e-3);
  const auto gan = ganaug::testing::tiny_gan_options(3, 1, 0).beta1(0.5).log_every(2);
  const auto options = ganaug::joint_stage_options(tiny(JointForm::kTwoK, 6), classifier, gan, data,
                                                   11, "cpu", 1, dir.path().string());
  EXPECT_EQ(options.num_classes(), 3);
  EXPECT_EQ(options.image_size(), 16);
  EXPECT_EQ(options.seed(), 11u);
  EXPECT_EQ(options.out_dir(), dir.path().string());
  EXPECT_EQ(options.log_every(), 2);
  EXPECT_EQ(options.classifier().width(), 8);
  // The job's classifier has no weight average: the joint options' decay is taken.
  EXPECT_DOUBLE_EQ(options.classifier().ema_decay(), 0.9);
  EXPECT_DOUBLE_EQ(ganaug::joint_classifier_options(
                       ganaug::ClassifierOptions(classifier).ema_decay(0.5), options)
                       .ema_decay(),
                   0.5);
  ganaug::JointStage stage;
  std::vector<int64_t> reported;
  stage.on_progress = [&](const ganaug::JointProgress& p) { reported.push_back(p.iteration); };
  stage.hooks.should_stop = [&] { return !reported.empty() && reported.back() >= 4; };
  stage.hooks.resume_hint = "; rerun with --resume";
  ganaug::testing::expect_error(
      [&] { ganaug::train_joint(data, nullptr, options, data.class_names, stage); },
      {"interrupted during joint training at step 4; rerun with --resume"});
  stage.hooks.should_stop = nullptr;
  stage.resume_from = (dir / "checkpoint.pt").string();
  reported.clear();
  const auto trained = ganaug::train_joint(data, nullptr, options, data.class_names, stage);
  EXPECT_EQ(reported, (std::vector<int64_t>{6}));  // it went on from the checkpoint at step 4
  ASSERT_TRUE(trained.classifier && trained.generator);
}

TEST(Joint, TheClassifierTrainsWithSgdWhenAskedAndResumesItsMomentum) {
  const auto data = squares(6, 1);
  auto pool = squares(4, 2, true);
  auto options = tiny(JointForm::kKPlus1, 6);
  options.classifier(ganaug::ClassifierOptions(options.classifier())
                         .optimizer(ganaug::ClassifierOptimizer::kSgd)
                         .lr(0.03)
                         .weight_decay(5e-4));
  ganaug::JointTrainer straight(options, data.class_names);
  straight.train(data, &pool);
  ganaug::JointTrainer adam(tiny(JointForm::kKPlus1, 6), data.class_names);
  adam.train(data, &pool);
  auto a = straight.classifier(), b = adam.classifier();
  EXPECT_FALSE(same_weights(*a, *b));

  // Killed after step 4 with the checkpoint of step 3: the momentum buffers come back with it
  // (a fresh one would take other steps).
  ganaug::testing::TempDir dir;
  {
    ganaug::JointTrainer killed(
        ganaug::JointOptions(options).out_dir(dir.path().string()).checkpoint_every(3),
        data.class_names);
    killed.on_progress = [](const ganaug::JointProgress& p) {
      if (p.iteration == 4) throw std::runtime_error("killed");
    };
    EXPECT_THROW(killed.train(data, &pool), std::runtime_error);
  }
  ganaug::JointTrainer resumed(options, data.class_names);
  resumed.resume((dir / "checkpoint.pt").string());
  EXPECT_TRUE(resumed.train(data, &pool));
  auto r = resumed.classifier();
  EXPECT_TRUE(same_weights(*a, *r));
  // A run with the other optimizer does not take the checkpoint over.
  ganaug::testing::expect_error(
      [&] {
        ganaug::JointTrainer(tiny(JointForm::kKPlus1, 6), data.class_names)
            .resume((dir / "checkpoint.pt").string());
      },
      {"checkpoint.pt", "trained with sgd", "uses adam"});
}

// Checkpoints written before the joint classifier moved onto the classifier's own engine
// (format v1, tests/data: torch::optim's Adam, or SGD over two parameter groups; the average a
// module) resume: the trained classifier is the stored average at first, the moments and
// momentum buffers are read, the run finishes, and it is saved as format v2.
TEST(Joint, CheckpointsOfFormatV1Resume) {
  const auto data = squares(6, 1);
  auto pool = squares(4, 2, true);
  const ganaug::detail::CheckpointKind kind{"ganaug-joint-checkpoint-v", 2, 1, false,
                                            "joint checkpoint"};
  for (const bool sgd : {false, true}) {
    auto options = tiny(sgd ? JointForm::kTriple : JointForm::kKPlus1, 6);
    if (sgd) options.classifier().optimizer(ganaug::ClassifierOptimizer::kSgd).lr(0.03);
    const std::string path =
        std::string(GANAUG_TEST_DATA) + "/joint_checkpoint_v1_" + (sgd ? "sgd" : "adam") + ".pt";
    ganaug::JointTrainer trainer(options, data.class_names);
    trainer.resume(path);
    EXPECT_EQ(trainer.iteration(), 3);
    ganaug::detail::CheckpointReader reader(path, torch::Device(torch::kCPU), kind);
    EXPECT_EQ(reader.version(), 1);
    ganaug::Classifier stored(options.classifier_options());
    reader.load("classifier_average", *stored);
    auto at_resume = trainer.classifier();
    const auto a = at_resume->parameters(), b = stored->parameters();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
      EXPECT_TRUE(torch::allclose(a[i], b[i], 1e-5, 1e-6)) << "parameter " << i;
    EXPECT_TRUE(trainer.train(data, &pool));
    ganaug::testing::TempDir dir;
    const auto saved = (dir / "checkpoint.pt").string();
    trainer.save_checkpoint(saved);
    std::ifstream file(saved);
    std::string header;
    std::getline(file, header);
    EXPECT_EQ(header.rfind("ganaug-joint-checkpoint-v2 ", 0), 0u) << header;
    ganaug::JointTrainer again(options, data.class_names);
    again.resume(saved);
    auto finished = trainer.classifier(), reread = again.classifier();
    const auto c = finished->parameters(), d = reread->parameters();
    for (size_t i = 0; i < c.size(); ++i)
      EXPECT_TRUE(torch::equal(c[i], d[i])) << "parameter " << i;
  }
  // A checkpoint trained without a weight average is not taken over by a run that keeps one.
  ganaug::testing::TempDir dir;
  auto no_average = tiny(JointForm::kKPlus1, 2).out_dir(dir.path().string());
  no_average.classifier().ema_decay(0);
  ganaug::JointTrainer plain(no_average, data.class_names);
  plain.train(data, &pool);
  ganaug::testing::expect_error(
      [&] {
        ganaug::JointTrainer(tiny(JointForm::kKPlus1, 4), data.class_names)
            .resume((dir / "checkpoint.pt").string());
      },
      {"checkpoint.pt", "without a weight average", "same ema_decay"});
}

TEST(Joint, OptionsAreValidatedNamingTheValue) {
  using ganaug::testing::expect_error;
  const std::vector<std::string> names{"a", "b", "c"};
  expect_error([&] { ganaug::JointTrainer(tiny(JointForm::kKPlus1, 1).warmup_share(0.5), names); },
               {"warm-up share", "[0, 0.5)"});
  expect_error(
      [&] { ganaug::JointTrainer(tiny(JointForm::kKPlus1, 1).unsupervised_weight(-1), names); },
      {"unsupervised weight"});
  expect_error([&] { ganaug::JointTrainer(tiny(JointForm::kKPlus1, 1).image_size(18), names); },
               {"18"});
  expect_error(
      [&] {
        ganaug::JointTrainer(tiny(JointForm::kKPlus1, 1), {"a", "b"});
      },
      {"2 class names for 3 classes"});
  auto custom = tiny(JointForm::kKPlus1, 1);
  custom.classifier(custom.classifier().custom(ganaug::CustomNetwork{
      [] { return torch::nn::AnyModule(torch::nn::Linear(1, 1)); }, "mine.pt"}));
  expect_error([&] { ganaug::JointTrainer(custom, names); }, {"built-in", "mine.pt"});
  // What the joint trainer's classifier does not do is refused, not ignored.
  auto one_pass = tiny(JointForm::kKPlus1, 1);
  one_pass.classifier().pool_one_pass(true);
  expect_error([&] { ganaug::JointTrainer(one_pass, names); },
               {"pool_one_pass", "--pool-one-pass"});
  EXPECT_EQ(ganaug::parse_joint_form("2k"), JointForm::kTwoK);
  for (auto form : {JointForm::kKPlus1, JointForm::kTwoK, JointForm::kTriple})
    EXPECT_EQ(ganaug::parse_joint_form(ganaug::to_string(form)), form);
  expect_error([] { ganaug::parse_joint_form("dada"); }, {"'dada'", "kplus1, 2k or triple"});
  EXPECT_EQ(ganaug::joint_outputs(JointForm::kTwoK, 10), 20);
  EXPECT_EQ(ganaug::joint_outputs(JointForm::kKPlus1, 10), 10);
}

}  // namespace ganaug_tests_joint
