// Internal to the ganaug library: a training step captured once as a CUDA graph and replayed,
// and the device-side optimizer and weight-average updates such a step needs (their counters
// live in device tensors, so that a replay does not reuse the host values of the capture).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "ganaug/runtime.hpp"

namespace ganaug::detail {

/// One training step, captured on a side stream and replayed. While it exists the side stream
/// is the current stream of its device (the step's eager iterations run there too, so that
/// cuBLAS and the allocator are set up on it before the capture); destroying it synchronises
/// and restores the previous stream and the default generator's seed and offset.
///
/// Random draws: a captured step draws from the device's default CUDA generator, which the
/// graph reads at each replay. seed() reseeds it (offset 0) before a replay, so a replayed step
/// draws exactly what a fresh generator seeded the same way draws in an eager step.
class CudaStepGraph {
 public:
  /// Throws ganaug::Error when !cuda_graphs_available() or `device` is not a CUDA device.
  explicit CudaStepGraph(const torch::Device& device);
  ~CudaStepGraph();
  CudaStepGraph(const CudaStepGraph&) = delete;
  CudaStepGraph& operator=(const CudaStepGraph&) = delete;

  /// The generator a captured step must draw from.
  at::Generator generator() const;
  /// Reseeds generator(), offset 0.
  void seed(uint64_t seed);
  /// Records `step` (nothing runs); a step that throws leaves no graph and rethrows.
  void capture(const std::function<void()>& step);
  bool captured() const;
  /// Runs the recorded step once; throws ganaug::Error before capture().
  void replay();
  /// The side stream waits for the work queued so far on the device's default stream, where
  /// other threads (a prefetching feeder) queue theirs: call after such a thread has queued a
  /// step's inputs and before the step reads them.
  void wait_for_default_stream();
  /// The default stream waits for the work queued so far on the side stream: call before other
  /// threads may reuse the memory of inputs a step read.
  void default_stream_waits();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// While it lives, the operations of this thread on `device`'s type (CUDA or the CPU) run under
/// LibTorch's autocast to bfloat16 when `precision` is Precision::kBFloat16 (nothing changes
/// otherwise); autocast's cast cache is off, so that a CUDA graph may capture the casts. Restores
/// the previous settings when destroyed.
class Autocast {
 public:
  Autocast(Precision precision, const torch::Device& device);
  ~Autocast();
  Autocast(const Autocast&) = delete;
  Autocast& operator=(const Autocast&) = delete;

 private:
  bool on_ = false, cpu_ = false, was_enabled_ = false, was_caching_ = true;
  at::ScalarType was_dtype_ = at::kHalf;
};

/// Adam's update of one tensor of weights `value` (torch::optim::Adam's arithmetic, no AMSGrad):
/// L2 weight decay added to `grad`, the moments updated in place, the bias corrections from
/// `steps` (a float64 scalar on the weights' device, already raised for this step) and the
/// learning rate `lr` (a float64 scalar there too), so that nothing is read from the host.
void adam_update_on_device(torch::Tensor value, torch::Tensor grad, torch::Tensor exp_avg,
                           torch::Tensor exp_avg_sq, const torch::Tensor& steps,
                           const torch::Tensor& lr, double beta1, double beta2, double eps,
                           double weight_decay);

/// Adam's step for `optimizer` with the same arithmetic as torch::optim::Adam::step (no
/// AMSGrad), its step count read from `steps` (a float64 scalar on the parameters' device, which
/// this raises by 1) instead of the host state; exp_avg and exp_avg_sq are the optimizer's own
/// state tensors, updated in place. Every parameter with a gradient must have its state (one
/// eager step first); throws ganaug::Error otherwise. The host state's counts are not touched:
/// advance_adam_steps() keeps them equal, so that checkpoints hold the right counts.
void adam_step_on_device(torch::optim::Adam& optimizer, const torch::Tensor& steps);
/// The host step count of `optimizer`'s first parameter with a state, as a float64 scalar on
/// `device` (for adam_step_on_device); 0 before any step.
torch::Tensor adam_steps_tensor(torch::optim::Adam& optimizer, const torch::Device& device);
/// Adds `by` to the host step count of every parameter state of `optimizer`.
void advance_adam_steps(torch::optim::Adam& optimizer, int64_t by);

/// detail::update_moving_average with the step count read from `step` (a float64 scalar on the
/// models' device; the caller raises it): the same decay, min(decay, (1 + t) / (10 + t)).
void update_moving_average_on_device(torch::nn::Module& model, torch::nn::Module& average,
                                     double decay, const torch::Tensor& step);

/// Zeroes the gradients that exist, in place (an optimizer's zero_grad may free them instead,
/// LibTorch 2.x's default; a captured step must keep writing to the same memory).
void zero_gradients(std::vector<torch::Tensor> parameters);

}  // namespace ganaug::detail
