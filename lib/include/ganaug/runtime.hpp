#pragma once
/// Where and how LibTorch computes: device selection and CPU thread counts.

#include <torch/types.h>

#include <cstdint>
#include <string>

namespace ganaug {

/// Resolves a device request: "auto" (CUDA when available, else CPU), "cpu", "cuda" or
/// "cuda:N". Throws ganaug::Error for an unknown name or a CUDA request without CUDA.
torch::Device select_device(const std::string& request = "auto");

/// Sets LibTorch's intra-op CPU thread count (process-wide); 0 means default_threads()
/// (OMP_NUM_THREADS when set, else one per CPU this process may use). Debian's LibTorch starts with
/// 1 thread, so the tools call it once at start; the library's stages call it only when their
/// options name a thread count. Returns the count now in effect. Not to be called while another
/// thread runs LibTorch operations. Throws ganaug::Error for a negative count.
///
/// Also keeps OpenBLAS (which LibTorch calls for Linear layers and matrix-vector products) on
/// one thread unless OPENBLAS_NUM_THREADS is set (decided once, at the first call): its own
/// pthread pool spin-waits against LibTorch's OpenMP team (what that cost: docs/defaults.md).
int configure_threads(int threads = 0);

/// Sets OpenBLAS's (process-wide) thread count when OpenBLAS is the BLAS in use, found by its
/// openblas_set_num_threads symbol; returns false when it is not (another BLAS, or none
/// loaded), in which case nothing changes.
bool set_blas_threads(int threads);

/// The thread count "0 = all" stands for: OMP_NUM_THREADS when it is set to a positive number
/// (srun, torchrun and container launchers set it per process), else hardware_threads().
int default_threads();

/// The number of CPUs this process may run on (its affinity mask: honours taskset, Slurm's
/// --cpus-per-task and container cpusets), at least 1.
int hardware_threads();

/// A CPU random-number generator of LibTorch's kind (Philox/MT as LibTorch's own CPU generator),
/// seeded `seed` and owned by the caller: ganaug draws from such generators, never from
/// LibTorch's global one, so that its results depend only on its seeds and it leaves the
/// caller's random stream alone.
at::Generator make_cpu_generator(uint64_t seed);

/// A random-number generator on `device`, seeded `seed` and owned by the caller: on the CPU the
/// same as make_cpu_generator(seed); on CUDA a Philox generator of that device (a clone of its
/// default generator, reseeded; the default itself is not touched). ganaug draws a training
/// step's noise, classes, indices and augmentation parameters on the device the step runs on,
/// so that nothing is copied from the host per step. CPU and CUDA generators make different
/// numbers from the same seed: a run repeats bit for bit on the same kind of device only.
at::Generator make_generator(const torch::Device& device, uint64_t seed);

/// Turns LibTorch's deterministic mode on or off, process-wide: deterministic algorithms (an op
/// with no deterministic implementation throws), deterministic cuDNN without its autotuner, and
/// for cuBLAS the CUBLAS_WORKSPACE_CONFIG=:4096:8 setting (left as it is when already set). Call
/// it before any CUDA work, as cuBLAS reads that variable once. On the CPU ganaug repeats bit
/// for bit without it; on CUDA only with it. The tools' --deterministic calls this.
void use_deterministic_algorithms(bool on);

/// Whether deterministic mode is on (LibTorch's deterministic-algorithms flag).
bool deterministic_algorithms();

/// Whether this build and machine can run CUDA (torch::cuda::is_available()).
bool cuda_available();

/// Whether this build captures training steps as CUDA graphs on a CUDA device
/// (GanOptions::cuda_graphs, ClassifierOptions::cuda_graphs): LibTorch with CUDA and the CMake
/// option GANAUG_CUDA_GRAPHS on (the default). False with Debian's LibTorch, which has no CUDA.
bool cuda_graphs_available();

/// The arithmetic of a network's forward passes in training.
enum class Precision {
  /// float32 throughout (on CUDA, cuBLAS and cuDNN may use TF32 where LibTorch allows it).
  kFloat32,
  /// LibTorch's autocast to bfloat16: matrix products and convolutions in bfloat16, losses,
  /// normalisations and reductions in float32; the weights, gradients and optimizer stay
  /// float32. On a CUDA device (for large batches), or on a CPU with bfloat16 instructions
  /// (cpu_has_bf16(): AVX512-BF16 or AMX, where oneDNN runs the convolutions in them, faster
  /// than fp32: docs/defaults.md); refused on other CPUs, where it would run slower than fp32.
  kBFloat16,
};

/// Whether this CPU has bfloat16 instructions (AVX512-BF16 or AMX-BF16, as Linux's
/// /proc/cpuinfo lists them); false where that cannot be read.
bool cpu_has_bf16();

/// "fp32" or "bf16".
std::string to_string(Precision precision);
/// The precision named "fp32" or "bf16"; throws ganaug::Error naming `name` otherwise.
Precision parse_precision(const std::string& name);
/// Throws ganaug::Error unless `precision` runs on `device` (bf16 autocast needs CUDA or a CPU
/// with bfloat16 instructions: `cpu_bf16`, by default cpu_has_bf16()). The jobs call it before
/// they write or train anything.
void check_precision(Precision precision, const torch::Device& device);
void check_precision(Precision precision, const torch::Device& device, bool cpu_bf16);

/// The CPU's model name from /proc/cpuinfo ("unknown CPU" where there is none), for reports.
std::string cpu_model();

}  // namespace ganaug
