// Internal to the ganaug library: the checksummed file every saved module goes through — the GAN
// checkpoint (GanTrainer::save_checkpoint, GanTrainer::resume, load_generator) and the classifier
// file (save_classifier, load_classifier).
#pragma once

#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "ganaug/gan.hpp"

namespace ganaug::detail {

class DistributionAlignment;
class FlatOptimizer;
class WeightAverage;

/// A kind of checksummed file: a header line "<prefix><version> libtorch=<version> bytes=<n>
/// fnv1a64=<16 hex digits>" followed by n bytes of LibTorch archive.
struct CheckpointKind {
  const char* prefix;            ///< "ganaug-gan-checkpoint-v"
  int64_t version;               ///< the version written
  int64_t first_header_version;  ///< the first version with the header line
  bool reads_zip_v1;             ///< version 1 was a bare LibTorch archive (GAN checkpoints)
  const char* what;              ///< its name in messages: "GAN checkpoint"
};
/// GAN checkpoints: v1 a bare LibTorch archive (read after a CRC check of its records), v2 the
/// header line.
inline constexpr CheckpointKind kGanCheckpoint{"ganaug-gan-checkpoint-v", 2, 2, true,
                                               "GAN checkpoint"};
/// Classifier files (save_classifier): v1 the header line.
inline constexpr CheckpointKind kClassifierFile{"ganaug-classifier-v", 1, 1, false,
                                                "classifier file"};

/// Writes every option of `o` into `archive`, keyed as the reader expects them.
void write_options(torch::serialize::OutputArchive& archive, const GanOptions& o);

/// Writes Adam's moments keyed by parameter index (LibTorch's own layout keys them by tensor
/// address, which neither travels between LibTorch versions nor comes out the same twice).
void save_adam(torch::serialize::OutputArchive& archive, torch::optim::Adam& optimizer);

/// The bytes of a checkpoint file of the current format holding `payload` (a serialised LibTorch
/// archive): the format's header line with the payload's size and checksum, then the payload.
std::string checkpoint_file_bytes(const std::string& payload,
                                  const CheckpointKind& kind = kGanCheckpoint);

/// Writes `archive` as a file of `kind` at `path`, atomically and durably (a temporary file,
/// then a rename), creating the parent folders. The archive is serialised in memory first: a
/// LibTorch archive that fails to write its file throws from a destructor and aborts the
/// process, so a full disk here is an ordinary ganaug::Error and a previous file stays intact.
void write_checkpoint_file(torch::serialize::OutputArchive& archive, const std::string& path,
                           const CheckpointKind& kind);

/// Opens a checkpoint file of any format ganaug wrote and reads its fields. Every damage found
/// (missing file, bad checksum, missing field, wrong shape, NaN weights) throws ganaug::Error
/// naming the file; only an archive whose checksum holds reaches LibTorch's parser.
class CheckpointReader {
 public:
  CheckpointReader(const std::string& path, const torch::Device& device,
                   const CheckpointKind& kind = kGanCheckpoint);
  std::vector<std::string> class_names();
  c10::IValue value(const char* key);
  int64_t integer(const char* key);
  // For fields added after the first checkpoint format: their value before they existed.
  int64_t integer_or(const char* key, int64_t fallback);
  double real_or(const char* key, double fallback);
  double real(const char* key);
  std::string text(const char* key);
  std::string text_or(const char* key, const std::string& fallback);
  GanOptions options();
  // Loads a module stored under `key`, checking every weight's shape against the module's.
  void load(const char* key, torch::nn::Module& target);
  // Loads an optimizer: Adam moments by parameter index (format v2), or LibTorch 1.13's own
  // layout (format v1, keyed by the addresses of the writing process's tensors, matched up by
  // order).
  void load_optimizer(const char* key, torch::optim::Adam& optimizer);
  // Loads a flat optimizer's state (FlatOptimizer::save's, or save_adam's for the same
  // parameters); `stored` as FlatOptimizer::load takes it.
  void load_optimizer(const char* key, FlatOptimizer& optimizer,
                      const std::vector<size_t>& stored = {});
  // Loads a weight average as WeightAverage::save wrote it.
  void load_average(const char* key, WeightAverage& average);
  // Loads a pool alignment as DistributionAlignment::save wrote it.
  void load_alignment(const char* key, DistributionAlignment& alignment);
  // Whether the file holds a sub-archive (a module or a state) under `key`.
  bool contains(const char* key);
  // The file's format version (1 for a GAN checkpoint without the header line).
  int64_t version() const { return version_; }
  // Refuses NaN or Inf anywhere in a loaded module: such weights make black or empty images.
  void check_finite_weights(const torch::nn::Module& module, const char* key) const;

 private:
  // Reads the archive under `key` with `read`, which returns what is wrong or "".
  void load_state(const char* key,
                  const std::function<std::string(torch::serialize::InputArchive&)>& read);

  std::string path_;
  int64_t version_ = 0;
  bool bare_zip_ = false;  // a GAN checkpoint of format v1 (no header line)
  torch::serialize::InputArchive archive_;
};

}  // namespace ganaug::detail
