// The run context (seed, device, threads, output folder) passed once to every trainer, and the
// image shape set once from the data: the trainers given a run train exactly as the deprecated
// overloads that read the options' run fields, refuse options that contradict the run, and
// write only into the run's folder.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "blobs.hpp"
#include "ganaug/ganaug.hpp"
#include "test_support.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_run_context {

namespace fs = std::filesystem;
using ganaug::RunContext;

namespace {

bool same_weights(torch::nn::Module& a, torch::nn::Module& b) {
  auto pa = a.parameters(), pb = b.parameters();
  if (pa.size() != pb.size()) return false;
  for (size_t i = 0; i < pa.size(); ++i)
    if (!torch::equal(pa[i], pb[i])) return false;
  return true;
}

// tiny_gan_options without its run fields: hyperparameters only.
ganaug::GanOptions gan_options(int64_t iterations) {
  return ganaug::testing::tiny_gan_options(2, iterations, 0).device("auto").log_every(1);
}

fs::path fresh_dir(const std::string& name) {
  const char* root = std::getenv("GANAUG_TEST_TMP");
  const auto dir = fs::path(root ? root : fs::temp_directory_path().string()) / name;
  fs::remove_all(dir);
  return dir;
}

}  // namespace

TEST(RunContext, InNamesASubfolderAndEmptyStaysEmpty) {
  EXPECT_EQ(RunContext().out_dir("out").in("gan").out_dir(), (fs::path("out") / "gan").string());
  EXPECT_EQ(RunContext().in("gan").out_dir(), "");
  const auto run = RunContext().seed(5).device("cpu").threads(2).out_dir("x");
  const auto sub = run.in("joint");
  EXPECT_EQ(sub.seed(), 5u);
  EXPECT_EQ(sub.device(), "cpu");
  EXPECT_EQ(sub.threads(), 2);
  ganaug::testing::expect_error([] { RunContext().threads(-1).validate(); },
                                {"thread count", "-1"});
}

TEST(RunContext, ImageShapeComesFromTheDataOnce) {
  auto data = ganaug::testing::left_right_blobs(4);
  const auto shape = ganaug::image_shape(data);
  EXPECT_EQ(shape, (ganaug::ImageShape{16, 1}));
  EXPECT_EQ(ganaug::GanOptions(2, shape).image_size(), 16);
  EXPECT_EQ(ganaug::ClassifierOptions(2).shape(shape).shape(), shape);
  EXPECT_EQ(ganaug::JointOptions(2, ganaug::ImageShape{32, 3}).channels(), 3);
  data.images = torch::zeros({4, 1, 16, 12});
  ganaug::testing::expect_error([&] { ganaug::image_shape(data); }, {"square", "blobs", "16x12"});
}

TEST(RunContext, GanTrainerInARunTrainsAsTheDeprecatedOverload) {
  const auto data = ganaug::testing::left_right_blobs(16);
  const auto dir = fresh_dir("run_context_gan");
  const auto run = RunContext().seed(7).device("cpu").out_dir(dir.string());
  ganaug::GanTrainer with_run(run, gan_options(2), data.class_names);
  ganaug::GanTrainer legacy(gan_options(2).seed(7).device("cpu"), data.class_names);
  with_run.train(data);
  legacy.train(data);
  EXPECT_TRUE(same_weights(*with_run.generator(), *legacy.generator()));
  EXPECT_TRUE(same_weights(*with_run.discriminator(), *legacy.discriminator()));
  // The run's seed is what the checkpoint stores; its folder holds the log and checkpoint.
  EXPECT_EQ(with_run.options().seed(), 7u);
  EXPECT_TRUE(fs::exists(dir / "log.csv"));
  EXPECT_TRUE(fs::exists(dir / "checkpoint.pt"));
  EXPECT_EQ(ganaug::load_generator((dir / "checkpoint.pt").string(), "cpu").options.seed(), 7u);
  EXPECT_EQ(ganaug::gan_training_facts(run, data, gan_options(2)),
            ganaug::gan_training_facts(data, gan_options(2).seed(7)));
  // Another seed trains other weights.
  ganaug::GanTrainer other(RunContext(run).seed(8).out_dir(""), gan_options(2), data.class_names);
  other.train(data);
  EXPECT_FALSE(same_weights(*other.generator(), *with_run.generator()));
}

TEST(RunContext, TrainersRefuseOptionsThatContradictTheRun) {
  const std::vector<std::string> names = {"left", "right"};
  const auto run = RunContext().seed(4).device("cpu");
  ganaug::testing::expect_error([&] { ganaug::GanTrainer(run, gan_options(1).seed(3), names); },
                                {"GanOptions::seed is 3", "run's seed is 4", "RunContext"});
  ganaug::testing::expect_error(
      [&] { ganaug::GanTrainer(run, gan_options(1).out_dir("elsewhere"), names); },
      {"GanOptions::out_dir is elsewhere", "RunContext"});
  ganaug::testing::expect_error(
      [&] { ganaug::GanTrainer(RunContext(run).threads(-2), gan_options(1), names); },
      {"thread count"});
  // The same value twice is no contradiction (options read back from a checkpoint hold it).
  EXPECT_NO_THROW(ganaug::GanTrainer(run, gan_options(1).seed(4).device("cpu"), names));
  const auto data = ganaug::testing::left_right_blobs(8);
  const auto classifier = ganaug::ClassifierOptions(2, 16, 1).width(4).epochs(1).batch_size(8);
  ganaug::testing::expect_error(
      [&] {
        ganaug::train_classifier(run, data, nullptr,
                                 ganaug::ClassifierOptions(classifier).device("cuda"));
      },
      {"ClassifierOptions::device is cuda", "run's device is cpu"});
  ganaug::testing::expect_error(
      [&] { ganaug::JointTrainer(run, ganaug::JointOptions(2, 16, 1).threads(3), names); },
      {"JointOptions::threads is 3"});
  ganaug::testing::expect_error(
      [&] { ganaug::synthesize(run, data, ganaug::SynthesizeOptions().seed(9)); },
      {"SynthesizeOptions::seed is 9"});
}

TEST(RunContext, ClassifierInARunTrainsAsTheDeprecatedOverload) {
  const auto data = ganaug::testing::left_right_blobs(16);
  const auto options = ganaug::ClassifierOptions(2, 16, 1).width(4).epochs(2).batch_size(8);
  auto with_run =
      ganaug::train_classifier(RunContext().seed(3).device("cpu"), data, nullptr, options);
  auto legacy = ganaug::train_classifier(data, nullptr,
                                         ganaug::ClassifierOptions(options).seed(3).device("cpu"));
  EXPECT_TRUE(same_weights(*with_run, *legacy));
  auto other = ganaug::train_classifier(RunContext().seed(4).device("cpu"), data, nullptr, options);
  EXPECT_FALSE(same_weights(*with_run, *other));
}

TEST(RunContext, JointTrainerInARunTrainsAsTheDeprecatedOverload) {
  const auto data = ganaug::testing::left_right_blobs(16);
  const auto options =
      ganaug::JointOptions(2, ganaug::image_shape(data))
          .classifier(ganaug::ClassifierOptions(2).width(4).batch_size(8).ema_decay(0.9))
          .gan(ganaug::testing::tiny_gan_options(2, 1, 0).device("auto"))
          .iterations(2)
          .log_every(1);
  const auto dir = fresh_dir("run_context_joint");
  ganaug::JointTrainer with_run(RunContext().seed(5).device("cpu").out_dir(dir.string()), options,
                                data.class_names);
  ganaug::JointTrainer legacy(ganaug::JointOptions(options).seed(5).device("cpu"),
                              data.class_names);
  with_run.train(data);
  legacy.train(data);
  EXPECT_TRUE(same_weights(*with_run.classifier(), *legacy.classifier()));
  EXPECT_TRUE(same_weights(*with_run.sampling_generator(), *legacy.sampling_generator()));
  EXPECT_TRUE(fs::exists(dir / "log.csv"));
  EXPECT_TRUE(fs::exists(dir / "checkpoint.pt"));
}

TEST(RunContext, SynthesizeInARunMakesTheDeprecatedOverloadsImages) {
  const auto data = ganaug::testing::left_right_blobs(16);
  // argmax: the teacher stage too.
  const auto options = ganaug::SynthesizeOptions()
                           .scheme(ganaug::Scheme::kArgmax)
                           .n(6)
                           .teacher_epochs(1)
                           .gan(gan_options(2));
  const auto dir = fresh_dir("run_context_synthesize");
  const auto with_run =
      ganaug::synthesize(RunContext().seed(2).device("cpu").out_dir(dir.string()), data, options);
  // The deprecated overload: the run from the options, the GAN's folder from gan().out_dir().
  const auto legacy_dir = fresh_dir("run_context_synthesize_legacy");
  auto legacy_options = ganaug::SynthesizeOptions(options).seed(2).device("cpu");
  legacy_options.gan().out_dir(legacy_dir.string());
  const auto legacy = ganaug::synthesize(data, legacy_options);
  EXPECT_TRUE(torch::equal(with_run.images, legacy.images));
  EXPECT_TRUE(torch::equal(with_run.targets, legacy.targets));
  EXPECT_EQ(ganaug::load_generator((dir / "checkpoint.pt").string(), "cpu").options.seed(), 2u);
  EXPECT_TRUE(fs::exists(legacy_dir / "checkpoint.pt"));
  // Another folder for the GAN than the run's is refused; the run's own, or none, passes.
  auto elsewhere = ganaug::SynthesizeOptions(options).n(2);
  elsewhere.gan().out_dir((dir / "elsewhere").string());
  ganaug::testing::expect_error(
      [&] {
        ganaug::synthesize(RunContext().device("cpu").out_dir(dir.string()), data, elsewhere);
      },
      {"SynthesizeOptions::gan::out_dir", "elsewhere"});
  EXPECT_FALSE(fs::exists(dir / "elsewhere"));
}

TEST(RunContext, ThreadsAreSetOnlyWhenTheRunAsks) {
  const int before = torch::get_num_threads();
  const std::vector<std::string> names = {"left", "right"};
  ganaug::GanTrainer untouched(RunContext().device("cpu"), gan_options(1), names);
  EXPECT_EQ(torch::get_num_threads(), before);
  ganaug::GanTrainer one(RunContext().device("cpu").threads(1), gan_options(1), names);
  EXPECT_EQ(torch::get_num_threads(), 1);
  ganaug::configure_threads(before);
}

TEST(RunContext, StagesTrainInTheirRunAndDropTheRunFieldsOfNestedOptions) {
  const auto data = ganaug::testing::left_right_blobs(16);
  const auto dir = fresh_dir("run_context_stages");
  const auto run = RunContext().seed(6).device("cpu").out_dir(dir.string());
  const auto trained = ganaug::train_gan(run.in("gan"), data, gan_options(2), data.class_names);
  EXPECT_EQ(trained.iterations, 2);
  EXPECT_TRUE(fs::exists(dir / "gan" / "checkpoint.pt"));
  EXPECT_EQ(ganaug::load_generator((dir / "gan" / "checkpoint.pt").string(), "cpu").options.seed(),
            6u);
  // A stage's classifier is the run's classifier.
  const auto classifier = ganaug::ClassifierOptions(2, 16, 1).width(4).epochs(1).batch_size(8);
  auto staged = ganaug::train_stage_classifier(run, "training", data, nullptr, classifier, {}, {});
  auto direct = ganaug::train_classifier(run, data, nullptr, classifier);
  EXPECT_TRUE(same_weights(*staged, *direct));
  // A job's nested options keep their hyperparameters; their run fields give way to the run's.
  const auto joint =
      ganaug::joint_stage_options(ganaug::JointOptions(9).iterations(3).seed(5).out_dir("x"),
                                  ganaug::ClassifierOptions(2).width(4).device("cuda"),
                                  ganaug::testing::tiny_gan_options(2, 1, 8).out_dir("y"), data);
  EXPECT_EQ(joint.num_classes(), 2);
  EXPECT_EQ(joint.shape(), ganaug::image_shape(data));
  EXPECT_EQ(joint.iterations(), 3);
  EXPECT_EQ(joint.seed(), 0u);
  EXPECT_EQ(joint.out_dir(), "");
  EXPECT_EQ(joint.classifier().width(), 4);
  EXPECT_EQ(joint.classifier().device(), "auto");
  EXPECT_EQ(joint.gan().seed(), 0u);
  EXPECT_EQ(joint.gan().out_dir(), "");
  const auto joint_dir = dir / "joint";
  auto done = ganaug::train_joint(run.in("joint"), data, nullptr,
                                  ganaug::JointOptions(joint).iterations(1), data.class_names, {});
  EXPECT_TRUE(done.classifier);
  EXPECT_TRUE(fs::exists(joint_dir / "checkpoint.pt"));
}

}  // namespace ganaug_tests_run_context
