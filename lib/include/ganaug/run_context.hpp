#pragma once
/// A run's context: its seed, device, CPU threads and output folder, set once and passed to the
/// trainers (GanTrainer, train_classifier, JointTrainer, synthesize and the stages of job.hpp).
/// Options structs hold hyperparameters; where a network lives is the run's (LibTorch's
/// ConvOptions and AdamOptions hold no device either: `module->to(device)` sets it).
///
/// Example:
/// \code
///   const auto run = ganaug::RunContext().seed(7).device("cpu").out_dir("out");
///   ganaug::GanTrainer gan(run.in("gan"), ganaug::GanOptions(10).iterations(2000), names);
///   auto classifier = ganaug::train_classifier(run, train, nullptr,
///   ganaug::ClassifierOptions(10));
/// \endcode
///
/// The seed, device, threads and out_dir fields that GanOptions, ClassifierOptions, JointOptions
/// and SynthesizeOptions still have are deprecated (removed in 0.7): the overloads that take a
/// RunContext refuse options that set one of them to another value than the run's, and the
/// overloads without one (deprecated, warned at compile time unless GANAUG_NO_DEPRECATED_WARNINGS
/// is defined) read them as the run's context.

#include <torch/arg.h>

#include <cstdint>
#include <string>

#if defined(GANAUG_NO_DEPRECATED_WARNINGS)
#define GANAUG_DEPRECATED(message)
#else
/// Marks an API kept for one release; `message` says what replaces it.
#define GANAUG_DEPRECATED(message) [[deprecated(message)]]
#endif

namespace ganaug {

/// Where and with what a run trains: one per job, passed to every trainer (see the file's
/// comment).
struct RunContext {
  /// Seeds the initial weights and every draw of the run's trainers (each mixes it with a stream
  /// of its own, seed_streams.hpp); LibTorch's global generator is neither read nor seeded.
  TORCH_ARG(uint64_t, seed) = 0;
  /// Where the networks live and train: "auto" (CUDA when available), "cpu", "cuda" or
  /// "cuda:N"; checked when a trainer starts.
  TORCH_ARG(std::string, device) = "auto";
  /// CPU threads for LibTorch: 0 leaves the process-wide setting as the caller left it
  /// (Debian's LibTorch starts with 1; see configure_threads); N > 0 sets it to N
  /// (process-wide) when a trainer starts.
  TORCH_ARG(int, threads) = 0;
  /// The folder a GAN or joint trainer writes its log.csv and checkpoint.pt to; empty (the
  /// default) writes nothing. train_classifier writes nothing.
  TORCH_ARG(std::string, out_dir) = "";

 public:
  /// The same run writing into the subfolder `sub` of out_dir() (a stage's folder); empty stays
  /// empty (nothing written).
  RunContext in(const std::string& sub) const;
  /// Throws ganaug::Error for a negative thread count.
  void validate() const;
};

}  // namespace ganaug
