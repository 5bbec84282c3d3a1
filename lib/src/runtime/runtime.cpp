#include "ganaug/runtime.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <dlfcn.h>
#include <sched.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "ganaug/choices.hpp"
#include "ganaug/error.hpp"

namespace ganaug {

at::Generator make_cpu_generator(uint64_t seed) { return at::detail::createCPUGenerator(seed); }

at::Generator make_generator(const torch::Device& device, uint64_t seed) {
  if (device.is_cpu()) return make_cpu_generator(seed);
  // Public API only (the same in LibTorch 1.13 and 2.x): a copy of the device's default
  // generator, taken under its lock and reseeded, so that no CUDA header is needed here.
  at::Generator default_generator = at::globalContext().defaultGenerator(device);  // a handle
  at::Generator out;
  {
    std::lock_guard<std::mutex> lock(default_generator.mutex());
    out = default_generator.clone();
  }
  out.set_current_seed(seed);
  return out;
}

void use_deterministic_algorithms(bool on) {
  if (on) setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);
  auto& context = at::globalContext();
  context.setDeterministicAlgorithms(on, /*warn_only=*/false);
  context.setDeterministicCuDNN(on);
  if (on) context.setBenchmarkCuDNN(false);
}

bool deterministic_algorithms() { return at::globalContext().deterministicAlgorithms(); }

bool cuda_available() { return torch::cuda::is_available(); }

int hardware_threads() {
  // The CPUs this process may run on (srun --cpus-per-task, taskset, a container's cpuset), not
  // the machine's core count.
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) {
    const int n = CPU_COUNT(&allowed);
    if (n > 0) return n;
  }
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

int default_threads() {
  // OMP_NUM_THREADS, as the job's launcher (srun, torchrun, a container) set it, when it is a
  // positive number; else every CPU of the affinity mask.
  if (const char* text = std::getenv("OMP_NUM_THREADS")) {
    char* end = nullptr;
    const long value = std::strtol(text, &end, 10);
    if (end != text && *end == '\0' && value > 0) return static_cast<int>(value);
  }
  return hardware_threads();
}

int configure_threads(int threads) {
  GANAUG_CHECK(threads >= 0, "the thread count must be 0 (all cores) or positive, got ", threads);
  const int wanted = threads == 0 ? default_threads() : threads;
  if (torch::get_num_threads() != wanted) torch::set_num_threads(wanted);
  static const bool blas_configured = [] {
    return std::getenv("OPENBLAS_NUM_THREADS") == nullptr && set_blas_threads(1);
  }();
  (void)blas_configured;
  return torch::get_num_threads();
}

bool set_blas_threads(int threads) {
  using SetThreads = void (*)(int);
  // Looked up at run time: the BLAS is whichever libblas.so.3 Debian's alternatives select.
  static const auto set =
      reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (!set) return false;
  set(threads);
  return true;
}

torch::Device select_device(const std::string& request) {
  if (request == "auto") return cuda_available() ? torch::Device(torch::kCUDA) : torch::kCPU;
  if (request == "cpu") return torch::kCPU;
  if (request.rfind("cuda", 0) == 0) {
    GANAUG_CHECK(cuda_available(), "device '", request,
                 "' was asked for but this build or machine has no CUDA; use --device cpu");
    torch::Device device(torch::kCPU);
    try {
      device = torch::Device(request);
    } catch (const c10::Error&) {
      GANAUG_FAIL("unknown device '", request, "'; use auto, cpu, cuda or cuda:N");
    }
    const auto count = static_cast<int64_t>(torch::cuda::device_count());
    GANAUG_CHECK(!device.has_index() || device.index() < count, "device '", request,
                 "' was asked for but this machine has ", count, " CUDA device",
                 count == 1 ? " (cuda:0)" : "s (cuda:0 to cuda:" + std::to_string(count - 1) + ")");
    return device;
  }
  GANAUG_FAIL("unknown device '", request, "'; use auto, cpu, cuda or cuda:N");
}

std::string cpu_model() {
  std::ifstream info("/proc/cpuinfo");
  std::string line;
  while (std::getline(info, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

namespace {
const Choices<Precision>& precisions() {
  static const Choices<Precision> choices(
      "precision", {{Precision::kFloat32, "fp32"}, {Precision::kBFloat16, "bf16"}});
  return choices;
}
}  // namespace

std::string to_string(Precision precision) { return precisions().name(precision); }

bool cpu_has_bf16() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream flags(line.substr(line.find(':') + 1));
    for (std::string flag; flags >> flag;)
      if (flag == "avx512_bf16" || flag == "amx_bf16") return true;
    return false;  // every core lists the same flags
  }
  return false;
}

void check_precision(Precision precision, const torch::Device& device) {
  check_precision(precision, device, precision == Precision::kBFloat16 && cpu_has_bf16());
}

void check_precision(Precision precision, const torch::Device& device, bool cpu_bf16) {
  GANAUG_CHECK(
      precision == Precision::kFloat32 || device.is_cuda() || (device.is_cpu() && cpu_bf16),
      "bf16 autocast (GanOptions::precision, --precision bf16) needs a CUDA device or a "
      "CPU with bfloat16 instructions (AVX512-BF16 or AMX), not ",
      device.str(), device.is_cpu() ? " without them (it would run slower than fp32)" : "",
      "; train in fp32 there");
}

Precision parse_precision(const std::string& name) { return precisions().parse(name); }

}  // namespace ganaug
