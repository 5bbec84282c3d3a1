// The gains experiment (augment-bench): grid, outputs, resume, interruption, statistics, CLI.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <set>

#include "ganaug/gan.hpp"
#include "ganaug/pipelines/experiment.hpp"
#include "test_support.hpp"
#include "tiny_data.hpp"

namespace fs = std::filesystem;
using ganaug::ExperimentOptions;

namespace {

ExperimentOptions tiny_grid(const fs::path& data, const fs::path& out) {
  return ExperimentOptions()
      .datasets({ganaug::DatasetSpec().path(data.string())})
      .sizes({3, 6})
      .schemes({"none", "classic", "cond", "smooth", "classic+argmax", "newclass"})
      .multiples({2})
      .seeds(2)
      .gan_iterations(3)
      .classifier_epochs(1)
      .reference_epochs(1)
      .metric_samples(12)
      .out_dir(out.string())
      .device("cpu")
      .threads(2);
}

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

int count_lines(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) ++n;
  return n;
}

}  // namespace

TEST(Experiment, SchemeNames) {
  const auto s = ganaug::ExperimentScheme::parse("classic+smooth");
  EXPECT_TRUE(s.classic);
  ASSERT_TRUE(s.synthetic.has_value());
  EXPECT_EQ(*s.synthetic, ganaug::Scheme::kSmooth);
  EXPECT_EQ(s.name(), "classic+smooth");
  EXPECT_FALSE(ganaug::ExperimentScheme::parse("none").synthetic.has_value());
  EXPECT_TRUE(ganaug::ExperimentScheme::parse("classic").classic);
  ganaug::testing::expect_error([] { ganaug::ExperimentScheme::parse("mixup"); },
                                {"unknown experiment scheme 'mixup'"});
  EXPECT_EQ(ganaug::default_experiment_schemes().size(), 10u);
}

TEST(Experiment, SummaryPairsSeedsAndGivesIntervals) {
  nlohmann::json cells = nlohmann::json::array();
  auto add = [&](const std::string& scheme, double multiple, uint64_t seed, double accuracy) {
    cells.push_back({{"dataset", "d"},
                     {"size", 50},
                     {"seed", seed},
                     {"scheme", scheme},
                     {"multiple", multiple},
                     {"accuracy", accuracy}});
  };
  add("none", 0, 0, 0.80), add("none", 0, 1, 0.82), add("none", 0, 2, 0.81);
  add("cond", 5, 0, 0.82), add("cond", 5, 1, 0.83), add("cond", 5, 2, 0.84);
  add("classic", 0, 0, 0.85);  // one seed only
  const auto rows = ganaug::summarize_cells(cells);
  ASSERT_EQ(rows.size(), 3u);
  const auto& cond = rows[1];
  ASSERT_EQ(cond["scheme"], "cond");
  EXPECT_NEAR(cond["accuracy"]["mean"].get<double>(), 0.83, 1e-12);
  // Differences 0.02, 0.01, 0.03: mean 0.02, sd 0.01, half-width t(2) * 0.01 / sqrt(3).
  const auto& g = cond["gain_vs_none"];
  EXPECT_NEAR(g["mean"].get<double>(), 0.02, 1e-12);
  EXPECT_NEAR(g["stddev"].get<double>(), 0.01, 1e-12);
  EXPECT_NEAR(g["low"].get<double>(), 0.02 - 4.303 * 0.01 / std::sqrt(3.0), 1e-9);
  EXPECT_EQ(g["n"], 3);
  // Against classic only seed 0 pairs: a single difference has no interval.
  EXPECT_EQ(cond["gain_vs_classic"]["n"], 1);
  EXPECT_TRUE(cond["gain_vs_classic"]["low"].is_null());
  EXPECT_TRUE(rows[0]["gain_vs_none"].is_null());
}

TEST(Experiment, RunsTheGridWritesEveryOutputAndResumes) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  const auto out = dir / "bench";
  std::vector<std::string> lines;
  ganaug::ExperimentCallbacks callbacks;
  callbacks.on_progress = [&](const std::string& line) { lines.push_back(line); };
  const auto results = ganaug::run_experiment(tiny_grid(dir / "data", out), callbacks);
  // 2 sizes x 2 seeds x (none, classic + 4 synthetic schemes x 1 multiple).
  ASSERT_EQ(results["cells"].size(), 24u);
  ASSERT_EQ(results["generators"].size(), 4u);
  for (const auto& c : results["cells"]) {
    EXPECT_GE(c["accuracy"].get<double>(), 0.0);
    EXPECT_LE(c["accuracy"].get<double>(), 1.0);
    const bool synthetic = c["scheme"] != "none" && c["scheme"] != "classic";
    EXPECT_EQ(c["synthetic_images"].get<int64_t>(),
              synthetic ? 2 * 3 * c["size"].get<int64_t>() : 0);
  }
  for (const auto& g : results["generators"]) {
    EXPECT_TRUE(fs::exists(out / g["samples"].get<std::string>()));
    EXPECT_TRUE(fs::exists(out / "generators" / g["key"].get<std::string>() / "checkpoint.pt"));
    EXPECT_GE(g["fcd"].get<double>(), 0.0);
    EXPECT_EQ(g["fcd_samples"], 12);
    EXPECT_EQ(g["cas_images"], 3 * g["size"].get<int64_t>());
  }
  EXPECT_EQ(read_json(out / "results.json"), results);
  EXPECT_EQ(count_lines(out / "results.csv"), 25);
  EXPECT_TRUE(fs::exists(out / "accuracy-data.png"));
  EXPECT_TRUE(fs::exists(out / "reference-data.pt"));
  std::ifstream report_in(out / "report.md");
  const std::string report((std::istreambuf_iterator<char>(report_in)), {});
  for (const char* part : {"### 3 labeled images per class", "### 6 labeled images per class",
                           "| classic+argmax | x2.0 | 2 |", "### Generators", "accuracy-data.png"})
    EXPECT_NE(report.find(part), std::string::npos) << part << "\n" << report;
  ASSERT_EQ(results["summary"].size(), 12u);
  EXPECT_EQ(results["summary"][2]["gain_vs_none"]["n"], 2);

  // Not empty: refused without --resume or --force.
  ganaug::testing::expect_error([&] { ganaug::run_experiment(tiny_grid(dir / "data", out)); },
                                {"is not empty", "--resume"});
  // A bad device with --force is refused before anything is emptied.
  ganaug::testing::expect_error(
      [&] { ganaug::run_experiment(tiny_grid(dir / "data", out).device("gpu").force(true)); },
      {"unknown device 'gpu'"});
  EXPECT_TRUE(fs::exists(out / "results.json"));
  // Other settings: refused on resume.
  ganaug::testing::expect_error(
      [&] {
        ganaug::run_experiment(tiny_grid(dir / "data", out).classifier_epochs(2).resume(true));
      },
      {"other settings"});
  // A third seed: only its cells run; the finished ones are kept as they were.
  const auto checkpoint = out / "generators" / "data-n3-seed0" / "checkpoint.pt";
  const auto written = fs::last_write_time(checkpoint);
  const auto more = ganaug::run_experiment(tiny_grid(dir / "data", out).seeds(3).resume(true));
  ASSERT_EQ(more["cells"].size(), 36u);
  EXPECT_EQ(more["generators"].size(), 6u);
  for (size_t i = 0; i < 24; ++i) EXPECT_EQ(more["cells"][i], results["cells"][i]);
  EXPECT_EQ(fs::last_write_time(checkpoint), written);
}

TEST(Experiment, InterruptedGridKeepsFinishedCellsAndResumes) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  const auto out = dir / "bench";
  int finished = 0;
  ganaug::ExperimentCallbacks callbacks;
  callbacks.on_progress = [&](const std::string& line) {
    if (line.find("%") != std::string::npos && line.find(" (") != std::string::npos) ++finished;
  };
  callbacks.should_stop = [&] { return finished >= 5; };
  auto options = tiny_grid(dir / "data", out).sizes({3});
  EXPECT_THROW(ganaug::run_experiment(options, callbacks), ganaug::Interrupted);
  const auto partial = read_json(out / "results.json");
  EXPECT_GT(partial["cells"].size(), 0u);
  EXPECT_LT(partial["cells"].size(), 12u);
  const auto done = ganaug::run_experiment(options.resume(true));
  EXPECT_EQ(done["cells"].size(), 12u);
  std::set<std::string> keys;
  for (const auto& c : done["cells"]) keys.insert(c["key"].get<std::string>());
  EXPECT_EQ(keys.size(), 12u);
}

TEST(Experiment, ValidationSplitKeepsTheTestSetOutOfTuning) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");  // 36 training images, 12 test images
  const auto base = tiny_grid(dir / "data", dir / "unused")
                        .sizes({3})
                        .seeds(1)
                        .schemes({"none", "cond"})
                        .validation_fraction(0.25);
  const auto tuned = ganaug::run_experiment(
      ExperimentOptions(base).evaluate_on("validation").out_dir((dir / "tune").string()));
  const auto& tuned_ref = tuned["references"]["data"];
  EXPECT_EQ(tuned_ref["images"], 27) << "the reference classifier never sees the held-out images";
  EXPECT_EQ(tuned_ref["test"]["images"], 9);
  EXPECT_NE(tuned_ref["test"]["source"].get<std::string>().find("validation"), std::string::npos);
  std::ifstream report_in(dir / "tune" / "report.md");
  const std::string report((std::istreambuf_iterator<char>(report_in)), {});
  EXPECT_NE(report.find("Scored on: validation split"), std::string::npos) << report;

  // The final run on the test set draws the same labeled subsets from the same remainder.
  const auto final_run =
      ganaug::run_experiment(ExperimentOptions(base).out_dir((dir / "test").string()));
  EXPECT_EQ(final_run["references"]["data"]["images"], 27);
  EXPECT_EQ(final_run["references"]["data"]["test"]["images"], 12);
  EXPECT_EQ(final_run["settings"]["evaluate_on"], "test");

  ganaug::testing::expect_error(
      [&] { ExperimentOptions(base).validation_fraction(0).evaluate_on("validation").validate(); },
      {"validation fraction above 0"});
  ganaug::testing::expect_error([&] { ExperimentOptions(base).evaluate_on("train").validate(); },
                                {"cannot evaluate on 'train'"});
  ganaug::testing::expect_error([&] { ExperimentOptions(base).validation_fraction(1).validate(); },
                                {"validation fraction must lie in [0, 1)"});
}

TEST(Experiment, ReusesAGeneratorOnlyWhenTrainedWithTheSameGanSettings) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  const auto base =
      tiny_grid(dir / "data", dir / "first").sizes({3}).seeds(1).schemes({"none", "cond"});
  ganaug::run_experiment(base);
  const auto copy_generators = [&](const fs::path& to) {
    fs::create_directories(to);
    fs::copy(dir / "first" / "generators", to / "generators", fs::copy_options::recursive);
  };
  // Same settings in another folder: the copied generator is reused, not trained again.
  copy_generators(dir / "same");
  const auto same =
      ganaug::run_experiment(ExperimentOptions(base).out_dir((dir / "same").string()).resume(true));
  EXPECT_EQ(same["generators"][0]["gan_seconds"].get<double>(), 0.0);
  // Another mode-seeking weight: the copied generator does not fit and is trained anew.
  copy_generators(dir / "other");
  const auto other = ganaug::run_experiment(
      ExperimentOptions(base).gan_mode_seeking(0.5).out_dir((dir / "other").string()).resume(true));
  EXPECT_GT(other["generators"][0]["gan_seconds"].get<double>(), 0.0);
  const auto retrained = ganaug::load_generator(
      (dir / "other" / "generators" / "data-n3-seed0" / "checkpoint.pt").string(), "cpu");
  EXPECT_DOUBLE_EQ(retrained.options.mode_seeking(), 0.5);
}

TEST(Experiment, MinConfidenceFiltersCondAndArgmaxOnly) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  // A one-epoch classifier on 3 images per class is rarely 99% sure of anything: cond and argmax
  // keep few of the images drawn, smooth keeps all of them.
  const auto results = ganaug::run_experiment(tiny_grid(dir / "data", dir / "out")
                                                  .sizes({3})
                                                  .seeds(1)
                                                  .schemes({"none", "cond", "argmax", "smooth"})
                                                  .min_confidence(0.99));
  EXPECT_EQ(results["settings"]["min_confidence"], 0.99);
  const int64_t wanted = 2 * 3 * 3;
  for (const auto& c : results["cells"]) {
    const auto kept = c["synthetic_images"].get<int64_t>();
    if (c["scheme"] == "smooth") {
      EXPECT_EQ(kept, wanted);
    } else if (c["scheme"] == "cond" || c["scheme"] == "argmax") {
      EXPECT_LT(kept, wanted) << c;
    }
  }
  ganaug::testing::expect_error(
      [&] { ganaug::run_experiment(tiny_grid(dir / "data", dir / "other").min_confidence(1.0)); },
      {"minimum confidence", "[0, 1)"});
}

TEST(ExperimentCli, RunsAndRejectsBadValues) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  std::string output;
  const std::string common = "--data " + (dir / "data").string() +
                             " --sizes 3 --seeds 1 --schemes none,cond --multiples 1"
                             " --gan-iters 2 --epochs 1 --reference-epochs 1 --metric-samples 12"
                             " --device cpu --out " +
                             (dir / "out").string();
  ASSERT_EQ(ganaug::testing::run_program(GANAUG_BENCH_EXE, common, &output), 0) << output;
  EXPECT_NE(output.find("report.md"), std::string::npos) << output;
  EXPECT_TRUE(fs::exists(dir / "out" / "report.md"));
  EXPECT_EQ(ganaug::testing::run_program(GANAUG_BENCH_EXE, common, &output), 1);
  EXPECT_NE(output.find("is not empty"), std::string::npos) << output;
  for (const char* bad :
       {"--sizes 0,50", "--sizes 20,,50", "--schemes none,mixup", "--multiples x",
        "--classic spin=1", "--resume --force", "--bogus", "--evaluate-on validation",
        "--validation 1.5", "--lr-schedule step", "--min-confidence -0.1"}) {
    EXPECT_EQ(ganaug::testing::run_program(GANAUG_BENCH_EXE, bad, &output), 2) << bad;
    EXPECT_NE(output.find("see augment-bench --help"), std::string::npos) << output;
  }
  EXPECT_EQ(ganaug::testing::run_program(GANAUG_BENCH_EXE, "--help", &output), 0);
  EXPECT_NE(output.find("(=20,50,100,500)"), std::string::npos) << output;
}
