// `augment` with a joint scheme: the classifier trained together with the GAN (joint.hpp).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ganaug/jobs/augment.hpp"
#include "test_support.hpp"
#include "tiny_data.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_augment_joint {

namespace fs = std::filesystem;

namespace {

ganaug::jobs::AugmentOptions tiny_joint(const fs::path& data, const fs::path& out,
                                        const std::string& scheme) {
  const auto choice = ganaug::SchemeChoice::parse(scheme);
  return ganaug::jobs::AugmentOptions()
      .data(ganaug::DatasetSpec().path(data.string()).per_class(0))
      .scheme(choice.scheme)
      .joint(ganaug::JointOptions(2).form(*choice.joint).iterations(6))
      .n(12)
      .out_dir(out.string())
      .gan(
          ganaug::GanOptions(ganaug::jobs::AugmentOptions().gan()).checkpoint_every(2).log_every(1))
      .classifier(ganaug::ClassifierOptions(2).epochs(1).batch_size(8))
      .device("cpu")
      .threads(2);
}

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

int run_tool(const std::string& arguments, std::string* output = nullptr) {
  return ganaug::testing::run_program(GANAUG_AUGMENT_EXE, arguments, output);
}

}  // namespace

TEST(AugmentJoint, EachFormWritesItsLabelsAndEvaluatesTheJointClassifierWithAndWithoutAPool) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  for (const std::string scheme : {"newclass-joint", "dada-joint", "triple-joint"}) {
    for (const bool pool : {false, true}) {
      const auto out = dir / (scheme + (pool ? "-pool" : ""));
      auto options = tiny_joint(dir / "data", out, scheme);
      if (pool) options.unlabeled((dir / "data" / "t10k-images-idx3-ubyte").string());
      const auto summary = ganaug::jobs::run_augment(options);
      EXPECT_EQ(summary["scheme"], scheme);
      EXPECT_EQ(summary["joint"]["form"],
                ganaug::to_string(ganaug::SchemeChoice::parse(scheme).joint.value()));
      EXPECT_EQ(summary["joint"]["steps"], 6);
      EXPECT_TRUE(summary["timings"].contains("joint_s"));
      EXPECT_NEAR(summary["gain"].get<double>(),
                  summary["retrained"]["accuracy"].get<double>() -
                      summary["baseline"]["accuracy"].get<double>(),
                  1e-12);
      EXPECT_EQ(summary.contains("unlabeled"), pool);
      for (const char* file : {"joint/checkpoint.pt", "joint/log.csv", "joint/samples.png",
                               "report.html", "summary.json", "run.json"})
        EXPECT_TRUE(fs::exists(out / file)) << scheme << ": " << file;
      EXPECT_FALSE(fs::exists(out / "gan"));
      // The images keep the output contract: newclass labels for the K + 1 form, the
      // generator's class for the others.
      std::ifstream manifest(out / "labels.csv");
      std::string line;
      std::getline(manifest, line);
      int rows = 0;
      while (std::getline(manifest, line)) {
        std::stringstream fields(line);
        std::string file, conditioned, label;
        std::getline(fields, file, ',');
        std::getline(fields, conditioned, ',');
        std::getline(fields, label, ',');
        EXPECT_EQ(label, scheme == "newclass-joint" ? "3" : conditioned) << line;
        ++rows;
      }
      EXPECT_EQ(rows, 12);
      EXPECT_NE(read_file(out / "report.html").find("Joint training losses"), std::string::npos);
    }
  }
}

TEST(AugmentJoint, AnInterruptedJointRunResumesToTheSameClassifierAndImages) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  const auto options = tiny_joint(dir / "data", dir / "out", "newclass-joint");
  ganaug::jobs::AugmentCallbacks callbacks;
  std::atomic<bool> stop{false};
  callbacks.on_progress = [&](const std::string& stage, double done, double, const std::string&) {
    if (stage == "joint" && done >= 3) stop = true;
  };
  callbacks.should_stop = [&] { return stop.load(); };
  ganaug::testing::expect_error([&] { ganaug::jobs::run_augment(options, callbacks); },
                                {"interrupted during joint training at step 3", "--resume"});
  EXPECT_FALSE(fs::exists(dir / "out" / "summary.json"));
  const auto resumed =
      ganaug::jobs::run_augment(ganaug::jobs::AugmentOptions(options).resume(true));
  const auto straight = ganaug::jobs::run_augment(
      ganaug::jobs::AugmentOptions(options).out_dir((dir / "straight").string()));
  EXPECT_EQ(resumed["retrained"], straight["retrained"]);
  EXPECT_EQ(read_file(dir / "out" / "images" / "00000011.png"),
            read_file(dir / "straight" / "images" / "00000011.png"));
  // Other joint settings in the same folder are refused, naming the flags.
  ganaug::testing::expect_error(
      [&] {
        auto other = ganaug::jobs::AugmentOptions(options).resume(true);
        other.joint(ganaug::JointOptions(*other.joint()).iterations(7));
        ganaug::jobs::run_augment(other);
      },
      {"--joint-steps", "differs"});
  ganaug::testing::expect_error(
      [&] {
        ganaug::jobs::run_augment(ganaug::jobs::AugmentOptions(options).resume(true).classic(true));
      },
      {"--classic", "differs"});
  // Another joint form in the same folder is refused (the run record).
  ganaug::testing::expect_error(
      [&] {
        ganaug::jobs::run_augment(tiny_joint(dir / "data", dir / "out", "dada-joint").resume(true));
      },
      {"--scheme"});
}

TEST(AugmentJoint, TheCommandLineAcceptsTheJointSchemesAndRefusesWhatTheyCannotGoWith) {
  std::string output;
  EXPECT_EQ(run_tool("--help", &output), 0);
  for (const char* name : {"newclass-joint", "dada-joint", "triple-joint", "--joint-weight"})
    EXPECT_NE(output.find(name), std::string::npos) << name;
  EXPECT_EQ(run_tool("--scheme newclass-joint --generator g.pt", &output), 2);
  EXPECT_NE(output.find("drop --generator"), std::string::npos) << output;
  EXPECT_EQ(run_tool("--scheme dada-joint --no-retrain", &output), 2);
  EXPECT_NE(output.find("drop --no-retrain"), std::string::npos) << output;
  EXPECT_EQ(run_tool("--scheme triple-joint --pseudo", &output), 2);
  EXPECT_NE(output.find("drop --pseudo"), std::string::npos) << output;
  EXPECT_EQ(run_tool("--scheme newclass-joint --pool-one-pass", &output), 2);
  EXPECT_NE(output.find("drop --pool-one-pass"), std::string::npos) << output;
  EXPECT_EQ(run_tool("--scheme triple-joint --joint-warmup 0.5", &output), 2);
  EXPECT_NE(output.find("--joint-warmup must lie in [0, 0.5)"), std::string::npos) << output;
  EXPECT_EQ(run_tool("--scheme newclass-joint --joint-warmup 0.2", &output), 2);
  EXPECT_NE(output.find("--joint-warmup goes with triple-joint"), std::string::npos) << output;
  EXPECT_EQ(run_tool("--scheme dada-joint --joint-steps 0", &output), 2);
  EXPECT_NE(output.find("--joint-steps must be positive"), std::string::npos) << output;
  EXPECT_EQ(run_tool("--scheme smooth --joint-weight 2", &output), 2);
  EXPECT_NE(output.find("--joint-weight goes with a joint scheme"), std::string::npos) << output;
  EXPECT_EQ(run_tool("--scheme smooth --joint-consistency 1", &output), 2);
  EXPECT_NE(output.find("--joint-consistency goes with a joint scheme"), std::string::npos)
      << output;
  EXPECT_EQ(run_tool("--scheme newclass-joint --unlabeled pool --joint-consistency -1", &output),
            2);
  EXPECT_NE(output.find("--joint-consistency must be finite and not negative"), std::string::npos)
      << output;
  EXPECT_EQ(run_tool("--scheme cond-joint", &output), 2);
  EXPECT_NE(output.find("newclass-joint, dada-joint or triple-joint"), std::string::npos) << output;

  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  const auto out = dir / "out";
  EXPECT_EQ(run_tool("--data " + (dir / "data").string() + " --per-class 0 --scheme dada-joint " +
                         "--joint-steps 4 --n 6 --epochs 1 --device cpu --threads 1 --out " +
                         out.string(),
                     &output),
            0)
      << output;
  EXPECT_NE(output.find("joint training of the classifier and the GAN"), std::string::npos)
      << output;
  EXPECT_EQ(read_json(out / "summary.json")["scheme"], "dada-joint");
  EXPECT_EQ(read_json(out / "run.json")["joint"]["form"], "2k");
  // The joint classifier trains with Adam unless --optimizer is given (the pool recipe's SGD
  // does not carry over); an asked-for optimizer is part of the run record.
  EXPECT_FALSE(read_json(out / "run.json")["joint"].contains("optimizer"));
  const auto sgd = dir / "sgd";
  EXPECT_EQ(run_tool("--data " + (dir / "data").string() + " --per-class 0 --scheme dada-joint " +
                         "--joint-steps 4 --n 6 --epochs 1 --optimizer sgd --device cpu " +
                         "--threads 1 --out " + sgd.string(),
                     &output),
            0)
      << output;
  EXPECT_EQ(read_json(sgd / "run.json")["joint"]["optimizer"], "sgd");
}

}  // namespace ganaug_tests_augment_joint
