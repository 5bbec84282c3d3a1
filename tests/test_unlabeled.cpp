// Unlabeled pools: drawn beside a labeled subset, read from folders, IDX files and CSVs, and
// used end to end by augment (--unlabeled, --pseudo) without a label ever being read.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <fstream>
#include <set>

#include "ganaug/dataset.hpp"
#include "ganaug/datasets/idx.hpp"
#include "ganaug/datasets/image.hpp"
#include "ganaug/file_io.hpp"
#include "ganaug/job.hpp"
#include "ganaug/jobs/augment.hpp"
#include "ganaug/pipelines/load.hpp"
#include "test_support.hpp"
#include "tiny_data.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_unlabeled {

namespace fs = std::filesystem;

namespace {

// 4 classes x 10 images; image i is filled with a value that names it.
ganaug::LabeledDataset numbered(int64_t per_class = 10) {
  ganaug::LabeledDataset data;
  const int64_t n = 4 * per_class;
  data.images =
      torch::arange(n, torch::kFloat32).div(n).view({n, 1, 1, 1}).expand({n, 1, 8, 8}).contiguous();
  data.labels = torch::arange(n, torch::kInt64).remainder(4);
  data.class_names = {"a", "b", "c", "d"};
  data.source = "numbered";
  return data;
}

std::set<int64_t> ids(const ganaug::LabeledDataset& data, int64_t n) {
  std::set<int64_t> out;
  for (int64_t i = 0; i < data.size(); ++i)
    out.insert(std::llround(data.images[i][0][0][0].item<double>() * n));
  return out;
}

// Writes the training images of a tiny IDX dataset as PNGs: flat, and again nested, each in a
// folder named after the wrong class (class k's images in "class<k + 1>"), in the same order.
void write_pool_folders(const fs::path& data, const fs::path& flat, const fs::path& nested) {
  const auto pool =
      ganaug::read_idx(data / "train-images-idx3-ubyte", data / "train-labels-idx1-ubyte");
  for (int64_t i = 0; i < pool.size(); ++i) {
    const auto png = ganaug::encode_png(pool.images[i]);
    const std::string name = "img" + std::to_string(1000 + i) + ".png";
    const int64_t wrong = (pool.labels[i].item<int64_t>() + 1) % 3;
    fs::create_directories(flat);
    ganaug::write_file_atomic(flat / name, png);
    const auto dir = nested / ("n" + std::to_string(1000 + i)) / ("class" + std::to_string(wrong));
    fs::create_directories(dir);
    ganaug::write_file_atomic(dir / name, png);
  }
}

}  // namespace

TEST(UnlabeledPool, LiesOutsideTheLabeledSubsetAndCarriesNoLabels) {
  const auto data = numbered();
  const auto labeled = ganaug::subset_per_class(data, 3, 5);
  const auto pool = ganaug::unlabeled_pool(data, 3, 5, 20, 9);
  EXPECT_EQ(pool.size(), 20);
  EXPECT_TRUE(pool.labels.eq(-1).all().item<bool>());
  EXPECT_FALSE(pool.targets.defined());
  EXPECT_EQ(pool.class_names, data.class_names);
  const auto in_pool = ids(pool, 40), in_subset = ids(labeled, 40);
  EXPECT_EQ(in_pool.size(), 20u);  // no image twice
  for (auto id : in_pool) EXPECT_EQ(in_subset.count(id), 0u) << id;
  // Seeded: the same pool again, another with another pool seed.
  EXPECT_TRUE(torch::equal(ganaug::unlabeled_pool(data, 3, 5, 20, 9).images, pool.images));
  EXPECT_NE(ids(ganaug::unlabeled_pool(data, 3, 5, 20, 10), 40), in_pool);
  // Everything outside the subset.
  EXPECT_EQ(ganaug::unlabeled_pool(data, 3, 5, 28, 9).size(), 28);
  ganaug::testing::expect_error([&] { ganaug::unlabeled_pool(data, 3, 5, 29, 9); },
                                {"pool of 29 images", "has 28 images besides the 12 labeled"});
  // Beside a validation split: drawn from the rest, the pool holds no validation image.
  auto [rest, validation] = ganaug::split_train_test(data, 0.25, 3);
  const auto validation_ids = ids(validation, 40);
  for (auto id : ids(ganaug::unlabeled_pool(rest, 2, 5, 20, 9), 40))
    EXPECT_EQ(validation_ids.count(id), 0u) << id;
}

TEST(UnlabeledPool, ReadsFoldersAtAnyDepthIdxFilesAndCsvPathsWithoutLabels) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  write_pool_folders(dir / "data", dir / "flat", dir / "nested");
  const std::vector<std::string> names{"x", "y", "z"};
  auto spec = ganaug::UnlabeledSpec().image_size(16).channels(1).threads(2);
  const auto flat = ganaug::load_unlabeled_pool(spec.path((dir / "flat").string()), names);
  const auto nested = ganaug::load_unlabeled_pool(spec.path((dir / "nested").string()), names);
  const auto idx = ganaug::load_unlabeled_pool(
      spec.path((dir / "data" / "train-images-idx3-ubyte").string()), names);
  ASSERT_EQ(flat.size(), 36);
  EXPECT_EQ(flat.class_names, names);
  EXPECT_TRUE(flat.labels.eq(-1).all().item<bool>());
  // Folder names are not classes: the same images in the same (path) order.
  EXPECT_TRUE(torch::equal(nested.images, flat.images));
  EXPECT_TRUE(nested.labels.eq(-1).all().item<bool>());
  EXPECT_TRUE(torch::allclose(idx.images, flat.images, 0, 1e-6));
  EXPECT_TRUE(idx.labels.eq(-1).all().item<bool>());
  // A CSV: the path column by name (a label column is not read), or the first column.
  ganaug::testing::write_text(dir / "flat" / "pool.csv",
                              "label,path\n9,img1000.png\nnot-a-class,img1001.png\n");
  ganaug::testing::write_text(dir / "flat" / "bare.csv", "img1000.png\nimg1001.png\n");
  for (const char* manifest : {"pool.csv", "bare.csv"}) {
    const auto csv =
        ganaug::load_unlabeled_pool(spec.path((dir / "flat" / manifest).string()), names);
    ASSERT_EQ(csv.size(), 2) << manifest;
    EXPECT_TRUE(torch::equal(csv.images, flat.images.slice(0, 0, 2))) << manifest;
    EXPECT_TRUE(csv.labels.eq(-1).all().item<bool>());
  }
  // Errors name the path and the problem.
  fs::create_directories(dir / "empty" / "sub");
  ganaug::testing::expect_error(
      [&] { ganaug::load_unlabeled_pool(spec.path((dir / "empty").string()), names); },
      {"no .png, .jpg, .jpeg or .bmp image under", "empty"});
  ganaug::testing::expect_error(
      [&] { ganaug::load_unlabeled_pool(spec.path((dir / "missing").string()), names); },
      {"unlabeled pool not found", "missing"});
  ganaug::testing::expect_error(
      [&] {
        ganaug::load_unlabeled_pool(spec.path((dir / "data" / "train-labels-idx1-ubyte").string()),
                                    names);
      },
      {"wrong magic number", "train-labels-idx1-ubyte"});
  ganaug::testing::write_text(dir / "flat" / "gone.csv", "path\nnowhere.png\n");
  ganaug::testing::expect_error(
      [&] { ganaug::load_unlabeled_pool(spec.path((dir / "flat" / "gone.csv").string()), names); },
      {"gone.csv:2", "nowhere.png", "does not exist"});
}

TEST(Augment, AnUnlabeledPoolTrainsTheGanAndPseudoRetrainsWithoutReadingALabel) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  write_pool_folders(dir / "data", dir / "flat", dir / "nested");
  const auto options = [&](const fs::path& pool, const char* out) {
    return ganaug::jobs::AugmentOptions()
        .data(ganaug::DatasetSpec().path((dir / "data").string()).per_class(4))
        .n(12)
        .out_dir((dir / out).string())
        .gan(ganaug::GanOptions(ganaug::jobs::AugmentOptions().gan()).iterations(3))
        .classifier(ganaug::ClassifierOptions(2).epochs(2))
        .device("cpu")
        .threads(2)
        .unlabeled(pool.string())
        .pool_confidence(0.34)
        .pseudo(true);
  };
  const auto flat = ganaug::jobs::run_augment(options(dir / "flat", "a"));
  ASSERT_TRUE(flat.contains("unlabeled")) << flat.dump();
  const auto& u = flat["unlabeled"];
  EXPECT_EQ(u["images"], 36);
  EXPECT_TRUE(u["pseudo"].get<bool>());
  const int64_t kept = u["gan"]["kept"].get<int64_t>();
  EXPECT_GT(kept, 0) << u.dump();  // above a third on 3 classes: some images always qualify
  int64_t counted = 0;
  for (const auto& c : u["gan"]["class_counts"]) counted += c.get<int64_t>();
  EXPECT_EQ(counted, kept);
  EXPECT_TRUE(u["retrained"].contains("confident"));
  // The same images under class folders that all name the wrong class: the same run.
  const auto nested = ganaug::jobs::run_augment(options(dir / "nested", "b"));
  EXPECT_EQ(nested["unlabeled"]["gan"], u["gan"]);
  EXPECT_EQ(nested["retrained"]["accuracy"], flat["retrained"]["accuracy"]);
  EXPECT_EQ(nested["baseline"]["accuracy"], flat["baseline"]["accuracy"]);
  // FixMatch's recipe (RandAugment, SGD with weight decay, a weight average, mu 2, aligned
  // targets) reads no label either.
  const auto fixmatch = [&](const fs::path& pool, const char* out) {
    return options(pool, out)
        .strong_view(ganaug::StrongViewOptions::parse("randaugment"))
        .classifier(ganaug::ClassifierOptions(2)
                        .epochs(2)
                        .optimizer(ganaug::ClassifierOptimizer::kSgd)
                        .weight_decay(5e-4)
                        .ema_decay(0.9)
                        .pool_ratio(2)
                        .distribution_alignment(true));
  };
  const auto flat_fixmatch = ganaug::jobs::run_augment(fixmatch(dir / "flat", "d"));
  const auto nested_fixmatch = ganaug::jobs::run_augment(fixmatch(dir / "nested", "e"));
  EXPECT_EQ(flat_fixmatch["unlabeled"]["retrained"]["strong_view"], "randaugment:ops=2,cutout=0.5");
  EXPECT_EQ(nested_fixmatch["retrained"]["accuracy"], flat_fixmatch["retrained"]["accuracy"]);
  EXPECT_EQ(nested_fixmatch["retrained"]["confusion"], flat_fixmatch["retrained"]["confusion"]);
  EXPECT_EQ(flat_fixmatch["classifier_tuning"]["optimizer"], "sgd");
  // Another pool cannot resume this folder.
  ganaug::testing::expect_error(
      [&] {
        ganaug::jobs::run_augment(
            options(dir / "data" / "t10k-images-idx3-ubyte", "a").resume(true));
      },
      {"--unlabeled", "differs"});
  // --pseudo needs a pool.
  ganaug::testing::expect_error(
      [&] { ganaug::jobs::run_augment(options(dir / "flat", "c").unlabeled("")); },
      {"--pseudo needs an unlabeled pool"});
}

TEST(Augment, DualPseudoTrainingsTeacherLabelsThePoolForTheGanAndIsKeptForAResume) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  write_pool_folders(dir / "data", dir / "flat", dir / "nested");
  const auto options = [&](const char* out) {
    return ganaug::jobs::AugmentOptions()
        .data(ganaug::DatasetSpec().path((dir / "data").string()).per_class(4))
        .n(12)
        .out_dir((dir / out).string())
        .gan(ganaug::GanOptions(ganaug::jobs::AugmentOptions().gan())
                 .iterations(4)
                 .checkpoint_every(1)
                 .log_every(1))
        .classifier(ganaug::ClassifierOptions(2).epochs(2))
        .device("cpu")
        .threads(2)
        .unlabeled((dir / "flat").string())
        .pool_confidence(0.34)
        .pseudo(true)
        .pool_teacher(ganaug::PoolTeacher::kPseudo);
  };
  const auto summary = ganaug::jobs::run_augment(options("a"));
  ASSERT_TRUE(summary.contains("teacher")) << summary.dump();
  const double teacher = summary["teacher"]["accuracy"].get<double>();
  EXPECT_TRUE(teacher >= 0 && teacher <= 1);
  EXPECT_DOUBLE_EQ(summary["gan_share"].get<double>(),
                   summary["retrained"]["accuracy"].get<double>() - teacher);
  EXPECT_NE(summary["unlabeled"]["gan"]["labels"].get<std::string>().find("the teacher's"),
            std::string::npos);
  // The teacher's file labeled the GAN's pool images: read back, it gives the same classes.
  ASSERT_TRUE(fs::exists(dir / "a" / "teacher.pt"));
  ganaug::Classifier read(ganaug::ClassifierOptions(3, 16).epochs(2).device("cpu"));
  ganaug::load_classifier(read, (dir / "a" / "teacher.pt").string());
  const auto pool = ganaug::load_unlabeled_pool(
      ganaug::UnlabeledSpec().path((dir / "flat").string()).image_size(16), {"0", "1", "2"});
  const auto labels = ganaug::label_pool(read, pool.images, 3, 0.34);
  const auto counts = labels.predicted.masked_select(labels.confident).bincount({}, 3);
  EXPECT_EQ(summary["unlabeled"]["gan"]["class_counts"],
            nlohmann::json(
                std::vector<int64_t>(counts.data_ptr<int64_t>(), counts.data_ptr<int64_t>() + 3)));
  // The report shows the three classifiers.
  {
    std::ifstream page(dir / "a" / "report.html");
    const std::string html(std::istreambuf_iterator<char>(page), {});
    for (const char* text : {"Dual pseudo training: the GAN's share", "<th>teacher</th>"})
      EXPECT_NE(html.find(text), std::string::npos) << text;
  }
  // Without generated images the student is the teacher again: trained as the teacher is.
  const auto alone = ganaug::jobs::run_augment(options("n0").n(0));
  EXPECT_EQ(alone["retrained"]["confusion"], alone["teacher"]["confusion"]);
  EXPECT_EQ(alone["gan_share"].get<double>(), 0.0);
  EXPECT_EQ(alone["teacher"]["accuracy"], summary["teacher"]["accuracy"]);
  // Interrupted in the GAN's training, the run resumes with the teacher it saved.
  std::atomic<bool> stop{false};
  ganaug::jobs::AugmentCallbacks callbacks;
  callbacks.on_progress = [&](const std::string& stage, double done, double, const std::string&) {
    if (stage == "gan" && done >= 2) stop = true;
  };
  callbacks.should_stop = [&] { return stop.load(); };
  EXPECT_THROW(ganaug::jobs::run_augment(options("b"), callbacks), ganaug::Interrupted);
  ASSERT_TRUE(fs::exists(dir / "b" / "teacher.pt"));
  EXPECT_FALSE(fs::exists(dir / "b" / "summary.json"));
  const auto saved = fs::last_write_time(dir / "b" / "teacher.pt");
  const auto resumed = ganaug::jobs::run_augment(options("b").resume(true));
  EXPECT_EQ(fs::last_write_time(dir / "b" / "teacher.pt"), saved);
  EXPECT_EQ(resumed["teacher"]["accuracy"], summary["teacher"]["accuracy"]);
  EXPECT_EQ(resumed["unlabeled"]["gan"], summary["unlabeled"]["gan"]);
  // A teacher trained with another strong view is not read back into this run.
  ganaug::testing::expect_error(
      [&] {
        ganaug::jobs::run_augment(options("b").resume(true).strong_view(
            ganaug::StrongViewOptions::parse("randaugment:p=0.5")));
      },
      {"--strong", "differs"});
  // A folder of dual pseudo training cannot be resumed without --teacher.
  ganaug::testing::expect_error(
      [&] {
        ganaug::jobs::run_augment(
            options("a").pool_teacher(ganaug::PoolTeacher::kClassic).resume(true));
      },
      {"--teacher", "differs"});
  // What --teacher needs, said before anything trains.
  ganaug::testing::expect_error([&] { ganaug::jobs::run_augment(options("c").pseudo(false)); },
                                {"--teacher trains the student", "add --pseudo"});
  ganaug::testing::expect_error(
      [&] {
        ganaug::jobs::run_augment(
            options("c").generator((dir / "a" / "gan" / "checkpoint.pt").string()));
      },
      {"--teacher labels the pool a GAN trains on: drop --generator"});
  ganaug::testing::expect_error([&] { ganaug::jobs::run_augment(options("c").retrain(false)); },
                                {"drop --no-retrain"});
  EXPECT_FALSE(fs::exists(dir / "c"));
}

TEST(Augment, AColourPoolForGrayDataIsNamedUnlessChannelsAreGiven) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  fs::create_directories(dir / "rgb");
  for (int i = 0; i < 6; ++i) {
    const auto image = torch::rand({3, 16, 16}) * 2 - 1;
    ganaug::write_file_atomic(dir / "rgb" / ("p" + std::to_string(i) + ".png"),
                              ganaug::encode_png(image));
  }
  auto spec = ganaug::DatasetSpec().path((dir / "data").string()).per_class(4);
  const auto options = [&](const ganaug::DatasetSpec& data, const char* out) {
    return ganaug::jobs::AugmentOptions()
        .data(data)
        .n(6)
        .out_dir((dir / out).string())
        .gan(ganaug::GanOptions(ganaug::jobs::AugmentOptions().gan()).iterations(2))
        .retrain(false)
        .device("cpu")
        .threads(2)
        .unlabeled((dir / "rgb").string());
  };
  ganaug::testing::expect_error(
      [&] { ganaug::jobs::run_augment(options(spec, "a")); },
      {"the unlabeled pool " + (dir / "rgb").string() + " holds RGB images and the labeled data",
       " gray ones: add --channels 1 (or 3)"});
  EXPECT_FALSE(fs::exists(dir / "a" / "summary.json"));
  const auto summary = ganaug::jobs::run_augment(options(spec.channels(1), "b"));
  EXPECT_EQ(summary["unlabeled"]["images"], 6);
}

TEST(AugmentCli, UnlabeledOptionsAreCheckedAndRun) {
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  const std::string common = "--data " + (dir / "data").string() +
                             " --per-class 3 --gan-steps 2 --epochs 1 --n 6 --device cpu --json";
  std::string output;
  EXPECT_EQ(ganaug::testing::run_program(
                GANAUG_AUGMENT_EXE, common + " --pseudo --out " + (dir / "x").string(), &output),
            2);
  EXPECT_NE(output.find("--pseudo needs an unlabeled pool"), std::string::npos) << output;
  EXPECT_EQ(ganaug::testing::run_program(GANAUG_AUGMENT_EXE,
                                         common + " --unlabeled " + (dir / "data").string() +
                                             " --teacher --out " + (dir / "x").string(),
                                         &output),
            2);
  EXPECT_NE(output.find("--teacher trains the student as the teacher"), std::string::npos)
      << output;
  EXPECT_EQ(
      ganaug::testing::run_program(
          GANAUG_AUGMENT_EXE,
          common + " --unlabeled " + (dir / "data").string() + " --pool-confidence 1.5", &output),
      2);
  EXPECT_NE(output.find("--pool-confidence must lie in (0, 1]"), std::string::npos) << output;
  EXPECT_EQ(ganaug::testing::run_program(GANAUG_AUGMENT_EXE,
                                         common + " --unlabeled " + (dir / "nowhere").string() +
                                             " --out " + (dir / "y").string(),
                                         &output),
            1);
  EXPECT_NE(output.find("unlabeled pool not found"), std::string::npos) << output;
  EXPECT_FALSE(fs::exists(dir / "y" / "summary.json"));
  // A pool that is the labeled set itself, in order or not, is named (with --per-class the
  // folder serves).
  const auto labeled = ganaug::read_idx(dir / "data" / "train-images-idx3-ubyte",
                                        dir / "data" / "train-labels-idx1-ubyte");
  const auto reversed = torch::arange(labeled.size() - 1, -1, -1, torch::kInt64);
  fs::create_directories(dir / "reordered");
  ganaug::write_idx(
      dir / "reordered" / "images-idx3-ubyte", dir / "reordered" / "labels-idx1-ubyte",
      ganaug::read_idx_pixels(dir / "data" / "train-images-idx3-ubyte").index_select(0, reversed),
      labeled.labels.index_select(0, reversed));
  for (const auto& pool :
       {dir / "data" / "train-images-idx3-ubyte", dir / "reordered" / "images-idx3-ubyte"}) {
    const std::string same = "--data " + (dir / "data").string() + " --per-class 0 --unlabeled " +
                             pool.string() + " --gan-steps 2 --epochs 1 --n 6 --device cpu --out " +
                             (dir / "same").string();
    EXPECT_EQ(ganaug::testing::run_program(GANAUG_AUGMENT_EXE, same, &output), 1) << pool;
    EXPECT_NE(output.find("holds exactly the labeled images of"), std::string::npos) << output;
  }
  EXPECT_FALSE(fs::exists(dir / "same" / "summary.json"));
  ASSERT_EQ(ganaug::testing::run_program(GANAUG_AUGMENT_EXE,
                                         common + " --unlabeled " +
                                             (dir / "data" / "t10k-images-idx3-ubyte").string() +
                                             " --pseudo --strong randaugment:ops=1,p=0.5,fixed=1 "
                                             "--optimizer sgd --ema 0.9 --pool-ramp 0 "
                                             "--no-pool-target-dropout --out " +
                                             (dir / "z").string(),
                                         &output),
            0)
      << output;
  EXPECT_NE(output.find("\"unlabeled\""), std::string::npos) << output;
  EXPECT_NE(output.find("\"images\": 12"), std::string::npos) << output;
  // FixMatch's published settings, each a flag of its own, reach the run and its summary.
  for (const char* setting : {"\"strong_view\": \"randaugment:ops=1,cutout=0.5,p=0.5,fixed=1\"",
                              "\"pool_ramp_share\": 0.0", "\"pool_target_dropout\": false"})
    EXPECT_NE(output.find(setting), std::string::npos) << setting << " in " << output;
  // Each epoch's share of pool images over the threshold, in summary.json and report.html.
  {
    std::ifstream in(dir / "z" / "summary.json");
    const auto summary = nlohmann::json::parse(in);
    const auto& shares = summary["unlabeled"]["retrained"]["threshold_share"];
    ASSERT_EQ(shares.size(), 1u);  // --epochs 1
    EXPECT_TRUE(shares[0].get<double>() >= 0 && shares[0].get<double>() <= 1) << shares;
    std::ifstream page(dir / "z" / "report.html");
    const std::string html(std::istreambuf_iterator<char>(page), {});
    EXPECT_NE(html.find("Pool images over the threshold"), std::string::npos);
  }
  // Without those flags the pool recipe's: RandAugment, SGD, decay 5e-4, an average at 0.99, 3
  // pool images per labeled one (the epochs stay as given: --epochs 1).
  ASSERT_EQ(ganaug::testing::run_program(
                GANAUG_AUGMENT_EXE,
                common + " --unlabeled " + (dir / "data" / "t10k-images-idx3-ubyte").string() +
                    " --pseudo --pool-one-pass --out " + (dir / "recipe").string(),
                &output),
            0)
      << output;
  for (const char* setting :
       {"\"optimizer\": \"sgd\"", "\"weight_decay\": 0.0005", "\"ema_decay\": 0.99",
        "\"pool_ratio\": 3.0", "\"pool_one_pass\": true"})
    EXPECT_NE(output.find(setting), std::string::npos) << setting << " in " << output;
  EXPECT_NE(output.find("\"strong_view\": \"randaugment:ops=2,cutout=0.5\""), std::string::npos)
      << output;
  // The recipe's flags are checked, naming the flag.
  for (const auto& [bad, message] : std::vector<std::pair<std::string, std::string>>{
           {"--strong warp", "--strong: strong view: 'warp'"},
           {"--optimizer lamb", "--optimizer: unknown optimizer 'lamb'"},
           {"--ema 1.5", "--ema (the weight average's decay) must lie in [0, 1)"},
           {"--lr -0.1", "--lr must be positive"}}) {
    EXPECT_EQ(ganaug::testing::run_program(GANAUG_AUGMENT_EXE, common + " " + bad, &output), 2)
        << bad;
    EXPECT_NE(output.find(message), std::string::npos) << output;
  }
}

}  // namespace ganaug_tests_unlabeled
