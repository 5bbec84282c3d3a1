// libFuzzer target: image decoding as the folder loader does it: the input is written to a file
// and read with decode_image_u8() (format sniffing, the size guard, cv::imread, conform_image),
// three ways, then normalised as the loading pipeline does.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_support.hpp"
#include "ganaug/datasets/image.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = ganaug::fuzz::scratch_dir("image") / "input.png";
  ganaug::fuzz::write_file(path, data, size);
  const ganaug::ImageOptions choices[] = {
      ganaug::ImageOptions(),
      ganaug::ImageOptions().image_size(28).channels(1),
      ganaug::ImageOptions().image_size(28).channels(3),
  };
  for (const auto& options : choices) {
    // A failed decode must not leave a file open (OpenCV's HDR decoder did).
    const int descriptors_before = ganaug::fuzz::open_file_descriptors();
    ganaug::fuzz::run_guarded([&] {
      const cv::Mat image = ganaug::decode_image_u8(path, options);
      FUZZ_CHECK(image.depth() == CV_8U);
      FUZZ_CHECK(image.channels() == 1 || image.channels() == 3);
      if (options.channels() != 0) FUZZ_CHECK(image.channels() == options.channels());
      if (options.image_size() != 0) {
        FUZZ_CHECK(image.rows == options.image_size() && image.cols == options.image_size());
      }
      std::vector<float> chw(image.total() * static_cast<size_t>(image.channels()));
      ganaug::write_chw_normalized(image, chw.data());
    });
    FUZZ_CHECK(ganaug::fuzz::open_file_descriptors() <= descriptors_before);
  }
  return 0;
}
