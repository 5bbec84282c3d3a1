// libFuzzer target: the IDX reader (raw or gzip) on an images file and a labels file.
//
// Input layout: byte 0 = flags (bit 0: pass class names {"a","b","c"}), bytes 1-4 = length L of
// the images file (little-endian, clamped to what is left), then L bytes of images file, then
// the labels file. Either part may itself be gzip data: the reader sniffs 1f 8b.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_support.hpp"
#include "ganaug/datasets/idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  const uint8_t flags = data[0];
  const size_t declared =
      size_t{data[1]} | (size_t{data[2]} << 8) | (size_t{data[3]} << 16) | (size_t{data[4]} << 24);
  data += 5;
  size -= 5;
  const size_t images_size = std::min(declared, size);

  const auto& dir = ganaug::fuzz::scratch_dir("idx");
  const auto images = dir / "images-idx3-ubyte";
  const auto labels = dir / "labels-idx1-ubyte";
  ganaug::fuzz::write_file(images, data, images_size);
  ganaug::fuzz::write_file(labels, data + images_size, size - images_size);

  std::vector<std::string> class_names;
  if (flags & 1) class_names = {"a", "b", "c"};

  ganaug::fuzz::run_guarded([&] {
    const auto contents = ganaug::read_idx_contents(images, labels, class_names);
    // What a successful read promises.
    FUZZ_CHECK(contents.pixels.dim() == 4 && contents.pixels.size(1) == 1);
    FUZZ_CHECK(contents.pixels.scalar_type() == torch::kUInt8);
    FUZZ_CHECK(contents.labels.dim() == 1 && contents.labels.size(0) == contents.pixels.size(0));
    const int64_t* label = contents.labels.data_ptr<int64_t>();
    for (int64_t i = 0; i < contents.labels.size(0); ++i) {
      FUZZ_CHECK(label[i] >= 0 && label[i] < static_cast<int64_t>(contents.class_names.size()));
    }
  });
  return 0;
}
