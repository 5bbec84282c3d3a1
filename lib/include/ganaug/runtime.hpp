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
int configure_threads(int threads = 0);

/// Number of hardware threads (at least 1).
int hardware_threads();

/// Whether this build and machine can run CUDA.
bool cuda_available();

/// The CPU's model name from /proc/cpuinfo ("unknown CPU" where there is none), for reports.
std::string cpu_model();

}  // namespace ganaug
