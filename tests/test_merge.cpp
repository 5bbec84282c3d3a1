// Sharded generation (augment --shard K --num-shards S) and joining the shards (merge_shards,
// augment-merge): the merged folder is the single-process folder, byte for byte, and shards that
// are missing or belong to another run are refused by name.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "ganaug/gan.hpp"
#include "ganaug/jobs/augment.hpp"
#include "ganaug/jobs/merge.hpp"
#include "ganaug/pipelines/generate.hpp"
#include "test_support.hpp"
#include "tiny_data.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_merge {

namespace fs = std::filesystem;
using ganaug::testing::expect_error;

namespace {

std::string bytes_of(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// Every file under `a` and `b`, relative path -> contents.
std::map<std::string, std::string> tree(const fs::path& root, const std::set<std::string>& skip) {
  std::map<std::string, std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    const auto name = fs::relative(entry.path(), root).string();
    if (!skip.count(name)) out[name] = bytes_of(entry.path());
  }
  return out;
}

class ShardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ganaug::testing::write_tiny_idx(dir_ / "data");
    // A tiny trained generator for 16x16 gray images of the tiny data's 3 classes.
    ganaug::GanTrainer trainer(ganaug::testing::tiny_gan_options(3, 2, 5), {"0", "1", "2"});
    ganaug::LabeledDataset data;
    data.images = torch::rand({24, 1, 16, 16}) * 2 - 1;
    data.labels = torch::arange(24, torch::kInt64).remainder(3);
    data.class_names = {"0", "1", "2"};
    data.source = "random";
    ASSERT_TRUE(trainer.train(data));
    trainer.save_checkpoint(checkpoint().string());
  }

  fs::path checkpoint() const { return dir_ / "g.pt"; }

  ganaug::jobs::AugmentOptions options(const fs::path& out, int64_t shard = 0,
                                       int64_t shards = 1) const {
    return ganaug::jobs::AugmentOptions()
        .data(ganaug::DatasetSpec().path((dir_ / "data").string()).per_class(0))
        .scheme(ganaug::Scheme::kArgmax)
        .n(23)
        .generate_batch_size(4)
        .generator(checkpoint().string())
        .retrain(false)
        .classifier(ganaug::ClassifierOptions(2).epochs(1))
        .out_dir(out.string())
        .device("cpu")
        .threads(2)
        .shard(shard)
        .num_shards(shards);
  }

  std::vector<std::string> run_shards(int64_t shards, const std::string& prefix) {
    std::vector<std::string> dirs;
    for (int64_t k = 0; k < shards; ++k) {
      dirs.push_back((dir_ / (prefix + std::to_string(k))).string());
      ganaug::jobs::run_augment(options(dirs.back(), k, shards));
    }
    return dirs;
  }

  ganaug::testing::TempDir dir_;
};

}  // namespace

TEST(ShardRange, WholeBatchesInOrderCoveringEveryImageOnce) {
  for (const int64_t n : {0, 1, 7, 23, 24, 25, 1000}) {
    for (const int64_t shards : {1, 2, 3, 7, 40}) {
      int64_t next = 0;
      for (int64_t k = 0; k < shards; ++k) {
        const auto range = ganaug::jobs::shard_range(n, 4, k, shards);
        EXPECT_EQ(range.first, next) << n << " " << shards << " " << k;
        EXPECT_GE(range.count, 0);
        if (range.first + range.count < n) {
          EXPECT_EQ(range.count % 4, 0);
        }
        next = range.first + range.count;
      }
      EXPECT_EQ(next, n);
    }
  }
  EXPECT_THROW(ganaug::jobs::shard_range(10, 4, 3, 3), ganaug::Error);
  EXPECT_THROW(ganaug::jobs::shard_range(10, 0, 0, 1), ganaug::Error);
}

TEST_F(ShardTest, MergedShardsAreTheSingleRunByteForByte) {
  const auto single = dir_ / "single";
  ganaug::jobs::run_augment(options(single));
  auto dirs = run_shards(3, "shard");
  // Each shard holds only its own slice.
  const auto middle = ganaug::jobs::shard_range(23, 4, 1, 3);
  EXPECT_EQ(
      std::distance(fs::directory_iterator(fs::path(dirs[1]) / "images"), fs::directory_iterator{}),
      middle.count);
  std::reverse(dirs.begin(), dirs.end());  // any order
  const auto summary = ganaug::jobs::merge_shards((dir_ / "merged").string(), dirs);
  EXPECT_EQ(summary["merged"]["shards"], 3);
  EXPECT_EQ(summary["merged"]["images"], 23);
  EXPECT_EQ(summary["merged"]["from"].size(), 3u);
  // The summary and the page for people (report.html, a shard's or the single run's) describe
  // each run; the images, labels and record are the same.
  EXPECT_EQ(tree(dir_ / "merged", {"summary.json", "report.html"}),
            tree(single, {"summary.json", "report.html"}));
}

TEST_F(ShardTest, MissingForeignDuplicateAndUnfinishedShardsAreRefusedByName) {
  const auto dirs = run_shards(3, "s");
  const auto out = (dir_ / "out").string();
  expect_error(
      [&] {
        ganaug::jobs::merge_shards(out, {dirs[0], dirs[2]});
      },
      {"shard 1 of 3 is missing"});
  expect_error(
      [&] {
        ganaug::jobs::merge_shards(out, {dirs[0], dirs[1], dirs[2], dirs[1]});
      },
      {"are both shard 1 of 3", dirs[1]});
  // A shard of another run: another seed.
  const auto foreign = (dir_ / "foreign").string();
  ganaug::jobs::run_augment(options(foreign, 1, 3).seed(9));
  expect_error(
      [&] {
        ganaug::jobs::merge_shards(out, {dirs[0], foreign, dirs[2]});
      },
      {foreign, "belongs to another run", "'seed'"});
  // Split differently.
  const auto other_split = (dir_ / "other_split").string();
  ganaug::jobs::run_augment(options(other_split, 1, 2));
  expect_error(
      [&] {
        ganaug::jobs::merge_shards(out, {dirs[0], other_split});
      },
      {other_split, "split differently"});
  // Not finished, or not a shard.
  fs::remove(fs::path(dirs[2]) / "summary.json");
  expect_error([&] { ganaug::jobs::merge_shards(out, dirs); }, {dirs[2], "has not finished"});
  const auto whole = (dir_ / "whole").string();
  ganaug::jobs::run_augment(options(whole));
  expect_error([&] { ganaug::jobs::merge_shards(out, {whole}); },
               {whole, "not written as a shard"});
  // A record that is JSON but not an object is named with its file.
  const auto odd = (dir_ / "odd").string();
  fs::copy(dirs[1], odd, fs::copy_options::recursive);
  std::ofstream(fs::path(odd) / "run.json") << "[1, 2]";
  expect_error(
      [&] {
        ganaug::jobs::merge_shards(out, {dirs[0], odd, dirs[2]});
      },
      {(fs::path(odd) / "run.json").string() + " is damaged (not a JSON object)"});
  // A listed image that went missing.
  fs::remove(fs::path(dirs[0]) / ganaug::image_file_name(0));
  expect_error([&] { ganaug::jobs::merge_shards(out, {dirs[0]}); }, {dirs[0], "is missing"});
  EXPECT_FALSE(fs::exists(fs::path(out) / "summary.json"));
}

TEST_F(ShardTest, AShardChangedAfterItFinishedIsRefused) {
  const auto out = (dir_ / "out").string();
  // Each change keeps the manifest well formed and every listed image present.
  const std::vector<std::pair<std::string, std::function<void(const fs::path&)>>> changes = {
      {"images",
       [](const fs::path& d) {  // one byte flipped
         const auto path = d / ganaug::image_file_name(1);
         auto bytes = bytes_of(path);
         bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x10);
         std::ofstream(path, std::ios::binary) << bytes;
       }},
      {"images",
       [](const fs::path& d) {  // truncated
         fs::resize_file(d / ganaug::image_file_name(2), 40);
       }},
      {"images",
       [](const fs::path& d) {  // two images swapped
         const auto a = d / ganaug::image_file_name(0), b = d / ganaug::image_file_name(3);
         const auto bytes = bytes_of(a);
         fs::copy_file(b, a, fs::copy_options::overwrite_existing);
         std::ofstream(b, std::ios::binary) << bytes;
       }},
      {"labels.csv rows", [](const fs::path& d) {  // one label edited
         auto text = bytes_of(d / "labels.csv");
         const auto row = text.find('\n') + 1;
         const auto comma = text.find(',', row);
         text[comma + 1] = text[comma + 1] == '0' ? '1' : '0';
         std::ofstream(d / "labels.csv", std::ios::binary) << text;
       }}};
  int n = 0;
  for (const auto& [what, change] : changes) {
    const auto dirs = run_shards(2, "changed" + std::to_string(n++) + "-");
    change(dirs[0]);
    expect_error([&] { ganaug::jobs::merge_shards(out, dirs); },
                 {"shard " + dirs[0] + ": its " + what + " are not what the shard wrote",
                  "rerun that shard with --force"});
    EXPECT_FALSE(fs::exists(fs::path(out) / "summary.json"));
  }
}

TEST_F(ShardTest, AMergeNeverDeletesOrWritesIntoWhatTheShardsRead) {
  // The shards' generator lies in an earlier run's folder, as augment's DIR/gan/checkpoint.pt.
  const auto run1 = dir_ / "run1";
  fs::create_directories(run1 / "gan");
  fs::copy_file(checkpoint(), run1 / "gan" / "checkpoint.pt");
  std::vector<std::string> dirs;
  for (int64_t k = 0; k < 2; ++k) {
    dirs.push_back((dir_ / ("s" + std::to_string(k))).string());
    ganaug::jobs::run_augment(
        options(dirs.back(), k, 2).generator((run1 / "gan" / "checkpoint.pt").string()));
  }
  const auto data_files = tree(dir_ / "data", {});
  // --force on the folder that holds the generator, or on the training data: refused by name.
  expect_error([&] { ganaug::jobs::merge_shards(run1.string(), dirs, /*force=*/true); },
               {"generator checkpoint of shard", "--force would delete it"});
  EXPECT_TRUE(fs::exists(run1 / "gan" / "checkpoint.pt"));
  expect_error([&] { ganaug::jobs::merge_shards((dir_ / "data").string(), dirs, true); },
               {"training data of shard", "--force would delete it"});
  // A new folder inside the training data: the merge would add its images there.
  expect_error([&] { ganaug::jobs::merge_shards((dir_ / "data" / "merged").string(), dirs); },
               {"lies inside the training data"});
  EXPECT_EQ(tree(dir_ / "data", {}), data_files);
  // Elsewhere the same shards merge.
  EXPECT_EQ(ganaug::jobs::merge_shards((dir_ / "merged").string(), dirs)["merged"]["images"], 23);
}

TEST_F(ShardTest, ShardsNeedAGeneratorAndNoRetraining) {
  expect_error([&] { options(dir_ / "x", 0, 2).generator("").validate(); }, {"--generator"});
  expect_error([&] { options(dir_ / "x", 0, 2).retrain(true).validate(); }, {"--no-retrain"});
  expect_error([&] { options(dir_ / "x", 2, 2).validate(); }, {"--shard 2"});
}

TEST_F(ShardTest, TheToolsShardFromSlurmArrayVariablesAndMerge) {
  const std::string common = "--data " + (dir_ / "data").string() +
                             " --per-class 0 --n 23 --generate-batch 4 --scheme cond --no-retrain "
                             "--device cpu --quiet --generator " +
                             checkpoint().string();
  std::string output;
  // A Slurm job array of 2 tasks numbered from 1.
  setenv("SLURM_ARRAY_TASK_MIN", "1", 1);
  setenv("SLURM_ARRAY_TASK_COUNT", "2", 1);
  std::vector<std::string> dirs;
  for (const char* id : {"1", "2"}) {
    setenv("SLURM_ARRAY_TASK_ID", id, 1);
    dirs.push_back((dir_ / ("task" + std::string(id))).string());
    ASSERT_EQ(
        ganaug::testing::run_program(GANAUG_AUGMENT_EXE, common + " --out " + dirs.back(), &output),
        0)
        << output;
  }
  // A run that trains does not shard: every task runs the whole job, and is told so.
  auto trains = common;
  trains.erase(trains.find(" --quiet"), std::string(" --quiet").size());
  trains.erase(trains.find(" --no-retrain"), std::string(" --no-retrain").size());
  ASSERT_EQ(
      ganaug::testing::run_program(
          GANAUG_AUGMENT_EXE, trains + " --epochs 1 --out " + (dir_ / "whole").string(), &output),
      0)
      << output;
  EXPECT_NE(output.find("Slurm job array task 2: only sampling a given generator"),
            std::string::npos)
      << output;
  EXPECT_NE(output.find("every task runs the whole job"), std::string::npos) << output;
  unsetenv("SLURM_ARRAY_TASK_ID");
  unsetenv("SLURM_ARRAY_TASK_MIN");
  unsetenv("SLURM_ARRAY_TASK_COUNT");
  EXPECT_NE(bytes_of(fs::path(dirs[1]) / "summary.json").find("\"index\": 1"), std::string::npos);
  // Without --quiet, a run that trains no GAN says so (not "GAN 0.0 s at 0 images/s").
  auto loud = common;
  loud.erase(loud.find(" --quiet"), std::string(" --quiet").size());
  ASSERT_EQ(ganaug::testing::run_program(GANAUG_AUGMENT_EXE,
                                         loud + " --out " + (dir_ / "loud").string(), &output),
            0)
      << output;
  EXPECT_NE(output.find("no GAN training in this run"), std::string::npos) << output;
  EXPECT_EQ(output.find("images/s"), std::string::npos) << output;
  ASSERT_EQ(ganaug::testing::run_program(GANAUG_AUGMENT_EXE,
                                         common + " --out " + (dir_ / "single").string(), &output),
            0)
      << output;
  const auto merged = (dir_ / "merged").string();
  ASSERT_EQ(ganaug::testing::run_program(
                GANAUG_MERGE_EXE, "--out " + merged + " " + dirs[0] + " " + dirs[1], &output),
            0)
      << output;
  EXPECT_NE(output.find("merged 2 shards, 23 images"), std::string::npos) << output;
  EXPECT_EQ(bytes_of(fs::path(merged) / "labels.csv"), bytes_of(dir_ / "single" / "labels.csv"));
  // A missing shard: exit 1 and the message; no arguments: usage, exit 2.
  EXPECT_EQ(ganaug::testing::run_program(GANAUG_MERGE_EXE,
                                         "--force --out " + merged + " " + dirs[1], &output),
            1);
  EXPECT_NE(output.find("shard 0 of 2 is missing"), std::string::npos) << output;
  EXPECT_EQ(ganaug::testing::run_program(GANAUG_MERGE_EXE, "--out " + merged, &output), 2);
}

}  // namespace ganaug_tests_merge
