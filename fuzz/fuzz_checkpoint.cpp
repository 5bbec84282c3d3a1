// libFuzzer target: loading a GAN checkpoint, ganaug::load_generator(path, "cpu"), on the input
// written to a file.
//
// LibTorch is not instrumented, so libFuzzer sees coverage only in ganaug's own code, and the
// zip container checks CRCs: byte mutations mostly end in "damaged archive". The seed corpus
// (fuzz_make_corpus) therefore holds hand-made archives whose fields have wrong types, values
// out of range and tensors of the wrong shape. A loaded generator must also run.

#include <torch/torch.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"
#include "ganaug/gan.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = ganaug::fuzz::scratch_dir("checkpoint") / "checkpoint.pt";
  ganaug::fuzz::write_file(path, data, size);
  ganaug::fuzz::run_guarded([&] {
    const auto checkpoint = ganaug::load_generator(path.string(), "cpu");
    FUZZ_CHECK(!checkpoint.generator.is_empty());
    FUZZ_CHECK(static_cast<int64_t>(checkpoint.class_names.size()) ==
               checkpoint.options.num_classes());
    // Its tensors must be those of the architecture its options describe (LibTorch's loader
    // replaces a parameter by the stored tensor whatever its shape).
    const ganaug::Generator fresh(checkpoint.options.generator_options());
    const auto expected = fresh->named_parameters();
    const auto loaded = checkpoint.generator->named_parameters();
    FUZZ_CHECK(expected.size() == loaded.size());
    for (const auto& item : expected) {
      FUZZ_CHECK(loaded.contains(item.key()));
      FUZZ_CHECK(loaded[item.key()].sizes() == item.value().sizes());
    }
    // A loaded generator must be usable: one image for each of the first two classes.
    auto generator = checkpoint.generator;
    const auto classes =
        torch::arange(std::min<int64_t>(2, checkpoint.options.num_classes()), torch::kInt64);
    const auto images = ganaug::generate(generator, classes, /*seed=*/0, 0, /*batch_size=*/2);
    const auto& o = checkpoint.options;
    FUZZ_CHECK(images.dim() == 4 && images.size(0) == classes.size(0) &&
               images.size(1) == o.channels() && images.size(2) == o.image_size() &&
               images.size(3) == o.image_size());
  });
  return 0;
}
