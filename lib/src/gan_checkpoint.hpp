// Internal to the ganaug library: the GAN checkpoint file, written by GanTrainer::save_checkpoint
// and read by GanTrainer::resume and load_generator.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "ganaug/gan.hpp"

namespace ganaug::detail {

/// Writes every option of `o` into `archive`, keyed as the reader expects them.
void write_options(torch::serialize::OutputArchive& archive, const GanOptions& o);

/// Writes Adam's moments keyed by parameter index (LibTorch's own layout keys them by tensor
/// address, which neither travels between LibTorch versions nor comes out the same twice).
void save_adam(torch::serialize::OutputArchive& archive, torch::optim::Adam& optimizer);

/// The bytes of a checkpoint file of the current format holding `payload` (a serialised LibTorch
/// archive): the format's header line with the payload's size and checksum, then the payload.
std::string checkpoint_file_bytes(const std::string& payload);

/// Opens a checkpoint file of any format ganaug wrote and reads its fields. Every damage found
/// (missing file, bad checksum, missing field, wrong shape, NaN weights) throws ganaug::Error
/// naming the file; only an archive whose checksum holds reaches LibTorch's parser.
class CheckpointReader {
 public:
  CheckpointReader(const std::string& path, const torch::Device& device);
  std::vector<std::string> class_names();
  c10::IValue value(const char* key);
  int64_t integer(const char* key);
  // For fields added after the first checkpoint format: their value before they existed.
  int64_t integer_or(const char* key, int64_t fallback);
  double real_or(const char* key, double fallback);
  double real(const char* key);
  std::string text(const char* key);
  GanOptions options();
  // Loads a module stored under `key`, checking every weight's shape against the module's.
  void load(const char* key, torch::nn::Module& target);
  // Loads an optimizer: Adam moments by parameter index (format v2), or LibTorch 1.13's own
  // layout (format v1, keyed by the addresses of the writing process's tensors, matched up by
  // order).
  void load_optimizer(const char* key, torch::optim::Adam& optimizer);
  // Refuses NaN or Inf anywhere in a loaded module: such weights make black or empty images.
  void check_finite_weights(const torch::nn::Module& module, const char* key) const;

 private:
  std::string path_;
  int64_t version_ = 0;
  torch::serialize::InputArchive archive_;
};

}  // namespace ganaug::detail
