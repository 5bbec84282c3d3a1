// OpenCV images in and out of ganaug, and the one-call API on cv::Mat.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <opencv2/imgproc.hpp>

#include "ganaug/datasets/mat.hpp"
#include "test_support.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_mat {

namespace {

// Two classes of 16x16 BGR images: a red (class 0) or blue (class 1) square on black.
std::vector<cv::Mat> squares(int per_class, std::vector<int64_t>* labels) {
  std::vector<cv::Mat> out;
  for (int i = 0; i < 2 * per_class; ++i) {
    cv::Mat image(16, 16, CV_8UC3, cv::Scalar(0, 0, 0));
    const cv::Scalar color = i % 2 == 0 ? cv::Scalar(0, 0, 255) : cv::Scalar(255, 0, 0);
    cv::rectangle(image, cv::Rect(i % 5, 4, 8, 8), color, cv::FILLED);
    out.push_back(image);
    labels->push_back(i % 2);
  }
  return out;
}

}  // namespace

TEST(Mat, DatasetFromMatsIsRgbInMinusOneToOne) {
  std::vector<int64_t> labels;
  const auto images = squares(3, &labels);
  const auto data = ganaug::dataset_from_mats(images, labels, {"red", "blue"});
  EXPECT_NO_THROW(data.validate());
  EXPECT_EQ(data.images.sizes(), torch::IntArrayRef({6, 3, 16, 16}));
  // Image 0 is red: channel 0 (R) is 1 inside the square, channels 1 and 2 are -1.
  EXPECT_FLOAT_EQ(data.images[0][0][6][6].item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(data.images[0][2][6][6].item<float>(), -1.0f);
  EXPECT_FLOAT_EQ(data.images[1][2][6][6].item<float>(), 1.0f);
  EXPECT_TRUE(torch::equal(data.labels, torch::tensor(labels, torch::kInt64)));

  // Back to Mats: the same pixels, in BGR.
  const auto back = ganaug::mats_from_tensor(data.images);
  ASSERT_EQ(back.size(), images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    EXPECT_EQ(back[i].type(), CV_8UC3);
    EXPECT_EQ(cv::norm(back[i], images[i], cv::NORM_INF), 0.0) << "image " << i;
  }
  // Gray and resized on request.
  const auto gray = ganaug::dataset_from_mats(images, labels, {"red", "blue"},
                                              ganaug::ImageOptions().channels(1).image_size(8));
  EXPECT_EQ(gray.images.sizes(), torch::IntArrayRef({6, 1, 8, 8}));
  EXPECT_EQ(ganaug::mats_from_tensor(gray.images)[0].type(), CV_8UC1);
}

TEST(Mat, BadImagesAreRefusedByIndex) {
  std::vector<int64_t> labels;
  auto images = squares(2, &labels);
  const std::vector<std::string> names{"red", "blue"};
  labels[3] = 2;
  ganaug::testing::expect_error([&] { ganaug::dataset_from_mats(images, labels, names); },
                                {"image 3", "label 2"});
  labels[3] = 1;
  images[2] = cv::Mat(10, 16, CV_8UC3, cv::Scalar(0));
  ganaug::testing::expect_error([&] { ganaug::dataset_from_mats(images, labels, names); },
                                {"image 2", "16x10", "image_size"});
  images[2] = cv::Mat(16, 16, CV_32FC3, cv::Scalar(0));
  ganaug::testing::expect_error([&] { ganaug::dataset_from_mats(images, labels, names); },
                                {"image 2", "8-bit"});
  images[2] = cv::Mat();
  ganaug::testing::expect_error([&] { ganaug::dataset_from_mats(images, labels, names); },
                                {"image 2", "empty"});
  labels.pop_back();
  ganaug::testing::expect_error([&] { ganaug::dataset_from_mats(images, labels, names); },
                                {"4 images", "3 labels"});
}

TEST(Mat, SynthesizeFromMats) {
  std::vector<int64_t> labels;
  const auto images = squares(6, &labels);
  const auto options =
      ganaug::SynthesizeOptions()
          .scheme(ganaug::Scheme::kCond)
          .n(6)
          .gan(
              ganaug::GanOptions(1).iterations(2).g_width(8).d_width(8).latent_dim(8).batch_size(8))
          .device("cpu")
          .seed(3);
  const auto out = ganaug::synthesize(images, labels, {"red", "blue"}, options);
  EXPECT_EQ(out.images.sizes(), torch::IntArrayRef({6, 3, 16, 16}));
  EXPECT_TRUE(torch::equal(out.labels, torch::tensor({0, 1, 0, 1, 0, 1}, torch::kInt64)));
  const auto mats = ganaug::mats_from_tensor(out.images);
  EXPECT_EQ(mats.size(), 6u);
  EXPECT_EQ(mats[0].size(), cv::Size(16, 16));
}

}  // namespace ganaug_tests_mat
