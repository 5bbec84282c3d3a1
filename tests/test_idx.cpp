#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>

#include "ganaug/datasets/fashion_mnist.hpp"
#include "ganaug/datasets/idx.hpp"
#include "test_support.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_idx {

using ganaug::testing::expect_error;
using ganaug::testing::TempDir;

namespace {

// 5 images of 4 x 3 (not square, so height and width cannot be confused), labels 0..2.
struct Fixture {
  torch::Tensor pixels;
  torch::Tensor labels = torch::tensor({0, 2, 1, 2, 0}, torch::kInt64);
  Fixture() {
    torch::manual_seed(0);
    pixels = torch::randint(0, 256, {5, 4, 3}).to(torch::kUInt8);
  }
};

void expect_round_trip(const Fixture& fixture, const ganaug::LabeledDataset& data,
                       const std::filesystem::path& images) {
  ASSERT_EQ(data.images.sizes(), (std::vector<int64_t>{5, 1, 4, 3}));
  EXPECT_EQ(data.images.scalar_type(), torch::kFloat32);
  const auto expected = fixture.pixels.to(torch::kFloat32).div(127.5).sub(1).unsqueeze(1);
  EXPECT_TRUE(torch::allclose(data.images, expected, 0, 1e-6));
  EXPECT_TRUE(torch::equal(data.labels, fixture.labels));
  EXPECT_EQ(data.class_names, (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(data.source, images.string());
  EXPECT_NO_THROW(data.validate());
}

std::vector<unsigned char> file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST(Idx, RawRoundTrip) {
  TempDir dir;
  Fixture fixture;
  ganaug::write_idx(dir / "images", dir / "labels", fixture.pixels, fixture.labels);
  const auto bytes = file_bytes(dir / "images");
  ASSERT_EQ(bytes.size(), 16u + 60u);
  EXPECT_EQ(bytes[2], 0x08);
  EXPECT_EQ(bytes[3], 0x03);
  expect_round_trip(fixture, ganaug::read_idx(dir / "images", dir / "labels"), dir / "images");
}

TEST(Idx, GzipRoundTripDetectedByMagicBytes) {
  TempDir dir;
  Fixture fixture;
  ganaug::write_idx(dir / "images.gz", dir / "labels.gz", fixture.pixels, fixture.labels);
  const auto bytes = file_bytes(dir / "images.gz");
  ASSERT_GE(bytes.size(), 2u);
  EXPECT_EQ(bytes[0], 0x1f);
  EXPECT_EQ(bytes[1], 0x8b);
  expect_round_trip(fixture, ganaug::read_idx(dir / "images.gz", dir / "labels.gz"),
                    dir / "images.gz");
  // The name does not matter: compressed files without ".gz" read the same.
  std::filesystem::rename(dir / "images.gz", dir / "images-compressed");
  expect_round_trip(fixture, ganaug::read_idx(dir / "images-compressed", dir / "labels.gz"),
                    dir / "images-compressed");
}

TEST(Idx, ClassNamesAreKeptAndLabelsChecked) {
  TempDir dir;
  Fixture fixture;
  ganaug::write_idx(dir / "images", dir / "labels", fixture.pixels, fixture.labels);
  const auto data = ganaug::read_idx(dir / "images", dir / "labels", {"a", "b", "c", "d"});
  EXPECT_EQ(data.num_classes(), 4);
  expect_error(
      [&] {
        ganaug::read_idx(dir / "images", dir / "labels", {"a", "b"});
      },
      {"label 2 of image 1 is out of range for 2 classes", (dir / "labels").string()});
}

TEST(Idx, WrongMagicNumberSaysWhatWasFound) {
  TempDir dir;
  Fixture fixture;
  ganaug::write_idx(dir / "images", dir / "labels", fixture.pixels, fixture.labels);
  // Files swapped: the images file is a labels file and the other way round.
  expect_error(
      [&] { ganaug::read_idx(dir / "labels", dir / "images"); },
      {"wrong magic number", "expected 0x00000803", "found 0x00000801", (dir / "labels").string()});
  ganaug::testing::write_text(dir / "text", "hello world, not an IDX file");
  expect_error([&] { ganaug::read_idx(dir / "images", dir / "text"); },
               {"expected 0x00000801", "found 0x68656c6c", (dir / "text").string()});
}

TEST(Idx, TruncatedImagesFileGivesBothSizes) {
  TempDir dir;
  Fixture fixture;
  ganaug::write_idx(dir / "images", dir / "labels", fixture.pixels, fixture.labels);
  std::filesystem::resize_file(dir / "images", 16 + 50);
  expect_error([&] { ganaug::read_idx(dir / "images", dir / "labels"); },
               {"truncated", "5 x 4 x 3 = 60 bytes", "only 50", (dir / "images").string()});
  std::filesystem::resize_file(dir / "images", 10);
  expect_error([&] { ganaug::read_idx(dir / "images", dir / "labels"); },
               {"fewer than the 16-byte header", (dir / "images").string()});
}

TEST(Idx, TruncatedGzipIsReported) {
  TempDir dir;
  torch::manual_seed(1);
  const auto pixels = torch::randint(0, 256, {50, 28, 28}).to(torch::kUInt8);
  const auto labels = torch::zeros({50}, torch::kInt64);
  ganaug::write_idx(dir / "images.gz", dir / "labels.gz", pixels, labels);
  const auto size = std::filesystem::file_size(dir / "images.gz");
  std::filesystem::resize_file(dir / "images.gz", size / 2);
  expect_error([&] { ganaug::read_idx(dir / "images.gz", dir / "labels.gz"); },
               {"corrupt or truncated gzip", (dir / "images.gz").string()});
}

TEST(Idx, LabelCountMismatchNamesBothCounts) {
  TempDir dir;
  Fixture fixture;
  ganaug::write_idx(dir / "images", dir / "labels", fixture.pixels, fixture.labels);
  ganaug::write_idx(dir / "images4", dir / "labels4", fixture.pixels.narrow(0, 0, 4),
                    fixture.labels.narrow(0, 0, 4));
  expect_error([&] { ganaug::read_idx(dir / "images", dir / "labels4"); },
               {"labels file has 4 entries but images file has 5: " + (dir / "labels4").string()});
}

TEST(Idx, MissingFileIsNamed) {
  TempDir dir;
  Fixture fixture;
  ganaug::write_idx(dir / "images", dir / "labels", fixture.pixels, fixture.labels);
  expect_error([&] { ganaug::read_idx(dir / "nope", dir / "labels"); },
               {"file not found: " + (dir / "nope").string()});
  expect_error([&] { ganaug::read_idx(dir / "images", dir / "nope-labels"); },
               {"file not found: " + (dir / "nope-labels").string()});
}

TEST(Idx, WriteRejectsBadInput) {
  TempDir dir;
  EXPECT_THROW(ganaug::write_idx(dir / "i", dir / "l", torch::zeros({2, 3, 3}),
                                 torch::zeros({2}, torch::kInt64)),
               ganaug::Error);  // float pixels
  expect_error(
      [&] {
        ganaug::write_idx(dir / "i", dir / "l", torch::zeros({2, 3, 3}, torch::kUInt8),
                          torch::tensor({0, 300}, torch::kInt64));
      },
      {"[0, 255]", "300"});
}

TEST(Idx, SplitFolders) {
  TempDir dir;
  Fixture fixture;
  ganaug::write_idx(dir / "train-images-idx3-ubyte.gz", dir / "train-labels-idx1-ubyte.gz",
                    fixture.pixels, fixture.labels);
  ganaug::write_idx(dir / "t10k-images-idx3-ubyte", dir / "t10k-labels-idx1-ubyte",
                    fixture.pixels.narrow(0, 0, 2), fixture.labels.narrow(0, 0, 2));
  EXPECT_TRUE(ganaug::is_idx_dir(dir.path()));
  EXPECT_EQ(ganaug::read_idx_dir(dir.path(), ganaug::IdxSplit::kTrain).size(), 5);
  EXPECT_EQ(ganaug::read_idx_dir(dir.path(), ganaug::IdxSplit::kTest).size(), 2);
  EXPECT_EQ(ganaug::parse_idx_split(ganaug::to_string(ganaug::IdxSplit::kTest)),
            ganaug::IdxSplit::kTest);
  EXPECT_EQ(ganaug::parse_idx_split("train"), ganaug::IdxSplit::kTrain);
  EXPECT_THROW(ganaug::parse_idx_split("validation"), ganaug::Error);

  std::filesystem::remove(dir / "t10k-labels-idx1-ubyte");
  EXPECT_FALSE(ganaug::find_idx_split(dir.path(), ganaug::IdxSplit::kTest).has_value());
  expect_error([&] { ganaug::read_idx_dir(dir.path(), ganaug::IdxSplit::kTest); },
               {"no test split in " + dir.path().string(), "t10k-labels-idx1-ubyte[.gz]"});
}

TEST(Idx, FashionMnistMissingSaysHowToInstall) {
  TempDir dir;
  expect_error([&] { ganaug::load_fashion_mnist(dir.path()); },
               {"Fashion-MNIST not found in " + dir.path().string() +
                ": install the dataset-fashion-mnist package or pass --data"});
  ::setenv("GANAUG_FASHION_MNIST_DIR", dir.path().c_str(), 1);
  EXPECT_EQ(ganaug::default_fashion_mnist_dir(), dir.path());
  ::unsetenv("GANAUG_FASHION_MNIST_DIR");
  EXPECT_EQ(ganaug::default_fashion_mnist_dir(), "/usr/share/datasets/fashion-mnist");
}

TEST(Idx, RealFashionMnist) {
  const std::filesystem::path dir = "/usr/share/datasets/fashion-mnist";
  if (!ganaug::find_idx_split(dir, ganaug::IdxSplit::kTrain) ||
      !ganaug::find_idx_split(dir, ganaug::IdxSplit::kTest)) {
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
  const auto train = ganaug::load_fashion_mnist(dir, true);
  EXPECT_EQ(train.size(), 60000);
  EXPECT_EQ(train.num_classes(), 10);
  EXPECT_EQ(train.channels(), 1);
  EXPECT_EQ(train.height(), 28);
  EXPECT_EQ(train.width(), 28);
  EXPECT_EQ(train.class_names[9], "Ankle boot");
  EXPECT_TRUE(
      torch::equal(train.labels.narrow(0, 0, 4), torch::tensor({9, 0, 0, 3}, torch::kInt64)));
  EXPECT_EQ(train.class_counts(), std::vector<int64_t>(10, 6000));
  EXPECT_FLOAT_EQ(train.images.min().item<float>(), -1.0f);
  EXPECT_FLOAT_EQ(train.images.max().item<float>(), 1.0f);
  EXPECT_NO_THROW(train.validate());
  const auto test = ganaug::load_fashion_mnist(dir, false);
  EXPECT_EQ(test.size(), 10000);
  EXPECT_EQ(test.class_counts(), std::vector<int64_t>(10, 1000));
}

TEST(Idx, HugeHeaderDimensionsAreReportedWithoutOverflow) {
  // Regression: count x height x width was formed in int64 before any check (signed overflow,
  // and a message claiming 4294967295^3 = 12884901887).
  TempDir dir;
  Fixture fixture;
  ganaug::write_idx(dir / "images", dir / "labels", fixture.pixels, fixture.labels);
  auto bytes = file_bytes(dir / "images");
  for (size_t i = 4; i < 16; ++i) bytes[i] = 0xff;
  ganaug::testing::write_text(dir / "images", std::string(bytes.begin(), bytes.end()));
  expect_error(
      [&] { ganaug::read_idx(dir / "images", dir / "labels"); },
      {"truncated", "4294967295 x 4294967295 x 4294967295", "only 60", (dir / "images").string()});
}

TEST(Idx, ExtraBytesInALabelsFileAreRefused) {
  TempDir dir;
  Fixture fixture;
  ganaug::write_idx(dir / "images", dir / "labels", fixture.pixels, fixture.labels);
  auto bytes = file_bytes(dir / "labels");
  bytes.push_back(1);
  bytes.push_back(2);
  ganaug::testing::write_text(dir / "labels", std::string(bytes.begin(), bytes.end()));
  expect_error([&] { ganaug::read_idx(dir / "images", dir / "labels"); },
               {"2 bytes more than the 5 labels", (dir / "labels").string()});
}

}  // namespace ganaug_tests_idx
