#include "ganaug/datasets/idx.hpp"

#include <torch/torch.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>

#include "class_names.hpp"
#include "ganaug/error.hpp"

namespace ganaug {

namespace {

constexpr uint32_t kImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions
constexpr uint32_t kLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension

std::string hex32(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", value);
  return text;
}

uint32_t read_be32(const std::vector<uint8_t>& bytes, size_t offset) {
  return (uint32_t{bytes[offset]} << 24) | (uint32_t{bytes[offset + 1]} << 16) |
         (uint32_t{bytes[offset + 2]} << 8) | uint32_t{bytes[offset + 3]};
}

void append_be32(std::vector<uint8_t>& bytes, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8)
    bytes.push_back(static_cast<uint8_t>(value >> shift));
}

std::vector<uint8_t> read_file(const std::filesystem::path& path) {
  std::error_code error;
  GANAUG_CHECK(std::filesystem::exists(path, error), "file not found: ", path.string());
  GANAUG_CHECK(!std::filesystem::is_directory(path, error),
               "expected a file but found a folder: ", path.string());
  std::ifstream in(path, std::ios::binary);
  GANAUG_CHECK(in.good(), "cannot open ", path.string(), " for reading");
  in.seekg(0, std::ios::end);
  const auto size = static_cast<size_t>(in.tellg());
  in.seekg(0, std::ios::beg);
  std::vector<uint8_t> bytes(size);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  GANAUG_CHECK(in.good() || size == 0, "cannot read ", path.string());
  return bytes;
}

// Inflates every gzip member in `compressed`. The trailer's size field (the last member's size
// modulo 2^32) is only a hint for the first allocation.
std::vector<uint8_t> gunzip(const std::vector<uint8_t>& compressed,
                            const std::filesystem::path& path) {
  std::vector<uint8_t> out;
  if (compressed.size() >= 18) {
    const size_t n = compressed.size();
    const uint32_t hint = uint32_t{compressed[n - 4]} | (uint32_t{compressed[n - 3]} << 8) |
                          (uint32_t{compressed[n - 2]} << 16) | (uint32_t{compressed[n - 1]} << 24);
    // Deflate never compresses better than about 1032:1; a larger "size" is a damaged trailer.
    out.resize(std::clamp<size_t>(hint, 1024, n * 1032));
  } else {
    out.resize(1024);
  }
  z_stream stream{};
  GANAUG_CHECK(inflateInit2(&stream, 15 + 16) == Z_OK, "cannot initialise zlib to read ",
               path.string());
  stream.next_in = const_cast<Bytef*>(compressed.data());
  size_t consumed = 0;
  size_t produced = 0;
  int status = Z_OK;
  while (true) {
    if (produced == out.size()) out.resize(out.size() * 2);
    const size_t in_chunk =
        std::min<size_t>(compressed.size() - consumed, std::numeric_limits<uInt>::max());
    const size_t out_chunk =
        std::min<size_t>(out.size() - produced, std::numeric_limits<uInt>::max());
    stream.next_in = const_cast<Bytef*>(compressed.data() + consumed);
    stream.avail_in = static_cast<uInt>(in_chunk);
    stream.next_out = out.data() + produced;
    stream.avail_out = static_cast<uInt>(out_chunk);
    status = inflate(&stream, Z_NO_FLUSH);
    consumed += in_chunk - stream.avail_in;
    produced += out_chunk - stream.avail_out;
    if (status == Z_STREAM_END) {
      if (consumed == compressed.size()) break;
      inflateReset(&stream);  // another gzip member follows
      continue;
    }
    if (status == Z_OK) continue;
    if (status == Z_BUF_ERROR && stream.avail_out == 0) continue;  // output full: grow
    const std::string reason = status == Z_BUF_ERROR ? "the compressed data ends early"
                               : stream.msg          ? stream.msg
                                                     : "zlib error " + std::to_string(status);
    inflateEnd(&stream);
    GANAUG_FAIL("corrupt or truncated gzip file (", reason, "): ", path.string());
  }
  inflateEnd(&stream);
  out.resize(produced);
  return out;
}

bool ends_with_gz(const std::filesystem::path& path) { return path.extension() == ".gz"; }

void write_bytes(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  if (ends_with_gz(path)) {
    gzFile file = gzopen(path.c_str(), "wb");
    GANAUG_CHECK(file != nullptr, "cannot open ", path.string(), " for writing");
    size_t written = 0;
    while (written < bytes.size()) {
      const auto chunk = static_cast<unsigned>(std::min<size_t>(bytes.size() - written, 1 << 30));
      const int n = gzwrite(file, bytes.data() + written, chunk);
      if (n <= 0) {
        gzclose(file);
        GANAUG_FAIL("cannot write ", path.string());
      }
      written += static_cast<size_t>(n);
    }
    GANAUG_CHECK(gzclose(file) == Z_OK, "cannot finish writing ", path.string());
    return;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  GANAUG_CHECK(out.good(), "cannot open ", path.string(), " for writing");
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  out.close();
  GANAUG_CHECK(out.good(), "cannot write ", path.string());
}

}  // namespace

std::vector<uint8_t> read_maybe_gzipped(const std::filesystem::path& path) {
  auto bytes = read_file(path);
  if (bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) return gunzip(bytes, path);
  return bytes;
}

torch::Tensor read_idx_pixels(const std::filesystem::path& images_path) {
  const auto image_bytes = read_maybe_gzipped(images_path);
  GANAUG_CHECK(image_bytes.size() >= 4, "not an IDX images file: it holds only ",
               image_bytes.size(), " bytes: ", images_path.string());
  const uint32_t image_magic = read_be32(image_bytes, 0);
  GANAUG_CHECK(image_magic == kImagesMagic, "wrong magic number in IDX images file: expected ",
               hex32(kImagesMagic), " but found ", hex32(image_magic),
               image_magic == kLabelsMagic ? " (a labels file?)" : "", ": ", images_path.string());
  GANAUG_CHECK(image_bytes.size() >= 16, "truncated IDX images file: it holds ", image_bytes.size(),
               " bytes, fewer than the 16-byte header: ", images_path.string());
  const int64_t count = read_be32(image_bytes, 4);
  const int64_t height = read_be32(image_bytes, 8);
  const int64_t width = read_be32(image_bytes, 12);
  GANAUG_CHECK(count > 0 && height > 0 && width > 0,
               "IDX images file holds no images (header: ", count, " x ", height, " x ", width,
               "): ", images_path.string());
  // Each factor is below 2^32; the product is formed only once it is known to fit the file.
  const int64_t present = static_cast<int64_t>(image_bytes.size()) - 16;
  const bool fits =
      height <= present && width <= present / height && count <= present / (height * width);
  if (!fits) {
    // The product of three 32-bit sizes can exceed int64: say it in words then.
    const long double product = static_cast<long double>(count) * height * width;
    const std::string total =
        product < 9e18L ? " = " + std::to_string(count * height * width) : " (over 2^63)";
    GANAUG_FAIL("truncated IDX images file: its header promises ", count, " x ", height, " x ",
                width, total, " bytes of pixels but it holds only ", present, ": ",
                images_path.string());
  }
  const int64_t promised = count * height * width;
  GANAUG_CHECK(present == promised, "IDX images file holds ", present - promised,
               " bytes more than its header (", count, " x ", height, " x ", width,
               ") promises: ", images_path.string());

  auto pixels = torch::empty({count, 1, height, width}, torch::kUInt8);
  std::memcpy(pixels.data_ptr<uint8_t>(), image_bytes.data() + 16, static_cast<size_t>(promised));
  return pixels;
}

IdxContents read_idx_contents(const std::filesystem::path& images_path,
                              const std::filesystem::path& labels_path,
                              const std::vector<std::string>& class_names) {
  IdxContents out;
  out.pixels = read_idx_pixels(images_path);
  const int64_t count = out.pixels.size(0);
  const auto label_bytes = read_maybe_gzipped(labels_path);
  GANAUG_CHECK(label_bytes.size() >= 4, "not an IDX labels file: it holds only ",
               label_bytes.size(), " bytes: ", labels_path.string());
  const uint32_t label_magic = read_be32(label_bytes, 0);
  GANAUG_CHECK(label_magic == kLabelsMagic, "wrong magic number in IDX labels file: expected ",
               hex32(kLabelsMagic), " but found ", hex32(label_magic),
               label_magic == kImagesMagic ? " (an images file?)" : "", ": ", labels_path.string());
  GANAUG_CHECK(label_bytes.size() >= 8, "truncated IDX labels file: it holds ", label_bytes.size(),
               " bytes, fewer than the 8-byte header: ", labels_path.string());
  const int64_t label_count = read_be32(label_bytes, 4);
  const int64_t label_present = static_cast<int64_t>(label_bytes.size()) - 8;
  GANAUG_CHECK(label_present >= label_count, "truncated IDX labels file: its header promises ",
               label_count, " labels but it holds only ", label_present, ": ",
               labels_path.string());
  GANAUG_CHECK(label_present == label_count, "IDX labels file holds ", label_present - label_count,
               " bytes more than the ", label_count,
               " labels its header promises: ", labels_path.string());
  GANAUG_CHECK(label_count == count, "labels file has ", label_count,
               " entries but images file has ", count, ": ", labels_path.string());

  out.labels = torch::empty({count}, torch::kInt64);
  int64_t* label = out.labels.data_ptr<int64_t>();
  std::vector<int64_t> images_per_label(256, 0);
  for (int64_t i = 0; i < count; ++i) {
    label[i] = label_bytes[static_cast<size_t>(8 + i)];
    GANAUG_CHECK(class_names.empty() || label[i] < static_cast<int64_t>(class_names.size()),
                 "label ", label[i], " of image ", i, " is out of range for ", class_names.size(),
                 " classes: ", labels_path.string());
    ++images_per_label[static_cast<size_t>(label[i])];
  }
  if (class_names.empty()) {
    int64_t highest = 255;
    while (images_per_label[static_cast<size_t>(highest)] == 0) --highest;
    out.class_names = detail::numbered_class_names(highest + 1);
  } else {
    out.class_names = class_names;
  }
  out.source = images_path.string();
  return out;
}

LabeledDataset read_idx(const std::filesystem::path& images_path,
                        const std::filesystem::path& labels_path,
                        const std::vector<std::string>& class_names) {
  auto contents = read_idx_contents(images_path, labels_path, class_names);
  LabeledDataset out;
  out.images = contents.pixels.to(torch::kFloat32).div_(127.5).sub_(1.0);
  out.labels = std::move(contents.labels);
  out.class_names = std::move(contents.class_names);
  out.source = std::move(contents.source);
  return out;
}

void write_idx(const std::filesystem::path& images_path, const std::filesystem::path& labels_path,
               const torch::Tensor& pixels, const torch::Tensor& labels) {
  GANAUG_CHECK(pixels.scalar_type() == torch::kUInt8, "write_idx needs uint8 pixels, got ",
               pixels.scalar_type());
  GANAUG_CHECK(pixels.dim() == 3 || (pixels.dim() == 4 && pixels.size(1) == 1),
               "write_idx needs N x H x W or N x 1 x H x W pixels, got ", pixels.sizes());
  const auto images = pixels.reshape({pixels.size(0), pixels.size(-2), pixels.size(-1)})
                          .to(torch::kCPU)
                          .contiguous();
  const auto label_values = labels.to(torch::kCPU).to(torch::kInt64).contiguous();
  GANAUG_CHECK(label_values.dim() == 1 && label_values.size(0) == images.size(0), "write_idx got ",
               label_values.numel(), " labels for ", images.size(0), " images");

  std::vector<uint8_t> image_bytes;
  image_bytes.reserve(16 + static_cast<size_t>(images.numel()));
  append_be32(image_bytes, kImagesMagic);
  for (int d = 0; d < 3; ++d) append_be32(image_bytes, static_cast<uint32_t>(images.size(d)));
  image_bytes.insert(image_bytes.end(), images.data_ptr<uint8_t>(),
                     images.data_ptr<uint8_t>() + images.numel());
  write_bytes(images_path, image_bytes);

  std::vector<uint8_t> label_bytes;
  append_be32(label_bytes, kLabelsMagic);
  append_be32(label_bytes, static_cast<uint32_t>(label_values.size(0)));
  const int64_t* label = label_values.data_ptr<int64_t>();
  for (int64_t i = 0; i < label_values.size(0); ++i) {
    GANAUG_CHECK(label[i] >= 0 && label[i] <= 255, "IDX labels must lie in [0, 255], got ",
                 label[i], " for image ", i);
    label_bytes.push_back(static_cast<uint8_t>(label[i]));
  }
  write_bytes(labels_path, label_bytes);
}

}  // namespace ganaug
