#include "gan/gan_support.hpp"

#include <filesystem>

#include "ganaug/error.hpp"
#include "ganaug/file_io.hpp"

namespace ganaug {

namespace fs = std::filesystem;

void detail::check_finite(const torch::nn::Module& module, const char* what, int64_t iteration) {
  torch::NoGradGuard no_grad;
  const auto parameters = module.named_parameters();
  std::vector<torch::Tensor> finite;
  for (const auto& item : parameters) finite.push_back(torch::isfinite(item.value()).all());
  if (finite.empty()) return;
  // One read from the device for all weights.
  const auto flags = torch::stack(finite).to(torch::kCPU).contiguous();
  for (size_t i = 0; i < parameters.size(); ++i) {
    GANAUG_CHECK(flags.data_ptr<bool>()[i], "training diverged by iteration ", iteration, ": the ",
                 what, " weight '", parameters[i].key(),
                 "' holds NaN or Inf; the last checkpoint is left intact. Lower the learning "
                 "rates or change the seed");
  }
}

void detail::copy_state(torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  auto source = from.parameters(), target = to.parameters();
  for (size_t i = 0; i < source.size(); ++i) target[i].copy_(source[i]);
  auto source_buffers = from.buffers(), target_buffers = to.buffers();
  for (size_t i = 0; i < source_buffers.size(); ++i) target_buffers[i].copy_(source_buffers[i]);
}

void detail::update_moving_average(torch::nn::Module& model, torch::nn::Module& average,
                                   double decay, int64_t step) {
  const double d =
      std::min(decay, (1.0 + static_cast<double>(step)) / (10.0 + static_cast<double>(step)));
  torch::NoGradGuard no_grad;
  auto source = model.parameters(), target = average.parameters();
  for (size_t i = 0; i < source.size(); ++i) target[i].mul_(d).add_(source[i], 1 - d);
  auto source_buffers = model.buffers(), target_buffers = average.buffers();
  for (size_t i = 0; i < source_buffers.size(); ++i) target_buffers[i].copy_(source_buffers[i]);
}

torch::Tensor detail::mode_seeking_term(const torch::Tensor& fake, const torch::Tensor& noise,
                                        int64_t half) {
  // MSGAN: the ratio of image distance to noise distance, which the generator raises.
  const auto image_distance = (fake.slice(0, 0, half) - fake.slice(0, half, 2 * half)).abs().mean();
  const auto noise_distance =
      (noise.slice(0, 0, half) - noise.slice(0, half, 2 * half)).abs().mean();
  return 1.0 / (image_distance / noise_distance + 1e-5);
}

DiffAugmentPolicy detail::diffaugment_policy(const GanOptions& o, int64_t labeled_images) {
  if (o.diffaugment()) return *o.diffaugment();
  DiffAugmentPolicy policy;
  if (labeled_images < 10000) {
    policy.translation = policy.cutout = true;
    policy.color = o.channels() == 3;
  }
  return policy;
}

torch::Tensor detail::real_term(const torch::Tensor& scores, GanLoss loss) {
  return loss == GanLoss::kHinge ? torch::relu(1 - scores).mean() : torch::softplus(-scores).mean();
}

torch::Tensor detail::fake_term(const torch::Tensor& scores, GanLoss loss) {
  return loss == GanLoss::kHinge ? torch::relu(1 + scores).mean() : torch::softplus(scores).mean();
}

torch::Tensor detail::generator_term(const torch::Tensor& scores, GanLoss loss) {
  return loss == GanLoss::kHinge ? -scores.mean() : torch::softplus(-scores).mean();
}

torch::Tensor detail::paired_classes(const torch::Tensor& classes, int64_t half) {
  auto paired = classes.clone();
  paired.slice(0, half, 2 * half).copy_(paired.slice(0, 0, half));
  return paired;
}

detail::RunLog::RunLog(const std::string& out_dir, const char* header, int64_t first_iteration) {
  if (out_dir.empty()) return;
  fs::create_directories(out_dir);
  remove_temporary_files(out_dir);  // a checkpoint half written by a killed run
  const auto path = fs::path(out_dir) / "log.csv";
  const bool fresh = !fs::exists(path) || first_iteration == 0;
  log_.open(path, fresh ? std::ios::trunc : std::ios::app);
  GANAUG_CHECK(log_.good(), "cannot write the training log ", path.string());
  if (fresh) log_ << header << '\n';
  checkpoint_path_ = (fs::path(out_dir) / "checkpoint.pt").string();
}

void detail::RunLog::row(int64_t iteration, std::initializer_list<double> values) {
  if (!log_.is_open()) return;
  log_ << iteration;
  for (const double value : values) log_ << ',' << value;
  log_ << '\n';
  log_.flush();
}

}  // namespace ganaug
