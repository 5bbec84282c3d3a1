#include "runtime/cuda_graph.hpp"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <optional>
#include <sstream>
#include <string>
#include <type_traits>

#include "ganaug/error.hpp"

#ifdef GANAUG_WITH_CUDA_GRAPHS
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/version.h>
#endif

namespace ganaug {

bool cuda_graphs_available() {
#ifdef GANAUG_WITH_CUDA_GRAPHS
  return true;
#else
  return false;
#endif
}

namespace detail {

#ifdef GANAUG_WITH_CUDA_GRAPHS

struct CudaStepGraph::Impl {
  explicit Impl(const torch::Device& device)
      : stream(c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device.index())),
        generator(at::globalContext().defaultGenerator(device)) {
    std::lock_guard<std::mutex> lock(generator.mutex());
    saved_generator = generator.get_state();
  }

  c10::cuda::CUDAStream stream;
  at::Generator generator;  // the device's default generator, which a capture reads
  torch::Tensor saved_generator;
  std::optional<c10::cuda::CUDAStreamGuard> guard;
  at::cuda::CUDAGraph graph;
  at::cuda::CUDAEvent to_side, to_default;  // orderings with the default stream
  bool captured = false;
};

CudaStepGraph::CudaStepGraph(const torch::Device& device) {
  GANAUG_CHECK(device.is_cuda(), "a CUDA graph needs a CUDA device, got ", device.str());
  impl_ = std::make_unique<Impl>(device);
  // The side stream starts after the work queued so far (initial weights, the data's copy).
  torch::cuda::synchronize(device.index());
  impl_->guard.emplace(impl_->stream);
}

CudaStepGraph::~CudaStepGraph() {
  try {
    impl_->stream.synchronize();
    impl_->guard.reset();
    std::lock_guard<std::mutex> lock(impl_->generator.mutex());
    impl_->generator.set_state(impl_->saved_generator);
  } catch (...) {
    // A destructor must not throw; the error that ended training is the one to report.
  }
}

at::Generator CudaStepGraph::generator() const { return impl_->generator; }

void CudaStepGraph::seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(impl_->generator.mutex());
  impl_->generator.set_current_seed(seed);  // and offset 0
}

void CudaStepGraph::capture(const std::function<void()>& step) {
  GANAUG_CHECK(!impl_->captured, "a CUDA step graph is captured once");
  impl_->stream.synchronize();
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
  // Other threads (a prefetching feeder) may go on queueing work on other streams meanwhile.
  impl_->graph.capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
#else
  impl_->graph.capture_begin();
#endif
  try {
    step();
  } catch (...) {
    try {
      impl_->graph.capture_end();
    } catch (...) {
    }
    impl_->graph.reset();
    throw;
  }
  impl_->graph.capture_end();
  impl_->captured = true;
}

bool CudaStepGraph::captured() const { return impl_->captured; }

void CudaStepGraph::replay() {
  GANAUG_CHECK(impl_->captured, "a CUDA step graph replays only after its capture");
  impl_->graph.replay();
}

void CudaStepGraph::wait_for_default_stream() {
  impl_->to_side.record(c10::cuda::getDefaultCUDAStream(impl_->stream.device_index()));
  impl_->to_side.block(impl_->stream);
}

void CudaStepGraph::default_stream_waits() {
  impl_->to_default.record(impl_->stream);
  impl_->to_default.block(c10::cuda::getDefaultCUDAStream(impl_->stream.device_index()));
}

#else  // no CUDA graphs in this build

struct CudaStepGraph::Impl {};

CudaStepGraph::CudaStepGraph(const torch::Device& device) {
  GANAUG_FAIL(
      "this build of ganaug has no CUDA graphs (LibTorch without CUDA, or built with "
      "GANAUG_CUDA_GRAPHS=OFF); asked for on ",
      device.str());
}
CudaStepGraph::~CudaStepGraph() = default;
at::Generator CudaStepGraph::generator() const { return {}; }
void CudaStepGraph::seed(uint64_t) {}
void CudaStepGraph::capture(const std::function<void()>&) {}
bool CudaStepGraph::captured() const { return false; }
void CudaStepGraph::replay() {}
void CudaStepGraph::wait_for_default_stream() {}
void CudaStepGraph::default_stream_waits() {}

#endif

namespace {

// Autocast's switch and type for CUDA or the CPU: per device type from LibTorch 2.4, each
// device's own functions before.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool autocast_enabled(bool cpu) {
  return at::autocast::is_autocast_enabled(cpu ? at::kCPU : at::kCUDA);
}
void set_autocast_enabled(bool cpu, bool on) {
  at::autocast::set_autocast_enabled(cpu ? at::kCPU : at::kCUDA, on);
}
at::ScalarType autocast_dtype(bool cpu) {
  return at::autocast::get_autocast_dtype(cpu ? at::kCPU : at::kCUDA);
}
void set_autocast_dtype(bool cpu, at::ScalarType type) {
  at::autocast::set_autocast_dtype(cpu ? at::kCPU : at::kCUDA, type);
}
#else
bool autocast_enabled(bool cpu) {
  return cpu ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
}
void set_autocast_enabled(bool cpu, bool on) {
  if (cpu)
    at::autocast::set_cpu_enabled(on);
  else
    at::autocast::set_enabled(on);
}
at::ScalarType autocast_dtype(bool cpu) {
  return cpu ? at::autocast::get_autocast_cpu_dtype() : at::autocast::get_autocast_gpu_dtype();
}
void set_autocast_dtype(bool cpu, at::ScalarType type) {
  if (cpu)
    at::autocast::set_autocast_cpu_dtype(type);
  else
    at::autocast::set_autocast_gpu_dtype(type);
}
#endif

}  // namespace

Autocast::Autocast(Precision precision, const torch::Device& device) {
  if (precision != Precision::kBFloat16) return;
  on_ = true;
  cpu_ = device.is_cpu();
  was_enabled_ = autocast_enabled(cpu_);
  was_dtype_ = autocast_dtype(cpu_);
  was_caching_ = at::autocast::is_autocast_cache_enabled();
  set_autocast_enabled(cpu_, true);
  set_autocast_dtype(cpu_, at::kBFloat16);
  at::autocast::set_autocast_cache_enabled(false);
  at::autocast::increment_nesting();
}

Autocast::~Autocast() {
  if (!on_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast_enabled(cpu_, was_enabled_);
  set_autocast_dtype(cpu_, was_dtype_);
  at::autocast::set_autocast_cache_enabled(was_caching_);
}

namespace {

// The state of parameter `p`: LibTorch 1.13 keys the map by the TensorImpl address written as
// text, 2.x by the address itself.
template <class Map>
torch::optim::OptimizerParamState* find_state(Map& states, const torch::Tensor& p) {
  using Key = typename Map::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream key;
    key << p.unsafeGetTensorImpl();
    const auto it = states.find(key.str());
    return it == states.end() ? nullptr : it->second.get();
  } else {
    const auto it = states.find(p.unsafeGetTensorImpl());
    return it == states.end() ? nullptr : it->second.get();
  }
}

template <class Visit>
void for_each_adam_state(torch::optim::Adam& optimizer, bool with_gradient_only, Visit visit) {
  for (auto& group : optimizer.param_groups()) {
    const auto& options = static_cast<const torch::optim::AdamOptions&>(group.options());
    for (auto& p : group.params()) {
      if (with_gradient_only && !p.grad().defined()) continue;
      auto* state = find_state(optimizer.state(), p);
      if (!state) {
        GANAUG_CHECK(!with_gradient_only,
                     "Adam's device step needs every parameter's state: take one eager step first");
        continue;
      }
      visit(p, options, static_cast<torch::optim::AdamParamState&>(*state));
    }
  }
}

}  // namespace

void adam_update_on_device(torch::Tensor value, torch::Tensor grad, torch::Tensor exp_avg,
                           torch::Tensor exp_avg_sq, const torch::Tensor& steps,
                           const torch::Tensor& lr, double beta1, double beta2, double eps,
                           double weight_decay) {
  torch::NoGradGuard no_grad;
  if (weight_decay != 0) grad = grad.add(value, weight_decay);
  exp_avg.mul_(beta1).add_(grad, 1 - beta1);
  exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
  // As torch::optim::Adam: the bias corrections in double precision, then the same order.
  const auto bias_correction1 = 1 - torch::pow(beta1, steps);
  const auto bias_correction2 = 1 - torch::pow(beta2, steps);
  const auto denom =
      (exp_avg_sq.sqrt() / bias_correction2.sqrt().to(value.scalar_type())).add_(eps);
  value.sub_(exp_avg / denom * (lr / bias_correction1).to(value.scalar_type()));
}

void adam_step_on_device(torch::optim::Adam& optimizer, const torch::Tensor& steps) {
  torch::NoGradGuard no_grad;
  steps.add_(1);
  for_each_adam_state(optimizer, true,
                      [&](torch::Tensor& p, const torch::optim::AdamOptions& o,
                          torch::optim::AdamParamState& state) {
                        GANAUG_CHECK(!o.amsgrad(), "Adam's device step has no AMSGrad");
                        adam_update_on_device(p, p.grad(), state.exp_avg(), state.exp_avg_sq(),
                                              steps, torch::full({}, o.lr(), steps.options()),
                                              std::get<0>(o.betas()), std::get<1>(o.betas()),
                                              o.eps(), o.weight_decay());
                      });
}

torch::Tensor adam_steps_tensor(torch::optim::Adam& optimizer, const torch::Device& device) {
  int64_t steps = -1;
  for_each_adam_state(
      optimizer, false,
      [&](torch::Tensor&, const torch::optim::AdamOptions&, torch::optim::AdamParamState& state) {
        if (steps < 0) steps = state.step();
      });
  return torch::full({}, static_cast<double>(std::max<int64_t>(steps, 0)),
                     torch::TensorOptions().dtype(torch::kFloat64).device(device));
}

void advance_adam_steps(torch::optim::Adam& optimizer, int64_t by) {
  for_each_adam_state(optimizer, false,
                      [&](torch::Tensor&, const torch::optim::AdamOptions&,
                          torch::optim::AdamParamState& state) { state.step(state.step() + by); });
}

void update_moving_average_on_device(torch::nn::Module& model, torch::nn::Module& average,
                                     double decay, const torch::Tensor& step) {
  torch::NoGradGuard no_grad;
  const auto d = torch::clamp_max((1.0 + step) / (10.0 + step), decay);
  auto source = model.parameters(), target = average.parameters();
  for (size_t i = 0; i < source.size(); ++i) {
    const auto w = d.to(target[i].scalar_type());
    target[i].mul_(w).add_(source[i] * (1 - w));
  }
  auto source_buffers = model.buffers(), target_buffers = average.buffers();
  for (size_t i = 0; i < source_buffers.size(); ++i) target_buffers[i].copy_(source_buffers[i]);
}

void zero_gradients(std::vector<torch::Tensor> parameters) {
  torch::NoGradGuard no_grad;
  for (auto& p : parameters) {
    auto& grad = p.mutable_grad();
    if (grad.defined()) grad.zero_();
  }
}

}  // namespace detail
}  // namespace ganaug
