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
/// The run fields that the options still have are deprecated (removed in 0.7): seed, device and
/// threads in GanOptions, ClassifierOptions, JointOptions and SynthesizeOptions, out_dir in
/// GanOptions and JointOptions. The overloads that take a RunContext refuse options given to
/// them that set one of those to another value than the run's (the same value passes: options
/// read back from a checkpoint hold the run's seed); options nested in others
/// (JointOptions::gan(), ::classifier(), SynthesizeOptions::gan(), a job's) keep being ignored
/// for theirs, but SynthesizeOptions::gan()'s out_dir, refused when it is not the run's. The
/// overloads without a run (deprecated: warned at compile time unless
/// GANAUG_NO_DEPRECATED_WARNINGS is defined) read the fields as the run.

#include <torch/arg.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>

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

namespace detail {

/// Whether `Options` has the deprecated out_dir field (GanOptions, JointOptions).
template <class Options, class = void>
struct HasOutDir : std::false_type {};
template <class Options>
struct HasOutDir<Options, std::void_t<decltype(std::declval<const Options&>().out_dir())>>
    : std::true_type {};

/// `o` with its deprecated run fields (seed, device, threads, out_dir) back at their defaults:
/// options nested in a job's or a stage's, whose run is the job's (their own were never read;
/// removed in 0.7 with the fields).
template <class Options>
Options without_run(Options o) {
  const RunContext unset;
  o.seed(unset.seed()).device(unset.device()).threads(unset.threads());
  if constexpr (HasOutDir<Options>::value) o.out_dir(unset.out_dir());
  return o;
}

}  // namespace detail

}  // namespace ganaug
