// Exporting a generator for Python: the file is a pickled dict that PyTorch loads with
// weights_only=True, and python/ganaug_generator.py reproduces ganaug's images from it.

#include <gtest/gtest.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include <fstream>

#include "ganaug/error.hpp"
#include "ganaug/export.hpp"
#include "ganaug/gan.hpp"
#include "test_support.hpp"

// Each test file in a namespace of its own: the test executables compile several files as one
// translation unit (CMake unity builds), where their helpers must not meet.
namespace ganaug_tests_export {

namespace {

// A GAN of 16 x 16 images (or `size`) trained for 3 iterations on noise.
ganaug::GanTrainer trained_gan(int64_t size = 16) {
  ganaug::LabeledDataset data;
  data.images = torch::rand({24, 1, size, size}) * 2 - 1;
  data.labels = torch::arange(24, torch::kInt64).remainder(3);
  data.class_names = {"a", "b", "c"};
  data.source = "noise";
  ganaug::GanTrainer trainer(ganaug::testing::tiny_gan_options(3, 3, 4).image_size(size),
                             data.class_names);
  EXPECT_TRUE(trainer.train(data));
  return trainer;
}

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST(Export, WritesAPickledDictOfTheGeneratorsTensors) {
  ganaug::testing::TempDir dir;
  auto trainer = trained_gan();
  auto generator = trainer.sampling_generator();
  ganaug::export_generator(generator, trainer.class_names(), (dir / "g.pt").string());
  const auto bytes = read_bytes(dir / "g.pt");
  const auto file =
      torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end())).toGenericDict();
  EXPECT_EQ(file.at("format").toStringRef(), ganaug::kGeneratorExportFormat);
  EXPECT_EQ(file.at("num_classes").toInt(), 3);
  EXPECT_EQ(file.at("latent_dim").toInt(), 8);
  EXPECT_EQ(file.at("width").toInt(), 8);
  const auto state = file.at("state_dict").toGenericDict();
  const auto parameters = generator->named_parameters();
  EXPECT_EQ(state.size(), parameters.size() + generator->named_buffers().size());
  for (const auto& item : parameters) {
    ASSERT_TRUE(state.contains(item.key())) << item.key();
    EXPECT_TRUE(torch::equal(state.at(item.key()).toTensor(), item.value())) << item.key();
  }
  ganaug::testing::expect_error(
      [&] { ganaug::export_generator(generator, {"a"}, (dir / "h.pt").string()); },
      {"1 class names", "3 classes"});
}

// Python's copy of the generator (python/ganaug_generator.py) draws the images ganaug draws.
static void expect_python_reproduces_images(int64_t size) {
  const auto python = ganaug::testing::python_with_torch();
  if (python.empty()) GTEST_SKIP() << "no Python with PyTorch (apt-get install python3-torch)";
  ganaug::testing::TempDir dir;
  auto trainer = trained_gan(size);
  auto generator = trainer.sampling_generator();
  ganaug::export_generator(generator, trainer.class_names(), (dir / "g.pt").string());
  const auto classes = torch::arange(12, torch::kInt64).remainder(3);
  const auto noise = ganaug::latent_noise(9, 0, 12, 8);
  const auto images = ganaug::generate(generator, classes, 9);
  c10::Dict<std::string, at::Tensor> vectors;
  vectors.insert("noise", noise);
  vectors.insert("classes", classes);
  vectors.insert("images", images.contiguous());
  ganaug::save_for_python(c10::IValue(vectors), (dir / "vectors.pt").string());
  std::string output;
  const int status = ganaug::testing::run_program(
      python,
      std::string(GANAUG_SOURCE_DIR) + "/tests/scripts/check_python_export.py " +
          (dir / "g.pt").string() + " " + (dir / "vectors.pt").string(),
      &output);
  EXPECT_EQ(status, 0) << output;
}

TEST(Export, PythonReproducesGanaugsImages) { expect_python_reproduces_images(16); }

// Above 64 pixels the generator has one more upsampling stage per doubling.
TEST(Export, PythonReproducesGanaugsImagesAt128Pixels) { expect_python_reproduces_images(128); }

#ifdef GANAUG_EXPORT_EXE
TEST(Export, ToolWritesTheFileAndKeepsAnExistingOne) {
  ganaug::testing::TempDir dir;
  auto trainer = trained_gan();
  trainer.save_checkpoint((dir / "gan.pt").string());
  const auto arguments =
      "--generator " + (dir / "gan.pt").string() + " --out " + (dir / "g.pt").string();
  std::string output;
  ASSERT_EQ(ganaug::testing::run_program(GANAUG_EXPORT_EXE, arguments, &output), 0) << output;
  EXPECT_NE(output.find("3 classes"), std::string::npos) << output;
  const auto first = read_bytes(dir / "g.pt");
  EXPECT_FALSE(first.empty());
  // An existing file is kept unless --force.
  EXPECT_EQ(ganaug::testing::run_program(GANAUG_EXPORT_EXE, arguments, &output), 2);
  EXPECT_NE(output.find("--force"), std::string::npos) << output;
  EXPECT_EQ(ganaug::testing::run_program(GANAUG_EXPORT_EXE, arguments + " --force", &output), 0);
  EXPECT_EQ(read_bytes(dir / "g.pt"), first);
  // A missing checkpoint is named.
  EXPECT_EQ(ganaug::testing::run_program(
                GANAUG_EXPORT_EXE,
                "--generator " + (dir / "none.pt").string() + " --out " + (dir / "h.pt").string(),
                &output),
            1);
  EXPECT_NE(output.find("none.pt"), std::string::npos) << output;
  EXPECT_FALSE(std::filesystem::exists(dir / "h.pt"));
}

TEST(Export, TheToolNeverWritesOverTheCheckpointItReads) {
  ganaug::testing::TempDir dir;
  auto trainer = trained_gan();
  trainer.save_checkpoint((dir / "gan.pt").string());
  std::string output;
  // Not even with --force, by any spelling: --force would replace the checkpoint by the export.
  const auto checkpoint = read_bytes(dir / "gan.pt");
  for (const auto& spelling : {(dir / "gan.pt").string(), (dir / "." / "gan.pt").string()}) {
    EXPECT_EQ(ganaug::testing::run_program(
                  GANAUG_EXPORT_EXE,
                  "--generator " + (dir / "gan.pt").string() + " --out " + spelling + " --force",
                  &output),
              2);
    EXPECT_NE(output.find("is the --generator checkpoint itself"), std::string::npos) << output;
  }
  EXPECT_EQ(read_bytes(dir / "gan.pt"), checkpoint);
}
#endif

}  // namespace ganaug_tests_export
