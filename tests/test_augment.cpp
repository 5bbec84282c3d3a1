// End to end: the augment pipeline and its command line on a tiny IDX dataset built here.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <set>
#include <thread>

#include "ganaug/datasets/idx.hpp"
#include "ganaug/datasets/image.hpp"
#include "ganaug/distributed.hpp"
#include "ganaug/export.hpp"
#include "ganaug/file_io.hpp"
#include "ganaug/jobs/augment.hpp"
#include "ganaug/runtime.hpp"
#include "ganaug/version.hpp"
#include "test_support.hpp"
#include "tiny_data.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_augment {

namespace fs = std::filesystem;

namespace {

ganaug::jobs::AugmentOptions tiny(const fs::path& data, const fs::path& out,
                                  ganaug::Scheme scheme) {
  return ganaug::jobs::AugmentOptions()
      .data(ganaug::DatasetSpec().path(data.string()).per_class(0))
      .scheme(scheme)
      .n(23)
      .out_dir(out.string())
      .gan(ganaug::GanOptions(ganaug::jobs::AugmentOptions().gan()).iterations(3))
      .classifier(ganaug::ClassifierOptions(2).epochs(1))
      .device("cpu")
      .threads(2);
}

std::vector<std::vector<std::string>> read_rows(const fs::path& manifest) {
  std::ifstream in(manifest);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::stringstream stream(line);
    std::string field;
    while (std::getline(stream, field, ',')) fields.push_back(field);
    rows.push_back(fields);
  }
  return rows;
}

// Runs `options` and stops it (ganaug::Interrupted, expected) once `images` are generated.
void run_until_generated(const ganaug::jobs::AugmentOptions& options, double images) {
  ganaug::jobs::AugmentCallbacks callbacks;
  std::atomic<bool> stop{false};
  callbacks.on_progress = [&](const std::string& stage, double done, double, const std::string&) {
    if (stage == "generate" && done >= images) stop = true;
  };
  callbacks.should_stop = [&] { return stop.load(); };
  EXPECT_THROW(ganaug::jobs::run_augment(options, callbacks), ganaug::Interrupted);
}

int run_tool(const std::string& arguments, std::string* output = nullptr) {
  return ganaug::testing::run_program(GANAUG_AUGMENT_EXE, arguments, output);
}

}  // namespace

TEST(Augment, OutputContractForEveryScheme) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  for (auto scheme : ganaug::all_schemes()) {
    const auto out = dir / ("out-" + ganaug::to_string(scheme));
    const auto summary = ganaug::jobs::run_augment(tiny(dir / "data", out, scheme));
    const int64_t width = ganaug::target_width(scheme, 3);
    const auto rows = read_rows(out / "labels.csv");
    ASSERT_EQ(rows.size(), 24u) << ganaug::to_string(scheme);
    EXPECT_EQ(rows[0].size(), static_cast<size_t>(3 + width));
    EXPECT_EQ(rows[0][0], "file");
    EXPECT_EQ(rows[0].back(), "p" + std::to_string(width - 1));
    for (size_t i = 1; i < rows.size(); ++i) {
      char expected[32];
      std::snprintf(expected, sizeof expected, "images/%08zu.png", i - 1);
      ASSERT_EQ(rows[i][0], expected);
      EXPECT_TRUE(fs::exists(out / rows[i][0]));
      EXPECT_EQ(std::stoll(rows[i][1]), static_cast<int64_t>((i - 1) % 3));  // balanced classes
      double sum = 0;
      for (int64_t k = 0; k < width; ++k) sum += std::stod(rows[i][3 + k]);
      EXPECT_NEAR(sum, 1.0, 1e-5);
      const int64_t label = std::stoll(rows[i][2]);
      switch (scheme) {
        case ganaug::Scheme::kSmooth:
          EXPECT_EQ(label, -1);
          break;
        case ganaug::Scheme::kNewClass:
          EXPECT_EQ(label, 3);
          break;
        case ganaug::Scheme::kCond:
          EXPECT_EQ(label, std::stoll(rows[i][1]));
          break;
        case ganaug::Scheme::kArgmax:
          EXPECT_GE(label, 0);
          EXPECT_LT(label, 3);
          EXPECT_EQ(std::stod(rows[i][3 + label]), 1.0);
          break;
      }
    }
    EXPECT_EQ(std::distance(fs::directory_iterator(out / "images"), fs::directory_iterator()), 23);
    std::ifstream json_file(out / "summary.json");
    const auto written = nlohmann::json::parse(json_file);
    for (const char* key : {"scheme", "num_classes", "class_names", "n", "seed", "timings",
                            "gan_images_per_s", "baseline", "retrained", "gain"}) {
      EXPECT_TRUE(written.contains(key)) << key;
    }
    // On the CPU no step runs as a CUDA graph; the GAN trains in fp32 by default.
    EXPECT_EQ(written.value("cuda_graphs", true), false);
    EXPECT_EQ(written.value("gan_precision", std::string()), "fp32");
    for (const char* key : {"load_s", "gan_train_s", "generate_s", "retrain_s", "total_s"}) {
      EXPECT_TRUE(written["timings"].contains(key)) << key;
    }
    EXPECT_EQ(written["scheme"], ganaug::to_string(scheme));
    EXPECT_EQ(written["n"], 23);
    EXPECT_EQ(written["retrained"]["per_class_accuracy"].size(), 3u);
    EXPECT_NEAR(written["gain"].get<double>(),
                written["retrained"]["accuracy"].get<double>() -
                    written["baseline"]["accuracy"].get<double>(),
                1e-12);
    EXPECT_EQ(summary, written);
  }
}

TEST(Augment, InterruptedRunResumesWithoutDuplicatesOrGaps) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  // Small batches: the source runs at most a limiter's worth of batches ahead of the manifest,
  // so a stop after 100 listed images leaves the run well short of 600 whatever the timing.
  auto options = tiny(dir / "data", dir / "out", ganaug::Scheme::kCond)
                     .n(600)
                     .generate_batch_size(20)
                     .retrain(false);
  run_until_generated(options, 100);
  const auto partial = read_rows(dir / "out" / "labels.csv");
  const auto files =
      std::distance(fs::directory_iterator(dir / "out" / "images"), fs::directory_iterator());
  ASSERT_GT(partial.size(), 1u);
  ASSERT_LT(partial.size(), 601u);
  EXPECT_EQ(static_cast<size_t>(files), partial.size() - 1);  // exactly the listed images
  EXPECT_FALSE(fs::exists(dir / "out" / "summary.json"));

  // Without --resume the folder is refused; with it the run completes.
  ganaug::testing::expect_error([&] { ganaug::jobs::run_augment(options); },
                                {"is not empty", "--resume"});
  ganaug::jobs::run_augment(options.resume(true));
  const auto rows = read_rows(dir / "out" / "labels.csv");
  ASSERT_EQ(rows.size(), 601u);
  std::set<std::string> names;
  for (size_t i = 1; i < rows.size(); ++i) names.insert(rows[i][0]);
  EXPECT_EQ(names.size(), 600u);
  EXPECT_EQ(rows[600][0], "images/00000599.png");

  // The resumed images equal those of an uninterrupted run (per-image seeds).
  auto straight = options.resume(false).out_dir((dir / "straight").string());
  ganaug::jobs::run_augment(straight);
  for (const char* name : {"images/00000000.png", "images/00000300.png", "images/00000599.png"}) {
    std::ifstream a(dir / "out" / name, std::ios::binary),
        b(dir / "straight" / name, std::ios::binary);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(a), {}),
              std::string(std::istreambuf_iterator<char>(b), {}))
        << name;
  }
}

TEST(Augment, A128PixelRunTrainsGeneratesResumesAndExports) {
  ganaug::testing::TempDir dir;
  // Two classes of 128 x 128 gray images in folders: a bright band in one of two places.
  auto rng = at::make_generator<at::CPUGeneratorImpl>(3);
  for (int64_t i = 0; i < 16; ++i) {
    const int64_t k = i % 2;
    auto image = torch::rand({1, 128, 128}, rng) * 0.4 - 1;
    image.slice(1, 64 * k, 64 * k + 32).add_(1.2);
    fs::create_directories(dir / "data" / std::to_string(k));
    ganaug::write_file_atomic(dir / "data" / std::to_string(k) / (std::to_string(i) + ".png"),
                              ganaug::encode_png(image));
  }
  auto options = ganaug::jobs::AugmentOptions()
                     .data(ganaug::DatasetSpec().path((dir / "data").string()).per_class(0))
                     .test_fraction(0.25)
                     .scheme(ganaug::Scheme::kCond)
                     .n(40)
                     .generate_batch_size(10)
                     .out_dir((dir / "out").string())
                     .gan(ganaug::GanOptions(ganaug::jobs::AugmentOptions().gan())
                              .iterations(2)
                              .g_width(8)
                              .d_width(8)
                              .batch_size(8))
                     .classifier(ganaug::ClassifierOptions(2).epochs(1).width(4))
                     .device("cpu")
                     .threads(2);
  // Stopped while it writes the images, then resumed.
  run_until_generated(options, 10);
  EXPECT_FALSE(fs::exists(dir / "out" / "summary.json"));
  const auto summary = ganaug::jobs::run_augment(options.resume(true));
  EXPECT_EQ(summary["image_shape"], (std::vector<int64_t>{1, 128, 128}));
  EXPECT_EQ(read_rows(dir / "out" / "labels.csv").size(), 41u);
  const auto image = ganaug::decode_image(dir / "out" / "images" / "00000039.png");
  EXPECT_EQ(image.sizes(), (std::vector<int64_t>{1, 128, 128}));
  EXPECT_TRUE(summary.contains("retrained"));
  // The trained generator exports for Python.
  auto loaded = ganaug::load_generator((dir / "out" / "gan" / "checkpoint.pt").string(), "cpu");
  EXPECT_EQ(loaded.options.image_size(), 128);
  ganaug::export_generator(loaded.generator, loaded.class_names, (dir / "g.pt").string());
  EXPECT_GT(fs::file_size(dir / "g.pt"), 0u);
}

TEST(Augment, ZeroImagesRetrainsOnTheRealDataAlone) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  const auto summary =
      ganaug::jobs::run_augment(tiny(dir / "data", dir / "out", ganaug::Scheme::kSmooth).n(0));
  EXPECT_EQ(summary["n"], 0);
  EXPECT_TRUE(summary.contains("retrained"));
  EXPECT_EQ(read_rows(dir / "out" / "labels.csv").size(), 1u);  // the header alone
}

TEST(Augment, TheJobsRunIsEveryStagesAndNestedRunFieldsAreNotRead) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  // The deprecated run fields of the nested options: ignored, as they always were.
  auto options = tiny(dir / "data", dir / "out", ganaug::Scheme::kSmooth).n(0).seed(4);
  options.gan().seed(99).device("cuda").out_dir((dir / "elsewhere").string());
  options.classifier().seed(5).threads(7);
  const auto summary = ganaug::jobs::run_augment(options);
  EXPECT_TRUE(summary.contains("retrained"));
  EXPECT_FALSE(fs::exists(dir / "elsewhere"));
  const auto gan = ganaug::load_generator((dir / "out" / "gan" / "checkpoint.pt").string(), "cpu");
  EXPECT_EQ(gan.options.seed(), 4u);  // the job's seed, in the job's folder
}

TEST(Augment, AFolderMadeByAnotherRevisionIsNotResumed) {
  // A folder from a ganaug that drew its images differently (run.json without this revision)
  // would mix two kinds of images on a resume: refused, saying why.
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  const auto out = dir / "out";
  ganaug::jobs::run_augment(tiny(dir / "data", out, ganaug::Scheme::kCond).retrain(false));
  std::ifstream in(out / "run.json");
  auto record = nlohmann::json::parse(in);
  in.close();
  EXPECT_EQ(record["revision"], ganaug::kOutputRevision);
  record.erase("revision");
  std::ofstream(out / "run.json") << record.dump(2) << "\n";
  ganaug::testing::expect_error(
      [&] {
        ganaug::jobs::run_augment(
            tiny(dir / "data", out, ganaug::Scheme::kCond).retrain(false).resume(true));
      },
      {"cannot resume", "revision"});
}

TEST(Augment, TheLabellersNetworkIsPartOfTheRunRecord) {
  // The argmax labels come from a classifier trained here: another network labels otherwise.
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  const auto out = dir / "out";
  const auto options = tiny(dir / "data", out, ganaug::Scheme::kArgmax).retrain(false);
  ganaug::jobs::run_augment(options);
  std::ifstream in(out / "run.json");
  auto record = nlohmann::json::parse(in);
  in.close();
  EXPECT_EQ(record["labeller"]["network"], "cnn");
  EXPECT_EQ(record["labeller"]["width"], 24);
  const auto with = [&](const ganaug::ClassifierOptions& classifier) {
    return ganaug::jobs::AugmentOptions(options).classifier(classifier);
  };
  const auto classifier = options.classifier();
  for (const auto& other : {with(ganaug::ClassifierOptions(classifier)
                                     .architecture(ganaug::ClassifierArchitecture::kCnnStrided)),
                            with(ganaug::ClassifierOptions(classifier).width(32)),
                            with(ganaug::ClassifierOptions(classifier).lr(0.01))}) {
    ganaug::testing::expect_error(
        [&] { ganaug::jobs::run_augment(ganaug::jobs::AugmentOptions(other).resume(true)); },
        {"cannot resume", "--classifier"});
  }
  // A folder from before the network was recorded was labeled by the defaults of then (cnn at
  // width 32): it resumes with those only.
  for (const char* key : {"network", "width"}) record["labeller"].erase(key);
  std::ofstream(out / "run.json") << record.dump(2) << "\n";
  ganaug::testing::expect_error(
      [&] { ganaug::jobs::run_augment(ganaug::jobs::AugmentOptions(options).resume(true)); },
      {"cannot resume", "--classifier", "\"width\":32"});
  EXPECT_NO_THROW(ganaug::jobs::run_augment(
      with(ganaug::ClassifierOptions(classifier).width(32)).resume(true)));
  // A bad width is refused before anything runs (an unknown network, by the parser).
  ganaug::testing::expect_error(
      [&] { with(ganaug::ClassifierOptions(classifier).width(-1)).validate(); },
      {"--classifier-width", "got -1"});
}

TEST(Augment, TheGanBatchReachesTheCheckpointAndTheRunRecord) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  const auto out = dir / "out";
  auto options = tiny(dir / "data", out, ganaug::Scheme::kCond).retrain(false);
  options.gan().batch_size(16);
  ganaug::jobs::run_augment(options);
  EXPECT_EQ(
      ganaug::load_generator((out / "gan" / "checkpoint.pt").string(), "cpu").options.batch_size(),
      16);
  const auto record = [&] {
    std::ifstream in(out / "run.json");
    return nlohmann::json::parse(in);
  }();
  EXPECT_EQ(record["generator"]["gan_batch"], 16);
  // The GAN's other settings are recorded only when changed (older folders still resume) ...
  EXPECT_FALSE(record["generator"].contains("tuning")) << record.dump();
  // A folder trained at another batch holds another run.
  ganaug::testing::expect_error(
      [&] {
        ganaug::jobs::run_augment(ganaug::jobs::AugmentOptions(options)
                                      .gan(ganaug::GanOptions(options.gan()).batch_size(32))
                                      .resume(true));
      },
      {"cannot resume", "gan_batch"});
  // ... and a folder whose GAN trained with another setting holds another run too.
  for (const auto& other :
       {ganaug::GanOptions(options.gan()).g_width(16), ganaug::GanOptions(options.gan()).d_lr(1e-3),
        ganaug::GanOptions(options.gan())
            .diffaugment(ganaug::DiffAugmentPolicy::parse("translation"))}) {
    ganaug::testing::expect_error(
        [&] {
          ganaug::jobs::run_augment(ganaug::jobs::AugmentOptions(options).gan(other).resume(true));
        },
        {"cannot resume", "tuning"});
  }
  // The batch must split evenly over the processes of a multi-process run.
  ganaug::testing::expect_error(
      [&] {
        ganaug::jobs::AugmentOptions(options)
            .gan(ganaug::GanOptions(options.gan()).batch_size(30))
            .distributed(ganaug::DistributedOptions().world_size(4).rank(0))
            .validate();
      },
      {"batch of 30 images (--gan-batch)", "4 processes"});
}

TEST(Augment, ManifestReadsBackAsDataset) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  ganaug::jobs::run_augment(
      tiny(dir / "data", dir / "out", ganaug::Scheme::kSmooth).retrain(false));
  const auto back =
      ganaug::load_dataset(ganaug::DatasetSpec().path((dir / "out" / "labels.csv").string()));
  EXPECT_EQ(back.size(), 23);
  ASSERT_TRUE(back.targets.defined());
  EXPECT_EQ(back.targets.size(1), 3);
  EXPECT_TRUE(torch::allclose(back.targets, torch::full({23, 3}, 1.0 / 3), 1e-6));
  EXPECT_EQ(back.height(), 16);
  // As training data it has no hard label: refused saying so; as a pool it serves.
  ganaug::testing::expect_error(
      [&] {
        ganaug::jobs::run_augment(
            tiny(dir / "out" / "labels.csv", dir / "again", ganaug::Scheme::kSmooth)
                .retrain(false));
      },
      {"labels.csv has no hard label (every label is -1, as in a labels.csv of the smooth",
       "give it as --unlabeled"});
  EXPECT_NO_THROW(
      ganaug::jobs::run_augment(tiny(dir / "data", dir / "pooled", ganaug::Scheme::kSmooth)
                                    .unlabeled((dir / "out" / "labels.csv").string())
                                    .retrain(false)));
}

TEST(AugmentCli, RunsAndReportsJson) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  std::string output;
  const std::string common = "--data " + (dir / "data").string() +
                             " --per-class 0 --gan-steps 2 --epochs 1 --n 7 --device cpu --json"
                             " --out " +
                             (dir / "out").string();
  // --no-cuda-graphs is accepted (the CPU has no graphs either way).
  ASSERT_EQ(run_tool(common + " --scheme newclass --no-cuda-graphs", &output), 0) << output;
  EXPECT_NE(output.find("\"scheme\": \"newclass\""), std::string::npos) << output;
  EXPECT_NE(output.find("\"deterministic\": false"), std::string::npos) << output;
  // ganaug 0.5's spelling still runs, with a notice naming the switch.
  ASSERT_EQ(run_tool(common + " --scheme newclass --cuda-graphs off --force", &output), 0)
      << output;
  EXPECT_NE(output.find("note: --cuda-graphs off is ganaug 0.5's spelling; use --no-cuda-graphs"),
            std::string::npos)
      << output;
  // The paper's dynamic argmax: argmax labels written, retrained with dynamic relabelling.
  ASSERT_EQ(run_tool(common + " --scheme argmax-dynamic --force", &output), 0) << output;
  EXPECT_NE(output.find("\"scheme\": \"argmax-dynamic\""), std::string::npos) << output;
  EXPECT_NE(output.find("\"retrained\""), std::string::npos) << output;
  EXPECT_EQ(run_tool(common + " --scheme smooth-dynamic --force", &output), 2) << output;
  // A non-empty output folder is refused, then replaced with --force.
  EXPECT_EQ(run_tool(common, &output), 1);
  EXPECT_NE(output.find("is not empty"), std::string::npos) << output;
  EXPECT_EQ(run_tool(common + " --force --quiet", &output), 0) << output;
  // Classical augmentation with a spec is applied and recorded.
  // --deterministic (LibTorch's deterministic algorithms) runs on the CPU and is recorded.
  ASSERT_EQ(run_tool(common + " --force --classic shift=1,flip=0 --deterministic", &output), 0)
      << output;
  EXPECT_NE(output.find("\"deterministic\": true"), std::string::npos) << output;
  EXPECT_NE(output.find("\"classic\": \"shift=1,rotate=0,zoom=1,flip=0,border=constant\""),
            std::string::npos)
      << output;
}

TEST(AugmentCli, SigintStopsCleanlyAndResumeFinishes) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  const auto out = dir / "out";
  const std::string exe = GANAUG_AUGMENT_EXE;
  std::vector<std::string> args{exe,
                                "--data",
                                (dir / "data").string(),
                                "--per-class",
                                "0",
                                "--gan-steps",
                                "2",
                                "--no-retrain",
                                "--n",
                                "20000",
                                "--device",
                                "cpu",
                                "--quiet",
                                "--out",
                                out.string()};
  const pid_t pid = ganaug::testing::spawn_program(args);
  ASSERT_GT(pid, 0);
  // Send SIGINT as soon as the manifest lists some images, as a user pressing Ctrl-C would.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline &&
         !(fs::exists(out / "labels.csv") && read_rows(out / "labels.csv").size() > 1)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(kill(pid, SIGINT), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  const auto partial = read_rows(out / "labels.csv");
  const auto files =
      std::distance(fs::directory_iterator(out / "images"), fs::directory_iterator());
  if (WEXITSTATUS(status) == 0) {
    GTEST_SKIP() << "the run finished before the signal arrived";
  }
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_LT(partial.size(), 20001u);
  EXPECT_EQ(static_cast<size_t>(files), partial.size() - 1);  // whole, listed files only
  EXPECT_FALSE(fs::exists(out / "summary.json"));
  std::string output;
  std::string resume_args;
  for (size_t i = 1; i < args.size(); ++i) resume_args += " " + args[i];
  ASSERT_EQ(run_tool(resume_args + " --resume", &output), 0) << output;
  const auto rows = read_rows(out / "labels.csv");
  ASSERT_EQ(rows.size(), 20001u);
  EXPECT_EQ(rows[20000][0], "images/00019999.png");
  EXPECT_EQ(std::distance(fs::directory_iterator(out / "images"), fs::directory_iterator()), 20000);
}

TEST(AugmentCli, BadOptionsExitWithUsageError) {
  std::string output;
  EXPECT_EQ(run_tool("--frobnicate", &output), 2);
  EXPECT_NE(output.find("see augment --help"), std::string::npos) << output;
  EXPECT_EQ(run_tool("--scheme mixup", &output), 2);
  EXPECT_NE(output.find("'mixup'"), std::string::npos) << output;
  EXPECT_EQ(run_tool("--n abc", &output), 2);
  EXPECT_EQ(run_tool("--synthetic-share 1.5", &output), 2);
  EXPECT_EQ(run_tool("--resume --force", &output), 2);
  EXPECT_EQ(run_tool("--generate-batch 0", &output), 2);
  EXPECT_NE(output.find("--generate-batch must be positive"), std::string::npos) << output;
  // ganaug 0.5's names still run for a release, with a notice; given with the new one, an error.
  EXPECT_EQ(run_tool("--gen-batch 0", &output), 2);
  EXPECT_NE(output.find("note: --gen-batch 0 is ganaug 0.5's spelling; use --generate-batch 0"),
            std::string::npos)
      << output;
  EXPECT_NE(output.find("--generate-batch must be positive"), std::string::npos) << output;
  EXPECT_EQ(run_tool("--gan-iters 2 --gan-steps 3", &output), 2);
  EXPECT_NE(output.find("--gan-iters and --gan-steps given together"), std::string::npos) << output;
  EXPECT_EQ(run_tool("--gan-batch 0", &output), 2);
  EXPECT_NE(output.find("--gan-batch must be positive"), std::string::npos) << output;
  EXPECT_EQ(run_tool("--gan-lr -0.1", &output), 2);
  EXPECT_NE(output.find("--gan-lr must be positive, got -0.1"), std::string::npos) << output;
  EXPECT_EQ(run_tool("--lr-schedule step", &output), 2);
  EXPECT_NE(output.find("unknown learning-rate schedule 'step'"), std::string::npos) << output;
  EXPECT_EQ(run_tool("--classifier vgg", &output), 2);
  EXPECT_NE(output.find("--classifier: unknown classifier 'vgg'"), std::string::npos) << output;
  // Booleans are switches; 0.5's valued spelling is read with a notice, and checked.
  EXPECT_EQ(run_tool("--cuda-graphs maybe", &output), 2);
  EXPECT_NE(output.find("--cuda-graphs takes 1, 0, on or off, got 'maybe'"), std::string::npos)
      << output;
  EXPECT_EQ(run_tool("--cuda-graphs off --no-cuda-graphs", &output), 2);
  EXPECT_NE(output.find("--cuda-graphs and --no-cuda-graphs given together"), std::string::npos)
      << output;
  EXPECT_EQ(run_tool("--pool-target-dropout 2", &output), 2);
  EXPECT_NE(output.find("now the switch --no-pool-target-dropout"), std::string::npos) << output;
  // Messages name the switches as typed.
  EXPECT_NE(run_tool("--pool-one-pass --no-pool-target-dropout", &output), 0);
  EXPECT_NE(output.find("--pool-one-pass makes the pool's targets in the training pass itself"),
            std::string::npos)
      << output;
  EXPECT_NE(output.find("(--no-pool-target-dropout)"), std::string::npos) << output;
  EXPECT_EQ(run_tool("--precision fp16", &output), 2);
  EXPECT_NE(output.find("unknown precision 'fp16': use fp32 or bf16"), std::string::npos) << output;
  EXPECT_EQ(run_tool("--classic spin=3", &output), 2);
  EXPECT_NE(output.find("unknown key 'spin'"), std::string::npos) << output;
  EXPECT_EQ(run_tool("--help", &output), 0);
  EXPECT_NE(output.find("--scheme"), std::string::npos);
  EXPECT_NE(output.find("(=smooth)"), std::string::npos) << output;
  EXPECT_EQ(run_tool("--version", &output), 0);
  EXPECT_NE(output.find("ganaug " GANAUG_VERSION_STRING), std::string::npos) << output;
  EXPECT_NE(output.find("LibTorch"), std::string::npos) << output;
  EXPECT_NE(output.find(std::string("CUDA graphs of the training steps: ") +
                        (ganaug::cuda_graphs_available() ? "yes" : "no")),
            std::string::npos)
      << output;
  EXPECT_NE(output.find(ganaug::ProcessGroup::supported() ? "yes, c10d Gloo" : "without Gloo"),
            std::string::npos)
      << output;
  EXPECT_EQ(run_tool("--data /nonexistent/folder --out /tmp/ganaug-never", &output), 1);
  EXPECT_NE(output.find("/nonexistent/folder"), std::string::npos) << output;
}

TEST(AugmentCli, RanksStartedWithAnotherSeedAreRefusedNamingIt) {
  if (!ganaug::ProcessGroup::supported()) GTEST_SKIP() << "built without Gloo";
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  // Two ranks on loopback through torchrun's variables, rank 1 with --seed 1.
  const std::string common = "--data " + (dir / "data").string() +
                             " --per-class 4 --gan-steps 2 --epochs 1 --n 5 --device cpu"
                             " --dist-timeout 30 --out " +
                             (dir / "out").string();
  std::vector<std::future<std::pair<int, std::string>>> ranks;
  for (const int rank : {0, 1}) {
    ranks.push_back(std::async(std::launch::async, [&, rank] {
      const std::string env =
          "WORLD_SIZE=2 RANK=" + std::to_string(rank) + " MASTER_ADDR=127.0.0.1 MASTER_PORT=29617 ";
      std::string output;
      const int code = ganaug::testing::run_program(
          env + GANAUG_AUGMENT_EXE, common + (rank == 1 ? " --seed 1" : ""), &output);
      return std::make_pair(code, output);
    }));
  }
  for (auto& rank : ranks) {
    const auto [code, output] = rank.get();
    EXPECT_EQ(code, 1) << output;
    EXPECT_NE(output.find("rank 1 of 2 runs another job than rank 0: its training data"),
              std::string::npos)
        << output;
  }
  EXPECT_FALSE(fs::exists(dir / "out" / "summary.json"));
}

TEST(AugmentCli, AMultiProcessRunWhoseOtherRankNeverComesFailsWithinTheTimeout) {
  if (!ganaug::ProcessGroup::supported()) GTEST_SKIP() << "built without Gloo";
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  // torchrun's variables for rank 0 of 2; rank 1 is never started.
  setenv("WORLD_SIZE", "2", 1);
  setenv("RANK", "0", 1);
  setenv("MASTER_ADDR", "127.0.0.1", 1);
  setenv("MASTER_PORT", "29613", 1);
  std::string output;
  const auto start = std::chrono::steady_clock::now();
  const int code = run_tool("--data " + (dir / "data").string() +
                                " --per-class 0 --gan-steps 2 --epochs 1 --n 5 --device cpu"
                                " --dist-timeout 2 --out " +
                                (dir / "out").string(),
                            &output);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const char* name : {"WORLD_SIZE", "RANK", "MASTER_ADDR", "MASTER_PORT"}) unsetenv(name);
  EXPECT_EQ(code, 1) << output;
  for (const char* part : {"rank 0 of 2", "rendezvous", "rank 1 did not arrive", "within 2 s"}) {
    EXPECT_NE(output.find(part), std::string::npos) << part << "\n" << output;
  }
  EXPECT_LT(seconds, 60);
  EXPECT_FALSE(fs::exists(dir / "out" / "summary.json"));
}

}  // namespace ganaug_tests_augment
