#pragma once
/// Where and how LibTorch computes: device selection and CPU thread counts.

#include <torch/types.h>

#include <string>

namespace ganaug {

/// Resolves a device request: "auto" (CUDA when available, else CPU), "cpu", "cuda" or
/// "cuda:N". Throws ganaug::Error for an unknown name or a CUDA request without CUDA.
torch::Device select_device(const std::string& request = "auto");

/// Sets LibTorch's intra-op CPU thread count; 0 means one per hardware core. Debian's LibTorch
/// starts with 1 thread, so every entry point calls this. Returns the count now in effect.
///
/// Also keeps OpenBLAS (which LibTorch calls for Linear layers and matrix-vector products) on
/// one thread unless OPENBLAS_NUM_THREADS is set: its own pthread pool spin-waits against
/// LibTorch's OpenMP team, and on this project's 2-core reference machine that cost the GAN
/// training step 40% (371 -> 519 images/s, bench/RESULTS.md).
int configure_threads(int threads = 0);

/// Sets OpenBLAS's thread count when OpenBLAS is the BLAS in use; returns false when it is not
/// (another BLAS, or none loaded), in which case nothing changes.
bool set_blas_threads(int threads);

/// The number of CPUs this process may run on (its affinity mask: honours taskset, Slurm's
/// --cpus-per-task and container cpusets), at least 1.
int hardware_threads();

/// Whether this build and machine can run CUDA.
bool cuda_available();

/// The CPU's model name from /proc/cpuinfo ("unknown CPU" where there is none), for reports.
std::string cpu_model();

}  // namespace ganaug
