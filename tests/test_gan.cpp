#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <utility>

#include "blobs.hpp"
#include "gan/fake_classes.hpp"
#include "ganaug/error.hpp"
#include "ganaug/gan.hpp"
#include "ganaug/runtime.hpp"
#include "test_support.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_gan {

namespace fs = std::filesystem;

namespace {

class GanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* root = std::getenv("GANAUG_TEST_TMP");
    dir_ = fs::path(root ? root : fs::temp_directory_path().string()) /
           ("gan_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    torch::manual_seed(0);
    data_ = ganaug::testing::left_right_blobs(32);
  }

  ganaug::GanOptions options(int64_t iterations) const {
    return ganaug::testing::tiny_gan_options(2, iterations, 11).log_every(2);
  }

  static bool same_weights(torch::nn::Module& a, torch::nn::Module& b) {
    auto pa = a.parameters(), pb = b.parameters();
    for (size_t i = 0; i < pa.size(); ++i) {
      if (!torch::equal(pa[i], pb[i])) return false;
    }
    return true;
  }

  // Flips one byte at `flips` places spread over the checkpoint `path` (XOR `mask`), loads each
  // damaged copy, and expects it refused or sampling exactly as the original does; returns how
  // many were refused.
  int refused_flips(const fs::path& path, size_t flips, size_t offset, char mask) const {
    const auto classes = torch::tensor({0, 1, 0, 1}, torch::kInt64);
    auto reference = ganaug::load_generator(path.string(), "cpu");
    const auto expected = ganaug::generate(reference.generator, classes, 5);
    std::ifstream in(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    int refused = 0;
    for (size_t k = 0; k < flips; ++k) {
      std::string damaged = bytes;
      const size_t at = (k * 7919 + offset) % damaged.size();
      damaged[at] = static_cast<char>(damaged[at] ^ mask);
      ganaug::testing::write_text(dir_ / "flipped.pt", damaged);
      try {
        auto loaded = ganaug::load_generator((dir_ / "flipped.pt").string(), "cpu");
        EXPECT_TRUE(torch::equal(ganaug::generate(loaded.generator, classes, 5), expected))
            << "a flip at byte " << at << " of " << damaged.size() << " changed the images";
        EXPECT_EQ(loaded.class_names, reference.class_names);
      } catch (const ganaug::Error&) {
        ++refused;
      }
    }
    return refused;
  }

  fs::path dir_;
  ganaug::LabeledDataset data_;
};

}  // namespace

TEST_F(GanTest, TrainingStepChangesWeightsWithoutNaN) {
  ganaug::GanTrainer trainer(options(3), data_.class_names);
  const auto before = trainer.generator()->parameters()[1].clone();
  std::vector<ganaug::GanProgress> reports;
  trainer.on_progress = [&](const ganaug::GanProgress& p) { reports.push_back(p); };
  EXPECT_TRUE(trainer.train(data_));
  EXPECT_EQ(trainer.iteration(), 3);
  EXPECT_FALSE(torch::equal(before, trainer.generator()->parameters()[1]));
  for (const auto& p : trainer.generator()->parameters())
    EXPECT_TRUE(torch::isfinite(p).all().item<bool>());
  ASSERT_EQ(reports.size(), 2u);  // iteration 2 and the end
  EXPECT_TRUE(std::isfinite(reports.back().d_loss));
  EXPECT_GT(reports.back().images_per_second, 0);
}

TEST_F(GanTest, ResumeMatchesUninterruptedTraining) {
  ganaug::GanTrainer straight(options(6), data_.class_names);
  straight.train(data_);

  ganaug::GanTrainer first(options(3).out_dir(dir_.string()), data_.class_names);
  first.train(data_);
  ASSERT_TRUE(fs::exists(dir_ / "checkpoint.pt"));
  ganaug::GanTrainer second(options(6), data_.class_names);
  second.resume((dir_ / "checkpoint.pt").string());
  EXPECT_EQ(second.iteration(), 3);
  second.train(data_);
  EXPECT_TRUE(same_weights(*straight.generator(), *second.generator()));
  EXPECT_TRUE(same_weights(*straight.discriminator(), *second.discriminator()));
  EXPECT_TRUE(same_weights(*straight.sampling_generator(), *second.sampling_generator()));
}

TEST_F(GanTest, WritesLogAndSamplesAndStopsOnRequest) {
  ganaug::GanTrainer trainer(options(10).out_dir(dir_.string()).sample_every(2), data_.class_names);
  int64_t sample_calls = 0;
  trainer.on_samples = [&](int64_t, const torch::Tensor& samples) {
    ++sample_calls;
    EXPECT_EQ(samples.size(0), 2 * 8);  // one row of 8 per class
  };
  trainer.should_stop = [&] { return trainer.iteration() >= 4; };
  EXPECT_FALSE(trainer.train(data_));
  EXPECT_EQ(trainer.iteration(), 4);
  EXPECT_EQ(sample_calls, 2);
  std::ifstream log(dir_ / "log.csv");
  std::string header;
  std::getline(log, header);
  EXPECT_EQ(header, "iteration,d_loss,g_loss,d_real,d_fake,seconds,images_per_s");
  EXPECT_EQ(ganaug::load_generator((dir_ / "checkpoint.pt").string(), "cpu").iteration, 4);
}

TEST_F(GanTest, DamagedCheckpointIsRefused) {
  const auto path = dir_ / "damaged.pt";
  std::ofstream(path) << "not a checkpoint at all";
  try {
    ganaug::load_generator(path.string(), "cpu");
    FAIL() << "expected ganaug::Error";
  } catch (const ganaug::Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("damaged.pt"), std::string::npos) << message;
    EXPECT_NE(message.find("damaged"), std::string::npos) << message;
  }
  // A truncated real checkpoint is refused too.
  ganaug::GanTrainer trainer(options(1), data_.class_names);
  trainer.save_checkpoint((dir_ / "good.pt").string());
  const auto size = fs::file_size(dir_ / "good.pt");
  fs::copy_file(dir_ / "good.pt", dir_ / "cut.pt");
  fs::resize_file(dir_ / "cut.pt", size / 2);
  EXPECT_THROW(ganaug::load_generator((dir_ / "cut.pt").string(), "cpu"), ganaug::Error);
  EXPECT_THROW(ganaug::load_generator((dir_ / "missing.pt").string(), "cpu"), ganaug::Error);
}

TEST_F(GanTest, MismatchedArchitectureIsRefused) {
  ganaug::GanTrainer trainer(options(1), data_.class_names);
  trainer.save_checkpoint((dir_ / "c.pt").string());
  // Width and the minibatch-std feature both shape the networks.
  const std::pair<ganaug::GanOptions, const char*> cases[] = {
      {options(1).g_width(12), "g_width 8 in the file vs 12"},
      {options(1).minibatch_std(false), "minibatch_std 1 in the file vs 0"}};
  for (const auto& [other, message] : cases) {
    ganaug::GanTrainer mismatched(other, data_.class_names);
    ganaug::testing::expect_error([&] { mismatched.resume((dir_ / "c.pt").string()); }, {message});
  }
}

TEST_F(GanTest, ModeSeekingTrainsAndIsRecorded) {
  // The mode-seeking term changes the generator's updates (same seed, same draws otherwise) and
  // its weight travels with the checkpoint.
  ganaug::GanTrainer seeking(
      options(3).mode_seeking(2.0).diffaugment(ganaug::DiffAugmentPolicy::parse("cutout")),
      data_.class_names);
  ganaug::GanTrainer plain(options(3).mode_seeking(0.0), data_.class_names);
  ASSERT_TRUE(seeking.train(data_));
  ASSERT_TRUE(plain.train(data_));
  auto a = seeking.sampling_generator();
  auto b = plain.sampling_generator();
  EXPECT_FALSE(same_weights(*a, *b));
  const auto classes = ganaug::balanced_classes(0, 4, 2);
  EXPECT_TRUE(torch::isfinite(ganaug::generate(a, classes, 1)).all().item<bool>());
  seeking.save_checkpoint((dir_ / "s.pt").string());
  const auto stored = ganaug::load_generator((dir_ / "s.pt").string(), "cpu").options;
  EXPECT_DOUBLE_EQ(stored.mode_seeking(), 2.0);
  EXPECT_EQ(ganaug::to_string(stored.diffaugment()), "cutout");
  plain.save_checkpoint((dir_ / "p.pt").string());
  EXPECT_FALSE(ganaug::load_generator((dir_ / "p.pt").string(), "cpu").options.diffaugment());
  EXPECT_THROW(options(1).mode_seeking(-1).validate(), ganaug::Error);
  // The ranges are worded as the classifier's are (one phrasing for both tables of fields).
  ganaug::testing::expect_error([&] { options(1).mode_seeking(-1).validate(); },
                                {"(mode_seeking) must be 0 or positive, got -1"});
  ganaug::testing::expect_error([&] { options(1).batch_size(0).validate(); },
                                {"(batch_size) must be positive, got 0"});
  ganaug::testing::expect_error([&] { options(1).g_lr(0).validate(); },
                                {"(g_lr) must be positive"});
  ganaug::testing::expect_error([&] { options(1).g_width(3).validate(); },
                                {"(g_width) must lie in [4, 4096], got 3"});
  EXPECT_THROW(options(1).threads(-1).validate(), ganaug::Error);
  EXPECT_THROW(options(1).checkpoint_every(-5).validate(), ganaug::Error);
  EXPECT_THROW(options(1).sample_every(-1).validate(), ganaug::Error);
}

TEST_F(GanTest, CheckpointRecordsShapeAndClasses) {
  ganaug::GanTrainer trainer(options(2), data_.class_names);
  trainer.train(data_);
  trainer.save_checkpoint((dir_ / "c.pt").string());
  EXPECT_FALSE(fs::exists(dir_ / "c.pt.tmp"));
  auto loaded = ganaug::load_generator((dir_ / "c.pt").string(), "cpu");
  EXPECT_EQ(loaded.class_names, data_.class_names);
  EXPECT_EQ(loaded.options.image_size(), 16);
  EXPECT_EQ(loaded.iteration, 2);
  auto original = trainer.sampling_generator();
  const auto classes = ganaug::balanced_classes(0, 6, 2);
  EXPECT_TRUE(torch::equal(ganaug::generate(original, classes, 5),
                           ganaug::generate(loaded.generator, classes, 5)));
}

TEST_F(GanTest, DivergenceStopsAndKeepsLastCheckpoint) {
  ganaug::GanTrainer trainer(options(4).out_dir(dir_.string()), data_.class_names);
  trainer.train(data_);
  {
    torch::NoGradGuard no_grad;
    trainer.generator()->parameters()[0].fill_(std::numeric_limits<float>::quiet_NaN());
  }
  trainer.options().iterations(8);
  try {
    trainer.train(data_);
    FAIL() << "expected ganaug::Error";
  } catch (const ganaug::Error& e) {
    // Losses stay on the device and are read every log_every (2) iterations.
    EXPECT_NE(std::string(e.what()).find("diverged by iteration 6"), std::string::npos) << e.what();
  }
  EXPECT_EQ(ganaug::load_generator((dir_ / "checkpoint.pt").string(), "cpu").iteration, 4);
}

TEST_F(GanTest, SamplingIsDeterministicPerSeedAndShardable) {
  ganaug::GanTrainer trainer(options(2), data_.class_names);
  trainer.train(data_);
  auto g = trainer.sampling_generator();
  const auto classes = ganaug::balanced_classes(0, 10, 2);
  const auto a = ganaug::generate(g, classes, 42, 0, 4);
  EXPECT_TRUE(torch::equal(a, ganaug::generate(g, classes, 42, 0, 4)));
  // Another batch size only changes the kernels' rounding.
  EXPECT_TRUE(torch::allclose(a, ganaug::generate(g, classes, 42, 0, 3), 1e-5, 1e-6));
  EXPECT_FALSE(torch::equal(a, ganaug::generate(g, classes, 43, 0, 4)));
  // Images 6..9 generated alone equal the same images of the whole run.
  const auto shard = ganaug::generate(g, ganaug::balanced_classes(6, 4, 2), 42, 6);
  EXPECT_TRUE(torch::allclose(shard, a.slice(0, 6, 10), 1e-5, 1e-6));
  EXPECT_EQ(classes[7].item<int64_t>(), 1);
}

TEST_F(GanTest, GenerateAcceptedKeepsBalancedFilteredImagesOfTheStream) {
  ganaug::GanTrainer trainer(options(2), data_.class_names);
  trainer.train(data_);
  auto g = trainer.sampling_generator();
  // Keep only images whose mean pixel lies above their class's median in the stream: about half
  // are refused, so more rounds are needed, and each class still gets its share of the 10.
  const auto stream_classes = ganaug::balanced_classes(0, 80, 2);
  const auto stream = ganaug::generate(g, stream_classes, 7);
  const auto brightness = [](const torch::Tensor& x) { return x.mean({1, 2, 3}); };
  const auto median = torch::stack({brightness(stream).index({stream_classes == 0}).median(),
                                    brightness(stream).index({stream_classes == 1}).median()});
  int64_t calls = 0;
  const ganaug::ImageFilter keep = [&](const torch::Tensor& images, const torch::Tensor& classes) {
    ++calls;
    return brightness(images) > median.index_select(0, classes);
  };
  const auto accepted = ganaug::generate_accepted(g, 10, 7, keep);
  ASSERT_EQ(accepted.images.size(0), 10);
  EXPECT_TRUE(
      torch::equal(torch::bincount(accepted.classes), torch::tensor({5, 5}, torch::kInt64)));
  EXPECT_TRUE(
      (brightness(accepted.images) > median.index_select(0, accepted.classes)).all().item<bool>());
  EXPECT_EQ(accepted.drawn, 10 * calls);
  EXPECT_GE(calls, 2);
  // Each accepted image is an image of the seeded stream, with the class it was generated for.
  for (int64_t i = 0; i < 10; ++i) {
    const auto match = (stream - accepted.images[i]).abs().amax({1, 2, 3}).lt(1e-5).nonzero();
    ASSERT_EQ(match.size(0), 1) << "image " << i;
    EXPECT_EQ(match[0][0].item<int64_t>() % 2, accepted.classes[i].item<int64_t>());
  }
  // Deterministic; a filter that refuses everything leaves the classes short, and a filter of
  // the wrong length is refused.
  EXPECT_TRUE(torch::equal(ganaug::generate_accepted(g, 10, 7, keep).images, accepted.images));
  const auto none = ganaug::generate_accepted(
      g, 10, 7,
      [](const torch::Tensor& x, const torch::Tensor&) { return torch::zeros({x.size(0)}); }, 3);
  EXPECT_EQ(none.images.size(0), 0);
  EXPECT_EQ(none.drawn, 30);
  EXPECT_THROW(
      ganaug::generate_accepted(
          g, 10, 7, [](const torch::Tensor&, const torch::Tensor&) { return torch::ones({3}); }),
      ganaug::Error);
  // Without a filter: the plain generation.
  const auto plain = ganaug::generate_accepted(g, 10, 7, nullptr);
  EXPECT_EQ(plain.drawn, 10);
  EXPECT_TRUE(torch::allclose(plain.images, stream.slice(0, 0, 10), 1e-5, 1e-6));
}

TEST_F(GanTest, RejectsDataOfAnotherShape) {
  ganaug::GanTrainer trainer(ganaug::GanOptions(2, 28, 1).device("cpu").iterations(1),
                             data_.class_names);
  try {
    trainer.train(data_);
    FAIL();
  } catch (const ganaug::Error& e) {
    EXPECT_NE(std::string(e.what()).find("1x28x28 images but blobs holds 1x16x16"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(GanTest, TrainsOnCuda_CUDA) {
  if (!ganaug::cuda_available()) GTEST_SKIP() << "no CUDA device";
  ganaug::GanTrainer trainer(options(3).device("cuda"), data_.class_names);
  EXPECT_TRUE(trainer.train(data_));
  EXPECT_TRUE(trainer.device().is_cuda());
  auto g = trainer.sampling_generator();
  const auto images = ganaug::generate(g, ganaug::balanced_classes(0, 4, 2), 1);
  EXPECT_TRUE(images.device().is_cpu());
  EXPECT_TRUE(torch::isfinite(images).all().item<bool>());
}

TEST_F(GanTest, TrainsTheSameInDeterministicMode) {
  // Every op of a training step has a deterministic CPU implementation (none throws in
  // deterministic mode), and CPU results do not depend on the mode.
  ganaug::GanTrainer plain(options(3), data_.class_names);
  ASSERT_TRUE(plain.train(data_));
  ganaug::use_deterministic_algorithms(true);
  ganaug::GanTrainer strict(options(3), data_.class_names);
  const bool trained = strict.train(data_);
  ganaug::use_deterministic_algorithms(false);
  ASSERT_TRUE(trained);
  EXPECT_TRUE(same_weights(*plain.generator(), *strict.generator()));
  EXPECT_TRUE(same_weights(*plain.discriminator(), *strict.discriminator()));
}

TEST_F(GanTest, RepeatsAndMovesCheckpointsBetweenDevices_CUDA) {
  if (!ganaug::cuda_available()) GTEST_SKIP() << "no CUDA device";
  ganaug::use_deterministic_algorithms(true);
  ganaug::GanTrainer first(options(4).device("cuda").out_dir(dir_.string()), data_.class_names);
  ganaug::GanTrainer second(options(4).device("cuda"), data_.class_names);
  const bool trained = first.train(data_) && second.train(data_);
  ganaug::use_deterministic_algorithms(false);
  ASSERT_TRUE(trained);
  EXPECT_TRUE(same_weights(*first.generator(), *second.generator()))
      << "CUDA repeats bit for bit in deterministic mode";
  // CUDA -> CPU: sampled on the CPU, and resumed and trained on there; CPU -> CUDA again.
  const auto checkpoint = (dir_ / "checkpoint.pt").string();
  auto on_cpu = ganaug::load_generator(checkpoint, "cpu");
  const auto classes = ganaug::balanced_classes(0, 6, 2);
  auto sampler = first.sampling_generator();
  // The same images up to rounding: cuDNN runs float convolutions in TF32 on Ampere and later
  // GPUs (LibTorch's default), about three significant digits.
  const float difference =
      (ganaug::generate(on_cpu.generator, classes, 3) - ganaug::generate(sampler, classes, 3))
          .abs()
          .max()
          .item<float>();
  EXPECT_LT(difference, 2e-2) << "largest pixel difference between the CPU and CUDA images";
  ganaug::GanTrainer resumed(options(6).out_dir((dir_ / "cpu").string()), data_.class_names);
  resumed.resume(checkpoint);
  ASSERT_TRUE(resumed.train(data_));
  auto back = ganaug::load_generator((dir_ / "cpu" / "checkpoint.pt").string(), "cuda");
  EXPECT_TRUE(back.generator->parameters().front().is_cuda());
  EXPECT_TRUE(torch::isfinite(ganaug::generate(back.generator, classes, 3)).all().item<bool>());
}

TEST_F(GanTest, FlippedBytesAreRefusedOrChangeNothing) {
  // LibTorch does not check its archives' CRCs: without ganaug's checksum, a flipped byte in a
  // weight loaded silently and changed every image.
  ganaug::GanTrainer trainer(options(1), data_.class_names);
  const auto path = dir_ / "good.pt";
  trainer.save_checkpoint(path.string());
  EXPECT_GT(refused_flips(path, 60, 13, 0x5a), 0);
}

TEST_F(GanTest, NonFiniteWeightsAndNewerFormatsAreRefused) {
  ganaug::GanTrainer trainer(options(1), data_.class_names);
  {
    torch::NoGradGuard no_grad;
    trainer.sampling_generator()->parameters()[0].view(-1)[0] =
        std::numeric_limits<float>::quiet_NaN();
  }
  trainer.save_checkpoint((dir_ / "nan.pt").string());
  ganaug::testing::expect_error([&] { ganaug::load_generator((dir_ / "nan.pt").string(), "cpu"); },
                                {"nan.pt", "holds NaN or Inf", "generator_ema"});

  ganaug::testing::write_text(dir_ / "future.pt",
                              "ganaug-gan-checkpoint-v99 bytes=3 fnv1a64=0000000000000000\nabc");
  ganaug::testing::expect_error(
      [&] { ganaug::load_generator((dir_ / "future.pt").string(), "cpu"); },
      {"future.pt", "newer ganaug", "v99"});
}

TEST_F(GanTest, ClassNamesWithNewlinesRoundTrip) {
  const std::vector<std::string> names = {"two\nlines", "comma, \"quoted\""};
  ganaug::GanTrainer trainer(options(1), names);
  trainer.save_checkpoint((dir_ / "names.pt").string());
  EXPECT_EQ(ganaug::load_generator((dir_ / "names.pt").string(), "cpu").class_names, names);
  ganaug::GanTrainer resumed(options(1), names);
  resumed.resume((dir_ / "names.pt").string());
  EXPECT_EQ(resumed.class_names(), names);
}

TEST_F(GanTest, FormatV1CheckpointsAreReadAndCheckedRecordByRecord) {
  // tests/data/checkpoint_v1.pt: a format-v1 checkpoint (a plain LibTorch archive; 2 classes,
  // 16x16 gray, widths 8) made by fuzz/make_corpus.cpp. Every later version must read it.
  const fs::path fixture = fs::path(GANAUG_TEST_DATA) / "checkpoint_v1.pt";
  auto loaded = ganaug::load_generator(fixture.string(), "cpu");
  EXPECT_EQ(loaded.options.image_size(), 16);
  EXPECT_EQ(loaded.class_names.size(), 2u);
  const auto images = ganaug::generate(loaded.generator, torch::tensor({0, 1}, torch::kInt64), 3);
  EXPECT_TRUE(torch::isfinite(images).all().item<bool>());
  // LibTorch checks no CRC and crashes on some damaged archives: ganaug checks each record's CRC
  // first, so a flipped byte is refused or harmless (zip padding, the unchecked directory).
  EXPECT_GT(refused_flips(fixture, 40, 101, 0x21), 20);
}

TEST_F(GanTest, WeightsThatDoNotFitTheSettingsAreRefused) {
  // Found by fuzzing: LibTorch loads a stored tensor whatever its shape, so a checkpoint whose
  // settings say 3 channels but whose weights make 1 used to load and paint gray as color.
  for (const char* name :
       {"weights_shape_channels_3", "weights_shape_image_size_20",
        "weights_shape_weights_of_latent_8", "weights_shape_weights_of_width_8"}) {
    const auto path = fs::path(GANAUG_TEST_DATA) / "fuzz_regressions" / "fuzz_checkpoint" / name;
    ganaug::testing::expect_error([&] { ganaug::load_generator(path.string(), "cpu"); },
                                  {"is damaged", "weight"});
  }
}

namespace {

// The LibTorch archive inside a format-v2 checkpoint (the bytes after its header line).
torch::serialize::InputArchive checkpoint_payload(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string header;
  std::getline(in, header);
  const std::string payload((std::istreambuf_iterator<char>(in)), {});
  torch::serialize::InputArchive archive;
  archive.load_from(payload.data(), payload.size());
  return archive;
}

}  // namespace

TEST_F(GanTest, FormatV1OptimizerStateIsReadByParameterOrder) {
  // Format v1 stored Adam's moments in LibTorch 1.13's own layout, keyed by the writing
  // process's tensor addresses as hexadecimal text, which LibTorch 2.x's Adam::load would parse
  // as decimal (every key 0, then a crash). ganaug reads that layout itself, by order.
  ganaug::GanTrainer trainer(options(2), data_.class_names);
  ASSERT_TRUE(trainer.train(data_));
  trainer.save_checkpoint((dir_ / "v2.pt").string());
  auto v2 = checkpoint_payload(dir_ / "v2.pt");
  torch::serialize::OutputArchive v1;
  const std::set<std::string> modules{"generator", "discriminator", "generator_ema", "g_optimizer",
                                      "d_optimizer"};
  for (const auto& key : v2.keys()) {
    if (modules.count(key)) continue;
    c10::IValue value;
    v2.read(key, value);
    v1.write(key, value);
  }
  v1.write("format", c10::IValue(std::string("ganaug-gan-checkpoint-v1")));
  auto write_module = [&](const char* key, torch::nn::Module& module) {
    torch::serialize::OutputArchive sub;
    module.save(sub);
    v1.write(key, sub);
  };
  write_module("generator", *trainer.generator());
  write_module("discriminator", *trainer.discriminator());
  write_module("generator_ema", *trainer.sampling_generator());
  // One Adam step (learning rate 0) on gradients of ones: moments 0.1 and 0.001 everywhere.
  auto write_adam = [&](const char* key, torch::nn::Module& module) {
    torch::optim::Adam adam(module.parameters(), torch::optim::AdamOptions(0.0));
    for (auto& p : module.parameters()) p.mutable_grad() = torch::ones_like(p);
    adam.step();
    torch::serialize::OutputArchive sub;
    adam.save(sub);
    v1.write(key, sub);
  };
  write_adam("g_optimizer", *trainer.generator());
  write_adam("d_optimizer", *trainer.discriminator());
  v1.save_to((dir_ / "v1.pt").string());

  ganaug::GanTrainer resumed(options(4), data_.class_names);
  resumed.resume((dir_ / "v1.pt").string());
  resumed.save_checkpoint((dir_ / "again.pt").string());
  auto again = checkpoint_payload(dir_ / "again.pt");
  for (const char* key : {"g_optimizer", "d_optimizer"}) {
    torch::serialize::InputArchive sub;
    ASSERT_TRUE(again.try_read(key, sub));
    const auto count = (std::string(key) == "g_optimizer" ? trainer.generator()->parameters()
                                                          : trainer.discriminator()->parameters())
                           .size();
    for (size_t i = 0; i < count; ++i) {
      torch::Tensor exp_avg, exp_avg_sq;
      ASSERT_TRUE(sub.try_read("exp_avg_" + std::to_string(i), exp_avg)) << key << " " << i;
      ASSERT_TRUE(sub.try_read("exp_avg_sq_" + std::to_string(i), exp_avg_sq));
      EXPECT_TRUE(torch::allclose(exp_avg, torch::full_like(exp_avg, 0.1))) << key << " " << i;
      EXPECT_TRUE(torch::allclose(exp_avg_sq, torch::full_like(exp_avg_sq, 0.001)));
    }
  }
  EXPECT_TRUE(resumed.train(data_));
  EXPECT_EQ(resumed.iteration(), 4);
}

TEST_F(GanTest, AZipRecordWhoseSizeCannotBeTrueIsRefusedBeforeAnyAllocation) {
  // Found by fuzzing in CI: one byte of a deflated record's declared size, changed to say 2 GB,
  // made the record check allocate 2 GB before inflating. Deflate expands at most 1032-fold.
  const auto path = fs::path(GANAUG_TEST_DATA) / "fuzz_regressions" / "fuzz_checkpoint" /
                    "oom_2gb_alloc_in_zip_check_inflated_size";
  ganaug::testing::expect_error([&] { ganaug::load_generator(path.string(), "cpu"); },
                                {"is damaged", "does not unpack"});
}

TEST_F(GanTest, CheckpointsAreTheSameBytesForTheSameTrainingAndResumeByParameterIndex) {
  // Adam's moments are stored by parameter index, not by tensor address (LibTorch 1.13's own
  // layout), so two identical runs write identical files and a resumed run whose tensors live
  // elsewhere finds its moments.
  ganaug::GanTrainer first(options(3), data_.class_names);
  ASSERT_TRUE(first.train(data_));
  first.save_checkpoint((dir_ / "first.pt").string());
  std::vector<torch::Tensor> elsewhere;  // moves where the next trainer's tensors are allocated
  for (int i = 0; i < 64; ++i) elsewhere.push_back(torch::rand({17 + i}));
  ganaug::GanTrainer second(options(3), data_.class_names);
  ASSERT_TRUE(second.train(data_));
  second.save_checkpoint((dir_ / "second.pt").string());
  std::ifstream a(dir_ / "first.pt", std::ios::binary), b(dir_ / "second.pt", std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(a), {}),
            std::string(std::istreambuf_iterator<char>(b), {}));

  // Resumed (into a trainer built after other allocations) and trained on, it matches a run
  // that never stopped.
  ganaug::GanTrainer straight(options(5), data_.class_names);
  ASSERT_TRUE(straight.train(data_));
  ganaug::GanTrainer resumed(options(5), data_.class_names);
  resumed.resume((dir_ / "first.pt").string());
  ASSERT_TRUE(resumed.train(data_));
  EXPECT_TRUE(same_weights(*straight.generator(), *resumed.generator()));
  EXPECT_TRUE(same_weights(*straight.discriminator(), *resumed.discriminator()));
}

TEST(GanClasses, FakeClassesFollowTheDataClassFrequencies) {
  auto rng = ganaug::make_cpu_generator(5);
  const int64_t n = 20000;
  const auto drawn =
      ganaug::detail::FakeClasses(torch::tensor({900, 100, 0}, torch::kInt64), torch::kCPU)
          .draw(n, rng);
  const auto counts = torch::bincount(drawn, {}, 3).to(torch::kFloat64) / n;
  EXPECT_NEAR(counts[0].item<double>(), 0.9, 0.01);
  EXPECT_NEAR(counts[1].item<double>(), 0.1, 0.01);
  EXPECT_EQ(counts[2].item<double>(), 0.0) << "a class without images is never drawn";
  // Balanced data: the uniform draw of output revision 2, number for number.
  auto a = ganaug::make_cpu_generator(6), b = ganaug::make_cpu_generator(6);
  EXPECT_TRUE(torch::equal(
      ganaug::detail::FakeClasses(torch::full({4}, 7, torch::kInt64), torch::kCPU).draw(64, a),
      torch::randint(4, {64}, b, torch::kInt64)));
  ganaug::testing::expect_error(
      [] { ganaug::detail::FakeClasses(torch::zeros({3}, torch::kInt64), torch::kCPU); },
      {"at least one image"});
}

TEST_F(GanTest, TrainsOnImbalancedClasses) {
  // Every image of one class and 3 of the other: the fake classes follow the same imbalance,
  // and a run still repeats bit for bit.
  ganaug::LabeledDataset skewed = data_;
  const auto keep = torch::cat({torch::nonzero(data_.labels == 0).flatten(),
                                torch::nonzero(data_.labels == 1).flatten().slice(0, 0, 3)});
  skewed.images = data_.images.index_select(0, keep);
  skewed.labels = data_.labels.index_select(0, keep);
  ganaug::GanTrainer trainer(options(3), skewed.class_names);
  EXPECT_TRUE(trainer.train(skewed));
  ganaug::GanTrainer again(options(3), skewed.class_names);
  EXPECT_TRUE(again.train(skewed));
  EXPECT_TRUE(same_weights(*trainer.generator(), *again.generator()));
}

TEST_F(GanTest, UnlabeledImagesTrainTheDiscriminatorWithoutAClassOnlyWhenAsked) {
  // The blobs plus a pool labeled -1 of other images (the blobs mirrored top to bottom).
  ganaug::LabeledDataset pooled = data_;
  pooled.images = torch::cat({data_.images, data_.images.flip({2})});
  pooled.labels = torch::cat({data_.labels, torch::full({32}, -1, torch::kInt64)});
  const auto train = [&](const ganaug::LabeledDataset& data, double share) {
    ganaug::GanTrainer trainer(options(3).unlabeled_share(share), data.class_names);
    EXPECT_TRUE(trainer.train(data));
    return trainer;
  };
  // Share 0: the pool is left out, as if it were not there.
  auto labeled_only = train(data_, 0.0);
  auto ignored = train(pooled, 0.0);
  EXPECT_TRUE(same_weights(*labeled_only.discriminator(), *ignored.discriminator()));
  // Share above 0: the pool trains the discriminator, and which pool it is matters.
  auto used = train(pooled, 0.5);
  EXPECT_FALSE(same_weights(*labeled_only.discriminator(), *used.discriminator()));
  ganaug::LabeledDataset other_pool = pooled;
  other_pool.images = pooled.images.clone();
  other_pool.images.slice(0, 32).neg_();
  auto other = train(other_pool, 0.5);
  EXPECT_FALSE(same_weights(*used.discriminator(), *other.discriminator()));
  // Repeatable, and the share is kept in the checkpoint.
  auto again = train(pooled, 0.5);
  EXPECT_TRUE(same_weights(*used.generator(), *again.generator()));
  used.save_checkpoint((dir_ / "pooled.pt").string());
  EXPECT_DOUBLE_EQ(
      ganaug::load_generator((dir_ / "pooled.pt").string(), "cpu").options.unlabeled_share(), 0.5);
  // A share of the data with no image labeled -1 changes nothing.
  auto no_pool = train(data_, 0.5);
  EXPECT_TRUE(same_weights(*labeled_only.generator(), *no_pool.generator()));
  ganaug::testing::expect_error([&] { options(3).unlabeled_share(1.0).validate(); },
                                {"unlabeled share", "[0, 1)"});
}

TEST_F(GanTest, TheEmaGeneratorsBatchNormStatisticsComeFromItsOwnSamples) {
  ganaug::GanTrainer trainer(options(20), data_.class_names);
  ASSERT_TRUE(trainer.train(data_));
  auto sampler = trainer.sampling_generator();
  std::vector<torch::nn::BatchNorm2dImpl*> layers;
  std::vector<torch::Tensor> means, variances;
  for (auto& module : sampler->modules(false)) {
    if (auto* bn = module->as<torch::nn::BatchNorm2d>()) {
      layers.push_back(bn);
      means.push_back(bn->running_mean.clone());
      variances.push_back(bn->running_var.clone());
    }
  }
  ASSERT_FALSE(layers.empty());
  // Not the raw generator's statistics, which training copies into it every step.
  int64_t i = 0, differ = 0;
  for (auto& module : trainer.generator()->modules(false)) {
    if (auto* bn = module->as<torch::nn::BatchNorm2d>())
      differ += torch::equal(bn->running_mean, means[i++]) ? 0 : 1;
  }
  EXPECT_GT(differ, 0);
  // Asking again gives the same statistics, and a checkpoint holds them.
  trainer.sampling_generator();
  for (size_t l = 0; l < layers.size(); ++l)
    EXPECT_TRUE(torch::equal(layers[l]->running_mean, means[l]));
  trainer.save_checkpoint((dir_ / "ema.pt").string());
  auto loaded = ganaug::load_generator((dir_ / "ema.pt").string(), "cpu");
  i = 0;
  for (auto& module : loaded.generator->modules(false)) {
    if (auto* bn = module->as<torch::nn::BatchNorm2d>()) {
      EXPECT_TRUE(torch::equal(bn->running_var, variances[i++]));
    }
  }
  // They describe the EMA generator's own activations: one large fresh batch in training mode
  // (momentum 1: its statistics replace the running ones) gives about the same.
  for (auto* bn : layers) bn->options.momentum(1.0);
  sampler->train();
  {
    torch::NoGradGuard no_grad;
    const int64_t n = 4096;
    sampler(torch::randn({n, 8}), ganaug::balanced_classes(0, n, 2));
  }
  for (size_t l = 0; l < layers.size(); ++l) {
    EXPECT_TRUE(torch::allclose(layers[l]->running_mean, means[l], 0.05, 0.05)) << l;
    EXPECT_TRUE(torch::allclose(layers[l]->running_var, variances[l], 0.1, 0.05)) << l;
  }
}

TEST(GanOptionsTest, DifferencesNameTheStoredFieldsThatDifferAndSettingsValidateWithoutData) {
  const auto plain = ganaug::GanOptions(3);
  EXPECT_TRUE(ganaug::gan_option_differences(plain, plain).empty());
  const auto changed = ganaug::GanOptions(3)
                           .g_width(16)
                           .loss(ganaug::GanLoss::kBce)
                           .diffaugment(ganaug::DiffAugmentPolicy::parse("cutout"))
                           .threads(4);  // not stored in checkpoints: not a difference
  const auto differences = ganaug::gan_option_differences(changed, plain);
  ASSERT_EQ(differences.size(), 3u);
  EXPECT_EQ(differences[0].first, "g_width");
  EXPECT_EQ(differences[0].second.toInt(), 16);
  EXPECT_EQ(differences[1].first, "loss");
  EXPECT_EQ(differences[1].second.toStringRef(), "bce");
  EXPECT_EQ(differences[2].first, "diffaugment");
  EXPECT_EQ(differences[2].second.toStringRef(), "cutout");
  // Settings held before the data is known: the shape is not checked, everything else is.
  EXPECT_NO_THROW(ganaug::GanOptions(1).image_size(13).channels(2).validate_settings());
  EXPECT_THROW(ganaug::GanOptions(1).image_size(13).validate(), ganaug::Error);
  EXPECT_THROW(ganaug::GanOptions(1).g_width(3).validate_settings(), ganaug::Error);
}

}  // namespace ganaug_tests_gan
