// libFuzzer target: the CSV manifest reader, both forms (`path,label` and the soft-target
// `file,cond,label,p0..`). The input is the manifest. Its folder holds a few tiny images
// (a.png, b.png, images/00000000.png) so that rows naming them pass the existence check and the
// fuzzer reaches the label and soft-target parsing. Each input is read twice: without class
// names and with {"cat", "dog", "0"}.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_support.hpp"
#include "ganaug/datasets/csv_manifest.hpp"

namespace {

const std::filesystem::path& prepared_dir() {
  const auto& dir = ganaug::fuzz::scratch_dir("csv");
  static const bool ready = [&dir] {
    // A 1x1 gray PNG; the reader only checks that the files exist.
    static const uint8_t png[] = {
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
        0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00,
        0x00, 0x3a, 0x7e, 0x9b, 0x55, 0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78,
        0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 0x48, 0xaf, 0xa4, 0x71, 0x00,
        0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
    std::filesystem::create_directories(dir / "images");
    for (const char* name : {"a.png", "b.png", "images/00000000.png", "images/00000001.png"}) {
      ganaug::fuzz::write_file(dir / name, png, sizeof png);
    }
    return true;
  }();
  (void)ready;
  return dir;
}

void check_list(const ganaug::ImageList& list) {
  FUZZ_CHECK(!list.records.empty());
  const auto num_classes = static_cast<int64_t>(list.class_names.size());
  for (const auto& record : list.records) {
    FUZZ_CHECK(record.label >= -1 && record.label < num_classes);
    FUZZ_CHECK(record.label >= 0 || !record.target.empty());
    for (float p : record.target) FUZZ_CHECK(p >= 0.0f && p <= 1.0f);
  }
  (void)list.class_counts();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& dir = prepared_dir();
  const auto manifest = dir / "manifest.csv";
  ganaug::fuzz::write_file(manifest, data, size);
  ganaug::fuzz::run_guarded([&] { check_list(ganaug::read_csv_manifest(manifest)); });
  ganaug::fuzz::run_guarded([&] {
    check_list(ganaug::read_csv_manifest(manifest, {"cat", "dog", "0"}));
  });
  return 0;
}
