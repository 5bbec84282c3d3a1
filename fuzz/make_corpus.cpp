// Writes the seed corpora of the fuzz targets: small valid inputs, plus hand-made checkpoints
// with damaged fields. Usage: fuzz_make_corpus <folder>; writes <folder>/fuzz_idx, fuzz_csv,
// fuzz_image and fuzz_checkpoint (the folder fuzz/corpus is checked in; re-run this after a
// format change and commit the result).

#include <torch/torch.h>
#include <torch/version.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "ganaug/datasets/idx.hpp"
#include "ganaug/error.hpp"
#include "ganaug/file_io.hpp"
#include "ganaug/gan.hpp"

namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<uint8_t>;

Bytes read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const fs::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  GANAUG_CHECK(out.good(), "cannot write ", path.string());
  std::printf("%8zu  %s\n", bytes.size(), path.c_str());
}

void write_text(const fs::path& path, const std::string& text) {
  write_bytes(path, Bytes(text.begin(), text.end()));
}

// ---- fuzz_idx: flags byte, images length (LE32), images file, labels file ----

Bytes idx_input(uint8_t flags, const Bytes& images, const Bytes& labels) {
  Bytes out{flags};
  const auto n = static_cast<uint32_t>(images.size());
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<uint8_t>(n >> shift));
  out.insert(out.end(), images.begin(), images.end());
  out.insert(out.end(), labels.begin(), labels.end());
  return out;
}

void make_idx(const fs::path& dir, const fs::path& scratch) {
  fs::create_directories(dir);
  torch::manual_seed(0);
  struct Case {
    const char* name;
    int64_t n, h, w;
    const char* suffix;
    uint8_t flags;
  };
  for (const Case& c :
       {Case{"raw_3x4x4", 3, 4, 4, "", 0}, Case{"raw_3x4x4_names", 3, 4, 4, "", 1},
        Case{"raw_1x1x1", 1, 1, 1, "", 0}, Case{"raw_2x3x5", 2, 3, 5, "", 0},
        Case{"gz_4x6x6", 4, 6, 6, ".gz", 0}, Case{"gz_4x6x6_names", 4, 6, 6, ".gz", 1}}) {
    const auto pixels = torch::randint(0, 256, {c.n, c.h, c.w}, torch::kUInt8);
    const auto labels = torch::arange(c.n, torch::kInt64).remainder(3);
    const auto images_path = scratch / (std::string("images") + c.suffix);
    const auto labels_path = scratch / (std::string("labels") + c.suffix);
    ganaug::write_idx(images_path, labels_path, pixels, labels);
    write_bytes(dir / c.name, idx_input(c.flags, read_bytes(images_path), read_bytes(labels_path)));
  }
}

// ---- fuzz_csv: manifests naming a.png, b.png, images/00000000.png, images/00000001.png ----

void make_csv(const fs::path& dir) {
  fs::create_directories(dir);
  write_text(dir / "plain_names", "a.png,cat\nb.png,dog\n");
  write_text(dir / "plain_header_indices", "path,label\na.png,0\nb.png,1\nimages/00000000.png,2\n");
  write_text(dir / "plain_quoted_crlf", "\"a.png\",\"dog\"\r\n\"b.png\" , \"c\"\"at\"\r\n");
  write_text(dir / "soft_targets",
             "file,cond,label,p0,p1,p2\n"
             "images/00000000.png,0,0,0.9,0.05,0.05\n"
             "images/00000001.png,1,-1,0.2,0.3,0.5\n");
  write_text(dir / "soft_no_targets", "file,cond,label\na.png,0,1\nb.png,1,0\n");
}

// ---- fuzz_image: tiny images in every format OpenCV encodes here ----

void make_image(const fs::path& dir) {
  fs::create_directories(dir);
  cv::Mat gray(8, 8, CV_8UC1), color(8, 8, CV_8UC3), alpha(8, 8, CV_8UC4), deep(8, 8, CV_16UC3);
  cv::Mat gray_alpha(8, 8, CV_8UC2), hdr(8, 8, CV_32FC3), color32(32, 32, CV_8UC3);
  cv::randu(color32, 0, 256);
  cv::randu(gray, 0, 256);
  cv::randu(color, 0, 256);
  cv::randu(alpha, 0, 256);
  cv::randu(deep, 0, 65536);
  cv::randu(gray_alpha, 0, 256);
  cv::randu(hdr, 0.0f, 1.0f);
  struct Case {
    const char* name;
    const char* extension;
    const cv::Mat* image;
  };
  for (const Case& c :
       {Case{"gray.png", ".png", &gray}, Case{"color.png", ".png", &color},
        Case{"alpha.png", ".png", &alpha}, Case{"deep.png", ".png", &deep},
        Case{"gray_alpha.png", ".png", &gray_alpha}, Case{"gray_alpha.tiff", ".tiff", &gray_alpha},
        Case{"gray.jpg", ".jpg", &gray}, Case{"color.jpg", ".jpg", &color},
        Case{"color.bmp", ".bmp", &color}, Case{"gray.pgm", ".pgm", &gray},
        Case{"color.ppm", ".ppm", &color}, Case{"color.tiff", ".tiff", &color},
        Case{"deep.tiff", ".tiff", &deep}, Case{"color.webp", ".webp", &color},
        Case{"color.hdr", ".hdr", &hdr}, Case{"color.ras", ".ras", &color},
        Case{"color.jp2", ".jp2", &color32}, Case{"color.pfm", ".pfm", &hdr},
        Case{"color.exr", ".exr", &hdr}}) {
    std::vector<uchar> bytes;
    try {
      if (!cv::imencode(c.extension, *c.image, bytes)) bytes.clear();
    } catch (const cv::Exception&) {
      bytes.clear();
    }
    if (bytes.empty()) {
      std::printf("   (skip)  %s: OpenCV cannot encode it here\n", c.name);
      continue;
    }
    write_bytes(dir / c.name, Bytes(bytes.begin(), bytes.end()));
  }
}

// ---- fuzz_checkpoint: one real checkpoint and hand-made format-v1 archives ----

ganaug::GanOptions tiny_options() {
  return ganaug::GanOptions(2, 16, 1)
      .latent_dim(4)
      .g_width(4)
      .d_width(4)
      .iterations(1)
      .batch_size(4)
      .log_every(1)
      .device("cpu")
      .threads(1);
}

// Hand-made checkpoints. Format v1 (still read) is a LibTorch archive holding the option fields,
// "iteration", newline-joined "class_names" and one sub-archive per module; format v2 is a
// header line with the payload's size and checksum, then an archive with the same fields (class
// names as a list), see lib/src/gan/gan.cpp. `change` edits the fields. Only the module
// load_generator reads is written (generator_ema, or generator when ema_decay is 0), which keeps
// each file small.
using Fields = std::map<std::string, c10::IValue>;

std::string archive_bytes(torch::serialize::OutputArchive& archive) {
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
}

void write_crafted(const fs::path& path, int version, const std::function<void(Fields&)>& change,
                   ganaug::Generator generator, bool corrupt_checksum = false) {
  const auto o = tiny_options();
  Fields fields{{"num_classes", o.num_classes()},
                {"image_size", o.image_size()},
                {"channels", o.channels()},
                {"latent_dim", o.latent_dim()},
                {"g_width", o.g_width()},
                {"d_width", o.d_width()},
                {"spectral_norm", int64_t{1}},
                {"projection", int64_t{1}},
                {"minibatch_std", int64_t{1}},
                {"mode_seeking", o.mode_seeking()},
                {"loss", std::string("hinge")},
                {"iterations", o.iterations()},
                {"batch_size", o.batch_size()},
                {"g_lr", o.g_lr()},
                {"d_lr", o.d_lr()},
                {"beta1", o.beta1()},
                {"beta2", o.beta2()},
                {"d_steps", o.d_steps()},
                {"diffaugment", std::string("auto")},
                {"ema_decay", o.ema_decay()},
                {"seed", int64_t{0}},
                {"iteration", int64_t{1}}};
  if (version == 1) {
    fields["format"] = std::string("ganaug-gan-checkpoint-v1");
    fields["class_names"] = std::string("zero\none");
  } else {
    fields["class_names"] = c10::List<std::string>({"zero", "one"});
  }
  change(fields);
  torch::serialize::OutputArchive archive;
  for (const auto& [key, value] : fields) archive.write(key, value);
  {
    torch::serialize::OutputArchive sub;
    generator->save(sub);
    const auto ema = fields.find("ema_decay");
    const bool uses_ema =
        ema == fields.end() || !ema->second.isDouble() || ema->second.toDouble() > 0;
    archive.write(uses_ema ? "generator_ema" : "generator", sub);
  }
  std::string bytes = archive_bytes(archive);
  if (version != 1) {
    // Format v2: one header line, then the archive as the payload.
    auto checksum = ganaug::hash_hex(ganaug::hash_bytes(bytes.data(), bytes.size()));
    if (corrupt_checksum) checksum[0] = checksum[0] == '0' ? '1' : '0';
    bytes = "ganaug-gan-checkpoint-v" + std::to_string(version) +
            " libtorch=" + std::string(TORCH_VERSION) + " bytes=" + std::to_string(bytes.size()) +
            " fnv1a64=" + checksum + "\n" + bytes;
  }
  write_bytes(path, Bytes(bytes.begin(), bytes.end()));
}

void make_checkpoint(const fs::path& dir, const fs::path& scratch) {
  fs::create_directories(dir);
  // A real one, in the current format, from one training step.
  // No spectral norm and no minibatch-std layer: fewer tensors, a smaller file.
  ganaug::GanTrainer trainer(ganaug::RunContext().device("cpu").threads(1),
                             tiny_options().spectral_norm(false).minibatch_std(false),
                             {"zero", "one"});
  ganaug::LabeledDataset data;
  data.images = torch::rand({8, 1, 16, 16}) * 2 - 1;
  data.labels = torch::arange(8, torch::kInt64).remainder(2);
  data.class_names = {"zero", "one"};
  data.source = "fuzz_make_corpus";
  trainer.train(data);
  trainer.save_checkpoint((scratch / "real.pt").string());
  write_bytes(dir / "real_current_format", read_bytes(scratch / "real.pt"));

  const auto generator = trainer.sampling_generator();
  auto set = [](const char* key, c10::IValue value) {
    return [key, value](Fields& f) { f[key] = value; };
  };
  write_crafted(
      dir / "v1_valid", 1, [](Fields&) {}, generator);
  write_crafted(dir / "v1_no_ema", 1, set("ema_decay", 0.0), generator);
  write_crafted(dir / "v1_num_classes_is_double", 1, set("num_classes", 2.0), generator);
  write_crafted(dir / "v1_loss_unknown", 1, set("loss", std::string("wasserstein")), generator);
  write_crafted(dir / "v1_class_names_3_for_2", 1, set("class_names", std::string("a\nb\nc")),
                generator);
  write_crafted(dir / "v1_class_names_empty", 1, set("class_names", std::string("")), generator);
  write_crafted(dir / "v1_image_size_20", 1, set("image_size", int64_t{20}), generator);
  write_crafted(dir / "v1_channels_3", 1, set("channels", int64_t{3}), generator);
  write_crafted(dir / "v1_latent_dim_huge", 1, set("latent_dim", int64_t{1} << 40), generator);
  write_crafted(dir / "v1_g_width_huge", 1, set("g_width", int64_t{1} << 40), generator);
  write_crafted(dir / "v1_g_width_negative", 1, set("g_width", int64_t{-8}), generator);
  write_crafted(dir / "v1_format_v9", 1, set("format", std::string("ganaug-gan-checkpoint-v9")),
                generator);
  // Weights of another architecture under the right names: every tensor has another shape.
  const auto wide = ganaug::Generator(tiny_options().g_width(8).generator_options());
  write_crafted(
      dir / "v1_weights_of_width_8", 1, [](Fields&) {}, wide);
  // Weights of another latent size: only the first layers' shapes differ.
  write_crafted(
      dir / "v2_valid", 2, [](Fields&) {}, generator);
  write_crafted(
      dir / "v2_checksum_mismatch", 2, [](Fields&) {}, generator, true);
  write_crafted(dir / "v2_class_names_not_text", 2, set("class_names", c10::List<int64_t>({0, 1})),
                generator);
  write_crafted(
      dir / "v2_format_v3", 3, [](Fields&) {}, generator);
  const auto long_latent = ganaug::Generator(tiny_options().latent_dim(8).generator_options());
  write_crafted(
      dir / "v1_weights_of_latent_8", 1, [](Fields&) {}, long_latent);
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus folder>\n", argv[0]);
    return 2;
  }
  const fs::path root = argv[1];
  const fs::path scratch =
      fs::temp_directory_path() / ("ganaug-make-corpus-" + std::to_string(::getpid()));
  fs::create_directories(scratch);
  make_idx(root / "fuzz_idx", scratch);
  make_csv(root / "fuzz_csv");
  make_image(root / "fuzz_image");
  make_checkpoint(root / "fuzz_checkpoint", scratch);
  fs::remove_all(scratch);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "fuzz_make_corpus: %s\n", e.what());
  return 1;
}
