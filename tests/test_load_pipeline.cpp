#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <opencv2/imgcodecs.hpp>

#include "ganaug/datasets/fashion_mnist.hpp"
#include "ganaug/datasets/idx.hpp"
#include "ganaug/datasets/image_folder.hpp"
#include "ganaug/pipelines/load.hpp"
#include "ganaug/pipelines/normalize.hpp"
#include "test_support.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_load_pipeline {

using ganaug::testing::expect_error;
using ganaug::testing::TempDir;

namespace {

// root/c<k>/<i>.png for i in [0, count): image i is 5x5 gray filled with (7 * i) % 256, in
// class i % 3, so every image can be told from its pixels.
void write_numbered_folder(const std::filesystem::path& root, int count) {
  for (int i = 0; i < count; ++i) {
    const auto dir = root / ("c" + std::to_string(i % 3));
    std::filesystem::create_directories(dir);
    char name[16];
    std::snprintf(name, sizeof name, "%03d.png", i);
    ASSERT_TRUE(
        cv::imwrite((dir / name).string(), cv::Mat(5, 5, CV_8UC1, cv::Scalar((7 * i) % 256))));
  }
}

// An MNIST-like folder with 90 training images (30 per class) and 12 test images.
void write_idx_folder(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  torch::manual_seed(11);
  const auto pixels = torch::randint(0, 256, {90, 6, 6}).to(torch::kUInt8);
  const auto labels = torch::arange(90, torch::kInt64).remainder(3);
  ganaug::write_idx(dir / "train-images-idx3-ubyte.gz", dir / "train-labels-idx1-ubyte.gz", pixels,
                    labels);
  ganaug::write_idx(dir / "t10k-images-idx3-ubyte", dir / "t10k-labels-idx1-ubyte",
                    pixels.narrow(0, 0, 12), labels.narrow(0, 0, 12));
}

}  // namespace

TEST(LoadPipeline, OrderIsTheListOrderForAnyThreadCount) {
  TempDir dir;
  write_numbered_folder(dir.path(), 60);
  const auto list = ganaug::list_image_folder(dir.path());
  ganaug::LoadPipeline serial(list, ganaug::LoadOptions().threads(1));
  const auto one = serial.run();
  ganaug::LoadPipeline parallel(list, ganaug::LoadOptions().threads(2).max_in_flight(3));
  const auto two = parallel.run();
  ASSERT_EQ(one.images.sizes(), (std::vector<int64_t>{60, 1, 5, 5}));
  EXPECT_TRUE(torch::equal(one.images, two.images));
  EXPECT_TRUE(torch::equal(one.labels, two.labels));
  // Row r holds the r-th listed file.
  for (size_t r = 0; r < list.records.size(); ++r) {
    const int i = std::stoi(list.records[r].path.stem().string());
    EXPECT_FLOAT_EQ(two.images[static_cast<int64_t>(r)][0][2][2].item<float>(),
                    ((7 * i) % 256) / 127.5f - 1.0f);
    EXPECT_EQ(two.labels[static_cast<int64_t>(r)].item<int64_t>(), i % 3);
  }
  // Running again gives the same result.
  EXPECT_TRUE(torch::equal(parallel.run().images, two.images));
}

TEST(LoadPipeline, NodeExceptionsReachTheCallerAndTheGraphRunsAgain) {
  TempDir dir;
  write_numbered_folder(dir.path(), 30);
  const auto bad = dir / "c1" / "016.png";
  ganaug::testing::write_text(bad, "garbage");
  ganaug::LoadPipeline pipeline(ganaug::list_image_folder(dir.path()),
                                ganaug::LoadOptions().threads(2));
  expect_error([&] { pipeline.run(); }, {"cannot decode image", bad.string()});
  ASSERT_TRUE(cv::imwrite(bad.string(), cv::Mat(5, 5, CV_8UC1, cv::Scalar(1))));
  const auto data = pipeline.run();
  EXPECT_EQ(data.size(), 30);
  expect_error([&] { ganaug::LoadPipeline(ganaug::ImageList{}, {}).run(); }, {"no images"});
}

TEST(LoadPipeline, IdxThroughTheGraphEqualsTheSerialReader) {
  TempDir dir;
  write_idx_folder(dir.path());
  const auto serial = ganaug::read_idx_dir(dir.path(), ganaug::IdxSplit::kTrain);
  for (int threads : {1, 2}) {
    const auto data =
        ganaug::load_dataset(ganaug::DatasetSpec().path(dir.path().string()).threads(threads));
    EXPECT_TRUE(torch::equal(data.images, serial.images)) << threads << " threads";
    EXPECT_TRUE(torch::equal(data.labels, serial.labels));
    EXPECT_EQ(data.class_names, (std::vector<std::string>{"0", "1", "2"}));
  }
  // Small chunks, many tasks: still the same.
  const auto contents = ganaug::read_idx_contents(dir / "train-images-idx3-ubyte.gz",
                                                  dir / "train-labels-idx1-ubyte.gz");
  ganaug::NormalizePipeline chunks(contents.pixels, ganaug::ImageOptions(), 2, 7);
  EXPECT_TRUE(torch::equal(chunks.run(), serial.images));
}

TEST(LoadPipeline, IdxResizeAndChannels) {
  TempDir dir;
  write_idx_folder(dir.path());
  const auto data = ganaug::load_dataset(
      ganaug::DatasetSpec().path(dir.path().string()).image_size(3).channels(3).threads(2));
  ASSERT_EQ(data.images.sizes(), (std::vector<int64_t>{90, 3, 3, 3}));
  EXPECT_TRUE(torch::equal(data.images.select(1, 0), data.images.select(1, 2)));
  // INTER_AREA halving: each output pixel is the mean of a 2x2 block.
  const auto serial = ganaug::read_idx_dir(dir.path(), ganaug::IdxSplit::kTrain);
  const auto expected = torch::avg_pool2d(serial.images.add(1).mul(127.5), 2);
  EXPECT_TRUE(
      torch::allclose(data.images.select(1, 1).unsqueeze(1).add(1).mul(127.5), expected, 0, 0.51));
  EXPECT_THROW(ganaug::NormalizePipeline(torch::zeros({2, 1, 3, 3}), {}), ganaug::Error);
}

TEST(LoadPipeline, PerClassThroughTheSpecMatchesSubsetPerClass) {
  TempDir folder;
  write_numbered_folder(folder.path(), 30);
  const auto spec = ganaug::DatasetSpec().path(folder.path().string()).threads(2);
  const auto all = ganaug::load_dataset(spec);
  const auto chosen = ganaug::load_dataset(ganaug::DatasetSpec(spec).per_class(4).seed(9));
  const auto expected = ganaug::subset_per_class(all, 4, 9);
  EXPECT_EQ(chosen.class_counts(), (std::vector<int64_t>{4, 4, 4}));
  EXPECT_TRUE(torch::equal(chosen.images, expected.images));
  EXPECT_TRUE(torch::equal(chosen.labels, expected.labels));
  EXPECT_EQ(chosen.source, expected.source);

  TempDir idx;
  write_idx_folder(idx.path());
  const auto idx_spec = ganaug::DatasetSpec().path(idx.path().string());
  const auto idx_chosen = ganaug::load_dataset(ganaug::DatasetSpec(idx_spec).per_class(5).seed(2));
  const auto idx_expected = ganaug::subset_per_class(ganaug::load_dataset(idx_spec), 5, 2);
  EXPECT_TRUE(torch::equal(idx_chosen.images, idx_expected.images));
  EXPECT_EQ(idx_chosen.size(), 15);
  expect_error([&] { ganaug::load_dataset(ganaug::DatasetSpec(spec).per_class(11)); },
               {"class 'c0' has only 10"});
}

TEST(LoadPipeline, FormatDetection) {
  TempDir dir;
  write_idx_folder(dir / "idx");
  write_numbered_folder(dir / "folder", 3);
  ganaug::testing::write_text(dir / "m.CSV", "folder/c0/000.png,a\n");
  std::filesystem::create_directories(dir / "empty");
  auto format_of = [](const std::filesystem::path& path) {
    return ganaug::resolve_format(ganaug::DatasetSpec().path(path.string()));
  };
  EXPECT_EQ(format_of(dir / "idx"), ganaug::DatasetFormat::kIdx);
  EXPECT_EQ(format_of(dir / "folder"), ganaug::DatasetFormat::kFolder);
  EXPECT_EQ(format_of(dir / "m.CSV"), ganaug::DatasetFormat::kCsv);
  EXPECT_EQ(ganaug::resolve_format(ganaug::DatasetSpec()), ganaug::DatasetFormat::kFashionMnist);
  expect_error([&] { format_of(dir / "missing"); },
               {"dataset not found", (dir / "missing").string()});
  expect_error([&] { format_of(dir / "empty"); }, {"cannot tell the format", "--format"});
  expect_error([&] { ganaug::parse_dataset_format("tfrecord"); },
               {"unknown dataset format 'tfrecord'", "auto, fashion-mnist, idx, folder or csv"});
  for (const auto format :
       {ganaug::DatasetFormat::kAuto, ganaug::DatasetFormat::kFashionMnist,
        ganaug::DatasetFormat::kIdx, ganaug::DatasetFormat::kFolder, ganaug::DatasetFormat::kCsv})
    EXPECT_EQ(ganaug::parse_dataset_format(ganaug::to_string(format)), format);
  expect_error(
      [&] {
        ganaug::load_dataset(
            ganaug::DatasetSpec().path((dir / "folder").string()).split(ganaug::IdxSplit::kTest));
      },
      {"no test split"});
}

TEST(LoadPipeline, TestSetAndFashionMnistDefault) {
  TempDir dir;
  write_idx_folder(dir.path());
  const auto test =
      ganaug::load_test_set(ganaug::DatasetSpec().path(dir.path().string()).per_class(2));
  ASSERT_TRUE(test.has_value());
  EXPECT_EQ(test->size(), 12);  // all of it: per_class applies to training data only
  TempDir folder;
  write_numbered_folder(folder.path(), 3);
  EXPECT_FALSE(ganaug::load_test_set(ganaug::DatasetSpec().path(folder.path().string())));

  // With no path the Fashion-MNIST folder is used, with its class names.
  std::vector<std::string> names = ganaug::fashion_mnist_class_names();
  torch::manual_seed(5);
  std::filesystem::create_directories(dir / "fm");
  ganaug::write_idx(dir / "fm" / "train-images-idx3-ubyte", dir / "fm" / "train-labels-idx1-ubyte",
                    torch::randint(0, 256, {20, 4, 4}).to(torch::kUInt8),
                    torch::arange(20, torch::kInt64).remainder(10));
  ::setenv("GANAUG_FASHION_MNIST_DIR", (dir / "fm").c_str(), 1);
  const auto fashion = ganaug::load_dataset(ganaug::DatasetSpec());
  EXPECT_EQ(fashion.class_names, names);
  EXPECT_EQ(fashion.size(), 20);
  EXPECT_FALSE(ganaug::load_test_set(ganaug::DatasetSpec()).has_value());  // no t10k files
  ::setenv("GANAUG_FASHION_MNIST_DIR", (dir / "nowhere").c_str(), 1);
  expect_error([&] { ganaug::load_dataset(ganaug::DatasetSpec()); },
               {"Fashion-MNIST not found in " + (dir / "nowhere").string()});
  ::unsetenv("GANAUG_FASHION_MNIST_DIR");
}

TEST(LoadPipeline, TrainingDataMayNotInventEmptyClasses) {
  // One stray IDX label 200 among 0..2 used to make 201 classes, 198 of them empty.
  TempDir dir;
  torch::manual_seed(3);
  auto labels = torch::arange(30, torch::kInt64).remainder(3);
  labels[7] = 200;
  std::filesystem::create_directories(dir / "idx");
  ganaug::write_idx(dir / "idx" / "train-images-idx3-ubyte",
                    dir / "idx" / "train-labels-idx1-ubyte",
                    torch::randint(0, 256, {30, 6, 6}).to(torch::kUInt8), labels);
  for (int64_t per_class : {0, 2}) {
    expect_error(
        [&] {
          ganaug::load_train_test(
              ganaug::DatasetSpec().path((dir / "idx").string()).per_class(per_class));
        },
        {"has no image of class '3', '4', '5', '6', '7', '8', '9', '10', ...",
         "(197 of 201 classes)", "0..K-1", "train-images-idx3-ubyte"});
  }
  // A CSV numbering its classes 1..K would train an imaginary class 0, with or without a test
  // set of its own.
  write_numbered_folder(dir / "img", 6);
  std::string rows;
  for (int i = 0; i < 6; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "img/c%d/%03d.png", i % 3, i);
    rows += std::string(name) + "," + std::to_string(1 + i % 3) + "\n";
  }
  ganaug::testing::write_text(dir / "one-based.csv", rows);
  const auto csv = ganaug::DatasetSpec().path((dir / "one-based.csv").string());
  for (const std::string& test_data : {std::string(), (dir / "one-based.csv").string()}) {
    expect_error([&] { ganaug::load_train_test(csv, test_data); },
                 {"one-based.csv", "has no image of class '0'", "(1 of 4 classes)"});
  }
}

}  // namespace ganaug_tests_load_pipeline
