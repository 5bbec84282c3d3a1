#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ganaug/dataset.hpp"
#include "ganaug/error.hpp"
#include "test_support.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_dataset {

namespace {

// 3 classes with 5, 4 and 3 images; image i is filled with i / 100 so it can be identified.
ganaug::LabeledDataset make_dataset() {
  ganaug::LabeledDataset data;
  std::vector<int64_t> labels = {0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 0};
  const int64_t n = static_cast<int64_t>(labels.size());
  data.images = torch::arange(n, torch::kFloat32)
                    .div(100)
                    .view({n, 1, 1, 1})
                    .expand({n, 1, 4, 4})
                    .contiguous();
  data.labels = torch::tensor(labels, torch::kInt64);
  data.class_names = {"a", "b", "c"};
  data.source = "fixture";
  return data;
}

}  // namespace

TEST(Dataset, ClassCountsAndValidate) {
  auto data = make_dataset();
  EXPECT_NO_THROW(data.validate());
  EXPECT_EQ(data.class_counts(), (std::vector<int64_t>{5, 4, 3}));
  EXPECT_EQ(data.size(), 12);
  EXPECT_EQ(data.channels(), 1);
  EXPECT_EQ(data.height(), 4);
}

TEST(Dataset, ValidateRejectsLabelOutOfRange) {
  auto data = make_dataset();
  data.labels[0] = 7;
  try {
    data.validate();
    FAIL() << "expected ganaug::Error";
  } catch (const ganaug::Error& e) {
    EXPECT_NE(std::string(e.what()).find("only 3 classes"), std::string::npos) << e.what();
  }
}

TEST(Dataset, SubsetPerClassIsStratifiedAndSeeded) {
  auto data = make_dataset();
  auto a = ganaug::subset_per_class(data, 2, 7);
  auto b = ganaug::subset_per_class(data, 2, 7);
  EXPECT_EQ(a.class_counts(), (std::vector<int64_t>{2, 2, 2}));
  EXPECT_TRUE(torch::equal(a.images, b.images));
  // Some seed picks a different subset: the choice depends on the seed.
  bool differs = false;
  for (uint64_t seed = 0; seed < 20 && !differs; ++seed) {
    differs = !torch::equal(ganaug::subset_per_class(data, 2, seed).images, a.images);
  }
  EXPECT_TRUE(differs);
}

TEST(Dataset, SubsetPerClassTooLargeNamesClass) {
  auto data = make_dataset();
  try {
    ganaug::subset_per_class(data, 4, 0);
    FAIL() << "expected ganaug::Error";
  } catch (const ganaug::Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("class 'c' has only 3"), std::string::npos) << message;
    EXPECT_NE(message.find("fixture"), std::string::npos) << message;
  }
}

TEST(Dataset, SplitIsStratifiedDisjointAndSeeded) {
  auto data = make_dataset();
  auto [train, test] = ganaug::split_train_test(data, 0.34, 3);
  EXPECT_EQ(train.size() + test.size(), data.size());
  for (auto count : test.class_counts()) EXPECT_GE(count, 1);
  for (auto count : train.class_counts()) EXPECT_GE(count, 1);
  auto all =
      torch::cat({train.images.flatten(1).select(1, 0), test.images.flatten(1).select(1, 0)});
  EXPECT_EQ(std::get<0>(torch::unique_dim(all, 0)).numel(), data.size());
  auto again = ganaug::split_train_test(data, 0.34, 3);
  EXPECT_TRUE(torch::equal(again.second.images, test.images));
  EXPECT_THROW(ganaug::split_train_test(data, 1.5, 3), ganaug::Error);
}

TEST(Dataset, ConcatenateChecksShapes) {
  auto data = make_dataset();
  auto both = ganaug::concatenate({data, data});
  EXPECT_EQ(both.size(), 24);
  auto other = data;
  other.images = torch::zeros({12, 1, 5, 5});
  EXPECT_THROW(ganaug::concatenate({data, other}), ganaug::Error);
}

// The trainers' one shape check names the user, the expected and the actual shape, the source.
TEST(Dataset, CheckImageShapeNamesBothShapesAndTheSource) {
  const auto data = make_dataset();  // 12 images of 1x4x4
  EXPECT_NO_THROW(data.check_image_shape(1, 4, "the GAN"));
  ganaug::testing::expect_error([&] { data.check_image_shape(3, 4, "the GAN"); },
                                {"the GAN was set up for 3x4x4 images but fixture holds 1x4x4"});
  ganaug::testing::expect_error(
      [&] { data.check_image_shape(1, 8, "joint training", "pool"); },
      {"joint training was set up for 1x8x8 images but the pool fixture holds 1x4x4"});
  auto flat = data;
  flat.images = torch::zeros({12, 16});
  ganaug::testing::expect_error([&] { flat.check_image_shape(1, 4, "the classifier"); },
                                {"the classifier needs N x C x H x W images", "fixture"});
}

}  // namespace ganaug_tests_dataset
