#include <gtest/gtest.h>
#include <torch/torch.h>

#include <opencv2/imgcodecs.hpp>

#include "ganaug/datasets/csv_manifest.hpp"
#include "ganaug/pipelines/load.hpp"
#include "test_support.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_csv_manifest {

using ganaug::testing::expect_error;
using ganaug::testing::TempDir;
using ganaug::testing::write_text;

namespace {

// img/<name>.png, 3x3 gray images filled with `value`.
void write_images(const TempDir& dir, const std::vector<std::pair<std::string, int>>& images) {
  std::filesystem::create_directories(dir / "img");
  for (const auto& [name, value] : images) {
    ASSERT_TRUE(cv::imwrite((dir / ("img/" + name + ".png")).string(),
                            cv::Mat(3, 3, CV_8UC1, cv::Scalar(value))));
  }
}

}  // namespace

TEST(CsvManifest, NamedLabelsRelativePathsNoHeader) {
  TempDir dir;
  write_images(dir, {{"a", 10}, {"b", 20}, {"c", 30}});
  write_text(dir / "m.csv", "img/a.png,cat\nimg/b.png,dog\n\nimg/c.png, cat\r\n");
  const auto list = ganaug::read_csv_manifest(dir / "m.csv");
  EXPECT_EQ(list.class_names, (std::vector<std::string>{"cat", "dog"}));
  ASSERT_EQ(list.records.size(), 3u);
  EXPECT_EQ(list.records[0].path, dir / "img/a.png");
  EXPECT_EQ(list.records[1].label, 1);
  EXPECT_EQ(list.records[2].label, 0);
  EXPECT_TRUE(list.records[0].target.empty());
  EXPECT_EQ(list.source, (dir / "m.csv").string());
}

TEST(CsvManifest, HeaderIsOptionalAndIntegerLabelsNumberClasses) {
  TempDir dir;
  write_images(dir, {{"a", 10}, {"b", 20}});
  write_text(dir / "m.csv", "path,label\nimg/a.png,2\n" + (dir / "img/b.png").string() + ",0\n");
  const auto list = ganaug::read_csv_manifest(dir / "m.csv");
  EXPECT_EQ(list.class_names, (std::vector<std::string>{"0", "1", "2"}));
  ASSERT_EQ(list.records.size(), 2u);
  EXPECT_EQ(list.records[0].label, 2);
  EXPECT_EQ(list.records[1].path, dir / "img/b.png");  // absolute paths stay as they are
}

TEST(CsvManifest, GivenClassNamesAcceptNamesAndIndices) {
  TempDir dir;
  write_images(dir, {{"a", 10}, {"b", 20}});
  write_text(dir / "m.csv", "img/a.png,dog\nimg/b.png,0\n");
  const auto list = ganaug::read_csv_manifest(dir / "m.csv", {"cat", "dog"});
  EXPECT_EQ(list.records[0].label, 1);
  EXPECT_EQ(list.records[1].label, 0);
  write_text(dir / "bird.csv", "img/a.png,dog\nimg/b.png,bird\n");
  expect_error(
      [&] {
        ganaug::read_csv_manifest(dir / "bird.csv", {"cat", "dog"});
      },
      {(dir / "bird.csv").string() + ":2", "unknown label 'bird'", "cat, dog"});
}

TEST(CsvManifest, RowErrorsNameFileAndLine) {
  TempDir dir;
  write_images(dir, {{"a", 10}});
  write_text(dir / "short.csv", "path,label\nimg/a.png,x\nimg/a.png\n");
  expect_error([&] { ganaug::read_csv_manifest(dir / "short.csv"); },
               {(dir / "short.csv").string() + ":3", "expected 2 columns", "found 1"});
  write_text(dir / "gone.csv", "img/a.png,x\nimg/nope.png,y\n");
  expect_error([&] { ganaug::read_csv_manifest(dir / "gone.csv"); },
               {(dir / "gone.csv").string() + ":2", "'img/nope.png' does not exist",
                (dir / "img/nope.png").string()});
  expect_error([&] { ganaug::read_csv_manifest(dir / "none.csv"); },
               {"manifest not found", (dir / "none.csv").string()});
}

TEST(CsvManifest, QuotedFields) {
  EXPECT_EQ(ganaug::split_csv_line("\"a, b.png\" , \"say \"\"hi\"\"\",3\r"),
            (std::vector<std::string>{"a, b.png", "say \"hi\"", "3"}));
  EXPECT_EQ(ganaug::split_csv_line("x,"), (std::vector<std::string>{"x", ""}));
  // csv_field writes what split_csv_line reads back.
  for (const std::string field : {"plain", "a, b", "say \"hi\"", " padded ", "two\nlines", ""}) {
    EXPECT_EQ(ganaug::split_csv_line(ganaug::csv_field(field) + "," + ganaug::csv_field("x")),
              (std::vector<std::string>{field, "x"}))
        << field;
  }
  EXPECT_EQ(ganaug::csv_field("plain"), "plain");
  EXPECT_EQ(ganaug::csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
}

TEST(CsvManifest, AugmentOutputWithSoftTargets) {
  TempDir dir;
  write_images(dir, {{"s0", 10}, {"s1", 20}});
  write_text(dir / "labels.csv",
             "file,cond,label,p0,p1,p2\nimg/s0.png,1,-1,0.2,0.5,0.3\nimg/s1.png,2,2,0,0,1\n");
  const auto list = ganaug::read_csv_manifest(dir / "labels.csv");
  EXPECT_EQ(list.class_names, (std::vector<std::string>{"0", "1", "2"}));
  ASSERT_EQ(list.records.size(), 2u);
  EXPECT_EQ(list.records[0].label, -1);
  EXPECT_EQ(list.records[0].target, (std::vector<float>{0.2f, 0.5f, 0.3f}));
  EXPECT_EQ(list.records[1].label, 2);

  // Through the loading pipeline, the soft targets become LabeledDataset::targets.
  const auto data =
      ganaug::load_dataset(ganaug::DatasetSpec().path((dir / "labels.csv").string()).threads(2));
  ASSERT_TRUE(data.targets.defined());
  EXPECT_TRUE(torch::allclose(data.targets, torch::tensor({{0.2f, 0.5f, 0.3f}, {0.f, 0.f, 1.f}})));
  EXPECT_TRUE(torch::equal(data.labels, torch::tensor({-1, 2}, torch::kInt64)));
  EXPECT_NEAR(data.images[1].mean().item<float>(), 20 / 127.5 - 1, 1e-6);
  EXPECT_NO_THROW(data.validate());

  const auto named = ganaug::read_csv_manifest(dir / "labels.csv", {"x", "y", "z"});
  EXPECT_EQ(named.class_names[2], "z");
  expect_error(
      [&] {
        ganaug::read_csv_manifest(dir / "labels.csv", {"x", "y"});
      },
      {"3 soft-target columns but 2 class names"});
}

TEST(CsvManifest, AugmentOutputErrors) {
  TempDir dir;
  write_images(dir, {{"s0", 10}});
  write_text(dir / "cols.csv", "file,cond,label,p0,p1\nimg/s0.png,1,0,0.5\n");
  expect_error([&] { ganaug::read_csv_manifest(dir / "cols.csv"); },
               {(dir / "cols.csv").string() + ":2", "expected 5 columns", "found 4"});
  write_text(dir / "prob.csv", "file,cond,label,p0,p1\nimg/s0.png,1,0,0.5,abc\n");
  expect_error([&] { ganaug::read_csv_manifest(dir / "prob.csv"); },
               {(dir / "prob.csv").string() + ":2", "p1 'abc' is not a probability"});
  write_text(dir / "head.csv", "file,cond,label,p0,q1\nimg/s0.png,1,0,0.5,0.5\n");
  expect_error([&] { ganaug::read_csv_manifest(dir / "head.csv"); },
               {(dir / "head.csv").string() + ":1", "expected column p1", "'q1'"});
  write_text(dir / "label.csv", "file,cond,label,p0,p1\nimg/s0.png,1,5,0.5,0.5\n");
  expect_error([&] { ganaug::read_csv_manifest(dir / "label.csv"); },
               {(dir / "label.csv").string() + ":2", "unknown label '5'"});
}

TEST(CsvManifest, LabelsThatWouldInventManyClassesAreRefused) {
  TempDir dir;
  write_images(dir, {{"a", 10}, {"b", 20}, {"c", 30}});
  // A huge label is refused at once instead of building 10^11 class names (92 s, then
  // bad_alloc).
  write_text(dir / "huge.csv", "img/a.png,0\nimg/b.png,99999999999\n");
  expect_error([&] { ganaug::read_csv_manifest(dir / "huge.csv"); },
               {"huge.csv:2", "label 99999999999 would make 100000000000 classes"});
  // The largest label there is (found by fuzz_csv: counting its classes overflowed).
  write_text(dir / "largest.csv", "img/a.png,0\nimg/b.png,9223372036854775807\n");
  expect_error([&] { ganaug::read_csv_manifest(dir / "largest.csv"); },
               {"largest.csv:2", "would make 9223372036854775808 classes"});
  // -1 is not a class.
  write_text(dir / "negative.csv", "img/a.png,cat\nimg/b.png,-1\n");
  expect_error([&] { ganaug::read_csv_manifest(dir / "negative.csv"); },
               {"negative.csv:2", "label -1 is negative"});
  // A soft-target manifest without target columns cannot either.
  write_text(dir / "soft.csv", "file,cond,label\nimg/a.png,0,0\nimg/b.png,0,5000000\n");
  expect_error([&] { ganaug::read_csv_manifest(dir / "soft.csv"); },
               {"soft.csv", "label 5000000 would make 5000001 classes"});
}

TEST(CsvManifest, PathsOutsideTheManifestFolderNeedPermission) {
  TempDir dir;
  write_images(dir, {{"a", 10}, {"b", 20}});
  write_text(dir / "sub" / "m.csv", "../img/a.png,cat\n../img/b.png,dog\n");
  expect_error(
      [&] { ganaug::read_csv_manifest(dir / "sub" / "m.csv"); },
      {"m.csv:1", "'../img/a.png' lies outside the manifest's folder", "--allow-outside-paths"});
  EXPECT_EQ(ganaug::read_csv_manifest(dir / "sub" / "m.csv", {}, true).records.size(), 2u);
  write_text(dir / "sub" / "abs.csv", (dir / "img" / "a.png").string() + ",cat\n");
  expect_error([&] { ganaug::read_csv_manifest(dir / "sub" / "abs.csv"); },
               {"abs.csv:1", "lies outside"});
  // A symbolic link inside the folder that leads out is refused the same way.
  std::filesystem::create_symlink(dir / "img" / "a.png", dir / "sub" / "link.png");
  write_text(dir / "sub" / "link.csv", "link.png,cat\n");
  expect_error([&] { ganaug::read_csv_manifest(dir / "sub" / "link.csv"); },
               {"link.csv:1", "lies outside"});
}

}  // namespace ganaug_tests_csv_manifest
