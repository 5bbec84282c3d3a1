#include <gtest/gtest.h>
#include <torch/torch.h>

#include <opencv2/imgcodecs.hpp>

#include "ganaug/datasets/image_folder.hpp"
#include "ganaug/pipelines/load.hpp"
#include "test_support.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_image_folder {

using ganaug::testing::expect_error;
using ganaug::testing::TempDir;

namespace {

void write_image(const std::filesystem::path& path, const cv::Mat& image) {
  std::filesystem::create_directories(path.parent_path());
  ASSERT_TRUE(cv::imwrite(path.string(), image)) << path;
}

cv::Mat gray(int size, int value) { return cv::Mat(size, size, CV_8UC1, cv::Scalar(value)); }

ganaug::DatasetSpec folder_spec(const TempDir& dir) {
  return ganaug::DatasetSpec()
      .format(ganaug::DatasetFormat::kFolder)
      .path(dir.path().string())
      .threads(2);
}

}  // namespace

TEST(ImageFolder, ListsSortedClassesAndFiles) {
  TempDir dir;
  write_image(dir / "bird/2.png", gray(4, 10));
  write_image(dir / "bird/1.PNG", gray(4, 20));
  write_image(dir / "ant/x.jpeg", gray(4, 30));
  write_image(dir / "ant/y.Bmp", gray(4, 30));
  ganaug::testing::write_text(dir / "ant/notes.txt", "not an image");
  write_image(dir / ".hidden/z.png", gray(4, 40));
  ganaug::testing::write_text(dir / "README", "a file at the root is ignored");
  const auto list = ganaug::list_image_folder(dir.path());
  EXPECT_EQ(list.class_names, (std::vector<std::string>{"ant", "bird"}));
  ASSERT_EQ(list.records.size(), 4u);
  EXPECT_EQ(list.records[0].path, dir / "ant/x.jpeg");
  EXPECT_EQ(list.records[1].path, dir / "ant/y.Bmp");
  EXPECT_EQ(list.records[2].path, dir / "bird/1.PNG");
  EXPECT_EQ(list.records[3].path, dir / "bird/2.png");
  EXPECT_EQ(list.records[2].label, 1);
  EXPECT_EQ(list.class_counts(), (std::vector<int64_t>{2, 2}));
}

TEST(ImageFolder, LoadsGrayAndColorImages) {
  TempDir dir;
  write_image(dir / "a/0.png", gray(6, 100));
  write_image(dir / "b/0.jpg", cv::Mat(6, 6, CV_8UC3, cv::Scalar(50, 50, 50)));
  write_image(dir / "b/1.png", cv::Mat(6, 6, CV_8UC3, cv::Scalar(255, 0, 0)));  // blue
  // The first image is gray, so every image becomes gray.
  const auto data = ganaug::load_dataset(folder_spec(dir));
  ASSERT_EQ(data.images.sizes(), (std::vector<int64_t>{3, 1, 6, 6}));
  EXPECT_TRUE(torch::equal(data.labels, torch::tensor({0, 1, 1}, torch::kInt64)));
  EXPECT_EQ(data.class_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(data.source, dir.path().string());
  EXPECT_NEAR(data.images[0].mean().item<float>(), 100 / 127.5 - 1, 1e-6);
  EXPECT_NEAR(data.images[1].mean().item<float>(), 50 / 127.5 - 1, 0.03);  // JPEG is lossy
  EXPECT_NO_THROW(data.validate());

  const auto color = ganaug::load_dataset(folder_spec(dir).channels(3));
  ASSERT_EQ(color.images.sizes(), (std::vector<int64_t>{3, 3, 6, 6}));
  EXPECT_TRUE(torch::equal(color.images[0][0], color.images[0][1]));  // gray replicated
  EXPECT_FLOAT_EQ(color.images[2][2][0][0].item<float>(), 1.0f);      // blue in RGB order
  EXPECT_FLOAT_EQ(color.images[2][0][0][0].item<float>(), -1.0f);
}

TEST(ImageFolder, ResizesToOneSize) {
  TempDir dir;
  write_image(dir / "a/big.png", gray(8, 10));
  write_image(dir / "a/small.png", gray(6, 20));
  write_image(dir / "b/tiny.png", gray(2, 30));
  const auto data = ganaug::load_dataset(folder_spec(dir).image_size(4));
  ASSERT_EQ(data.images.sizes(), (std::vector<int64_t>{3, 1, 4, 4}));
  EXPECT_NEAR(data.images[2].mean().item<float>(), 30 / 127.5 - 1, 1e-6);
}

TEST(ImageFolder, MixedSizesNameTheOddFile) {
  TempDir dir;
  write_image(dir / "a/first.png", gray(8, 10));
  write_image(dir / "b/odd.png", gray(6, 20));
  expect_error([&] { ganaug::load_dataset(folder_spec(dir)); },
               {(dir / "b/odd.png").string() + " is 6x6",
                (dir / "a/first.png").string() + " is 8x8", "--image-size"});
}

TEST(ImageFolder, FolderErrors) {
  TempDir dir;
  expect_error([&] { ganaug::list_image_folder(dir / "missing"); },
               {"image folder not found", (dir / "missing").string()});
  ganaug::testing::write_text(dir / "only-a-file.png", "x");
  expect_error([&] { ganaug::list_image_folder(dir.path()); },
               {"no class subfolders in " + dir.path().string()});
  std::filesystem::remove(dir / "only-a-file.png");
  write_image(dir / "full/0.png", gray(4, 1));
  ganaug::testing::write_text(dir / "empty/readme.txt", "no images here");
  expect_error([&] { ganaug::list_image_folder(dir.path()); },
               {"class 'empty' holds no", (dir / "empty").string()});
}

TEST(ImageFolder, ImagesOutsideTheClassFoldersAreRefusedNotIgnored) {
  TempDir dir;
  write_image(dir / "ant/0.png", gray(4, 1));
  write_image(dir / "bird/0.png", gray(4, 2));
  write_image(dir / ".git/ignored.png", gray(4, 3));        // hidden: never data
  write_image(dir / "ant/.cache/ignored.png", gray(4, 3));  // hidden below a class
  EXPECT_EQ(ganaug::list_image_folder(dir.path()).records.size(), 2u);
  write_image(dir / "bird/young/1.png", gray(4, 4));
  write_image(dir / "bird/young/2.png", gray(4, 4));
  expect_error([&] { ganaug::list_image_folder(dir.path()); },
               {"image folder " + dir.path().string() + " holds 2 images outside its class folders",
                "(first: " + (dir / "bird/young").string(), "move them there"});
  std::filesystem::remove_all(dir / "bird/young");
  write_image(dir / "stray.jpg", gray(4, 5));
  expect_error([&] { ganaug::list_image_folder(dir.path()); },
               {"holds 1 image outside its class folders (first: " + (dir / "stray.jpg").string(),
                "move it there"});
}

TEST(ImageFolder, CorruptImageIsNamed) {
  TempDir dir;
  write_image(dir / "a/0.png", gray(4, 1));
  write_image(dir / "a/1.png", gray(4, 2));
  ganaug::testing::write_text(dir / "b/x.png", "\x89PNG garbage that is not an image");
  expect_error([&] { ganaug::load_dataset(folder_spec(dir)); },
               {"cannot decode image", (dir / "b/x.png").string()});
}

TEST(ImageFolder, SymbolicLinksAreFollowedOnlyInsideTheFolder) {
  TempDir dir;
  for (const char* name :
       {"root/a/1.png", "root/b/2.png", "elsewhere/secret.png", "elsewhere/c/3.png"}) {
    std::filesystem::create_directories((dir / name).parent_path());
    ASSERT_TRUE(cv::imwrite((dir / name).string(), cv::Mat(4, 4, CV_8UC1, cv::Scalar(9))));
  }
  // Inside: fine.
  std::filesystem::create_symlink(dir / "root" / "a" / "1.png", dir / "root" / "b" / "alias.png");
  EXPECT_EQ(ganaug::list_image_folder(dir / "root").records.size(), 3u);
  // An image that leads out, and a class folder that does.
  std::filesystem::create_symlink(dir / "elsewhere" / "secret.png", dir / "root" / "a" / "x.png");
  expect_error(
      [&] { ganaug::list_image_folder(dir / "root"); },
      {"x.png is a symbolic link to", "secret.png outside the folder", "--allow-outside-paths"});
  EXPECT_EQ(ganaug::list_image_folder(dir / "root", true).records.size(), 4u);
  std::filesystem::remove(dir / "root" / "a" / "x.png");
  std::filesystem::create_directory_symlink(dir / "elsewhere" / "c", dir / "root" / "c");
  expect_error([&] { ganaug::list_image_folder(dir / "root"); }, {"outside the folder"});
}

}  // namespace ganaug_tests_image_folder
