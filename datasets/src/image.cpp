#include "ganaug/datasets/image.hpp"

#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "ganaug/error.hpp"

namespace ganaug {

cv::Mat conform_image(const cv::Mat& decoded, const ImageOptions& options,
                      const std::string& source) {
  GANAUG_CHECK(options.channels() == 0 || options.channels() == 1 || options.channels() == 3,
               "channels must be 0 (as stored), 1 or 3, got ", options.channels());
  GANAUG_CHECK(options.image_size() >= 0 && options.image_size() <= kMaxImageSide,
               "the image size must be 0 (as stored) or from 1 to ", kMaxImageSide, ", got ",
               options.image_size());
  cv::Mat image = decoded;
  switch (image.depth()) {
    case CV_8U:
      break;
    case CV_16U:
      image.convertTo(image, CV_8U, 1.0 / 257.0);
      break;
    case CV_32F:  // OpenCV decodes HDR formats to floats in [0, 1]
      image.convertTo(image, CV_8U, 255.0);
      break;
    default:
      GANAUG_FAIL("unsupported pixel depth (OpenCV depth ", image.depth(), ") in ", source);
  }
  if (image.channels() == 2) {  // gray + alpha
    cv::extractChannel(image, image, 0);
  }
  GANAUG_CHECK(image.channels() == 1 || image.channels() == 3 || image.channels() == 4,
               "unsupported channel count ", image.channels(), " in ", source);
  const int wanted = options.channels() != 0 ? static_cast<int>(options.channels())
                     : image.channels() == 1 ? 1
                                             : 3;
  cv::Mat converted;
  if (wanted == 1) {
    if (image.channels() == 1)
      converted = image;
    else
      cv::cvtColor(image, converted,
                   image.channels() == 3 ? cv::COLOR_BGR2GRAY : cv::COLOR_BGRA2GRAY);
  } else {
    const int code = image.channels() == 1   ? cv::COLOR_GRAY2RGB
                     : image.channels() == 3 ? cv::COLOR_BGR2RGB
                                             : cv::COLOR_BGRA2RGB;
    cv::cvtColor(image, converted, code);
  }
  const int size = static_cast<int>(options.image_size());
  if (size > 0 && (converted.cols != size || converted.rows != size)) {
    const bool shrinking = size < converted.cols || size < converted.rows;
    cv::Mat resized;
    cv::resize(converted, resized, cv::Size(size, size), 0, 0,
               shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
    converted = resized;
  }
  return converted;
}

namespace {

// The format a file's first bytes say it is, and the size its header claims (0 when not found).
struct ImageHeader {
  const char* format = nullptr;
  int64_t width = 0, height = 0;
};

ImageHeader sniff_image(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string head(256 * 1024, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  const auto byte = [&](size_t i) -> int64_t {
    return i < head.size() ? static_cast<unsigned char>(head[i]) : 0;
  };
  const auto be32 = [&](size_t i) {
    return byte(i) << 24 | byte(i + 1) << 16 | byte(i + 2) << 8 | byte(i + 3);
  };
  const auto le32 = [&](size_t i) {
    return static_cast<int64_t>(static_cast<int32_t>(
        static_cast<uint32_t>(byte(i) | byte(i + 1) << 8 | byte(i + 2) << 16 | byte(i + 3) << 24)));
  };
  ImageHeader out;
  if (head.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0) {
    out = {"PNG", be32(16), be32(20)};
  } else if (head.compare(0, 2, "BM") == 0) {
    out = {"BMP", std::abs(le32(18)), std::abs(le32(22))};
  } else if (byte(0) == 0xff && byte(1) == 0xd8 && byte(2) == 0xff) {
    out.format = "JPEG";
    // Walk the markers to the frame header (SOF0..SOF15 but DHT, JPG and DAC). Bytes that are
    // not a marker, and 0xff fill bytes, are skipped as libjpeg skips them (it only warns of
    // "extraneous bytes"), so a frame header after them is sized too.
    for (size_t at = 2; at + 9 < head.size();) {
      if (byte(at) != 0xff || byte(at + 1) == 0xff) {
        ++at;
        continue;
      }
      const int64_t marker = byte(at + 1);
      if (marker == 0x00 || marker == 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
        at += 2;  // stuffed byte, TEM, RSTn, SOI: no length field
        continue;
      }
      const auto length = static_cast<size_t>(byte(at + 2) << 8 | byte(at + 3));
      if (marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc) {
        out.height = byte(at + 5) << 8 | byte(at + 6);
        out.width = byte(at + 7) << 8 | byte(at + 8);
        break;
      }
      at += 2 + length;
    }
  }
  return out;
}

}  // namespace

cv::Mat decode_image_u8(const std::filesystem::path& path, const ImageOptions& options) {
  std::error_code error;
  GANAUG_CHECK(std::filesystem::is_regular_file(path, error), "image not found: ", path.string());
  // Only the decoders of the formats ganaug reads are reached (OpenCV picks a decoder by
  // content, and some of its others leak or allocate what a damaged header claims), and no
  // image is decoded whose header claims more pixels than any data set here could use.
  const auto header = sniff_image(path);
  GANAUG_CHECK(header.format != nullptr,
               "cannot decode image: it is not a PNG, JPEG or BMP file "
               "(by its first bytes): ",
               path.string());
  // In floating point: each side may be up to 2^32 - 1, and their product overflows int64.
  GANAUG_CHECK(static_cast<double>(header.width) * static_cast<double>(header.height) <=
                   static_cast<double>(kMaxDecodedPixels),
               "image claims to be ", header.width, " x ", header.height, " pixels, more than the ",
               kMaxDecodedPixels,
               " ganaug decodes (a damaged header or a far too large image): ", path.string());
  cv::Mat decoded;
  try {
    decoded = cv::imread(path.string(), cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    GANAUG_FAIL("cannot decode image (", e.what(), "): ", path.string());
  }
  GANAUG_CHECK(!decoded.empty(),
               "cannot decode image (unreadable, corrupt or not an image): ", path.string());
  return conform_image(decoded, options, path.string());
}

void write_chw_normalized(const cv::Mat& image_u8, float* out) {
  const int height = image_u8.rows;
  const int width = image_u8.cols;
  const int channels = image_u8.channels();
  const size_t plane = static_cast<size_t>(height) * static_cast<size_t>(width);
  for (int y = 0; y < height; ++y) {
    const uint8_t* row = image_u8.ptr<uint8_t>(y);
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < channels; ++c) {
        out[static_cast<size_t>(c) * plane + static_cast<size_t>(y) * width + x] =
            static_cast<float>(row[x * channels + c]) / 127.5f - 1.0f;
      }
    }
  }
}

torch::Tensor decode_image(const std::filesystem::path& path, const ImageOptions& options) {
  const cv::Mat image = decode_image_u8(path, options);
  auto out = torch::empty({image.channels(), image.rows, image.cols}, torch::kFloat32);
  write_chw_normalized(image, out.data_ptr<float>());
  return out;
}

std::vector<uchar> encode_png(const torch::Tensor& chw_in_minus1_1) {
  GANAUG_CHECK(chw_in_minus1_1.defined() && chw_in_minus1_1.dim() == 3 &&
                   (chw_in_minus1_1.size(0) == 1 || chw_in_minus1_1.size(0) == 3),
               "encode_png needs a C x H x W image with 1 or 3 channels, got ",
               chw_in_minus1_1.defined() ? chw_in_minus1_1.sizes() : c10::IntArrayRef{});
  const auto chw = chw_in_minus1_1.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  return encode_png(chw.data_ptr<float>(), static_cast<int>(chw.size(0)),
                    static_cast<int>(chw.size(1)), static_cast<int>(chw.size(2)));
}

namespace {
// An 8-bit image (BGR for 3 channels) from a C x H x W float buffer in [-1, 1].
cv::Mat to_mat(const float* in, int channels, int height, int width) {
  const size_t plane = static_cast<size_t>(height) * static_cast<size_t>(width);
  cv::Mat image(height, width, CV_8UC(channels));
  for (int y = 0; y < height; ++y) {
    uint8_t* row = image.ptr<uint8_t>(y);
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < channels; ++c) {
        const float value = in[static_cast<size_t>(c) * plane + static_cast<size_t>(y) * width + x];
        const float scaled = std::round((std::clamp(value, -1.0f, 1.0f) + 1.0f) * 127.5f);
        // OpenCV writes BGR: channel c of RGB goes to position 2 - c.
        const int position = channels == 3 ? 2 - c : c;
        row[x * channels + position] = static_cast<uint8_t>(scaled);
      }
    }
  }
  return image;
}

cv::Mat to_mat(const torch::Tensor& chw) {
  const auto cpu = chw.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  return to_mat(cpu.data_ptr<float>(), static_cast<int>(cpu.size(0)), static_cast<int>(cpu.size(1)),
                static_cast<int>(cpu.size(2)));
}

std::vector<uchar> encode_mat(const cv::Mat& image) {
  std::vector<uchar> bytes;
  GANAUG_CHECK(cv::imencode(".png", image, bytes), "cannot encode a ", image.channels(), " x ",
               image.rows, " x ", image.cols, " image as PNG");
  return bytes;
}

// Images N x C x H x W as one C x H' x W' grid, `columns` per row, each scaled up `scale` times
// (nearest neighbour), `padding` pixels of `background` around and between them.
torch::Tensor grid_of(const torch::Tensor& images, int64_t columns, int64_t padding, int64_t scale,
                      float background) {
  GANAUG_CHECK(images.defined() && images.dim() == 4 && images.size(0) > 0 &&
                   (images.size(1) == 1 || images.size(1) == 3),
               "an image grid needs N x C x H x W images with C = 1 or 3, got ",
               images.defined() ? images.sizes() : c10::IntArrayRef{});
  GANAUG_CHECK(columns > 0 && padding >= 0 && scale >= 1,
               "an image grid needs nrow > 0 and padding >= 0");
  auto cpu = images.detach().to(torch::kCPU, torch::kFloat32);
  if (scale > 1) cpu = cpu.repeat_interleave(scale, 2).repeat_interleave(scale, 3);
  const int64_t count = cpu.size(0);
  columns = std::min(columns, count);
  const int64_t rows = (count + columns - 1) / columns;
  const int64_t height = cpu.size(2), width = cpu.size(3);
  auto grid = torch::full(
      {cpu.size(1), rows * (height + padding) + padding, columns * (width + padding) + padding},
      background);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t top = padding + (i / columns) * (height + padding);
    const int64_t left = padding + (i % columns) * (width + padding);
    grid.narrow(1, top, height).narrow(2, left, width).copy_(cpu[i]);
  }
  return grid;
}
}  // namespace

std::string drawable_label(const std::string& label, size_t max_characters) {
  // U+00C0 to U+00FF as ASCII ('*': two letters, below); U+00D7 and U+00F7 are x and /.
  static const char* const latin1 =
      "AAAAAA*CEEEEIIIIDNOOOOOxOUUUUY**aaaaaa*ceeeeiiiidnooooo/ouuuuy*y";
  std::string out;
  size_t characters = 0;
  for (size_t i = 0; i < label.size() && characters <= max_characters; ++characters) {
    // One UTF-8 character; a byte that does not start a whole one stands for itself ('?').
    const auto byte = static_cast<unsigned char>(label[i]);
    size_t length = byte < 0x80 ? 1 : (byte & 0xE0) == 0xC0 ? 2 : (byte & 0xF0) == 0xE0 ? 3 : 4;
    if ((byte & 0xC0) == 0x80 || byte >= 0xF8) length = 0;
    uint32_t code = length == 0 ? 0xFFFD : length == 1 ? byte : byte & (0xFF >> (length + 1));
    for (size_t k = 1; k < length; ++k) {
      const auto next = i + k < label.size() ? static_cast<unsigned char>(label[i + k]) : 0;
      if ((next & 0xC0) != 0x80) {
        code = 0xFFFD;
        length = k;
        break;
      }
      code = (code << 6) | (next & 0x3F);
    }
    i += std::max<size_t>(length, 1);
    if (code >= 0x20 && code < 0x7F) {
      out += static_cast<char>(code);
    } else if (code >= 0xC0 && code <= 0xFF && latin1[code - 0xC0] != '*') {
      out += latin1[code - 0xC0];
    } else {
      static const std::pair<uint32_t, const char*> pairs[] = {
          {0xC6, "AE"}, {0xDE, "Th"}, {0xDF, "ss"}, {0xE6, "ae"}, {0xFE, "th"}};
      const auto found = std::find_if(std::begin(pairs), std::end(pairs),
                                      [code](const auto& p) { return p.first == code; });
      out += found != std::end(pairs) ? found->second : "?";
    }
  }
  if (characters > max_characters)
    out = out.substr(0, std::max<size_t>(max_characters, 3) - 3) + "...";
  return out;
}

std::vector<uchar> encode_png(const float* in, int channels, int height, int width) {
  GANAUG_CHECK(channels == 1 || channels == 3, "encode_png needs 1 or 3 channels, got ", channels);
  return encode_mat(to_mat(in, channels, height, width));
}

std::vector<uchar> encode_labeled_grid(const torch::Tensor& images,
                                       const std::vector<std::string>& labels, int64_t per_row,
                                       int64_t min_cell) {
  GANAUG_CHECK(per_row >= 1 && min_cell >= 0,
               "a labeled grid needs per_row >= 1 and min_cell >= 0");
  GANAUG_CHECK(labels.empty() || (images.defined() && images.dim() >= 1 &&
                                  images.size(0) == static_cast<int64_t>(labels.size()) * per_row),
               "a labeled grid of ", labels.size(), " rows of ", per_row, " needs ",
               static_cast<int64_t>(labels.size()) * per_row, " images, got ",
               images.defined() && images.dim() >= 1 ? images.size(0) : 0);
  const int64_t side = images.defined() && images.dim() == 4 ? images.size(2) : 1;
  const int64_t scale = std::max<int64_t>(1, (min_cell + side - 1) / side);
  const int64_t padding = 2;
  auto grid = to_mat(grid_of(images, per_row, padding, scale, 1.0f));  // white between cells
  if (labels.empty()) return encode_mat(grid);
  // The names in a white column on the left, each centred on its row.
  const auto font = cv::FONT_HERSHEY_SIMPLEX;
  const double font_scale = 0.5;
  std::vector<std::string> drawn;
  for (const auto& label : labels) drawn.push_back(drawable_label(label));
  int text_width = 0;
  for (const auto& label : drawn) {
    int baseline = 0;
    text_width = std::max(text_width, cv::getTextSize(label, font, font_scale, 1, &baseline).width);
  }
  cv::Mat column(grid.rows, text_width + 16, grid.type(), cv::Scalar::all(255));
  const int64_t row_height = images.size(2) * scale + padding;
  for (size_t i = 0; i < labels.size(); ++i) {
    const int middle = static_cast<int>(padding + static_cast<int64_t>(i) * row_height +
                                        images.size(2) * scale / 2);
    cv::putText(column, drawn[i], cv::Point(8, middle + 5), font, font_scale, cv::Scalar::all(0), 1,
                cv::LINE_AA);
  }
  cv::Mat out;
  cv::hconcat(column, grid, out);
  return encode_mat(out);
}

void save_labeled_grid(const std::filesystem::path& path, const torch::Tensor& images,
                       const std::vector<std::string>& labels, int64_t per_row, int64_t min_cell) {
  write_file_atomic(path, encode_labeled_grid(images, labels, per_row, min_cell));
}

void save_image_grid(const std::filesystem::path& path, const torch::Tensor& images, int64_t nrow,
                     int64_t padding) {
  write_file_atomic(path, encode_mat(to_mat(grid_of(images, nrow, padding, 1, -1.0f))));
}

}  // namespace ganaug
