// The user's own network as the classifier: any torch::nn::Module, or a TorchScript file saved
// in Python (tests/scripts/make_classifier_modules.py), through the library and `augment`.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <torch/script.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "blobs.hpp"
#include "ganaug/classifier.hpp"
#include "ganaug/custom_network.hpp"
#include "ganaug/datasets/idx.hpp"
#include "test_support.hpp"
#include "tiny_data.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_custom_network {

namespace fs = std::filesystem;
using ganaug::testing::expect_error;

namespace {

// What a user's network may do wrong (or merely unusually: kInPlace normalises its input in
// place, a common idiom).
enum class Quirk {
  kNone,
  kPoison,            // NaN logits
  kNanInTraining,     // NaN logits in training mode only
  kThrowsInTraining,  // raises in training mode only
  kDetached,          // logits without a gradient
  kIntegerLogits,     // int64 logits
  kBatchDependent,    // at most 3 rows of logits, whatever the batch
  kBreaksBackward,    // an in-place operation on a tensor that autograd needs
  kInPlace,           // x -= 0.25; x /= 0.75 on its input
  kOutOfPlace,        // the same normalisation into a new tensor
  kLargeBatches,      // raises for batches of more than 5 (after the network check)
};

// A small network of the user's: convolution, batch norm, dropout (from LibTorch's global
// generator), a linear layer; `frozen` asks no gradient of any parameter; `quirk` as above.
class UserNetImpl : public torch::nn::Module {
 public:
  UserNetImpl(int64_t channels, int64_t outputs, bool frozen = false, Quirk quirk = Quirk::kNone)
      : quirk_(quirk) {
    conv_ = register_module("conv",
                            torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, 4, 3).padding(1)));
    norm_ = register_module("norm", torch::nn::BatchNorm2d(4));
    dropout_ = register_module("dropout", torch::nn::Dropout(0.2));
    output_ = register_module("output", torch::nn::Linear(4 * 8 * 8, outputs));
    if (frozen)
      for (auto& p : parameters()) p.set_requires_grad(false);
  }
  torch::Tensor forward(torch::Tensor x) {
    constexpr float nan = std::numeric_limits<float>::quiet_NaN();
    if (quirk_ == Quirk::kInPlace) {
      torch::NoGradGuard no_grad;
      x.sub_(0.25).div_(0.75);
    }
    if (quirk_ == Quirk::kThrowsInTraining && is_training())
      throw std::runtime_error("this network cannot train");
    if (quirk_ == Quirk::kLargeBatches && x.size(0) > 5)
      throw std::runtime_error("too many images\nframe #0: [somewhere]");
    if (quirk_ == Quirk::kOutOfPlace) x = (x - 0.25) / 0.75;
    auto hidden = torch::relu(norm_(conv_(x)));
    if (quirk_ == Quirk::kBreaksBackward) hidden.mul_(2);
    auto logits = output_(dropout_(hidden.flatten(1)));
    switch (quirk_) {
      case Quirk::kPoison:
        return logits * nan;
      case Quirk::kNanInTraining:
        return is_training() ? logits * nan : logits;
      case Quirk::kDetached:
        return logits.detach();
      case Quirk::kIntegerLogits:
        return logits.to(torch::kInt64);
      case Quirk::kBatchDependent:
        return logits.narrow(0, 0, std::min<int64_t>(3, x.size(0)));
      default:
        return logits;
    }
  }

 private:
  Quirk quirk_;
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::BatchNorm2d norm_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear output_{nullptr};
};
TORCH_MODULE(UserNet);

// A CustomNetwork that makes UserNet(args...) with weights drawn from a seeded generator, the
// same every time.
template <typename... Args>
ganaug::CustomNetwork user_net(const std::string& name, Args... args) {
  ganaug::CustomNetwork network;
  network.name = name;
  network.make = [args...] {
    torch::manual_seed(5);
    return torch::nn::AnyModule(UserNet(args...));
  };
  return network;
}

ganaug::ClassifierOptions blob_options(const ganaug::CustomNetwork& network, int64_t outputs = 3) {
  return ganaug::ClassifierOptions(outputs, 8, 1)
      .custom(network)
      .epochs(20)
      .batch_size(16)
      .device("cpu")
      .prefetch(0);
}

std::vector<torch::Tensor> weights(ganaug::Classifier& model) {
  std::vector<torch::Tensor> out;
  for (const auto& p : model->parameters()) out.push_back(p.detach().clone());
  for (const auto& b : model->buffers()) out.push_back(b.detach().clone());
  return out;
}

bool same(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i], b[i])) return false;
  return true;
}

std::string script(const std::string& name) {
  return std::string(GANAUG_SOURCE_DIR) + "/tests/scripts/" + name;
}

// The TorchScript modules of make_classifier_modules.py for C x S x S images and K classes, in
// `dir`; false when there is no Python with PyTorch.
bool make_script_modules(const std::string& python, const fs::path& dir, int64_t channels,
                         int64_t size, int64_t classes) {
  std::string output;
  const int status = ganaug::testing::run_program(
      python,
      script("make_classifier_modules.py") + " " + dir.string() + " " + std::to_string(channels) +
          " " + std::to_string(size) + " " + std::to_string(classes),
      &output);
  EXPECT_EQ(status, 0) << output;
  return status == 0;
}

void write_floats(const fs::path& path, const torch::Tensor& values) {
  const auto flat = values.detach().to(torch::kFloat32).contiguous();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(flat.data_ptr<float>()),
            static_cast<std::streamsize>(flat.numel() * sizeof(float)));
}

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

#define SKIP_WITHOUT_PYTHON(python)                         \
  const auto python = ganaug::testing::python_with_torch(); \
  if (python.empty()) GTEST_SKIP() << "no Python with PyTorch (apt-get install python3-torch)"

}  // namespace

TEST(CustomNetwork, AnyTorchModuleTrainsAsTheClassifierFromItsOwnWeights) {
  const auto data = ganaug::testing::blobs(20, 1);
  const auto network = user_net("user-net", int64_t{1}, int64_t{3});
  ganaug::Classifier built(blob_options(network));
  EXPECT_EQ(built->options.network(), ganaug::ClassifierArchitecture::kCustom);
  EXPECT_EQ(ganaug::to_string(built->options.network()), "custom");
  // reset_parameters keeps the network's own weights (a pretrained network starts from them).
  const auto made = weights(built);
  built->reset_parameters(3);
  EXPECT_TRUE(same(weights(built), made));

  auto first = ganaug::train_classifier(data, nullptr, blob_options(network).seed(1));
  auto again = ganaug::train_classifier(data, nullptr, blob_options(network).seed(1));
  auto other = ganaug::train_classifier(data, nullptr, blob_options(network).seed(2));
  EXPECT_TRUE(same(weights(first), weights(again)));  // dropout and batches from the seed
  EXPECT_FALSE(same(weights(first), weights(other)));
  EXPECT_FALSE(same(weights(first), made));
  const auto metrics_input = ganaug::testing::blobs(10, 9);
  const auto probabilities = ganaug::predict_probabilities(first, metrics_input.images, 3);
  const double accuracy =
      probabilities.argmax(1).eq(metrics_input.labels).to(torch::kFloat64).mean().item<double>();
  EXPECT_GT(accuracy, 0.8);
}

TEST(CustomNetwork, ModulesThatDoNotFitAreRefusedNamingWhatWasExpected) {
  const auto data = ganaug::testing::blobs(4, 1);
  const auto train = [&](const ganaug::CustomNetwork& network, int64_t outputs = 3) {
    ganaug::train_classifier(data, nullptr, blob_options(network, outputs));
  };
  expect_error([&] { train(user_net("two-outputs", int64_t{1}, int64_t{2})); },
               {"two-outputs", "[3, 2]", "expected 3 x 3", "newclass"});
  expect_error([&] { train(user_net("k-outputs", int64_t{1}, int64_t{3}), 4); },
               {"k-outputs", "expected 3 x 4"});
  expect_error([&] { train(user_net("rgb", int64_t{3}, int64_t{3})); },
               {"rgb", "does not take 3 x 1 x 8 x 8 images"});
  expect_error([&] { train(user_net("frozen", int64_t{1}, int64_t{3}, true)); },
               {"frozen", "no trainable parameters"});
  // What fails only in training, or only at the backward pass, is refused before training too.
  const auto quirky = [](const std::string& name, Quirk quirk) {
    return user_net(name, int64_t{1}, int64_t{3}, false, quirk);
  };
  const std::vector<std::pair<Quirk, std::vector<std::string>>> refused = {
      {Quirk::kPoison, {"NaN or infinite logits", "evaluation mode"}},
      {Quirk::kNanInTraining, {"NaN or infinite logits", "training mode"}},
      {Quirk::kThrowsInTraining, {"does not take 5 x 1 x 8 x 8", "training mode", "cannot train"}},
      {Quirk::kDetached, {"carry no gradient"}},
      {Quirk::kIntegerLogits, {"Long logits", "float32"}},
      {Quirk::kBatchDependent, {"[3, 3] logits for 5 images", "training mode"}},
      {Quirk::kBreaksBackward, {"backward pass through it fails", "inplace"}}};
  for (const auto& [quirk, parts] : refused) {
    auto expected = parts;
    expected.push_back("quirky");
    expect_error([&, quirk = quirk] { train(quirky("quirky", quirk)); }, expected);
  }
  // A failure the check cannot see is named with the network when it comes; the whole message
  // only in the source-location tail (printed with --verbose).
  try {
    train(quirky("late", Quirk::kLargeBatches));
    ADD_FAILURE() << "a network that fails on batches of more than 5 images trained";
  } catch (const ganaug::Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(
        what.rfind("the classifier late failed on a batch of 12 images: too many images [", 0), 0u)
        << what;
    EXPECT_NE(what.find("frame #0: (somewhere)]"), std::string::npos) << what;
  }
  ganaug::CustomNetwork empty;
  empty.name = "empty";
  empty.make = [] { return torch::nn::AnyModule(); };
  expect_error([&] { train(empty); }, {"empty", "made no network"});
}

// A network that changes its input in place changes nothing of ganaug's: each pass gets its own
// copy of the images, so it trains and predicts as the same network written out of place.
TEST(CustomNetwork, ANetworkThatNormalisesItsInputInPlaceLeavesTheImagesAlone) {
  const auto data = ganaug::testing::blobs(20, 1);
  const auto test = ganaug::testing::blobs(10, 99);
  const auto kept = test.images.clone();
  const auto made = [](Quirk quirk) {
    return user_net("net", int64_t{1}, int64_t{3}, false, quirk);
  };
  auto in_place = ganaug::train_classifier(data, nullptr, blob_options(made(Quirk::kInPlace)));
  auto out_of_place =
      ganaug::train_classifier(data, nullptr, blob_options(made(Quirk::kOutOfPlace)));
  EXPECT_TRUE(same(weights(in_place), weights(out_of_place)));
  const auto p = ganaug::predict_probabilities(in_place, test.images, 3, 7);
  EXPECT_TRUE(torch::equal(test.images, kept)) << "the network changed the images it was given";
  EXPECT_TRUE(torch::equal(p, ganaug::predict_probabilities(out_of_place, test.images, 3, 7)));
  EXPECT_TRUE(torch::equal(p, ganaug::predict_probabilities(in_place, test.images, 3, 7)));
}

TEST(CustomNetwork, ScriptFilesThatCannotBeLoadedAreNamed) {
  ganaug::testing::TempDir dir;
  expect_error([&] { ganaug::script_network((dir / "none.pt").string()); },
               {"none.pt", "does not exist", "torch.jit.script"});
  ganaug::testing::write_text(dir / "text.pt", "not a module\n");
  expect_error([&] { ganaug::script_network((dir / "text.pt").string()); },
               {"text.pt", "is not a TorchScript module"});
}

TEST(CustomNetwork, ScriptedModuleTrainsAndPythonLoadsItWithTheSameLogits) {
  SKIP_WITHOUT_PYTHON(python);
  ganaug::testing::TempDir dir;
  ASSERT_TRUE(make_script_modules(python, dir.path(), 1, 8, 3));
  const auto data = ganaug::testing::blobs(20, 1);
  const auto file = (dir / "cnn.pt").string();
  const auto network = ganaug::script_network(file);
  // It starts from its saved weights, every time (the file is never written).
  auto saved = torch::jit::load(file);
  ganaug::Classifier built(blob_options(network));
  built->reset_parameters(0);
  std::vector<torch::Tensor> from_file;
  for (const auto& p : saved.parameters()) from_file.push_back(p.detach().clone());
  std::vector<torch::Tensor> from_model;
  for (const auto& p : built->parameters()) from_model.push_back(p.detach().clone());
  EXPECT_TRUE(same(from_model, from_file));

  auto trained = ganaug::train_classifier(data, nullptr, blob_options(network).epochs(30).seed(4));
  auto again = ganaug::train_classifier(data, nullptr, blob_options(network).epochs(30).seed(4));
  EXPECT_TRUE(same(weights(trained), weights(again)));
  EXPECT_FALSE(same(weights(trained), from_file));
  ganaug::Classifier fresh(blob_options(network));
  std::vector<torch::Tensor> fresh_weights;
  for (const auto& p : fresh->parameters()) fresh_weights.push_back(p.detach().clone());
  EXPECT_TRUE(same(fresh_weights, from_file));  // training changed a copy
  for (const auto& p : trained->parameters()) EXPECT_TRUE(p.is_leaf() && p.requires_grad());

  const auto test = ganaug::testing::blobs(10, 9);
  torch::Tensor logits;
  {
    torch::NoGradGuard no_grad;
    trained->eval();
    logits = trained(test.images);
  }
  EXPECT_GT(logits.argmax(1).eq(test.labels).to(torch::kFloat64).mean().item<double>(), 0.8);
  ganaug::save_classifier_script(trained, (dir / "trained.pt").string());
  write_floats(dir / "images.f32", test.images);
  write_floats(dir / "logits.f32", logits);
  std::string output;
  EXPECT_EQ(
      ganaug::testing::run_program(
          python,
          script("check_classifier_logits.py") + " " + (dir / "trained.pt").string() + " " +
              (dir / "images.f32").string() + " " + (dir / "logits.f32").string() + " 30 1 8 3",
          &output),
      0)
      << output;
  // A built-in network has no TorchScript form.
  auto builtin = ganaug::train_classifier(
      data, nullptr, ganaug::ClassifierOptions(3, 8, 1).epochs(1).device("cpu"));
  expect_error([&] { ganaug::save_classifier_script(builtin, (dir / "b.pt").string()); },
               {"TorchScript", "b.pt"});
  EXPECT_FALSE(fs::exists(dir / "b.pt"));
}

TEST(CustomNetwork, ScriptedBatchNormIsRecalibratedToTheImagesStatistics) {
  SKIP_WITHOUT_PYTHON(python);
  ganaug::testing::TempDir dir;
  ASSERT_TRUE(make_script_modules(python, dir.path(), 1, 8, 3));
  const auto data = ganaug::testing::blobs(20, 1);  // 60 images
  ganaug::Classifier model(
      blob_options(ganaug::script_network((dir / "normalised_input.pt").string())));
  ganaug::recalibrate_batchnorm(model, data.images, 30);  // two batches of 30
  torch::Tensor mean, var;
  for (const auto& b : model->named_buffers()) {
    if (b.key().find("running_mean") != std::string::npos) mean = b.value();
    if (b.key().find("running_var") != std::string::npos) var = b.value();
  }
  ASSERT_TRUE(mean.defined() && var.defined());
  const auto halves = data.images.split(30);
  const auto expected_mean = (halves[0].mean() + halves[1].mean()) / 2;
  const auto expected_var = (halves[0].var() + halves[1].var()) / 2;  // unbiased, as batch norm
  EXPECT_NEAR(mean.item<double>(), expected_mean.item<double>(), 1e-5);
  EXPECT_NEAR(var.item<double>(), expected_var.item<double>(), 1e-4);
  EXPECT_FALSE(model->is_training());
  // A module traced in evaluation mode never updates its statistics in training mode: they
  // stay as saved rather than being reset.
  ganaug::Classifier traced(
      blob_options(ganaug::script_network((dir / "traced_eval.pt").string())));
  ganaug::recalibrate_batchnorm(traced, data.images, 30);
  for (const auto& b : traced->named_buffers()) {
    if (b.key().find("running_mean") != std::string::npos) {
      EXPECT_FLOAT_EQ(b.value().item<float>(), 0.25f);
    }
    if (b.key().find("running_var") != std::string::npos) {
      EXPECT_FLOAT_EQ(b.value().item<float>(), 4.0f);
    }
  }
}

#ifdef GANAUG_AUGMENT_EXE
namespace {
int run_augment(const std::string& arguments, std::string* output) {
  return ganaug::testing::run_program(GANAUG_AUGMENT_EXE, arguments, output);
}
}  // namespace

TEST(CustomNetwork, AugmentTrainsTheUsersScriptedClassifierWithAndWithoutSyntheticImages) {
  SKIP_WITHOUT_PYTHON(python);
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");  // 3 classes of 16 x 16 gray images
  ASSERT_TRUE(make_script_modules(python, dir.path(), 1, 16, 3));
  const auto common =
      "--data " + (dir / "data").string() +
      " --per-class 0 --gan-steps 3 --epochs 2 --device cpu --threads 2 --quiet --classifier " +
      (dir / "cnn.pt").string();
  for (const int n : {0, 12}) {
    const auto out = dir / ("out-" + std::to_string(n));
    std::string output;
    ASSERT_EQ(run_augment(common + " --n " + std::to_string(n) + " --out " + out.string(), &output),
              0)
        << output;
    const auto summary = read_json(out / "summary.json");
    EXPECT_EQ(summary["classifier"]["file"], (dir / "cnn.pt").string());
    for (const char* model : {"baseline", "retrained"}) {
      const auto file = out / ("classifier-" + std::string(model) + ".pt");
      EXPECT_EQ(summary["classifier"][model], file.filename().string());
      ASSERT_TRUE(fs::exists(file)) << file;
      // Python loads what was trained.
      EXPECT_EQ(ganaug::testing::run_program(
                    python,
                    "-c 'import torch; m = torch.jit.load(\"" + file.string() +
                        "\"); m.eval(); assert m(torch.zeros(2, 1, 16, 16)).shape == (2, 3)'",
                    &output),
                0)
          << output;
    }
    const double accuracy = summary["retrained"]["accuracy"].get<double>();
    EXPECT_TRUE(accuracy >= 0 && accuracy <= 1) << accuracy;
  }
}

TEST(CustomNetwork, AugmentRefusesAClassifierThatDoesNotFitBeforeWritingAnything) {
  SKIP_WITHOUT_PYTHON(python);
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  ASSERT_TRUE(make_script_modules(python, dir.path(), 1, 16, 3));
  const auto common =
      "--data " + (dir / "data").string() +
      " --per-class 0 --gan-steps 3 --epochs 1 --n 6 --device cpu --threads 2 --quiet --out " +
      (dir / "out").string() + " --classifier ";
  const std::vector<std::pair<std::string, std::vector<std::string>>> misfits = {
      {"other_channels.pt", {"other_channels.pt", "does not take 3 x 1 x 16 x 16 images"}},
      {"other_size.pt", {"other_size.pt", "does not take 3 x 1 x 16 x 16 images"}},
      {"frozen.pt", {"frozen.pt", "no trainable parameters"}},
      {"nan.pt", {"nan.pt", "NaN or infinite logits"}},
      {"missing.pt", {"missing.pt", "does not exist"}},
      {"", {"is not a regular file"}},  // the folder itself
      {"not_a_module.pt", {"not_a_module.pt", "not a TorchScript module"}},
      {"not_a_module.pt", {"not_a_module.pt", "not a TorchScript module"}},
      {"cnn.pt --scheme newclass", {"cnn.pt", "expected 3 x 4", "newclass"}}};
  for (const auto& [file, parts] : misfits) {
    std::string output;
    EXPECT_EQ(run_augment(common + (dir / file).string(), &output), 1) << file << output;
    for (const auto& part : parts)
      EXPECT_NE(output.find(part), std::string::npos) << part << " not in: " << output;
    EXPECT_FALSE(fs::exists(dir / "out")) << file;
  }
  // K + 1 outputs fit newclass; a name that is neither a network nor a file is a usage error.
  std::string output;
  EXPECT_EQ(
      run_augment(common + (dir / "cnn_newclass.pt").string() + " --scheme newclass --no-retrain",
                  &output),
      0)
      << output;
  EXPECT_EQ(run_augment("--classifier vgg", &output), 2);
  EXPECT_NE(output.find("TorchScript file"), std::string::npos) << output;
  // A flag that does not apply to a user's network is refused, not ignored.
  EXPECT_EQ(run_augment(common + (dir / "cnn.pt").string() + " --classifier-width 64", &output), 2);
  EXPECT_NE(output.find("--classifier-width sets the width of the built-in networks"),
            std::string::npos)
      << output;
}
#endif

// A scripted network that normalises its input in place gives what the same network written out
// of place gives: the test set, the argmax labeller's images and the pool are not changed.
TEST(CustomNetwork, AugmentWithANetworkThatChangesItsInputInPlaceMeasuresTheSameImages) {
  SKIP_WITHOUT_PYTHON(python);
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  ASSERT_TRUE(make_script_modules(python, dir.path(), 1, 16, 3));
  std::map<std::string, nlohmann::json> summaries;
  std::map<std::string, std::string> labels;
  for (const std::string net : {"in_place", "out_of_place"}) {
    const auto out = dir / ("out-" + net);
    std::string output;
    ASSERT_EQ(run_augment("--data " + (dir / "data").string() +
                              " --per-class 0 --gan-steps 3 --epochs 2 --n 12 --scheme argmax"
                              " --device cpu --threads 2 --quiet --out " +
                              out.string() + " --classifier " + (dir / (net + ".pt")).string(),
                          &output),
              0)
        << output;
    summaries[net] = read_json(out / "summary.json");
    std::ifstream in(out / "labels.csv");
    labels[net].assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  for (const char* model : {"baseline", "retrained"})
    EXPECT_EQ(summaries["in_place"][model]["accuracy"],
              summaries["out_of_place"][model]["accuracy"])
        << model;
  EXPECT_EQ(labels["in_place"], labels["out_of_place"]);
  for (int i = 0; i < 12; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "images/%08d.png", i);
    std::ifstream a(dir / "out-in_place" / name, std::ios::binary),
        b(dir / "out-out_of_place" / name, std::ios::binary);
    EXPECT_TRUE(std::equal(std::istreambuf_iterator<char>(a), std::istreambuf_iterator<char>(),
                           std::istreambuf_iterator<char>(b), std::istreambuf_iterator<char>()))
        << name;
  }
}

// A run stuck in a user's forward that never returns: a second Ctrl-C ends it at once, and so
// does one SIGTERM after its grace period (tools/cli_common.hpp).
TEST(CustomNetwork, ASecondCtrlCOrASigtermEndsARunStuckInTheUsersForward) {
  SKIP_WITHOUT_PYTHON(python);
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  ASSERT_TRUE(make_script_modules(python, dir.path(), 1, 16, 3));
  for (const bool term : {false, true}) {
    std::vector<std::string> args{GANAUG_AUGMENT_EXE,
                                  "--data",
                                  (dir / "data").string(),
                                  "--per-class",
                                  "0",
                                  "--device",
                                  "cpu",
                                  "--quiet",
                                  "--out",
                                  (dir / (term ? "term" : "int")).string(),
                                  "--classifier",
                                  (dir / "endless.pt").string()};
    const pid_t pid = ganaug::testing::spawn_program(args);
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::seconds(3));  // loaded, inside the forward
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, WNOHANG), 0) << "the run ended before the signal";
    const auto start = std::chrono::steady_clock::now();
    ASSERT_EQ(kill(pid, term ? SIGTERM : SIGINT), 0);
    if (!term) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      ASSERT_EQ(waitpid(pid, &status, WNOHANG), 0) << "one Ctrl-C waits for a safe point";
      ASSERT_EQ(kill(pid, SIGINT), 0);
    }
    // Polled, so that a run that ignores the signals fails the test instead of hanging it.
    pid_t ended = 0;
    while (ended == 0 && std::chrono::steady_clock::now() - start < std::chrono::seconds(60)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      ended = waitpid(pid, &status, WNOHANG);
    }
    if (ended == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      FAIL() << (term ? "SIGTERM" : "a second Ctrl-C") << " did not end the run";
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 128 + (term ? SIGTERM : SIGINT));
    EXPECT_LT(seconds, term ? 10.0 + 20 : 20.0);
    if (term) {
      EXPECT_GE(seconds, 9.0) << "SIGTERM first waits for a safe point";
    }
    EXPECT_FALSE(fs::exists(dir / (term ? "term" : "int") / "summary.json"));
  }
}

// --force empties the output folder: a classifier file inside it is refused first, as a
// generator checkpoint is, by both tools.
TEST(CustomNetwork, ForceNeverDeletesTheUsersClassifierFile) {
  SKIP_WITHOUT_PYTHON(python);
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  const auto out = dir / "out";
  fs::create_directories(out / "nets");
  ASSERT_TRUE(make_script_modules(python, out / "nets", 1, 16, 3));
  const auto net = (out / "nets" / "cnn.pt").string();
  std::string output;
  EXPECT_EQ(run_augment("--data " + (dir / "data").string() +
                            " --per-class 0 --gan-steps 3 --epochs 1 --n 6 --device cpu --quiet"
                            " --force --out " +
                            out.string() + " --classifier " + net,
                        &output),
            1)
      << output;
  EXPECT_NE(output.find("holds the classifier file " + net + ": --force would delete it"),
            std::string::npos)
      << output;
  EXPECT_TRUE(fs::exists(net));
#ifdef GANAUG_BENCH_EXE
  EXPECT_EQ(ganaug::testing::run_program(GANAUG_BENCH_EXE,
                                         "--data " + (dir / "data").string() +
                                             " --sizes 3 --seeds 1 --schemes none --device cpu"
                                             " --force --out " +
                                             (dir / "out").string() + " --classifier " + net,
                                         &output),
            1)
      << output;
  EXPECT_NE(output.find("--force would delete it"), std::string::npos) << output;
  EXPECT_TRUE(fs::exists(net));
#endif
}

#ifdef GANAUG_BENCH_EXE
TEST(CustomNetwork, AugmentBenchMeasuresTheGainsOfTheUsersClassifier) {
  SKIP_WITHOUT_PYTHON(python);
  ganaug::testing::TempDir dir;
  ganaug::testing::write_tiny_idx(dir / "data");
  ASSERT_TRUE(make_script_modules(python, dir.path(), 1, 16, 3));
  const auto common = "--data " + (dir / "data").string() +
                      " --sizes 3 --seeds 1 --schemes none,cond --multiples 1 --gan-steps 2"
                      " --epochs 1 --reference-epochs 1 --metric-samples 12 --device cpu --out " +
                      (dir / "out").string() + " --classifier ";
  std::string output;
  ASSERT_EQ(
      ganaug::testing::run_program(GANAUG_BENCH_EXE, common + (dir / "cnn.pt").string(), &output),
      0)
      << output;
  const auto results = read_json(dir / "out" / "results.json");
  EXPECT_EQ(results["settings"]["classifier"], "custom");
  EXPECT_EQ(results["settings"]["classifier_file_hash"].get<std::string>().size(), 16u);
  // Another file is another classifier: the finished cells are not resumed with it.
  fs::copy_file(dir / "normalised_input.pt", dir / "other.pt");
  EXPECT_EQ(ganaug::testing::run_program(
                GANAUG_BENCH_EXE, common + (dir / "other.pt").string() + " --resume", &output),
            1)
      << output;
  EXPECT_NE(output.find("classifier_file_hash"), std::string::npos) << output;
  // The grid's classifiers have K outputs, newclass's K + 1: refused before anything trains.
  EXPECT_NE(ganaug::testing::run_program(
                GANAUG_BENCH_EXE,
                "--data " + (dir / "data").string() +
                    " --sizes 3 --seeds 1 --schemes none,newclass --device cpu"
                    " --out " +
                    (dir / "out2").string() + " --classifier " + (dir / "cnn.pt").string(),
                &output),
            0);
  EXPECT_FALSE(fs::exists(dir / "out2" / "results.json"));
  EXPECT_NE(output.find("leave newclass out of --schemes"), std::string::npos) << output;
}
#endif

}  // namespace ganaug_tests_custom_network
