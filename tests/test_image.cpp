#include <gtest/gtest.h>
#include <torch/torch.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "ganaug/datasets/chart.hpp"
#include "ganaug/datasets/image.hpp"
#include "test_support.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_image {

using ganaug::testing::expect_error;
using ganaug::testing::TempDir;

TEST(Image, DecodeGrayKeepsValuesExactly) {
  TempDir dir;
  cv::Mat gray = (cv::Mat_<uint8_t>(2, 3) << 0, 51, 102, 153, 204, 255);
  ASSERT_TRUE(cv::imwrite((dir / "g.png").string(), gray));
  const auto image = ganaug::decode_image(dir / "g.png");
  ASSERT_EQ(image.sizes(), (std::vector<int64_t>{1, 2, 3}));
  const auto expected =
      torch::tensor({0.f, 51.f, 102.f, 153.f, 204.f, 255.f}).div(127.5).sub(1).view({1, 2, 3});
  EXPECT_TRUE(torch::allclose(image, expected, 0, 1e-6));
}

TEST(Image, DecodeColorGivesRgbOrder) {
  TempDir dir;
  cv::Mat red(2, 2, CV_8UC3, cv::Scalar(0, 0, 255));  // OpenCV stores BGR
  ASSERT_TRUE(cv::imwrite((dir / "red.png").string(), red));
  const auto rgb = ganaug::decode_image(dir / "red.png");
  ASSERT_EQ(rgb.sizes(), (std::vector<int64_t>{3, 2, 2}));
  EXPECT_TRUE(torch::all(rgb[0] == 1.0f).item<bool>());
  EXPECT_TRUE(torch::all(rgb[2] == -1.0f).item<bool>());
  const auto gray = ganaug::decode_image(dir / "red.png", ganaug::ImageOptions().channels(1));
  ASSERT_EQ(gray.size(0), 1);
  // OpenCV's luma weight for red is 0.299: round(0.299 * 255) = 76.
  EXPECT_NEAR(gray[0][0][0].item<float>(), 76 / 127.5 - 1, 1e-6);
}

TEST(Image, GrayToThreeChannelsAndAlphaDropped) {
  TempDir dir;
  ASSERT_TRUE(cv::imwrite((dir / "g.png").string(), cv::Mat(3, 3, CV_8UC1, cv::Scalar(200))));
  const auto three = ganaug::decode_image(dir / "g.png", ganaug::ImageOptions().channels(3));
  ASSERT_EQ(three.size(0), 3);
  EXPECT_TRUE(torch::equal(three[0], three[2]));
  cv::Mat bgra(2, 2, CV_8UC4, cv::Scalar(255, 0, 0, 10));  // blue, nearly transparent
  ASSERT_TRUE(cv::imwrite((dir / "a.png").string(), bgra));
  const auto rgb = ganaug::decode_image(dir / "a.png");
  ASSERT_EQ(rgb.size(0), 3);
  EXPECT_TRUE(torch::all(rgb[2] == 1.0f).item<bool>());
  EXPECT_TRUE(torch::all(rgb[0] == -1.0f).item<bool>());
}

TEST(Image, SixteenBitIsScaledToEightBit) {
  TempDir dir;
  cv::Mat deep(2, 2, CV_16UC1, cv::Scalar(65535));
  deep.at<uint16_t>(0, 0) = 0;
  ASSERT_TRUE(cv::imwrite((dir / "deep.png").string(), deep));
  const auto image = ganaug::decode_image(dir / "deep.png");
  EXPECT_FLOAT_EQ(image[0][0][0].item<float>(), -1.0f);
  EXPECT_FLOAT_EQ(image[0][1][1].item<float>(), 1.0f);
}

TEST(Image, ResizeShrinksByAveraging) {
  TempDir dir;
  // A checkerboard of 2x2 blocks of 0 and 200. Shrunk (INTER_AREA) to half size, each output
  // pixel covers one block; to quarter size, two blocks of each value: their mean, 100.
  cv::Mat board(8, 8, CV_8UC1);
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) board.at<uint8_t>(y, x) = ((y / 2 + x / 2) % 2) ? 200 : 0;
  ASSERT_TRUE(cv::imwrite((dir / "b.png").string(), board));
  const auto half = ganaug::decode_image(dir / "b.png", ganaug::ImageOptions().image_size(4));
  ASSERT_EQ(half.sizes(), (std::vector<int64_t>{1, 4, 4}));
  EXPECT_NEAR(half[0][0][0].item<float>(), -1.0, 1e-6);
  EXPECT_NEAR(half[0][0][1].item<float>(), 200 / 127.5 - 1, 1e-6);
  const auto quarter = ganaug::decode_image(dir / "b.png", ganaug::ImageOptions().image_size(2));
  EXPECT_TRUE(torch::allclose(quarter, torch::full({1, 2, 2}, 100 / 127.5 - 1), 0, 1e-6));
  const auto larger = ganaug::decode_image(dir / "b.png", ganaug::ImageOptions().image_size(16));
  EXPECT_EQ(larger.sizes(), (std::vector<int64_t>{1, 16, 16}));
}

TEST(Image, CorruptOrMissingImageIsNamed) {
  TempDir dir;
  ganaug::testing::write_text(dir / "x.png", "this is not a PNG, just some garbage bytes");
  expect_error([&] { ganaug::decode_image(dir / "x.png"); },
               {"cannot decode image", (dir / "x.png").string()});
  expect_error([&] { ganaug::decode_image(dir / "missing.png"); },
               {"image not found", (dir / "missing.png").string()});
  EXPECT_THROW(ganaug::decode_image(dir / "x.png", ganaug::ImageOptions().channels(2)),
               ganaug::Error);
}

TEST(Image, EncodePngRoundTripsQuantisedValues) {
  TempDir dir;
  torch::manual_seed(3);
  for (int64_t channels : {1, 3}) {
    const auto quantised = torch::randint(0, 256, {channels, 5, 7}).div(127.5).sub(1);
    const auto bytes = ganaug::encode_png(quantised);
    ASSERT_GT(bytes.size(), 8u);
    EXPECT_EQ(bytes[1], 'P');
    const auto path = dir / ("e" + std::to_string(channels) + ".png");
    ganaug::write_file_atomic(path, bytes);
    const auto decoded = ganaug::decode_image(path);
    EXPECT_TRUE(torch::allclose(decoded, quantised, 0, 1e-6)) << channels << " channels";
  }
  // Out-of-range values are clamped, not wrapped.
  const auto clamped = ganaug::encode_png(torch::full({1, 1, 1}, 3.0f));
  ganaug::write_file_atomic(dir / "c.png", clamped);
  EXPECT_FLOAT_EQ(ganaug::decode_image(dir / "c.png")[0][0][0].item<float>(), 1.0f);
  EXPECT_THROW(ganaug::encode_png(torch::zeros({2, 3, 3})), ganaug::Error);
}

TEST(Image, WriteFileAtomicLeavesOnlyTheFile) {
  TempDir dir;
  ganaug::write_file_atomic(dir / "f.bin", {1, 2, 3});
  ganaug::write_file_atomic(dir / "f.bin", {4, 5});
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    ++entries;
  }
  EXPECT_EQ(entries, 1);
  EXPECT_EQ(std::filesystem::file_size(dir / "f.bin"), 2u);
  expect_error([&] { ganaug::write_file_atomic(dir / "no-such-folder" / "f.bin", {1}); },
               {"cannot write", "no-such-folder", "No such file"});
}

TEST(Image, SaveImageGridLaysOutRows) {
  TempDir dir;
  // 5 images of 4x4, each filled with its own value, 3 per row, 2 pixels of padding.
  auto images = torch::empty({5, 1, 4, 4});
  for (int i = 0; i < 5; ++i) images[i].fill_((20 + 40 * i) / 127.5 - 1);
  ganaug::save_image_grid(dir / "grid.png", images, 3, 2);
  const cv::Mat grid = cv::imread((dir / "grid.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_EQ(grid.rows, 2 * (4 + 2) + 2);
  ASSERT_EQ(grid.cols, 3 * (4 + 2) + 2);
  EXPECT_EQ(grid.at<uint8_t>(0, 0), 0);  // padding is black
  auto pixel_value = [](int i) { return 20 + 40 * i; };
  EXPECT_EQ(grid.at<uint8_t>(2, 2), pixel_value(0));
  EXPECT_EQ(grid.at<uint8_t>(2, 2 + 2 * 6), pixel_value(2));
  EXPECT_EQ(grid.at<uint8_t>(2 + 6, 2 + 6), pixel_value(4));
  EXPECT_EQ(grid.at<uint8_t>(2 + 6, 2 + 2 * 6), 0);  // no sixth image
}

TEST(Image, LabeledGridScalesCellsUpAndNamesEachRow) {
  TempDir dir;
  // 2 rows ("shirt", "trouser") of 3 images of 8x8: scaled 7 times to 56 pixels.
  auto images = torch::empty({6, 1, 8, 8});
  for (int i = 0; i < 6; ++i) images[i].fill_((20 + 40 * i) / 127.5 - 1);
  images[0][0][0][0] = 1;  // one white pixel: a 7x7 block once scaled
  ganaug::save_labeled_grid(dir / "grid.png", images, {"shirt", "trouser"}, 3);
  const cv::Mat grid = cv::imread((dir / "grid.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_EQ(grid.rows, 2 * (56 + 2) + 2);
  const int label_width = grid.cols - (3 * (56 + 2) + 2);
  ASSERT_GT(label_width, 40);  // "trouser" at half scale is wider than 40 pixels
  // The images, scaled by nearest neighbour, right of the names.
  EXPECT_EQ(grid.at<uint8_t>(2, label_width + 2), 255);
  EXPECT_EQ(grid.at<uint8_t>(2 + 6, label_width + 2 + 6), 255);
  EXPECT_EQ(grid.at<uint8_t>(2 + 7, label_width + 2 + 7), 20);
  EXPECT_EQ(grid.at<uint8_t>(2 + 58 + 10, label_width + 2 + 2 * 58 + 10), 20 + 40 * 5);
  // Dark text in each row's part of the name column, on white.
  for (int row = 0; row < 2; ++row) {
    const cv::Mat names = grid(cv::Rect(0, 2 + row * 58, label_width, 56));
    EXPECT_GT(cv::countNonZero(names < 128), 20) << row;
    EXPECT_EQ(names.at<uint8_t>(0, 0), 255);
  }
  // Without names: only the images; the count must fit the names.
  const auto bare =
      cv::imdecode(ganaug::encode_labeled_grid(images, {}, 3, 16), cv::IMREAD_UNCHANGED);
  EXPECT_EQ(bare.cols, 3 * (16 + 2) + 2);
  // The spelling of 0.5, kept for a release, gives the same bytes.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  EXPECT_EQ(ganaug::encode_labelled_grid(images, {}, 3, 16),
            ganaug::encode_labeled_grid(images, {}, 3, 16));
#pragma GCC diagnostic pop
  ganaug::testing::expect_error(
      [&] {
        ganaug::encode_labeled_grid(images, {"a", "b", "c"}, 3);
      },
      {"3 rows of 3", "got 6"});
}

// The grid's names as Hershey fonts can draw them: accents dropped, other characters '?', long
// names cut (a 20,000-character name made a grid 170,547 pixels wide).
TEST(Image, LabelsAreDrawnAsAsciiAndCut) {
  EXPECT_EQ(ganaug::drawable_label("T-shirt/top"), "T-shirt/top");
  EXPECT_EQ(ganaug::drawable_label("Cr\xC3\xA8me br\xC3\xBBl\xC3\xA9"
                                   "e \xC3\x86sop Stra\xC3\x9F"
                                   "e"),
            "Creme brulee AEsop Strasse");
  EXPECT_EQ(ganaug::drawable_label("\xE7\x8C\xAB cat"), "? cat");        // U+732B
  EXPECT_EQ(ganaug::drawable_label("bad \xE9t\xE9 \x80"), "bad ?t? ?");  // Latin-1 bytes, stray
  EXPECT_EQ(ganaug::drawable_label("tab\there"), "tab?here");
  EXPECT_EQ(ganaug::drawable_label(std::string(40, 'a'), 10), "aaaaaaa...");
  EXPECT_EQ(ganaug::drawable_label(std::string(10, 'a'), 10), std::string(10, 'a'));
  auto images = torch::zeros({2, 1, 8, 8});
  const auto grid =
      cv::imdecode(ganaug::encode_labeled_grid(images, {std::string(20000, 'w'), "\xC3\xA9"}, 1),
                   cv::IMREAD_UNCHANGED);
  EXPECT_LT(grid.cols, 600);
}

TEST(Chart, DrawsEverySeriesInItsColourAndWritesPng) {
  ganaug::LineChart chart;
  chart.title = "accuracy";
  chart.log_x = true;
  chart.series = {{"none", {20, 50, 100}, {0.7, 0.78, 0.82}, {0.01, 0.02, 0.01}},
                  {"cond", {20, 50, 100}, {0.72, 0.79, 0.81}, {}}};
  const auto image = ganaug::draw_line_chart(chart);
  ASSERT_EQ(image.cols, chart.width);
  ASSERT_EQ(image.rows, chart.height);
  // The second series' colour (BGR 180, 119, 31) is drawn somewhere.
  cv::Mat mask;
  cv::inRange(image, cv::Scalar(170, 109, 21), cv::Scalar(190, 129, 41), mask);
  EXPECT_GT(cv::countNonZero(mask), 50);
  TempDir dir;
  ganaug::save_line_chart(dir / "chart.png", chart);
  EXPECT_EQ(cv::imread((dir / "chart.png").string()).cols, chart.width);
  chart.series[1].y.pop_back();
  expect_error([&] { ganaug::draw_line_chart(chart); }, {"series 'cond'"});
  chart.series[1].y.push_back(0.8);
  chart.series[0].x[0] = 0;
  expect_error([&] { ganaug::draw_line_chart(chart); }, {"cannot be drawn"});
}

TEST(Image, OnlyPngJpegAndBmpAreDecodedAndHugeHeadersAreRefused) {
  ganaug::testing::TempDir dir;
  // A PNG whose header claims 100000 x 100000 pixels: refused before OpenCV allocates.
  const auto png = ganaug::encode_png(torch::zeros({1, 4, 4}));
  std::string claimed(png.begin(), png.end());
  for (int i : {16, 20}) {  // IHDR width and height, big-endian
    claimed[i] = 0;
    claimed[i + 1] = 0x01;
    claimed[i + 2] = static_cast<char>(0x86);
    claimed[i + 3] = static_cast<char>(0xa0);
  }
  ganaug::testing::write_text(dir / "huge.png", claimed);
  ganaug::testing::expect_error([&] { ganaug::decode_image(dir / "huge.png"); },
                                {"claims to be 100000 x 100000", "huge.png"});
  // A JPEG whose frame header (65288 x 15112) follows bytes that are not a marker: libjpeg skips
  // them with a warning and would allocate 2.96 GB (found by fuzz_image).
  std::string jpeg = "\xff\xd8\xff\xe0";
  jpeg += std::string("\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00", 16);
  jpeg += std::string(121, '\x07');  // extraneous bytes
  jpeg += std::string("\xff\xc0\x00\x0b\x08\xff\x08\x3b\x08\x01\x01\x11\x00", 13);
  ganaug::testing::write_text(dir / "huge.jpg", jpeg);
  ganaug::testing::expect_error([&] { ganaug::decode_image(dir / "huge.jpg"); },
                                {"claims to be 15112 x 65288", "huge.jpg"});
  // Another format behind a .png name (OpenCV would pick its decoder by content).
  ganaug::testing::write_text(dir / "radiance.png", "#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n");
  ganaug::testing::expect_error([&] { ganaug::decode_image(dir / "radiance.png"); },
                                {"not a PNG, JPEG or BMP", "radiance.png"});
  // The three formats themselves decode.
  for (const char* name : {"a.png", "a.jpg", "a.bmp"}) {
    ASSERT_TRUE(cv::imwrite((dir / name).string(), cv::Mat(6, 5, CV_8UC1, cv::Scalar(40))));
    const auto image = ganaug::decode_image(dir / name);
    EXPECT_EQ(image.sizes(), (std::vector<int64_t>{1, 6, 5})) << name;
  }
}

}  // namespace ganaug_tests_image
