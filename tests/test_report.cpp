// report.html, the page an augment run leaves for a person: what it holds, and that a real
// browser (Debian's chromium, headless) renders it with every image loaded.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <regex>

#include "augment_report.hpp"
#include "ganaug/jobs/augment.hpp"
#include "test_support.hpp"
#include "tiny_data.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_report {

namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

// A tiny augment run (3 classes of 16 x 16 images) into dir/out; its summary.
nlohmann::json tiny_run(const ganaug::testing::TempDir& dir, bool retrain = true) {
  ganaug::testing::write_tiny_idx(dir / "data");
  return ganaug::jobs::run_augment(
      ganaug::jobs::AugmentOptions()
          .data(ganaug::DatasetSpec().path((dir / "data").string()).per_class(0))
          .scheme(ganaug::Scheme::kSmooth)
          .n(12)
          .out_dir((dir / "out").string())
          .gan(ganaug::GanOptions(ganaug::jobs::AugmentOptions().gan()).iterations(20).log_every(5))
          .classifier(ganaug::ClassifierOptions(2).epochs(2))
          .retrain(retrain)
          .device("cpu")
          .threads(2));
}

std::string chromium() {
  for (const char* candidate : {"chromium", "chromium-browser", "google-chrome"})
    if (ganaug::testing::run_program("command -v", candidate) == 0) return candidate;
  return "";
}

}  // namespace

TEST(Report, AugmentWritesOneSelfContainedPageOfTheRun) {
  ganaug::testing::TempDir dir;
  const auto summary = tiny_run(dir);
  const auto html = read_text(dir / "out" / "report.html");
  ASSERT_FALSE(html.empty());
  // Every image is embedded: 3 real and 3 generated strips and the loss chart; nothing fetched.
  EXPECT_EQ(count(html, "<img "), 7u);
  EXPECT_EQ(count(html, "src=\"data:image/png;base64,"), 7u);
  EXPECT_EQ(count(html, "src=\"http"), 0u);
  EXPECT_EQ(count(html, "<link"), 0u);
  for (const auto& name : summary["class_names"])  // the tiny set's classes are "0", "1", "2"
    EXPECT_NE(html.find("<td>" + name.get<std::string>() + "</td>"), std::string::npos) << name;
  EXPECT_NE(html.find("GAN losses"), std::string::npos);
  EXPECT_NE(html.find("One seed."), std::string::npos);  // the gain's caveat
  // The supervised arm the gain is over, named with its setting and how it was chosen.
  EXPECT_TRUE(summary["classic"].is_null());
  EXPECT_NE(html.find("Baseline: the classifier without generated images, no classical "
                      "augmentation, as given: not chosen on a validation split"),
            std::string::npos);
  EXPECT_NE(html.find("Gain: <b>"), std::string::npos);
  EXPECT_EQ(count(html, "<table class=\"confusion\">"), 2u);
  EXPECT_NE(html.find("run.json"), std::string::npos);
  // The sample grid has cells of at least 56 pixels (16-pixel images scaled 4 times) and a
  // column of class names left of its rows.
  const auto grid =
      cv::imread((dir / "out" / "gan" / "samples.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(grid.empty());
  EXPECT_EQ(grid.rows, 3 * (64 + 2) + 2);
  EXPECT_GT(grid.cols, 8 * (64 + 2) + 2);
}

TEST(Report, ALossLogCutShortByAKillIsReadUpToItsLastWholeLine) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_text(dir / "log.csv",
                              "iteration,d_loss,g_loss,d_real,d_fake,seconds,images_per_s\n"
                              "25,1.5,0.7,1,1,1,100\n50,1.2,0.9,1,1,2,100\n75,");
  ganaug::jobs::detail::ReportInputs in;
  in.summary = {
      {"scheme", "smooth"}, {"train", {{"source", "d"}}}, {"timings", nlohmann::json::object()}};
  in.class_names = {"a"};
  in.gan_log = dir / "log.csv";
  const auto html = ganaug::jobs::detail::report_html(in);
  EXPECT_EQ(count(html, "<img "), 1u);  // the loss chart of the two whole lines
  EXPECT_NE(html.find("No classifier was trained"), std::string::npos);
  ganaug::testing::write_text(dir / "log.csv", "iteration,d_loss,g_loss\n10,");
  EXPECT_NE(ganaug::jobs::detail::report_html(in).find("The training log is empty"),
            std::string::npos);
  // A joint log written before ganaug spelled it "labeled" (a resumed run appends to it) is read.
  ganaug::testing::write_text(dir / "log.csv", "iteration,labelled_loss\n5,0.7\n10,0.6\n");
  in.joint = true;
  EXPECT_EQ(count(ganaug::jobs::detail::report_html(in), "<img "), 1u);
  ganaug::testing::write_text(dir / "log.csv", "iteration,labeled_loss\n5,0.7\n10,0.6\n");
  EXPECT_EQ(count(ganaug::jobs::detail::report_html(in), "<img "), 1u);
}

// 500 classes with names of 20,000 characters: the page stays small (the confusion matrices show
// the 20 most confused classes; names are cut), and says what it left out.
TEST(Report, ManyClassesWithLongNamesKeepThePageSmall) {
  const size_t k = 500;
  ganaug::jobs::detail::ReportInputs in;
  std::vector<std::string> names;
  for (size_t c = 0; c < k; ++c)
    names.push_back("class" + std::to_string(c) + "-" + std::string(20000, 'x'));
  // Class c's images are called c, but for classes 7 and 300: half of theirs go to class 9.
  auto confusion = nlohmann::json::array();
  for (size_t i = 0; i < k; ++i) {
    std::vector<int64_t> row(k, 0);
    row[i] = 10;
    if (i == 7 || i == 300) row[i] = row[9] = 5;
    confusion.push_back(row);
  }
  const auto metrics = nlohmann::json{{"accuracy", 0.98},
                                      {"per_class_accuracy", std::vector<double>(k, 0.98)},
                                      {"confusion", confusion}};
  in.summary = {
      {"scheme", "smooth"},  {"train", {{"source", "d"}}}, {"timings", nlohmann::json::object()},
      {"gain", 0.0},         {"test", {{"images", 5000}}}, {"baseline", metrics},
      {"retrained", metrics}};
  in.class_names = names;
  const auto html = ganaug::jobs::detail::report_html(in);
  EXPECT_LT(html.size(), 200000u);  // 43.5 MB before
  EXPECT_NE(html.find("the 20 most confused of 500 classes"), std::string::npos);
  // The confused classes among those shown, and no class name whole.
  for (const char* shown : {"class7-", "class9-", "class300-"})
    EXPECT_NE(html.find(std::string("<th>") + shown), std::string::npos) << shown;
  EXPECT_EQ(html.find(std::string(1000, 'x')), std::string::npos);
  EXPECT_NE(html.find("(500 x 500: in summary.json)"), std::string::npos);
}

TEST(Report, WithoutRetrainingTheReportSaysSo) {
  ganaug::testing::TempDir dir;
  tiny_run(dir, false);
  const auto html = read_text(dir / "out" / "report.html");
  EXPECT_NE(html.find("No classifier was trained"), std::string::npos);
  EXPECT_EQ(count(html, "<img "), 7u);
}

TEST(Report, RendersInHeadlessChromiumWithEveryImageLoaded) {
  const auto browser = chromium();
  if (browser.empty()) GTEST_SKIP() << "no chromium (apt-get install chromium; setup.sh test does)";
  ganaug::testing::TempDir dir;
  tiny_run(dir);
  const auto page = "file://" + fs::absolute(dir / "out" / "report.html").string();
  const std::string flags =
      "--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --virtual-time-budget=5000 "
      "--user-data-dir=" +
      (dir / "profile").string() + " ";
  // The page's own script counts the images that loaded once the page is done.
  std::string dom;
  ASSERT_EQ(
      ganaug::testing::run_program(browser, flags + "--dump-dom " + page + " 2>/dev/null", &dom), 0)
      << dom;
  std::smatch found;
  ASSERT_TRUE(std::regex_search(dom, found, std::regex("data-images=\"(\\d+) of (\\d+)\"")))
      << dom.substr(0, 500);
  EXPECT_EQ(found[1], found[2]);
  EXPECT_EQ(found[2], "7");
  // The screenshot is not blank: it has dark text and images as well as the white page.
  const auto shot = dir / "report.png";
  std::string output;
  ASSERT_EQ(
      ganaug::testing::run_program(
          browser, flags + "--window-size=1200,2400 --screenshot=" + shot.string() + " " + page,
          &output),
      0)
      << output;
  const auto image = cv::imread(shot.string(), cv::IMREAD_GRAYSCALE);
  ASSERT_FALSE(image.empty()) << output;
  const double dark_share = cv::countNonZero(image < 128) / static_cast<double>(image.total());
  EXPECT_GT(dark_share, 0.01);
  EXPECT_LT(dark_share, 0.9);
  if (const char* keep = std::getenv("GANAUG_KEEP_SCREENSHOT"))  // to look at it yourself
    fs::copy_file(shot, keep, fs::copy_options::overwrite_existing);
}

}  // namespace ganaug_tests_report
