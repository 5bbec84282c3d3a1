// The gains experiment (augment-bench): grid, outputs, resume, interruption, statistics, CLI.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>

#include "ganaug/dataset.hpp"
#include "ganaug/datasets/csv_manifest.hpp"
#include "ganaug/file_io.hpp"
#include "ganaug/gan.hpp"
#include "ganaug/job.hpp"
#include "ganaug/jobs/experiment.hpp"
#include "ganaug/metrics.hpp"
#include "ganaug/pipelines/load.hpp"
#include "ganaug/schemes.hpp"
#include "ganaug/seed_streams.hpp"
#include "test_support.hpp"
#include "tiny_data.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_experiment {

namespace fs = std::filesystem;
using ganaug::jobs::ExperimentOptions;

namespace {

// Grid columns by name, as the command line gives them.
std::vector<ganaug::jobs::ExperimentScheme> schemes(const std::vector<std::string>& names) {
  return ganaug::jobs::ExperimentScheme::parse_all(names);
}

ExperimentOptions tiny_grid(const fs::path& data, const fs::path& out) {
  return ExperimentOptions()
      .datasets({ganaug::DatasetSpec().path(data.string())})
      .sizes({3, 6})
      .schemes(schemes({"none", "classic", "cond", "smooth", "classic+argmax", "newclass"}))
      .multiples({2})
      .seeds(2)
      .gan(ganaug::GanOptions(ExperimentOptions().gan()).iterations(3))
      .classifier(ganaug::ClassifierOptions(2).epochs(1))
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
  const auto s = ganaug::jobs::ExperimentScheme::parse("classic+smooth");
  EXPECT_TRUE(s.classic);
  ASSERT_TRUE(s.synthetic.has_value());
  EXPECT_EQ(*s.synthetic, ganaug::Scheme::kSmooth);
  EXPECT_EQ(s.name(), "classic+smooth");
  EXPECT_FALSE(ganaug::jobs::ExperimentScheme::parse("none").synthetic.has_value());
  EXPECT_TRUE(ganaug::jobs::ExperimentScheme::parse("classic").classic);
  ganaug::testing::expect_error([] { ganaug::jobs::ExperimentScheme::parse("mixup"); },
                                {"unknown experiment scheme 'mixup'"});
  EXPECT_EQ(ganaug::jobs::default_experiment_schemes().size(), 10u);
  // The default columns, by name, in order; names read back through the list parser.
  const std::vector<std::string> columns = {
      "none", "classic",          "newclass",       "argmax",         "smooth",
      "cond", "classic+newclass", "classic+argmax", "classic+smooth", "classic+cond"};
  EXPECT_EQ(ganaug::jobs::ExperimentScheme::names(ganaug::jobs::default_experiment_schemes()),
            columns);
  EXPECT_EQ(ganaug::jobs::ExperimentScheme::names(schemes(columns)), columns);
  // The paper's dynamic argmax: argmax labels, retrained with dynamic relabelling.
  const auto dynamic = ganaug::jobs::ExperimentScheme::parse("classic+argmax-dynamic");
  EXPECT_TRUE(dynamic.classic && dynamic.dynamic);
  EXPECT_EQ(*dynamic.synthetic, ganaug::Scheme::kArgmax);
  EXPECT_EQ(dynamic.name(), "classic+argmax-dynamic");
  EXPECT_FALSE(ganaug::jobs::ExperimentScheme::parse("argmax").dynamic);
  ganaug::testing::expect_error([] { ganaug::jobs::ExperimentScheme::parse("smooth-dynamic"); },
                                {"unknown experiment scheme 'smooth-dynamic'", "argmax-dynamic"});
  // The unlabeled pool's columns, in the order classic+pseudo+<scheme>.
  for (const char* name : {"pseudo", "classic+pseudo", "pseudo+cond", "classic+pseudo+smooth"}) {
    const auto p = ganaug::jobs::ExperimentScheme::parse(name);
    EXPECT_TRUE(p.pseudo) << name;
    EXPECT_EQ(p.name(), name);
  }
  EXPECT_FALSE(ganaug::jobs::ExperimentScheme::parse("pseudo").synthetic.has_value());
  EXPECT_TRUE(ganaug::jobs::ExperimentScheme::parse("classic+pseudo+smooth").classic);
  EXPECT_FALSE(ganaug::jobs::ExperimentScheme::parse("classic+smooth").pseudo);
  // The joint columns: a classifier trained with a GAN of its own; never with pseudo.
  const auto joint = ganaug::jobs::ExperimentScheme::parse("classic+triple-joint");
  EXPECT_TRUE(joint.classic && joint.joint == ganaug::JointForm::kTriple && !joint.synthetic);
  EXPECT_EQ(joint.name(), "classic+triple-joint");
  EXPECT_EQ(ganaug::jobs::ExperimentScheme::parse("newclass-joint").joint,
            ganaug::JointForm::kKPlus1);
  EXPECT_EQ(ganaug::jobs::ExperimentScheme::parse("dada-joint").name(), "dada-joint");
  ganaug::testing::expect_error(
      [] { ganaug::jobs::ExperimentScheme::parse("classic+pseudo+dada-joint"); },
      {"a joint column trains on the pool itself"});
  for (const char* bad : {"pseudo+classic", "smooth+pseudo", "classic+classic"}) {
    ganaug::testing::expect_error([&] { ganaug::jobs::ExperimentScheme::parse(bad); },
                                  {"unknown experiment scheme", "classic+pseudo+<scheme>"});
  }
}

TEST(Experiment, APoolAddsPseudoColumnsAndAGanTrainedWithIt) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  const auto options = tiny_grid(dir / "data", dir / "out")
                           .sizes({3})
                           .schemes(schemes({"none", "classic", "classic+pseudo", "classic+smooth",
                                             "classic+pseudo+smooth"}))
                           .unlabeled({0, 10})
                           .pool_confidence(0.34);
  const auto results = ganaug::jobs::run_experiment(options);
  // Per seed: none, classic, classic+pseudo (pool), classic+smooth (no pool, pool), and
  // classic+pseudo+smooth (pool).
  ASSERT_EQ(results["cells"].size(), 12u);
  std::set<std::string> keys;
  for (const auto& c : results["cells"]) keys.insert(c["key"].get<std::string>());
  EXPECT_EQ(keys.count("data|3|0|classic+pseudo|0.000|u10"), 1u);
  EXPECT_EQ(keys.count("data|3|0|classic+smooth|2.000"), 1u);
  EXPECT_EQ(keys.count("data|3|0|classic+smooth|2.000|u10"), 1u);
  EXPECT_EQ(keys.count("data|3|1|classic+pseudo+smooth|2.000|u10"), 1u);
  EXPECT_EQ(keys.count("data|3|0|classic|0.000"), 1u);
  // One GAN on the labeled images, one with the pool's confident pseudo-labels, per seed.
  ASSERT_EQ(results["generators"].size(), 4u);
  for (const auto& g : results["generators"]) {
    const bool pool = g["key"].get<std::string>().find("-u10") != std::string::npos;
    EXPECT_EQ(g.contains("unlabeled"), pool) << g.dump();
    if (pool) {
      EXPECT_EQ(g["unlabeled"]["images"], 10);
      EXPECT_GT(g["unlabeled"]["kept"].get<int64_t>(), 0);
    }
  }
  // The three questions: pool vs classic, a GAN on top of the pool, a GAN without it.
  bool on_top = false, pool_alone = false;
  for (const auto& row : results["summary"]) {
    if (row["scheme"] == "classic+pseudo") {
      pool_alone = !row["gain_vs_classic"].is_null();
      EXPECT_EQ(row["unlabeled"], 10);
    }
    if (row["scheme"] == "classic+pseudo+smooth") on_top = !row["gain_vs_classic_pseudo"].is_null();
  }
  EXPECT_TRUE(pool_alone && on_top) << results["summary"].dump();
  std::ifstream report_file(dir / "out" / "report.md");
  const std::string report((std::istreambuf_iterator<char>(report_file)),
                           std::istreambuf_iterator<char>());
  for (const char* text :
       {"The unlabeled pool and the GAN", "the pool without a GAN", "a GAN on top of the pool",
        "a GAN from the labeled images only", "a GAN trained with the pool",
        "gain vs classic+pseudo", "### The pool's targets", "](pool-data.png)"})
    EXPECT_NE(report.find(text), std::string::npos) << text;
  // The pseudo cells trace their pool per epoch (1 here): the share over the threshold, and how
  // many of those targets are the images' true classes; pool.csv and a chart hold them.
  int64_t traced = 0;
  for (const auto& c : results["cells"]) {
    const bool pseudo = c["scheme"].get<std::string>().find("pseudo") != std::string::npos;
    EXPECT_EQ(c.contains("pool"), pseudo) << c.dump();
    if (!pseudo) continue;
    ++traced;
    ASSERT_EQ(c["pool"]["threshold_share"].size(), 1u) << c.dump();
    ASSERT_EQ(c["pool"]["label_accuracy"].size(), 1u) << c.dump();
    const double share = c["pool"]["threshold_share"][0].get<double>();
    EXPECT_TRUE(share >= 0 && share <= 1) << share;
    const auto& right = c["pool"]["label_accuracy"][0];
    EXPECT_TRUE(right.is_null() || (right.get<double>() >= 0 && right.get<double>() <= 1));
  }
  EXPECT_EQ(traced, 4);  // classic+pseudo and classic+pseudo+smooth, two seeds
  EXPECT_EQ(count_lines(dir / "out" / "pool.csv"), 1 + traced);
  EXPECT_TRUE(fs::exists(dir / "out" / "pool-data.png"));
  // Resumed: nothing left to run.
  const auto again = ganaug::jobs::run_experiment(ExperimentOptions(options).resume(true));
  EXPECT_EQ(again["cells"], results["cells"]);
  // A pseudo column needs a pool; pool sizes are not negative.
  ganaug::testing::expect_error(
      [&] {
        ganaug::jobs::run_experiment(
            ExperimentOptions(options).unlabeled({0}).out_dir((dir / "o2").string()));
      },
      {"classic+pseudo", "trains on an unlabeled pool", "--pool-sizes"});
  ganaug::testing::expect_error([&] { ExperimentOptions(options).unlabeled({-1}).validate(); },
                                {"pool sizes must be 0 or positive"});
}

TEST(Experiment, DualPseudoTrainingsTeacherLabelsThePoolAndSelfTrainingIsItsControl) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  const auto options = tiny_grid(dir / "data", dir / "out")
                           .sizes({3})
                           .schemes(schemes({"classic", "classic+pseudo", "classic+pseudo+self",
                                             "classic+pseudo+cond"}))
                           .unlabeled({10})
                           .pool_confidence(0.34)
                           .pool_teacher(ganaug::PoolTeacher::kPseudo);
  std::vector<std::string> lines;
  ganaug::jobs::ExperimentCallbacks callbacks;
  callbacks.on_progress = [&](const std::string& line) { lines.push_back(line); };
  const auto results = ganaug::jobs::run_experiment(options, callbacks);
  ASSERT_EQ(results["cells"].size(), 8u);
  EXPECT_EQ(results["settings"]["pool_teacher"], "pseudo");
  // One teacher per (size, seed, pool): the classic+pseudo cell's classifier, trained once.
  int64_t teachers = 0;
  for (const auto& line : lines)
    teachers += line.find("training the pool teacher") != std::string::npos;
  EXPECT_EQ(teachers, 2) << ::testing::PrintToString(lines);
  std::map<std::string, int64_t> kept;  // per seed's generator
  for (const auto& g : results["generators"]) {
    EXPECT_EQ(g["unlabeled"]["teacher"], "pseudo") << g.dump();
    kept[g["key"].get<std::string>()] = g["unlabeled"]["kept"].get<int64_t>();
    int64_t counted = 0;  // how many passed the threshold, per class
    for (const auto& n : g["unlabeled"]["class_counts"]) counted += n.get<int64_t>();
    EXPECT_EQ(counted, g["unlabeled"]["kept"].get<int64_t>()) << g.dump();
    const auto& right = g["unlabeled"]["kept_label_accuracy"];
    EXPECT_TRUE(right.is_null() || (right.get<double>() >= 0 && right.get<double>() <= 1));
    EXPECT_TRUE(
        fs::exists(dir / "out" / "generators" / g["key"].get<std::string>() / "teacher.pt"));
  }
  ASSERT_EQ(kept.size(), 2u);
  // The teacher's file is the classic+pseudo cell's classifier (its test accuracy) and labeled
  // the GAN's pool images (its confident classes, read back over the seed's pool).
  const auto full = ganaug::load_dataset(ganaug::DatasetSpec().path((dir / "data").string()));
  const auto test = ganaug::load_dataset(
      ganaug::DatasetSpec().path((dir / "data").string()).split(ganaug::IdxSplit::kTest));
  for (uint64_t seed : {0, 1}) {
    const auto key = "data-n3-seed" + std::to_string(seed) + "-u10";
    ganaug::Classifier teacher(ganaug::ClassifierOptions(3, 16).device("cpu"));
    ganaug::load_classifier(teacher, (dir / "out" / "generators" / key / "teacher.pt").string());
    const auto pool = ganaug::unlabeled_pool(
        full, 3, seed, 10, ganaug::mix_seed(seed, ganaug::streams::kUnlabeledPool));
    const auto labels = ganaug::label_pool(teacher, pool.images, 3, 0.34);
    const auto counts = ganaug::confident_pool(pool, labels).class_counts();
    int64_t matched = 0;
    for (const auto& g : results["generators"])
      if (g["key"] == key) matched += g["unlabeled"]["class_counts"] == nlohmann::json(counts);
    EXPECT_EQ(matched, 1) << key;
    for (const auto& c : results["cells"])
      if (c["seed"] == seed && c["scheme"] == "classic+pseudo") {
        EXPECT_DOUBLE_EQ(c["accuracy"].get<double>(), ganaug::evaluate(teacher, test).accuracy);
      }
  }
  for (const auto& c : results["cells"]) {
    const auto scheme = c["scheme"].get<std::string>();
    const auto key = "data-n3-seed" + c["seed"].dump() + "-u10";
    // Self-training trains on exactly the images the GAN learned from the pool.
    if (scheme == "classic+pseudo+self") {
      EXPECT_EQ(c["synthetic_images"], kept.at(key)) << c.dump();
    }
    if (scheme == "classic+pseudo") {
      EXPECT_GT(c["seconds"].get<double>(), 0) << c.dump();  // the teacher's training time
      EXPECT_EQ(c["pool"]["threshold_share"].size(), 1u) << c.dump();
    }
  }
  // The GAN's share over the teacher and over the control, with their intervals.
  bool over_self = false;
  for (const auto& row : results["summary"])
    if (row["scheme"] == "classic+pseudo+cond") over_self = row.contains("gain_vs_self");
  EXPECT_TRUE(over_self) << results["summary"].dump();
  std::ifstream report_file(dir / "out" / "report.md");
  const std::string report((std::istreambuf_iterator<char>(report_file)), {});
  for (const char* text : {"a GAN on top of the pool over self-training", "self-training: the",
                           "The supervised reference (`classic`, the gains' \"vs classic\"): 3 "
                           "per class `shift=2",
                           "the classical setting given, not chosen on a validation split",
                           "`classic+pseudo` classifier (dual pseudo training)"})
    EXPECT_NE(report.find(text), std::string::npos) << text;
  // Same cells, same accuracies (each compared cell counted: a loop over no match proves nothing).
  const auto expect_same_cells = [&](const nlohmann::json& cells, size_t expected) {
    size_t compared = 0;
    for (const auto& c : cells)
      for (const auto& d : results["cells"])
        if (d["key"] == c["key"]) {
          EXPECT_EQ(d["accuracy"], c["accuracy"]) << c.dump();
          ++compared;
        }
    EXPECT_EQ(compared, expected);
  };
  // The teacher's cell gives what it gives under the classic teacher: reusing it changes nothing.
  expect_same_cells(ganaug::jobs::run_experiment(ExperimentOptions(options)
                                                     .schemes(schemes({"classic+pseudo"}))
                                                     .pool_teacher(ganaug::PoolTeacher::kClassic)
                                                     .out_dir((dir / "plain").string()))["cells"],
                    2);
  // Without a GAN column the teacher is still trained once, by its own cell, before the control
  // that reads its labels.
  lines.clear();
  ganaug::jobs::run_experiment(ExperimentOptions(options)
                                   .schemes(schemes({"classic+pseudo", "classic+pseudo+self"}))
                                   .seeds(1)
                                   .out_dir((dir / "no-gan").string()),
                               callbacks);
  ASSERT_EQ(lines.size() > 2, true);
  std::vector<std::string> order;
  for (const auto& line : lines)
    for (const char* event :
         {"training the pool teacher", "classic+pseudo pool", "classic+pseudo+self"})
      if (line.find(event) != std::string::npos) order.push_back(event);
  EXPECT_EQ(order, (std::vector<std::string>{"training the pool teacher", "classic+pseudo pool",
                                             "classic+pseudo+self"}))
      << ::testing::PrintToString(lines);
  // A resumed grid reads the saved teachers back: with the teacher's own cell and the control
  // to redo, no teacher trains again and the cells come out the same.
  auto edited = results;
  auto& cells = edited["cells"];
  cells.erase(std::remove_if(cells.begin(), cells.end(),
                             [](const nlohmann::json& c) {
                               return c["scheme"] == "classic+pseudo+self" ||
                                      c["scheme"] == "classic+pseudo";
                             }),
              cells.end());
  ganaug::write_text_atomic(dir / "out" / "results.json", edited.dump(1));
  lines.clear();
  const auto again =
      ganaug::jobs::run_experiment(ExperimentOptions(options).resume(true), callbacks);
  for (const auto& line : lines)
    EXPECT_EQ(line.find("training the pool teacher"), std::string::npos) << line;
  EXPECT_EQ(again["cells"].size(), 8u);
  expect_same_cells(again["cells"], 8);
  // Another teacher cannot resume the folder; a self column needs a pool.
  ganaug::testing::expect_error(
      [&] {
        ganaug::jobs::run_experiment(
            ExperimentOptions(options).resume(true).pool_teacher(ganaug::PoolTeacher::kClassic));
      },
      {"pool_teacher"});
  ganaug::testing::expect_error(
      [&] {
        ExperimentOptions(options)
            .schemes(schemes({"classic+pseudo+self"}))
            .unlabeled({0})
            .validate();
      },
      {"classic+pseudo+self", "trains on an unlabeled pool"});
  ganaug::testing::expect_error([] { ganaug::jobs::ExperimentScheme::parse("classic+self+cond"); },
                                {"self is a column's last part"});
  EXPECT_EQ(ganaug::jobs::ExperimentScheme::parse("classic+pseudo+self").name(),
            "classic+pseudo+self");
}

// With the pool teacher of dual pseudo training, the teacher also judges the generated images:
// the count drawn to find the kept ones, and the judge's mean confidence in them, replay with
// teacher.pt as the filter.
TEST(Experiment, DualPseudoTrainingsTeacherFiltersTheGeneratedImages) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  const auto results =
      ganaug::jobs::run_experiment(tiny_grid(dir / "data", dir / "out")
                                       .sizes({3})
                                       .seeds(1)
                                       .schemes(schemes({"classic+pseudo", "classic+pseudo+cond"}))
                                       .unlabeled({10})
                                       .pool_confidence(0.34)
                                       .min_confidence(0.4)
                                       .classifier(ganaug::ClassifierOptions(2).epochs(4))
                                       .pool_teacher(ganaug::PoolTeacher::kPseudo));
  const fs::path generators = dir / "out" / "generators" / "data-n3-seed0-u10";
  ganaug::Classifier teacher(ganaug::ClassifierOptions(3, 16).device("cpu"));
  ganaug::load_classifier(teacher, (generators / "teacher.pt").string());
  auto generator = ganaug::load_generator((generators / "checkpoint.pt").string(), "cpu").generator;
  const auto levels = [](const torch::Tensor& images) {  // as the PNG files hold them
    return images.add(1).mul(127.5).round().div(127.5).sub(1).clamp(-1, 1);
  };
  const auto replay = ganaug::generate_accepted(
      generator, 2 * 9, ganaug::mix_seed(0, ganaug::streams::kBenchSynthetic),
      [&](const torch::Tensor& candidates, const torch::Tensor& classes) {
        return ganaug::confident_mask(ganaug::Scheme::kCond, classes,
                                      ganaug::predict_probabilities(teacher, levels(candidates), 3),
                                      0.4);
      });
  const double confidence = ganaug::predict_probabilities(teacher, levels(replay.images), 3)
                                .gather(1, replay.classes.view({-1, 1}))
                                .mean()
                                .item<double>();
  int64_t student = 0;
  for (const auto& c : results["cells"])
    if (c["scheme"] == "classic+pseudo+cond") {
      ++student;
      EXPECT_EQ(c["synthetic_drawn"].get<int64_t>(), replay.drawn) << c.dump();
      EXPECT_EQ(c["synthetic_images"].get<int64_t>(), replay.images.size(0)) << c.dump();
      EXPECT_NEAR(c["synthetic_confidence"].get<double>(), confidence, 1e-6) << c.dump();
    }
  EXPECT_EQ(student, 1);
  EXPECT_GT(replay.drawn, replay.images.size(0));  // the filter refused some: it was tested
  std::ifstream report_file(dir / "out" / "report.md");
  const std::string report((std::istreambuf_iterator<char>(report_file)), {});
  EXPECT_NE(report.find("kept when the pool teacher"), std::string::npos);
}

TEST(Experiment, JointColumnsTrainAGanOfTheirOwnWithEachPoolSizeAndAnswerTheFirstTable) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  const auto options = tiny_grid(dir / "data", dir / "out")
                           .sizes({3})
                           .schemes(schemes({"classic", "classic+pseudo", "newclass-joint",
                                             "classic+dada-joint", "triple-joint"}))
                           .unlabeled({0, 10})
                           .joint(ganaug::JointOptions(2).iterations(4));
  const auto results = ganaug::jobs::run_experiment(options);
  // Per seed: classic, classic+pseudo (pool), and each joint column without and with the pool.
  ASSERT_EQ(results["cells"].size(), 16u);
  std::set<std::string> keys;
  for (const auto& c : results["cells"]) {
    keys.insert(c["key"].get<std::string>());
    EXPECT_GT(c["seconds"].get<double>(), 0) << c.dump();
  }
  for (const char* key : {"data|3|0|newclass-joint|0.000", "data|3|0|newclass-joint|0.000|u10",
                          "data|3|1|classic+dada-joint|0.000|u10", "data|3|1|triple-joint|0.000"})
    EXPECT_EQ(keys.count(key), 1u) << key;
  // No GAN of the synthetic columns; each joint cell keeps its networks and their samples.
  EXPECT_TRUE(results["generators"].empty());
  for (const char* cell : {"data-n3-seed0-newclass-joint", "data-n3-seed1-u10-classic+dada-joint",
                           "data-n3-seed0-u10-triple-joint"}) {
    EXPECT_TRUE(fs::exists(dir / "out" / "generators" / cell / "checkpoint.pt")) << cell;
    EXPECT_TRUE(fs::exists(dir / "out" / "generators" / cell / "samples.png")) << cell;
  }
  EXPECT_EQ(results["settings"]["joint"]["steps"], 4);
  bool over_pseudo = false;
  for (const auto& row : results["summary"]) {
    if (row["scheme"] == "triple-joint" && row["unlabeled"] == 10)
      over_pseudo = !row["gain_vs_classic_pseudo"].is_null();
    EXPECT_GT(row["seconds"].get<double>(), 0) << row.dump();  // the mean wall time of a cell
  }
  EXPECT_TRUE(over_pseudo) << results["summary"].dump();
  std::ifstream report_file(dir / "out" / "report.md");
  const std::string report((std::istreambuf_iterator<char>(report_file)), {});
  for (const char* text :
       {"the GAN as the classifier", "the GAN as the classifier over the pool without a GAN",
        "time per cell (s)", "joint columns 4 steps, unsupervised weight 1"})
    EXPECT_NE(report.find(text), std::string::npos) << text;
  // Resumed: nothing left to run; with other joint settings, refused.
  const auto again = ganaug::jobs::run_experiment(ExperimentOptions(options).resume(true));
  EXPECT_EQ(again["cells"], results["cells"]);
  ganaug::testing::expect_error(
      [&] {
        ganaug::jobs::run_experiment(
            ExperimentOptions(options).resume(true).joint(ganaug::JointOptions(2).iterations(5)));
      },
      {"joint"});
  // Joint cells of the engine before 0.6 (a folder whose joint settings name no engine) are not
  // mixed with this engine's: refused, saying why.
  EXPECT_EQ(results["settings"]["joint"]["engine"], 2);
  {
    std::ifstream in(dir / "out" / "results.json");
    auto old = nlohmann::json::parse(in);
    old["settings"]["joint"].erase("engine");
    ganaug::testing::write_text(dir / "out" / "results.json", old.dump(2));
  }
  ganaug::testing::expect_error(
      [&] { ganaug::jobs::run_experiment(ExperimentOptions(options).resume(true)); },
      {"other settings", "before the joint classifier moved to the classifier's engine"});
  // A grid without joint columns records no joint settings (older grids resume as before).
  EXPECT_FALSE(tiny_grid(dir / "data", dir / "o").settings().contains("joint"));
}

TEST(Experiment, APoolTrainsAGanWithoutClassesByTheUnconditionalTerm) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  auto options = tiny_grid(dir / "data", dir / "out")
                     .sizes({3})
                     .seeds(1)
                     .schemes(schemes({"classic", "classic+smooth"}))
                     .unlabeled({10})
                     .pool_gan(ganaug::PoolGan::kUnconditional);
  options.gan().unlabeled_share(0.25);
  const auto results = ganaug::jobs::run_experiment(options);
  ASSERT_EQ(results["generators"].size(), 1u);
  const auto& g = results["generators"][0];
  EXPECT_EQ(g["unlabeled"]["gan"], "unconditional");
  EXPECT_EQ(g["unlabeled"]["kept"], 0) << "no pool image gets the teacher's class";
  const auto loaded = ganaug::load_generator(
      (dir / "out" / "generators" / "data-n3-seed0-u10" / "checkpoint.pt").string(), "cpu");
  EXPECT_DOUBLE_EQ(loaded.options.unlabeled_share(), 0.25);
  EXPECT_EQ(results["settings"]["pool_gan"], "unconditional");
  // Without the `none` column the report claims nothing against it.
  std::ifstream report_file(dir / "out" / "report.md");
  const std::string report((std::istreambuf_iterator<char>(report_file)), {});
  EXPECT_NE(report.find("a GAN trained with the pool"), std::string::npos) << report;
  EXPECT_EQ(report.find("no difference from `none`"), std::string::npos) << report;
  // "both": the confident images with their class, the others without one.
  const auto both = ganaug::jobs::run_experiment(ExperimentOptions(options)
                                                     .pool_gan(ganaug::PoolGan::kBoth)
                                                     .pool_confidence(0.5)
                                                     .out_dir((dir / "both").string()));
  const auto kept_in_both = both["generators"][0]["unlabeled"]["kept"].get<int64_t>();
  EXPECT_GT(kept_in_both, 0);
  // The unconditional share applies only while some pool image is left without a class.
  EXPECT_DOUBLE_EQ(
      ganaug::load_generator(
          (dir / "both" / "generators" / "data-n3-seed0-u10" / "checkpoint.pt").string(), "cpu")
          .options.unlabeled_share(),
      kept_in_both < 10 ? 0.25 : 0.0)
      << kept_in_both << " of 10 pool images kept";
  // A teacher-only GAN keeps no image without a class, so it has no unconditional share.
  const auto teacher = ganaug::jobs::run_experiment(ExperimentOptions(options)
                                                        .pool_gan(ganaug::PoolGan::kTeacher)
                                                        .pool_confidence(0.34)
                                                        .out_dir((dir / "teacher").string()));
  EXPECT_DOUBLE_EQ(
      ganaug::load_generator(
          (dir / "teacher" / "generators" / "data-n3-seed0-u10" / "checkpoint.pt").string(), "cpu")
          .options.unlabeled_share(),
      0.0);
  // Another way of using the pool cannot resume these results.
  ganaug::testing::expect_error(
      [&] {
        ganaug::jobs::run_experiment(
            ExperimentOptions(options).pool_gan(ganaug::PoolGan::kBoth).resume(true));
      },
      {"other settings"});
  ganaug::testing::expect_error([] { ganaug::parse_pool_gan("labels"); },
                                {"'labels'", "teacher, unconditional or both"});
  EXPECT_EQ(ganaug::parse_pool_gan(ganaug::to_string(ganaug::PoolGan::kBoth)),
            ganaug::PoolGan::kBoth);
  ganaug::testing::expect_error(
      [&] {
        ExperimentOptions(options)
            .gan(ganaug::GanOptions(options.gan()).unlabeled_share(1))
            .validate();
      },
      {"unlabeled share must lie in (0, 1)"});
}

TEST(Experiment, ChoosesTheClassicalSettingOnTheValidationSplit) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  const std::vector<ganaug::ClassicAugmentOptions> choices{
      ganaug::ClassicAugmentOptions::parse("default"),
      ganaug::ClassicAugmentOptions::parse("shift=0,flip=0,erase=1"),
      ganaug::ClassicAugmentOptions::parse("rotate=30,zoom=1.5")};
  const auto options = tiny_grid(dir / "data", dir / "out")
                           .sizes({3})
                           .seeds(2)
                           .schemes(schemes({"none", "classic"}))
                           .validation_fraction(0.25)
                           .classic_choices(choices);
  std::vector<std::string> lines;
  ganaug::jobs::ExperimentCallbacks callbacks;
  callbacks.on_progress = [&](const std::string& line) { lines.push_back(line); };
  const auto results = ganaug::jobs::run_experiment(options, callbacks);
  const auto& choice = results["classic_choice"];
  ASSERT_EQ(choice["cells"].size(), 6u) << "three settings x two seeds";
  // The chosen setting has the best mean validation accuracy (the first of equals).
  std::map<std::string, double> sums;
  for (const auto& c : choice["cells"]) {
    EXPECT_EQ(c["size"], 3);
    sums[c["classic"].get<std::string>()] += c["accuracy"].get<double>();
  }
  std::string best;
  for (const auto& o : choices) {
    const auto spec = o.to_string();
    if (best.empty() || sums[spec] > sums[best]) best = spec;
  }
  ASSERT_TRUE(choice["chosen"].contains("data-n3"));
  EXPECT_EQ(choice["chosen"]["data-n3"]["classic"], best);
  EXPECT_NEAR(choice["chosen"]["data-n3"]["validation_accuracy"].get<double>(), sums[best] / 2,
              1e-12);
  // Scored on the validation split while the cells are scored on the test set.
  EXPECT_EQ(results["references"]["data"]["test"]["images"], 12);
  for (const auto& c : results["cells"]) {
    if (c["scheme"] == "classic")
      EXPECT_EQ(c["classic"], best);
    else
      EXPECT_FALSE(c.contains("classic"));
  }
  std::ifstream report_file(dir / "out" / "report.md");
  const std::string report((std::istreambuf_iterator<char>(report_file)), {});
  EXPECT_NE(report.find("The classical setting, chosen on the validation split"), std::string::npos)
      << report;
  EXPECT_NE(report.find("`shift=0,"), std::string::npos) << report;
  EXPECT_NE(report.find("**yes**"), std::string::npos) << report;
  EXPECT_NE(report.find("3 per class `" + best +
                        "`, 1 epochs, as every arm but the joint ones (which train for their "
                        "steps); the classical setting chosen on the validation split (above)"),
            std::string::npos)
      << report;
  // A resumed run trains none of them again.
  const auto again = ganaug::jobs::run_experiment(ExperimentOptions(options).resume(true));
  EXPECT_EQ(again["classic_choice"]["cells"], choice["cells"]);
  EXPECT_EQ(again["cells"], results["cells"]);
  // A damaged score is refused on resume, naming the file, as the cells' are.
  auto damaged = again;
  damaged["classic_choice"]["cells"][0]["accuracy"] = 1.5;
  std::ofstream(dir / "out" / "results.json") << damaged.dump();
  ganaug::testing::expect_error(
      [&] { ganaug::jobs::run_experiment(ExperimentOptions(options).resume(true)); },
      {"results.json", "is damaged", "accuracy"});
  // Choosing needs two settings, the validation split and every seed in one process.
  ganaug::testing::expect_error(
      [&] { ExperimentOptions(options).classic_choices({choices[0]}).validate(); },
      {"at least two settings"});
  ganaug::testing::expect_error(
      [&] { ExperimentOptions(options).validation_fraction(0).validate(); },
      {"validation split", "--validation"});
  ganaug::testing::expect_error([&] { ExperimentOptions(options).num_shards(2).validate(); },
                                {"every seed of the grid in one process"});
}

TEST(Experiment, ArgmaxDynamicCellsRunNextToArgmax) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  const auto results =
      ganaug::jobs::run_experiment(tiny_grid(dir / "data", dir / "out")
                                       .sizes({3})
                                       .seeds(1)
                                       .schemes(schemes({"argmax", "argmax-dynamic"})));
  ASSERT_EQ(results["cells"].size(), 2u);
  EXPECT_EQ(results["cells"][1]["scheme"], "argmax-dynamic");
  EXPECT_EQ(results["cells"][1]["synthetic_images"], results["cells"][0]["synthetic_images"]);
  EXPECT_GT(results["cells"][1]["synthetic_images"].get<int64_t>(), 0);
  // The same images and labels, trained otherwise: the classifiers differ.
  EXPECT_NE(results["cells"][1]["macro_f1"].get<double>(),
            results["cells"][0]["macro_f1"].get<double>());
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
  const auto rows = ganaug::jobs::summarize_cells(cells);
  ASSERT_EQ(rows.size(), 3u);
  const auto& cond = rows[1];
  ASSERT_EQ(cond["scheme"], "cond");
  EXPECT_NEAR(cond["accuracy"]["mean"].get<double>(), 0.83, 1e-12);
  // Differences 0.02, 0.01, 0.03: mean 0.02, sd 0.01, half-width t(2) * 0.01 / sqrt(3).
  const auto& g = cond["gain_vs_none"];
  EXPECT_NEAR(g["mean"].get<double>(), 0.02, 1e-12);
  EXPECT_NEAR(g["stddev"].get<double>(), 0.01, 1e-12);
  EXPECT_NEAR(g["low"].get<double>(), 0.02 - ganaug::student_t_975(2) * 0.01 / std::sqrt(3.0),
              1e-12);
  EXPECT_NEAR(ganaug::student_t_975(2), 4.303, 1e-3);
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
  ganaug::jobs::ExperimentCallbacks callbacks;
  callbacks.on_progress = [&](const std::string& line) { lines.push_back(line); };
  const auto results = ganaug::jobs::run_experiment(tiny_grid(dir / "data", out), callbacks);
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
                           "| classic+argmax | x2.0 | 2 |", "### Generators", "accuracy-data.png",
                           "no difference from `none`"})
    EXPECT_NE(report.find(part), std::string::npos) << part << "\n" << report;
  ASSERT_EQ(results["summary"].size(), 12u);
  EXPECT_EQ(results["summary"][2]["gain_vs_none"]["n"], 2);

  // Not empty: refused without --resume or --force.
  ganaug::testing::expect_error([&] { ganaug::jobs::run_experiment(tiny_grid(dir / "data", out)); },
                                {"is not empty", "--resume"});
  // A bad device with --force is refused before anything is emptied.
  ganaug::testing::expect_error(
      [&] { ganaug::jobs::run_experiment(tiny_grid(dir / "data", out).device("gpu").force(true)); },
      {"unknown device 'gpu'"});
  EXPECT_TRUE(fs::exists(out / "results.json"));
  // Other settings: refused on resume.
  ganaug::testing::expect_error(
      [&] {
        ganaug::jobs::run_experiment(tiny_grid(dir / "data", out)
                                         .classifier(ganaug::ClassifierOptions(2).epochs(2))
                                         .resume(true));
      },
      {"other settings"});
  // A third seed: only its cells run; the finished ones are kept as they were.
  const auto checkpoint = out / "generators" / "data-n3-seed0" / "checkpoint.pt";
  const auto written = fs::last_write_time(checkpoint);
  const auto more =
      ganaug::jobs::run_experiment(tiny_grid(dir / "data", out).seeds(3).resume(true));
  ASSERT_EQ(more["cells"].size(), 36u);
  EXPECT_EQ(more["generators"].size(), 6u);
  for (size_t i = 0; i < 24; ++i) EXPECT_EQ(more["cells"][i], results["cells"][i]);
  EXPECT_EQ(fs::last_write_time(checkpoint), written);

  // The classifier's network and width are settings, and each dataset records the network and
  // width they resolved to: others are refused on resume ...
  EXPECT_EQ(more["settings"]["classifier"], "auto");
  EXPECT_EQ(more["settings"]["classifier_width"], 0);
  EXPECT_EQ(more["references"]["data"]["network"], "cnn");
  EXPECT_EQ(more["references"]["data"]["width"], 24);
  ganaug::testing::expect_error(
      [&] {
        ganaug::jobs::run_experiment(
            tiny_grid(dir / "data", out)
                .seeds(3)
                .classifier(ganaug::ClassifierOptions(2).epochs(1).architecture(
                    ganaug::ClassifierArchitecture::kCnnStrided))
                .resume(true));
      },
      {"other settings", "\"classifier\":\"auto\""});
  // ... and results from before they were recorded were made with the defaults of then (cnn at
  // width 32): they resume with those, and not with the defaults of now.
  auto old = read_json(out / "results.json");
  for (const char* key : {"classifier", "classifier_width"}) old["settings"].erase(key);
  for (const char* key : {"network", "width"}) old["references"]["data"].erase(key);
  std::ofstream(out / "results.json") << old.dump(2) << "\n";
  ganaug::testing::expect_error(
      [&] { ganaug::jobs::run_experiment(tiny_grid(dir / "data", out).seeds(3).resume(true)); },
      {"results of data", "made with the classifier network cnn at width 32", "before ganaug 0.3",
       "this run's is cnn at width 24", "--classifier cnn --classifier-width 32"});
  // (Such a folder's reference classifier would be a width-32 one: this one is trained again.)
  fs::remove(out / "reference-data.pt");
  const auto resumed =
      ganaug::jobs::run_experiment(tiny_grid(dir / "data", out)
                                       .seeds(3)
                                       .classifier(ganaug::ClassifierOptions(2).epochs(1).width(32))
                                       .resume(true));
  EXPECT_EQ(resumed["cells"], more["cells"]);
  EXPECT_EQ(resumed["references"]["data"]["width"], 32);
  // A reference classifier file that does not fit the network is refused by name.
  auto mismatched = resumed;
  mismatched["settings"]["classifier_width"] = 0;
  mismatched["references"]["data"]["width"] = 24;
  std::ofstream(out / "results.json") << mismatched.dump(2) << "\n";
  ganaug::testing::expect_error(
      [&] { ganaug::jobs::run_experiment(tiny_grid(dir / "data", out).seeds(3).resume(true)); },
      {"reference-data.pt", "cannot be read into a cnn network", "delete it"});
  // A refusal names the setting that differs, not every setting.
  try {
    ganaug::jobs::run_experiment(
        tiny_grid(dir / "data", out).seeds(3).reference_epochs(2).resume(true));
    ADD_FAILURE() << "other settings were resumed";
  } catch (const ganaug::Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("{\"reference_epochs\":2}"), std::string::npos) << message;
    EXPECT_EQ(message.find("gan_iterations"), std::string::npos) << message;
  }
  // So does one for a GAN setting recorded only when changed (a program's, or --gan-lr).
  auto other_gan = tiny_grid(dir / "data", out).seeds(3).resume(true);
  other_gan.gan().g_lr(1e-3);
  ganaug::testing::expect_error([&] { ganaug::jobs::run_experiment(other_gan); },
                                {"other settings", "\"gan_tuning\":{\"g_lr\":0.001}"});
  // A hand-edited accuracy is refused, naming the file, not trusted.
  auto edited = resumed;
  edited["cells"][0]["accuracy"] = 5.0;
  std::ofstream(out / "results.json") << edited.dump(2) << "\n";
  ganaug::testing::expect_error(
      [&] {
        ganaug::jobs::run_experiment(
            tiny_grid(dir / "data", out)
                .seeds(3)
                .classifier(ganaug::ClassifierOptions(2).epochs(1).width(32))
                .resume(true));
      },
      {"results.json", "is damaged", "accuracy is 5, not a share in [0, 1]"});
}

TEST(Experiment, InterruptedGridKeepsFinishedCellsAndResumes) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  const auto out = dir / "bench";
  int finished = 0;
  ganaug::jobs::ExperimentCallbacks callbacks;
  callbacks.on_progress = [&](const std::string& line) {
    if (line.find("%") != std::string::npos && line.find(" (") != std::string::npos) ++finished;
  };
  callbacks.should_stop = [&] { return finished >= 5; };
  auto options = tiny_grid(dir / "data", out).sizes({3});
  EXPECT_THROW(ganaug::jobs::run_experiment(options, callbacks), ganaug::Interrupted);
  const auto partial = read_json(out / "results.json");
  EXPECT_GT(partial["cells"].size(), 0u);
  EXPECT_LT(partial["cells"].size(), 12u);
  const auto done = ganaug::jobs::run_experiment(options.resume(true));
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
                        .schemes(schemes({"none", "cond"}))
                        .validation_fraction(0.25);
  const auto tuned =
      ganaug::jobs::run_experiment(ExperimentOptions(base)
                                       .evaluate_on(ganaug::jobs::EvaluateOn::kValidation)
                                       .out_dir((dir / "tune").string()));
  const auto& tuned_ref = tuned["references"]["data"];
  EXPECT_EQ(tuned_ref["images"], 27) << "the reference classifier never sees the held-out images";
  EXPECT_EQ(tuned_ref["test"]["images"], 9);
  EXPECT_NE(tuned_ref["test"]["source"].get<std::string>().find("validation"), std::string::npos);
  std::ifstream report_in(dir / "tune" / "report.md");
  const std::string report((std::istreambuf_iterator<char>(report_in)), {});
  EXPECT_NE(report.find("Scored on: validation split"), std::string::npos) << report;

  // The final run on the test set draws the same labeled subsets from the same remainder.
  const auto final_run =
      ganaug::jobs::run_experiment(ExperimentOptions(base).out_dir((dir / "test").string()));
  EXPECT_EQ(final_run["references"]["data"]["images"], 27);
  EXPECT_EQ(final_run["references"]["data"]["test"]["images"], 12);
  EXPECT_EQ(final_run["settings"]["evaluate_on"], "test");

  ganaug::testing::expect_error(
      [&] {
        ExperimentOptions(base)
            .validation_fraction(0)
            .evaluate_on(ganaug::jobs::EvaluateOn::kValidation)
            .validate();
      },
      {"validation fraction above 0"});
  ganaug::testing::expect_error([] { ganaug::jobs::parse_evaluate_on("train"); },
                                {"unknown set to evaluate on 'train'", "use test or validation"});
  EXPECT_EQ(ganaug::jobs::parse_evaluate_on(
                ganaug::jobs::to_string(ganaug::jobs::EvaluateOn::kValidation)),
            ganaug::jobs::EvaluateOn::kValidation);
  ganaug::testing::expect_error([&] { ExperimentOptions(base).validation_fraction(1).validate(); },
                                {"validation fraction must lie in [0, 1)"});
}

TEST(Experiment, AGridValueGivenTwiceIsRefused) {
  // Each would train the same cells twice under one key.
  ganaug::testing::expect_error(
      [] {
        ExperimentOptions().schemes(schemes({"none", "smooth", "none"})).validate();
      },
      {"the grid lists the scheme none twice"});
  ganaug::testing::expect_error(
      [] {
        ExperimentOptions().sizes({20, 50, 20}).validate();
      },
      {"size 20 twice"});
  ganaug::testing::expect_error(
      [] {
        ExperimentOptions().multiples({5, 5}).validate();
      },
      {"multiple 5 twice"});
  ganaug::testing::expect_error(
      [] {
        ExperimentOptions().unlabeled({0, 0}).validate();
      },
      {"unlabeled pool size 0 twice"});
  EXPECT_NO_THROW(ExperimentOptions()
                      .schemes(schemes({"none", "smooth", "argmax", "argmax-dynamic"}))
                      .validate());
}

TEST(Experiment, SettingsRecordClassifierFieldsNoFlagSetsOnlyWhenChanged) {
  const auto defaults = ExperimentOptions().settings();
  EXPECT_FALSE(defaults.contains("classifier_tuning"));
  const auto tuned =
      ExperimentOptions().classifier(ganaug::ClassifierOptions(2).lr(0.01).batch_size(32));
  const auto settings = tuned.settings();
  ASSERT_TRUE(settings.contains("classifier_tuning"));
  EXPECT_DOUBLE_EQ(settings["classifier_tuning"]["lr"].get<double>(), 0.01);
  EXPECT_EQ(settings["classifier_tuning"]["batch_size"].get<int64_t>(), 32);
  EXPECT_EQ(settings["classifier_tuning"].size(), 2u);
  EXPECT_NE(settings, defaults);  // so a results.json of other settings is not resumed
  // FixMatch's recipe is recorded, field by field, only where it was asked for.
  const auto fixmatch = ExperimentOptions()
                            .strong_view(ganaug::StrongViewOptions::parse("randaugment"))
                            .classifier(ganaug::ClassifierOptions(2)
                                            .optimizer(ganaug::ClassifierOptimizer::kSgd)
                                            .weight_decay(5e-4)
                                            .ema_decay(0.999)
                                            .distribution_alignment(true))
                            .settings();
  EXPECT_FALSE(defaults.contains("strong_view"));
  EXPECT_EQ(fixmatch["strong_view"], "randaugment:ops=2,cutout=0.5");
  EXPECT_EQ(fixmatch["classifier_tuning"]["optimizer"], "sgd");
  EXPECT_DOUBLE_EQ(fixmatch["classifier_tuning"]["weight_decay"].get<double>(), 5e-4);
  EXPECT_DOUBLE_EQ(fixmatch["classifier_tuning"]["ema_decay"].get<double>(), 0.999);
  EXPECT_FALSE(fixmatch["classifier_tuning"].contains("momentum"));  // the default, 0.9
  EXPECT_TRUE(fixmatch["classifier_tuning"]["distribution_alignment"].get<bool>());
  EXPECT_EQ(fixmatch["classifier_tuning"].size(), 4u);
}

TEST(Experiment, ReusesAGeneratorOnlyWhenTrainedOnTheSameDataSeedAndSettings) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  ganaug::testing::write_tiny_idx(dir / "other" / "data", 2);  // other images, the same name
  const auto base =
      tiny_grid(dir / "data", dir / "first").sizes({3}).seeds(1).schemes(schemes({"none", "cond"}));
  ganaug::jobs::run_experiment(base);
  const fs::path trained = dir / "first" / "generators" / "data-n3-seed0";
  EXPECT_TRUE(fs::exists(trained / "trained-on.json"));
  // A copy of that generator, as `name` in `to`'s generators/.
  const auto copy_generator = [&](const fs::path& to, const std::string& name = "data-n3-seed0") {
    fs::create_directories(to / "generators");
    fs::copy(trained, to / "generators" / name, fs::copy_options::recursive);
    return to.string();
  };
  // Same data, seed and settings in another folder: reused, not trained again.
  const auto same = ganaug::jobs::run_experiment(
      ExperimentOptions(base).out_dir(copy_generator(dir / "same")).resume(true));
  EXPECT_EQ(same["generators"][0]["gan_seconds"].get<double>(), 0.0);
  EXPECT_EQ(same["generators"][0]["iterations"], 3);
  // Anything else is refused, naming the difference, and the copy is left as it was.
  const std::vector<std::pair<ExperimentOptions, std::vector<std::string>>> refused = {
      {ExperimentOptions(base).gan(ganaug::GanOptions(base.gan()).mode_seeking(0.5)),
       {"was trained another way than this run trains it: its mode-seeking weight (mode_seeking)"
        " is 0.1",
        " where this run's is 0.5;", "delete ",
        "to train it again, or use --force or another --out"}},
      {ExperimentOptions(base).first_seed(1),  // another labeled subset and seed
       {"its training data (--data, --per-class, --seed) is hash "}},
      {ExperimentOptions(base).datasets(
           {ganaug::DatasetSpec().path((dir / "other" / "data").string())}),
       {"its training data (--data, --per-class, --seed) is hash "}},
      {ExperimentOptions(base).gan(ganaug::GanOptions(base.gan()).iterations(2)),
       {"was trained for 3 iterations and this run asks for 2"}}};
  int n = 0;
  for (const auto& [options, message] : refused) {
    const auto out = dir / ("refused" + std::to_string(n++));
    const auto name = options.first_seed() == 1 ? "data-n3-seed1" : "data-n3-seed0";
    ganaug::testing::expect_error(
        [&, &options = options] {
          ganaug::jobs::run_experiment(
              ExperimentOptions(options).out_dir(copy_generator(out, name)).resume(true));
        },
        message);
    EXPECT_EQ(ganaug::load_generator((out / "generators" / name / "checkpoint.pt").string(), "cpu")
                  .options.mode_seeking(),
              0.1);
  }
  // A checkpoint from before the record (ganaug 0.4) is judged by its stored settings.
  const auto legacy = copy_generator(dir / "legacy");
  fs::remove(fs::path(legacy) / "generators" / "data-n3-seed0" / "trained-on.json");
  EXPECT_EQ(ganaug::jobs::run_experiment(ExperimentOptions(base).out_dir(legacy).resume(
                true))["generators"][0]["gan_seconds"]
                .get<double>(),
            0.0);
  const auto legacy_other = copy_generator(dir / "legacy-other");
  fs::remove(fs::path(legacy_other) / "generators" / "data-n3-seed0" / "trained-on.json");
  ganaug::testing::expect_error(
      [&] {
        ganaug::jobs::run_experiment(ExperimentOptions(base)
                                         .gan(ganaug::GanOptions(base.gan()).mode_seeking(0.5))
                                         .out_dir(legacy_other)
                                         .resume(true));
      },
      {"its mode-seeking weight (mode_seeking) is 0.1", " where this run's is 0.5;"});
}

TEST(Experiment, MinConfidenceFiltersCondAndArgmaxOnly) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  // A one-epoch classifier on 3 images per class is rarely 99% sure of anything: cond and argmax
  // keep few of the images drawn, smooth keeps all of them.
  const auto results =
      ganaug::jobs::run_experiment(tiny_grid(dir / "data", dir / "out")
                                       .sizes({3})
                                       .seeds(1)
                                       .schemes(schemes({"none", "cond", "argmax", "smooth"}))
                                       .min_confidence(0.99));
  EXPECT_EQ(results["settings"]["min_confidence"], 0.99);
  const int64_t wanted = 2 * 3 * 3;
  for (const auto& c : results["cells"]) {
    const auto kept = c["synthetic_images"].get<int64_t>();
    if (c["scheme"] == "smooth") {
      EXPECT_EQ(kept, wanted);
      EXPECT_FALSE(c.contains("synthetic_asked"));
    } else if (c["scheme"] == "cond" || c["scheme"] == "argmax") {
      EXPECT_LT(kept, wanted) << c;
      EXPECT_EQ(c["synthetic_asked"], wanted);
    }
  }
  // The report says which cells trained on fewer synthetic images than asked.
  std::ifstream report_file(dir / "out" / "report.md");
  const std::string report((std::istreambuf_iterator<char>(report_file)), {});
  EXPECT_NE(report.find("**Fewer synthetic images than asked**"), std::string::npos) << report;
  for (const auto& c : results["cells"]) {
    if (c["scheme"] != "cond") continue;
    EXPECT_NE(report.find("n3 seed 0 `cond` x2.0: " + c["synthetic_images"].dump() + " of 18"),
              std::string::npos)
        << report;
  }
  ganaug::testing::expect_error(
      [&] {
        ganaug::jobs::run_experiment(tiny_grid(dir / "data", dir / "other").min_confidence(1.0));
      },
      {"minimum confidence", "[0, 1)"});
}

TEST(ExperimentCli, RunsAndRejectsBadValues) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  std::string output;
  const std::string common = "--data " + (dir / "data").string() +
                             " --sizes 3 --seeds 1 --schemes none,cond --multiples 1"
                             " --gan-steps 2 --epochs 1 --reference-epochs 1 --metric-samples 12"
                             " --device cpu --out " +
                             (dir / "out").string();
  ASSERT_EQ(ganaug::testing::run_program(GANAUG_BENCH_EXE, common, &output), 0) << output;
  EXPECT_NE(output.find("report.md"), std::string::npos) << output;
  EXPECT_TRUE(fs::exists(dir / "out" / "report.md"));
  EXPECT_EQ(ganaug::testing::run_program(GANAUG_BENCH_EXE, common, &output), 1);
  EXPECT_NE(output.find("is not empty"), std::string::npos) << output;
  for (const char* bad : {"--sizes 0,50",
                          "--sizes 20,,50",
                          "--schemes none,mixup",
                          "--multiples x",
                          "--classic spin=1",
                          "--resume --force",
                          "--bogus",
                          "--cuda-graphs maybe",
                          "--precision fp16",
                          "--gan-batch 0",
                          "--gan-lr 0",
                          "--evaluate-on validation",
                          "--validation 1.5",
                          "--lr-schedule step",
                          "--classifier vgg",
                          "--classifier-width -1",
                          "--min-confidence -0.1",
                          "--pool-sizes -3",
                          "--unlabeled x",
                          "--unlabeled 3 --pool-sizes 4",
                          "--schemes classic,pseudo",
                          "--pool-confidence 0",
                          "--pool-ratio 0",
                          "--optimizer rmsprop",
                          "--lr -1",
                          "--ema 1",
                          "--weight-decay -1",
                          "--strong randomaugment",
                          "--strong randaugment:ops=20",
                          "--pool-gan labels",
                          "--gan-unlabeled-share 1",
                          "--classic-choices default",
                          "--classic-choices 'default;spin=1' --validation 0.1",
                          "--classic-choices 'default;erase=1'"}) {
    EXPECT_EQ(ganaug::testing::run_program(GANAUG_BENCH_EXE, bad, &output), 2) << bad;
    EXPECT_NE(output.find("see augment-bench --help"), std::string::npos) << output;
  }
  EXPECT_EQ(ganaug::testing::run_program(GANAUG_BENCH_EXE, "--help", &output), 0);
  EXPECT_NE(output.find("(=20,50,100,500)"), std::string::npos) << output;
  // The classical setting chosen on the validation split; the pool's GAN without classes.
  const std::string chosen = "--data " + (dir / "data").string() +
                             " --sizes 3 --seeds 1 --multiples 1"
                             " --gan-steps 2 --epochs 1 --reference-epochs 1 --metric-samples 12"
                             " --device cpu --validation 0.25 --classic-choices 'default;erase=0.5'"
                             " --unlabeled 6 --pool-gan unconditional --gan-unlabeled-share 0.3"
                             " --schemes classic,classic+cond,classic+pseudo --pool-ratio 2"
                             " --distribution-alignment --gan-lr 0.001 --out " +
                             (dir / "out2").string();
  ASSERT_EQ(ganaug::testing::run_program(GANAUG_BENCH_EXE, chosen, &output), 0) << output;
  // ganaug 0.5's name of --pool-sizes still runs, with a notice.
  EXPECT_NE(output.find("note: --unlabeled 6 is ganaug 0.5's spelling; use --pool-sizes 6"),
            std::string::npos)
      << output;
  EXPECT_NE(output.find("classical setting chosen on the validation split"), std::string::npos)
      << output;
  const auto results = read_json(dir / "out2" / "results.json");
  EXPECT_EQ(results["settings"]["classic_choices"].size(), 2u);
  EXPECT_EQ(results["settings"]["pool_gan"], "unconditional");
  EXPECT_DOUBLE_EQ(results["settings"]["gan_unlabeled_share"].get<double>(), 0.3);
  EXPECT_DOUBLE_EQ(results["settings"]["gan_tuning"]["g_lr"].get<double>(), 1e-3);
  EXPECT_DOUBLE_EQ(results["settings"]["gan_tuning"]["d_lr"].get<double>(), 1e-3);
  EXPECT_EQ(results["settings"]["strong_view"], "randaugment:ops=2,cutout=0.5");
  // A pool trained on by consistency takes the pool recipe (RandAugment, SGD, decay 5e-4, an
  // average at 0.99) where no flag says otherwise (--epochs 1 here).
  EXPECT_EQ(results["settings"]["classifier_tuning"]["optimizer"], "sgd");
  EXPECT_DOUBLE_EQ(results["settings"]["classifier_tuning"]["weight_decay"].get<double>(), 5e-4);
  EXPECT_DOUBLE_EQ(results["settings"]["classifier_tuning"]["ema_decay"].get<double>(), 0.99);
  EXPECT_EQ(results["settings"]["classifier_epochs"], 1);
  EXPECT_DOUBLE_EQ(results["settings"]["pool_ratio"].get<double>(), 2);
  // The report says how the pool and the classifiers were trained.
  std::ifstream report_file(dir / "out2" / "report.md");
  const std::string report((std::istreambuf_iterator<char>(report_file)),
                           std::istreambuf_iterator<char>());
  for (const char* part :
       {"classifier training changed from its defaults:", "optimizer sgd", "ema_decay 0.99",
        "2 pool images per labeled image", "strong view randaugment:ops=2,cutout=0.5"})
    EXPECT_NE(report.find(part), std::string::npos) << part << " not in:\n" << report;
}

// A grid with a validation split and no --classic states its gains against the strongest of the
// supervised candidates, chosen there; results.csv names each classic cell's setting.
TEST(ExperimentCli, WithAValidationSplitTheStrongestSupervisedSettingIsTheReference) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  const std::string common = "--data " + (dir / "data").string() +
                             " --sizes 3 --seeds 1 --schemes classic --epochs 1"
                             " --reference-epochs 1 --metric-samples 12 --device cpu --out ";
  std::string output;
  auto run = [&](const std::string& name, const std::string& extra) {
    EXPECT_EQ(ganaug::testing::run_program(GANAUG_BENCH_EXE,
                                           common + (dir / name).string() + " " + extra, &output),
              0)
        << output;
    return read_json(dir / name / "results.json");
  };
  auto csv_classic = [&](const std::string& name) {
    std::ifstream csv(dir / name / "results.csv");
    std::vector<std::vector<std::string>> rows;
    for (std::string line; std::getline(csv, line);) rows.push_back(ganaug::split_csv_line(line));
    EXPECT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows.at(0).at(9), "classic");
    return rows.at(1).at(9);
  };
  const auto chosen = run("auto", "--validation 0.25");
  std::vector<std::string> candidates;
  for (const auto& c : ganaug::jobs::ExperimentOptions::supervised_candidates())
    candidates.push_back(c.to_string());
  EXPECT_EQ(chosen["settings"]["classic_choices"], candidates);
  const auto spec = chosen["classic_choice"]["chosen"]["data-n3"]["classic"].get<std::string>();
  EXPECT_NE(std::find(candidates.begin(), candidates.end(), spec), candidates.end());
  EXPECT_EQ(csv_classic("auto"), spec);
  std::ifstream report_file(dir / "auto" / "report.md");
  const std::string report((std::istreambuf_iterator<char>(report_file)), {});
  EXPECT_NE(report.find("the classical setting chosen on the validation split"), std::string::npos)
      << report;
  // A setting given, no validation split, or "none": the given setting, not chosen.
  for (const auto& [name, extra] : std::vector<std::pair<std::string, std::string>>{
           {"given", "--validation 0.25 --classic erase=0.5"},
           {"none", "--validation 0.25 --classic-choices none"},
           {"no-split", ""}}) {
    const auto given = run(name, extra);
    EXPECT_TRUE(given["settings"]["classic_choices"].empty()) << name;
    EXPECT_FALSE(given.contains("classic_choice")) << name;
    EXPECT_EQ(csv_classic(name), given["settings"]["classic"].get<std::string>()) << name;
  }
  // A grid that took the given setting does not resume under the choosing default, and the
  // refusal says how to go on with it.
  EXPECT_NE(ganaug::testing::run_program(
                GANAUG_BENCH_EXE, common + (dir / "none").string() + " --validation 0.25 --resume",
                &output),
            0);
  for (const char* part : {"other settings", "classic_choices", "add --classic-choices none"})
    EXPECT_NE(output.find(part), std::string::npos) << part << " not in:\n" << output;
}

namespace {

// results.csv without its seconds column (the only one that depends on the machine's speed).
std::vector<std::string> csv_rows_without_seconds(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> rows;
  std::string line;
  while (std::getline(in, line)) rows.push_back(line.substr(0, line.rfind(',')));
  return rows;
}

}  // namespace

TEST(ExperimentCli, AFullDiskWhileSavingTheReferenceClassifierIsAnErrorAndLeavesNoTemporary) {
  // Files may not grow past 256 KiB (as on a nearly full disk); the reference classifier is
  // larger. This used to abort (rc 134) and leave reference-<ds>.pt.tmp.
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  const auto out = dir / "out";
  std::string output;
  const std::string bench = std::string(GANAUG_BENCH_EXE) + " --data " + (dir / "data").string() +
                            " --sizes 3 --seeds 1 --schemes none --epochs 1 --reference-epochs 1"
                            " --device cpu --out " +
                            out.string();
  const int status = ganaug::testing::run_program(
      "bash", "-c \"trap '' XFSZ; ulimit -f 256; exec " + bench + "\"", &output);
  EXPECT_EQ(status, 1) << output;
  EXPECT_NE(output.find("File too large"), std::string::npos) << output;
  for (const auto& entry : fs::recursive_directory_iterator(out))
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << entry.path();
  EXPECT_FALSE(fs::exists(out / "reference-data.pt"));
}

TEST(ExperimentCli, WhatTheDataCannotHoldIsRefusedBeforeAnythingTrains) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");  // 3 classes of 12 training images
  const std::string common = "--data " + (dir / "data").string() +
                             " --seeds 1 --multiples 1 --gan-steps 2 --epochs 1"
                             " --reference-epochs 1 --metric-samples 12 --device cpu --out " +
                             (dir / "out").string();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--sizes 3,20 --schemes none",
       "data: --sizes 20 asks for 20 labeled images per class, but class '"},
      {"--sizes 5 --validation 0.9 --schemes none",
       "has only 1 training image once --validation 0.90 is held out; lower --sizes"},
      {"--sizes 3 --pool-sizes 40 --schemes none,classic+pseudo",
       "--pool-sizes 40 asks for a pool of 40 images, but only 27 training images lie outside"},
      {"--sizes 3 --validation 0.05 --evaluate-on validation --schemes none,cond",
       "the validation split (3 images) is too small to score the GAN schemes"}};
  std::string output;
  for (const auto& [arguments, message] : cases) {
    EXPECT_EQ(ganaug::testing::run_program(GANAUG_BENCH_EXE, common + " " + arguments, &output), 1)
        << arguments;
    EXPECT_NE(output.find(message), std::string::npos) << output;
    EXPECT_EQ(output.find("reference classifier"), std::string::npos) << output;
    // Nothing trained, nothing written: the corrected run needs no --force.
    for (const auto& entry : fs::directory_iterator(dir / "out"))
      EXPECT_EQ(entry.path().filename(), ".ganaug-lock") << arguments;
  }
  EXPECT_EQ(
      ganaug::testing::run_program(GANAUG_BENCH_EXE, common + " --sizes 3 --schemes none", &output),
      0)
      << output;
}

TEST(Experiment, DataSetsAreKnownByTheirContentNotTheirFolderName) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "a" / "data");
  ganaug::testing::write_tiny_idx(dir / "b" / "data", 2);  // other images, the same name
  ganaug::testing::write_tiny_idx(dir / "my, \"data\" *v1.2*<b>");
  const auto grid = [&](std::vector<fs::path> data, const fs::path& out) {
    std::vector<ganaug::DatasetSpec> specs;
    for (const auto& d : data) specs.push_back(ganaug::DatasetSpec().path(d.string()));
    return tiny_grid(dir / "unused", out)
        .datasets(specs)
        .sizes({3})
        .seeds(1)
        .schemes(schemes({"none"}));
  };
  // Two folders of one name are two data sets, numbered; a name with a comma and quotes is one
  // CSV field; a folder's name is whole (dots too), and Markdown shows it as it is.
  const auto both = ganaug::jobs::run_experiment(
      grid({dir / "a" / "data", dir / "b" / "data", dir / "my, \"data\" *v1.2*<b>"}, dir / "both"));
  EXPECT_EQ(both["grid"]["datasets"],
            (std::vector<std::string>{"data", "data-2", "my, \"data\" *v1.2*<b>"}));
  ASSERT_EQ(both["cells"].size(), 3u);
  EXPECT_NE(both["references"]["data"]["train_hash"], both["references"]["data-2"]["train_hash"]);
  std::ifstream csv(dir / "both" / "results.csv");
  std::vector<std::string> datasets;
  for (std::string line; std::getline(csv, line);) {
    const auto fields = ganaug::split_csv_line(line);
    EXPECT_EQ(fields.size(), 11u) << line;
    datasets.push_back(fields[0]);
  }
  EXPECT_EQ(datasets,
            (std::vector<std::string>{"dataset", "data", "data-2", "my, \"data\" *v1.2*<b>"}));
  EXPECT_TRUE(fs::exists(dir / "both" / "reference-data-2.pt"));
  std::ifstream md_file(dir / "both" / "report.md");
  const std::string md(std::istreambuf_iterator<char>(md_file), {});
  EXPECT_NE(md.find("\n## my, \"data\" \\*v1\\.2\\*&lt;b&gt;\n"), std::string::npos) << md;
  EXPECT_NE(md.find("](accuracy-my%2C%20%22data%22%20%2Av1.2%2A%3Cb%3E.png)"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir / "both" / "accuracy-my, \"data\" *v1.2*<b>.png"));

  // One data set named twice, by any spelling, would run its cells twice.
  ganaug::testing::expect_error(
      [&] {
        grid({dir / "a" / "data", dir / "a" / "." / "data"}, dir / "twice").validate();
      },
      {"the grid lists the dataset ", " twice"});

  // Resuming or merging with other data under the same name is refused before it trains.
  ganaug::jobs::run_experiment(grid({dir / "a" / "data"}, dir / "one"));
  ganaug::testing::expect_error(
      [&] { ganaug::jobs::run_experiment(grid({dir / "b" / "data"}, dir / "one").resume(true)); },
      {"the results of data in ", "were made with other training data (hash ",
       "use --force or another --out"});
  EXPECT_NO_THROW(
      ganaug::jobs::run_experiment(grid({dir / "a" / "data"}, dir / "one").resume(true)));
  for (int64_t k : {0, 1}) {
    const auto data = dir / (k == 0 ? "a" : "b") / "data";
    ganaug::jobs::run_experiment(
        grid({data}, dir / ("shard" + std::to_string(k))).seeds(2).shard(k).num_shards(2));
  }
  ganaug::testing::expect_error(
      [&] {
        ganaug::jobs::merge_experiments((dir / "merged").string(),
                                        {(dir / "shard0").string(), (dir / "shard1").string()});
      },
      {"ran data on other data than an earlier shard (train_hash "});
  EXPECT_FALSE(fs::exists(dir / "merged" / "results.json"));
}

TEST(Experiment, AResumeNeverLeavesFinishedCellsOutOfItsGrid) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  const auto grid =
      tiny_grid(dir / "data", dir / "out").sizes({3}).seeds(2).schemes(schemes({"none"}));
  ganaug::jobs::run_experiment(grid);
  ganaug::testing::expect_error(
      [&] { ganaug::jobs::run_experiment(ExperimentOptions(grid).seeds(1).resume(true)); },
      {"hold the finished cell data|3|1|none|", "which this run's grid leaves out",
       "finished cells are never dropped"});
  ganaug::testing::expect_error(
      [&] {
        ganaug::jobs::run_experiment(ExperimentOptions(grid).sizes({6}).seeds(2).resume(true));
      },
      {"hold the finished cell data|3|0|none|"});
  EXPECT_EQ(read_json(dir / "out" / "results.json")["grid"]["seeds"], 2);
  // A larger grid keeps them and adds its own.
  const auto grown = ganaug::jobs::run_experiment(ExperimentOptions(grid).seeds(3).resume(true));
  EXPECT_EQ(grown["cells"].size(), 3u);
  EXPECT_EQ(grown["grid"]["seeds"], 3);
}

TEST(Experiment, AGridRunAsShardsAndMergedGivesTheRowsOfOneRun) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  const auto grid = [&](const fs::path& out) {
    return tiny_grid(dir / "data", out)
        .schemes(schemes({"none", "cond", "classic+argmax"}))
        .seeds(3);
  };
  ganaug::jobs::run_experiment(grid(dir / "whole"));
  // 2 sizes x 3 seeds = 6 units over 2 shards: units 0, 2, 4 and 1, 3, 5.
  for (int64_t k : {0, 1}) {
    const auto part = ganaug::jobs::run_experiment(
        grid(dir / ("shard" + std::to_string(k))).shard(k).num_shards(2));
    EXPECT_EQ(part["cells"].size(), 9u);
    EXPECT_EQ(part["shard"]["index"], k);
  }
  const auto merged = ganaug::jobs::merge_experiments(
      (dir / "merged").string(), {(dir / "shard1").string(), (dir / "shard0").string()});
  EXPECT_EQ(csv_rows_without_seconds(dir / "merged" / "results.csv"),
            csv_rows_without_seconds(dir / "whole" / "results.csv"));
  EXPECT_EQ(merged["cells"].size(), 18u);
  EXPECT_EQ(merged["generators"].size(), 6u);
  EXPECT_FALSE(merged.contains("shard"));
  ASSERT_EQ(merged["merged_from"].size(), 2u);
  EXPECT_EQ(merged["merged_from"][0]["shard"], 0);
  EXPECT_EQ(read_json(dir / "merged" / "results.json"), merged);
  for (const auto& g : merged["generators"])
    EXPECT_TRUE(fs::exists(dir / "merged" / g["samples"].get<std::string>()));
  EXPECT_TRUE(fs::exists(dir / "merged" / "report.md"));
  EXPECT_TRUE(fs::exists(dir / "merged" / "accuracy-data.png"));
  EXPECT_TRUE(fs::exists(dir / "merged" / "reference-data.pt"));

  // Refused, naming the folder: a missing shard, a doubled one, a whole grid, other settings,
  // an unfinished shard, and a non-empty --out.
  const auto s0 = (dir / "shard0").string(), s1 = (dir / "shard1").string();
  using ganaug::testing::expect_error;
  expect_error([&] { ganaug::jobs::merge_experiments((dir / "m1").string(), {s0}); },
               {"shard 1 of 2 is missing"});
  expect_error(
      [&] {
        ganaug::jobs::merge_experiments((dir / "m2").string(), {s0, s1, s0});
      },
      {"are both shard 0 of 2"});
  expect_error(
      [&] {
        ganaug::jobs::merge_experiments((dir / "m3").string(), {s0, (dir / "whole").string()});
      },
      {"whole", "holds a whole grid, not a shard"});
  auto other = grid(dir / "other").shard(1).num_shards(2);
  other.gan().iterations(4);
  ganaug::jobs::run_experiment(other);
  expect_error(
      [&] {
        ganaug::jobs::merge_experiments((dir / "m4").string(), {s0, (dir / "other").string()});
      },
      {"other", "other settings", "gan_iterations: 3 against 4"});
  auto unfinished = read_json(dir / "shard1" / "results.json");
  unfinished["cells"].erase(unfinished["cells"].size() - 1);
  fs::create_directories(dir / "cut");
  std::ofstream(dir / "cut" / "results.json") << unfinished.dump();
  expect_error(
      [&] {
        ganaug::jobs::merge_experiments((dir / "m5").string(), {s0, (dir / "cut").string()});
      },
      {"cut", "unfinished", "8 of its 9 cells", "--resume"});
  expect_error(
      [&] {
        ganaug::jobs::merge_experiments((dir / "merged").string(), {s0, s1});
      },
      {"is not empty", "--force"});
  EXPECT_FALSE(fs::exists(dir / "m1"));
  // A shard written by an older augment-bench (no datasets in its grid) is named, not read.
  auto old = read_json(dir / "shard1" / "results.json");
  old["grid"].erase("datasets");
  fs::create_directories(dir / "old");
  std::ofstream(dir / "old" / "results.json") << old.dump();
  expect_error(
      [&] {
        ganaug::jobs::merge_experiments((dir / "m6").string(), {s0, (dir / "old").string()});
      },
      {"old", "is damaged or from an older augment-bench", "datasets"});
  EXPECT_FALSE(fs::exists(dir / "m6"));
  // A mistyped or impossible value is named with its file, not as a bare JSON type error.
  for (const auto& [field, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"accuracy", "high"}, {"accuracy", 5.0}, {"size", "three"}}) {
    auto mistyped = read_json(dir / "shard1" / "results.json");
    mistyped["cells"][0][field] = value;
    fs::create_directories(dir / "typed");
    std::ofstream(dir / "typed" / "results.json") << mistyped.dump();
    expect_error(
        [&] {
          ganaug::jobs::merge_experiments((dir / "m9").string(), {s0, (dir / "typed").string()});
        },
        {(dir / "typed" / "results.json").string() + " is damaged or from an older augment-bench"});
  }
  // A shard folder resumes only as the same shard.
  expect_error([&] { ganaug::jobs::run_experiment(grid(dir / "shard0").resume(true)); },
               {"shard 0 of 2 of a grid", "a whole grid", "--shard"});
  // A generator the shard's results list must be there, whole: missing or damaged, it is named
  // and nothing is merged.
  fs::copy(dir / "shard1", dir / "broken", fs::copy_options::recursive);
  const auto key = read_json(dir / "broken" / "results.json")["generators"][0]["key"];
  const auto checkpoint = dir / "broken" / "generators" / key.get<std::string>() / "checkpoint.pt";
  fs::resize_file(checkpoint, fs::file_size(checkpoint) - 100);
  const auto broken = (dir / "broken").string();
  expect_error(
      [&] {
        ganaug::jobs::merge_experiments((dir / "m7").string(), {s0, broken});
      },
      {"shard " + broken + ": the generator " + checkpoint.string(), "cannot be merged",
       "rerun that shard with --resume"});
  fs::remove(checkpoint);
  expect_error(
      [&] {
        ganaug::jobs::merge_experiments((dir / "m7").string(), {s0, broken});
      },
      {"cannot be merged (it is missing)"});
  EXPECT_FALSE(fs::exists(dir / "m7" / "generators"));
  EXPECT_FALSE(fs::exists(dir / "m7" / "results.json"));
  // A copy that fails half-way (as on a full disk; here a file that cannot be read) leaves no
  // partial generators/.
  fs::remove_all(dir / "broken");
  fs::copy(dir / "shard1", dir / "broken", fs::copy_options::recursive);
  fs::create_symlink(dir / "nowhere",
                     dir / "broken" / "generators" / key.get<std::string>() / "unreadable");
  expect_error(
      [&] {
        ganaug::jobs::merge_experiments((dir / "m8").string(), {s0, broken});
      },
      {"cannot copy the shards' generators", "nothing of them was left there"});
  EXPECT_FALSE(fs::exists(dir / "m8" / "generators"));
  EXPECT_FALSE(fs::exists(dir / "m8" / ".merging"));
  EXPECT_FALSE(fs::exists(dir / "m8" / "results.json"));
}

TEST(ExperimentCli, RunsAShardFromTheSlurmArrayAndMerges) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  std::string output;
  const std::string common = "--data " + (dir / "data").string() +
                             " --sizes 3 --seeds 2 --schemes none --multiples 1"
                             " --gan-steps 2 --epochs 1 --reference-epochs 1 --metric-samples 12"
                             " --device cpu --out ";
  // The job array's variables give the shard when no flag does (tasks numbered from 1).
  for (int task : {1, 2}) {
    setenv("SLURM_ARRAY_TASK_ID", std::to_string(task).c_str(), 1);
    setenv("SLURM_ARRAY_TASK_MIN", "1", 1);
    setenv("SLURM_ARRAY_TASK_COUNT", "2", 1);
    ASSERT_EQ(
        ganaug::testing::run_program(
            GANAUG_BENCH_EXE, common + (dir / ("s" + std::to_string(task))).string(), &output),
        0)
        << output;
    EXPECT_NE(output.find("shard " + std::to_string(task - 1) + " of 2 (from the Slurm"),
              std::string::npos)
        << output;
  }
  for (const char* name : {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_COUNT"})
    unsetenv(name);
  EXPECT_EQ(read_json(dir / "s2" / "results.json")["shard"]["index"], 1);
  ASSERT_EQ(ganaug::testing::run_program(GANAUG_BENCH_EXE,
                                         "--merge " + (dir / "s1").string() + " " +
                                             (dir / "s2").string() + " --out " +
                                             (dir / "merged").string(),
                                         &output),
            0)
      << output;
  EXPECT_NE(output.find("merged 2 shards, 2 cells"), std::string::npos) << output;
  EXPECT_EQ(count_lines(dir / "merged" / "results.csv"), 3);
  EXPECT_EQ(ganaug::testing::run_program(
                GANAUG_BENCH_EXE,
                "--merge " + (dir / "s1").string() + " --out " + (dir / "m").string(), &output),
            1);
  EXPECT_NE(output.find("shard 1 of 2 is missing"), std::string::npos) << output;
  // A sparse array (--array=1,5) gives no shard number: refused, saying what to do.
  setenv("SLURM_ARRAY_TASK_ID", "5", 1);
  setenv("SLURM_ARRAY_TASK_MIN", "1", 1);
  setenv("SLURM_ARRAY_TASK_COUNT", "2", 1);
  EXPECT_EQ(ganaug::testing::run_program(GANAUG_BENCH_EXE, common + (dir / "s5").string(), &output),
            2);
  EXPECT_NE(output.find("evenly spaced array"), std::string::npos) << output;
  for (const char* name : {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_COUNT"})
    unsetenv(name);
  for (const char* bad : {"--shard 2 --num-shards 2", "--shard 1"}) {
    EXPECT_EQ(ganaug::testing::run_program(GANAUG_BENCH_EXE, bad, &output), 2) << bad;
    EXPECT_NE(output.find("see augment-bench --help"), std::string::npos) << output;
  }
}

}  // namespace ganaug_tests_experiment
