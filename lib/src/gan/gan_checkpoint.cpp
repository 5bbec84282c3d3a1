#include "gan/gan_checkpoint.hpp"

#include <torch/version.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <type_traits>

#include "gan/gan_fields.hpp"
#include "ganaug/error.hpp"
#include "ganaug/file_io.hpp"
#include "training/flat_optimizer.hpp"

namespace ganaug::detail {

namespace fs = std::filesystem;

namespace {

// Format v1 is a LibTorch archive (a zip file) holding the fields below. Format v2 is one text
// line, "ganaug-gan-checkpoint-v2 libtorch=<version> bytes=<n> fnv1a64=<16 hex digits>\n",
// followed by n bytes: a LibTorch archive with the v1 fields (class names as a list rather than
// newline-joined). LibTorch does not check the CRCs of its zip records, so without the checksum
// a flipped byte in a weight would load silently; and its parser crashes on some damaged
// archives, so only an archive whose checksum holds is given to it.
const std::string kZipMagic = "PK\x03\x04";

std::string checkpoint_format(const CheckpointKind& kind, int64_t version) {
  return kind.prefix + std::to_string(version);
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream stream(text);
  std::string line;
  while (std::getline(stream, line)) out.push_back(line);
  return out;
}

// Deflate expands at most 1032-fold (RFC 1951 block limits); a larger declared size is damage.
constexpr size_t kMaxDeflateRatio = 1032;

// The bytes of a zip record: stored as they are, or raw-deflated (method 8). Empty optional when
// the record does not inflate to `expected` bytes. The declared size is checked against what
// `stored` bytes can inflate to before anything is allocated: a damaged size field would
// otherwise ask for gigabytes.
std::optional<std::string> record_contents(const unsigned char* data, size_t stored, size_t method,
                                           size_t expected) {
  if (method == 0) {
    if (expected != stored) return std::nullopt;
    return std::string(reinterpret_cast<const char*>(data), stored);
  }
  if (method != 8 || expected > stored * kMaxDeflateRatio + 64) return std::nullopt;
  std::string out(expected, '\0');
  z_stream stream{};
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) return std::nullopt;
  stream.next_in = const_cast<Bytef*>(data);
  stream.avail_in = static_cast<uInt>(std::min<size_t>(stored, UINT32_MAX));
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(expected);
  const int status = inflate(&stream, Z_FINISH);
  const bool whole = status == Z_STREAM_END && stream.total_out == expected;
  inflateEnd(&stream);
  if (!whole) return std::nullopt;
  return out;
}

// Checks a format-v1 checkpoint (a LibTorch zip archive) before LibTorch parses it: LibTorch does
// not check its records' CRCs, and its parser crashes or allocates gigabytes on some damaged
// archives. Returns what is wrong, or "" when every record is whole. A file crafted to pass
// these checks can still reach LibTorch's parser: v1 files are trusted input.
std::string check_zip_records(const std::string& bytes) {
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t size = bytes.size();
  const auto le16 = [&](size_t at) { return static_cast<size_t>(data[at] | data[at + 1] << 8); };
  const auto le32 = [&](size_t at) {
    return static_cast<size_t>(
        static_cast<uint32_t>(data[at]) | static_cast<uint32_t>(data[at + 1]) << 8 |
        static_cast<uint32_t>(data[at + 2]) << 16 | static_cast<uint32_t>(data[at + 3]) << 24);
  };
  const size_t eocd = bytes.rfind(std::string("PK\x05\x06", 4));
  if (eocd == std::string::npos || eocd + 22 > size) return "its zip directory is missing";
  const size_t entries = le16(eocd + 10);
  const size_t directory = le32(eocd + 16);
  if (entries == 0 || directory >= eocd) return "its zip directory is damaged";
  bool has_version = false;
  size_t at = directory;
  for (size_t k = 0; k < entries; ++k) {
    if (at + 46 > eocd || le32(at) != 0x02014b50) return "its zip directory is damaged";
    const uint32_t crc = static_cast<uint32_t>(le32(at + 16));
    const size_t stored = le32(at + 20), name_length = le16(at + 28);
    const size_t extra = le16(at + 30), comment = le16(at + 32), local = le32(at + 42);
    const size_t method = le16(at + 10), size_inflated = le32(at + 24);
    if (at + 46 + name_length > eocd) return "a zip record is damaged";
    const std::string name(bytes, at + 46, name_length);
    has_version =
        has_version || (name.size() >= 8 && name.compare(name.size() - 8, 8, "/version") == 0);
    if (local + 30 > size || le32(local) != 0x04034b50) return "a zip record is damaged";
    const size_t start = local + 30 + le16(local + 26) + le16(local + 28);
    if (start > size || stored > size - start) return "a zip record is cut short";
    const auto contents = record_contents(data + start, stored, method, size_inflated);
    if (!contents) return "the record '" + name + "' does not unpack";
    const auto check = ::crc32(0L, reinterpret_cast<const Bytef*>(contents->data()),
                               static_cast<uInt>(contents->size()));
    if (check != crc) return "the record '" + name + "' fails its CRC";
    at += 46 + name_length + extra + comment;
  }
  return has_version ? "" : "it lacks the archive's version record";
}

// Adam's moments keyed by parameter index. LibTorch's own Optimizer::save keys them by tensor
// address: as hexadecimal text in 1.13 ("0x55..."), as decimal text in 2.x (which also parses
// keys as decimal), so its files neither travel between versions nor come out the same twice;
// this layout does both.
template <typename StateMap>
typename StateMap::key_type adam_state_key(const torch::Tensor& parameter) {
  using Key = typename StateMap::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {  // LibTorch 1.x: the address as text
    std::ostringstream text;
    text << static_cast<const void*>(parameter.unsafeGetTensorImpl());
    return text.str();
  } else {  // LibTorch 2.x: the address itself
    return static_cast<Key>(parameter.unsafeGetTensorImpl());
  }
}

// Reads parameter i's moments from `archive` (keys step, exp_avg, exp_avg_sq, each followed by
// `suffix`) into the optimizer. Returns what is wrong, or "".
std::string read_adam_state(torch::serialize::InputArchive& archive, const std::string& suffix,
                            size_t i, torch::optim::Adam& optimizer) {
  using StateMap = std::decay_t<decltype(optimizer.state())>;
  const auto& parameters = optimizer.param_groups().at(0).params();
  c10::IValue step;
  torch::Tensor exp_avg, exp_avg_sq;
  if (!archive.try_read("step" + suffix, step) || !step.isInt() ||
      !archive.try_read("exp_avg" + suffix, exp_avg) ||
      !archive.try_read("exp_avg_sq" + suffix, exp_avg_sq) ||
      !exp_avg.sizes().equals(parameters[i].sizes()) ||
      !exp_avg_sq.sizes().equals(parameters[i].sizes())) {
    return "its optimizer state for parameter " + std::to_string(i) + " does not fit";
  }
  auto state = std::make_unique<torch::optim::AdamParamState>();
  state->step(step.toInt());
  state->exp_avg(exp_avg.to(parameters[i].options()));
  state->exp_avg_sq(exp_avg_sq.to(parameters[i].options()));
  optimizer.state()[adam_state_key<StateMap>(parameters[i])] = std::move(state);
  return "";
}

// Whether an optimizer state keyed by parameter index (format v2) is for `parameters` of them.
bool holds_count(torch::serialize::InputArchive& archive, size_t parameters) {
  c10::IValue count;
  return archive.try_read("count", count) && count.isInt() &&
         count.toInt() == static_cast<int64_t>(parameters);
}

// Returns what is wrong with the stored moments (format v2: keyed by parameter index), or "".
std::string load_adam(torch::serialize::InputArchive& archive, torch::optim::Adam& optimizer) {
  const auto& parameters = optimizer.param_groups().at(0).params();
  if (!holds_count(archive, parameters.size()))
    return "its optimizer state is for another number of parameters";
  optimizer.state().clear();
  for (size_t i = 0; i < parameters.size(); ++i) {
    c10::IValue step;
    if (!archive.try_read("step_" + std::to_string(i), step)) continue;  // no step taken yet
    const auto problem = read_adam_state(archive, "_" + std::to_string(i), i, optimizer);
    if (!problem.empty()) return problem;
  }
  return "";
}

// The same from LibTorch 1.13's own Optimizer::save layout (format v1): "param_groups" lists
// each parameter's key (the writing process's tensor address, as text) and "state" holds the
// moments under those keys. Read by hand rather than with Adam::load: LibTorch 2.x parses those
// keys as decimal numbers, so every "0x..." key would become 0 and the first step would crash.
std::string load_adam_v1(torch::serialize::InputArchive& archive, torch::optim::Adam& optimizer) {
  const auto& parameters = optimizer.param_groups().at(0).params();
  torch::serialize::InputArchive groups, group, states;
  torch::Tensor size;
  if (!archive.try_read("param_groups", groups) || !groups.try_read("param_groups/0", group) ||
      !archive.try_read("state", states) || !group.try_read("params/size", size) ||
      size.numel() != 1 || size.item<int64_t>() != static_cast<int64_t>(parameters.size())) {
    return "its optimizer state is missing or for another number of parameters";
  }
  optimizer.state().clear();
  for (size_t i = 0; i < parameters.size(); ++i) {
    c10::IValue key;
    if (!group.try_read("params/" + std::to_string(i), key) || !key.isString()) {
      return "its optimizer state lacks parameter " + std::to_string(i);
    }
    torch::serialize::InputArchive state;
    if (!states.try_read(key.toStringRef(), state)) continue;  // no step taken yet
    const auto problem = read_adam_state(state, "", i, optimizer);
    if (!problem.empty()) return problem;
  }
  return "";
}

}  // namespace

void write_options(torch::serialize::OutputArchive& archive, const GanOptions& o) {
  for (const auto& field : gan_fields()) archive.write(field.name, field.get(o));
}

void save_adam(torch::serialize::OutputArchive& archive, torch::optim::Adam& optimizer) {
  using StateMap = std::decay_t<decltype(optimizer.state())>;
  const auto& parameters = optimizer.param_groups().at(0).params();
  archive.write("count", c10::IValue(static_cast<int64_t>(parameters.size())));
  for (size_t i = 0; i < parameters.size(); ++i) {
    const auto found = optimizer.state().find(adam_state_key<StateMap>(parameters[i]));
    if (found == optimizer.state().end()) continue;  // no step taken yet
    const auto& state = static_cast<const torch::optim::AdamParamState&>(*found->second);
    const auto index = std::to_string(i);
    archive.write("step_" + index, c10::IValue(static_cast<int64_t>(state.step())));
    archive.write("exp_avg_" + index, state.exp_avg());
    archive.write("exp_avg_sq_" + index, state.exp_avg_sq());
  }
}

std::string checkpoint_file_bytes(const std::string& payload, const CheckpointKind& kind) {
  return checkpoint_format(kind, kind.version) + " libtorch=" + std::string(TORCH_VERSION) +
         " bytes=" + std::to_string(payload.size()) +
         " fnv1a64=" + hash_hex(hash_bytes(payload.data(), payload.size())) + "\n" + payload;
}

void write_checkpoint_file(torch::serialize::OutputArchive& archive, const std::string& path,
                           const CheckpointKind& kind) {
  std::string payload;
  archive.save_to([&payload](const void* data, size_t size) {
    payload.append(static_cast<const char*>(data), size);
    return size;
  });
  const std::string bytes = checkpoint_file_bytes(payload, kind);
  const fs::path target(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path());
  try {
    write_file_atomic(target, bytes.data(), bytes.size(), Durability::kDurable);
  } catch (const Error& e) {
    GANAUG_FAIL("could not write checkpoint ", path, " (", e.what(), "); the previous ", kind.what,
                ", if any, is intact");
  }
}

CheckpointReader::CheckpointReader(const std::string& path, const torch::Device& device,
                                   const CheckpointKind& kind)
    : path_(path) {
  const auto expected = [&] {
    return std::string(kind.what) + " (expected format " + checkpoint_format(kind, kind.version) +
           ")";
  };
  std::error_code error;
  GANAUG_CHECK(fs::is_regular_file(path, error), "checkpoint not found: ", path);
  std::ifstream in(path, std::ios::binary);
  GANAUG_CHECK(in.good(), "cannot read checkpoint ", path);
  std::string head(kZipMagic.size(), '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  if (in.gcount() == static_cast<std::streamsize>(head.size()) && head == kZipMagic) {
    GANAUG_CHECK(kind.reads_zip_v1, "file ", path, " is not a ganaug ", expected());
    // Format v1: a LibTorch archive, checked record by record first.
    in.seekg(0);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto problem = check_zip_records(bytes);
    GANAUG_CHECK(problem.empty(), "checkpoint ", path, " is damaged: ", problem);
    try {
      archive_.load_from(bytes.data(), bytes.size(), device);
    } catch (const std::exception& e) {
      GANAUG_FAIL("checkpoint ", path, " is damaged: ", first_line(e));
    }
    c10::IValue format;
    GANAUG_CHECK(archive_.try_read("format", format) && format.isString() &&
                     format.toStringRef() == checkpoint_format(kind, 1),
                 "checkpoint ", path, " is not a ganaug ", expected());
    version_ = 1;
    bare_zip_ = true;
    return;
  }
  // Format v2 and later: a header line, then the payload. Only a payload whose checksum holds
  // reaches LibTorch's parser, which crashes on some damaged archives instead of throwing.
  in.seekg(0);
  std::string header;
  std::getline(in, header);
  GANAUG_CHECK(!in.fail() && header.size() < 1024 && header.rfind(kind.prefix, 0) == 0,
               "checkpoint ", path, " is not a ganaug ", expected());
  std::istringstream fields(header);
  std::string name;
  fields >> name;
  const std::string digits = name.substr(std::string(kind.prefix).size());
  GANAUG_CHECK(!digits.empty() && digits.size() < 9 &&
                   digits.find_first_not_of("0123456789") == std::string::npos,
               "checkpoint ", path, " has an unknown format '", name, "'");
  version_ = std::stoll(digits);
  GANAUG_CHECK(version_ >= kind.first_header_version && version_ <= kind.version, "checkpoint ",
               path, " was written by a newer ganaug (format v", version_,
               "; this version reads v1 to v", kind.version, "); upgrade ganaug to use it");
  std::map<std::string, std::string> values;
  for (std::string field; fields >> field;) {
    const auto equals = field.find('=');
    if (equals != std::string::npos) values[field.substr(0, equals)] = field.substr(equals + 1);
  }
  const auto& size_text = values["bytes"];
  GANAUG_CHECK(!size_text.empty() && size_text.size() < 19 &&
                   size_text.find_first_not_of("0123456789") == std::string::npos &&
                   values["fnv1a64"].size() == 16,
               "checkpoint ", path, " is damaged: its header line is malformed");
  const auto size = static_cast<size_t>(std::stoull(size_text));
  const auto offset = static_cast<size_t>(in.tellg());
  GANAUG_CHECK(fs::file_size(path) == offset + size, "checkpoint ", path, " is damaged: it holds ",
               fs::file_size(path) - offset,
               " bytes of payload but its "
               "header says ",
               size, " (a truncated or appended file)");
  std::string payload(size, '\0');
  in.read(payload.data(), static_cast<std::streamsize>(size));
  GANAUG_CHECK(in.gcount() == static_cast<std::streamsize>(size), "cannot read checkpoint ", path);
  GANAUG_CHECK(hash_hex(hash_bytes(payload.data(), size)) == values["fnv1a64"], "checkpoint ", path,
               " is damaged: its checksum does not match its contents (a changed or "
               "corrupted file); use another copy or train again");
  try {
    archive_.load_from(payload.data(), size, device);
  } catch (const std::exception& e) {
    GANAUG_FAIL("checkpoint ", path, " is damaged: ", first_line(e));
  }
}

std::vector<std::string> CheckpointReader::class_names() {
  const auto names = value("class_names");
  if (names.isString()) return split_lines(names.toStringRef());  // format v1
  GANAUG_CHECK(names.isList(), "checkpoint ", path_, " is damaged: its class names are not a list");
  std::vector<std::string> out;
  for (const auto& name : names.toListRef()) {
    GANAUG_CHECK(name.isString(), "checkpoint ", path_, " is damaged: a class name is not text");
    out.push_back(name.toStringRef());
  }
  return out;
}

c10::IValue CheckpointReader::value(const char* key) {
  c10::IValue value;
  GANAUG_CHECK(archive_.try_read(key, value), "checkpoint ", path_, " lacks the field '", key,
               "'; it is damaged or from another version");
  return value;
}

int64_t CheckpointReader::integer(const char* key) {
  const auto v = value(key);
  GANAUG_CHECK(v.isInt(), "checkpoint ", path_, " is damaged: '", key, "' is not an integer");
  return v.toInt();
}

// For fields added after the first checkpoint format: their value before they existed.
int64_t CheckpointReader::integer_or(const char* key, int64_t fallback) {
  c10::IValue v;
  if (!archive_.try_read(key, v)) return fallback;
  GANAUG_CHECK(v.isInt(), "checkpoint ", path_, " is damaged: '", key, "' is not an integer");
  return v.toInt();
}

double CheckpointReader::real_or(const char* key, double fallback) {
  c10::IValue v;
  if (!archive_.try_read(key, v)) return fallback;
  GANAUG_CHECK(v.isDouble(), "checkpoint ", path_, " is damaged: '", key, "' is not a number");
  return v.toDouble();
}

double CheckpointReader::real(const char* key) {
  const auto v = value(key);
  GANAUG_CHECK(v.isDouble(), "checkpoint ", path_, " is damaged: '", key, "' is not a number");
  return v.toDouble();
}

std::string CheckpointReader::text(const char* key) {
  const auto v = value(key);
  GANAUG_CHECK(v.isString(), "checkpoint ", path_, " is damaged: '", key, "' is not text");
  return v.toStringRef();
}

std::string CheckpointReader::text_or(const char* key, const std::string& fallback) {
  c10::IValue v;
  if (!archive_.try_read(key, v)) return fallback;
  GANAUG_CHECK(v.isString(), "checkpoint ", path_, " is damaged: '", key, "' is not text");
  return v.toStringRef();
}

GanOptions CheckpointReader::options() {
  GanOptions o(1);
  for (const auto& field : gan_fields()) {
    const bool has_fallback = field.before.has_value();
    switch (field.type) {
      case GanField::Type::kInt:
      case GanField::Type::kBool:
        field.set(
            o, has_fallback ? integer_or(field.name, field.before->toInt()) : integer(field.name));
        break;
      case GanField::Type::kReal:
        field.set(o,
                  has_fallback ? real_or(field.name, field.before->toDouble()) : real(field.name));
        break;
      case GanField::Type::kText:
        field.set(o, text(field.name));
        break;
    }
  }
  return o;
}

// Loads a module stored under `key`.
void CheckpointReader::load(const char* key, torch::nn::Module& target) {
  torch::serialize::InputArchive sub;
  GANAUG_CHECK(archive_.try_read(key, sub), "checkpoint ", path_, " lacks '", key,
               "'; it is damaged or from another version");
  // LibTorch swaps in a stored tensor whatever its shape: compare them with what the settings
  // built, or a wrong shape shows only later, inside a forward pass (or not at all).
  std::vector<std::pair<std::string, torch::Tensor>> expected;
  for (const auto& item : target.named_parameters())
    expected.emplace_back(item.key(), item.value());
  for (const auto& item : target.named_buffers()) expected.emplace_back(item.key(), item.value());
  std::vector<std::pair<std::vector<int64_t>, c10::ScalarType>> shapes;
  for (const auto& [name, tensor] : expected) {
    shapes.emplace_back(tensor.sizes().vec(), tensor.scalar_type());
  }
  try {
    target.load(sub);
  } catch (const std::exception& e) {
    GANAUG_FAIL("checkpoint ", path_, " does not fit the ", key, " (", first_line(e),
                "); it is damaged or was written for another architecture");
  }
  size_t i = 0;
  auto check = [&](const std::string& name, const torch::Tensor& tensor) {
    GANAUG_CHECK(i < shapes.size() && tensor.sizes().vec() == shapes[i].first &&
                     tensor.scalar_type() == shapes[i].second,
                 "checkpoint ", path_, " is damaged: the ", key, " weight '", name, "' is ",
                 tensor.sizes(), " but its settings make it ",
                 i < shapes.size() ? c10::IntArrayRef(shapes[i].first) : c10::IntArrayRef{});
    ++i;
  };
  for (const auto& item : target.named_parameters()) check(item.key(), item.value());
  for (const auto& item : target.named_buffers()) check(item.key(), item.value());
}

// Loads an optimizer: Adam moments by parameter index (format v2), or LibTorch 1.13's own
// layout (format v1, keyed by the addresses of the writing process's tensors, matched up by
// order).
void CheckpointReader::load_optimizer(const char* key, torch::optim::Adam& optimizer) {
  load_state(key, [&](torch::serialize::InputArchive& sub) {
    return bare_zip_ ? load_adam_v1(sub, optimizer) : load_adam(sub, optimizer);
  });
}

void CheckpointReader::load_optimizer(const char* key, FlatOptimizer& optimizer,
                                      const std::vector<size_t>& stored) {
  load_state(key, [&](torch::serialize::InputArchive& sub) { return optimizer.load(sub, stored); });
}

void CheckpointReader::load_average(const char* key, WeightAverage& average) {
  load_state(key, [&](torch::serialize::InputArchive& sub) { return average.load(sub); });
}

void CheckpointReader::load_alignment(const char* key, DistributionAlignment& alignment) {
  load_state(key, [&](torch::serialize::InputArchive& sub) { return alignment.load(sub); });
}

bool CheckpointReader::contains(const char* key) {
  torch::serialize::InputArchive sub;
  return archive_.try_read(key, sub);
}

void CheckpointReader::load_state(
    const char* key, const std::function<std::string(torch::serialize::InputArchive&)>& read) {
  torch::serialize::InputArchive sub;
  GANAUG_CHECK(archive_.try_read(key, sub), "checkpoint ", path_, " lacks '", key,
               "'; it is damaged or from another version");
  std::string problem;
  try {
    problem = read(sub);
  } catch (const std::exception& e) {
    problem = first_line(e);
  }
  GANAUG_CHECK(problem.empty(), "checkpoint ", path_, " is damaged: ", key, ": ", problem);
}

// Refuses NaN or Inf anywhere in a loaded module: such weights make black or empty images.
void CheckpointReader::check_finite_weights(const torch::nn::Module& module,
                                            const char* key) const {
  torch::NoGradGuard no_grad;
  auto check = [&](const std::string& name, const torch::Tensor& tensor) {
    if (!tensor.is_floating_point()) return;
    GANAUG_CHECK(torch::isfinite(tensor).all().item<bool>(), "checkpoint ", path_,
                 " holds NaN or Inf in the ", key, " weight '", name,
                 "'; it is damaged or came from a diverged run");
  };
  for (const auto& item : module.named_parameters()) check(item.key(), item.value());
  for (const auto& item : module.named_buffers()) check(item.key(), item.value());
}

}  // namespace ganaug::detail
