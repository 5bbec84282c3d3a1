#include "ganaug/diffaugment.hpp"

#include <torch/torch.h>

#include <sstream>

#include "ganaug/error.hpp"

namespace ganaug {

DiffAugmentPolicy DiffAugmentPolicy::parse(const std::string& text) {
  DiffAugmentPolicy policy;
  if (text.empty() || text == "off" || text == "none") return policy;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    if (item == "translation") {
      policy.translation = true;
    } else if (item == "cutout") {
      policy.cutout = true;
    } else if (item == "color") {
      policy.color = true;
    } else {
      GANAUG_FAIL("unknown DiffAugment transform '", item,
                  "': use off or a comma list of translation, cutout, color");
    }
  }
  return policy;
}

std::string DiffAugmentPolicy::to_string() const {
  std::string out;
  for (auto [on, name] : {std::pair{translation, "translation"}, std::pair{cutout, "cutout"},
                          std::pair{color, "color"}}) {
    if (on) out += (out.empty() ? "" : ",") + std::string(name);
  }
  return out.empty() ? "off" : out;
}

std::optional<DiffAugmentPolicy> parse_diffaugment_choice(const std::string& text) {
  if (text == "auto") return std::nullopt;
  return DiffAugmentPolicy::parse(text);
}

std::string to_string(const std::optional<DiffAugmentPolicy>& choice) {
  return choice ? choice->to_string() : "auto";
}

namespace {

// Every draw is made on the images' device, with `rng` (a generator of that device).
torch::Tensor uniform(at::Generator& rng, int64_t n, const torch::Tensor& like) {
  return torch::rand({n, 1, 1, 1}, rng, like.options());
}

torch::Tensor color(const torch::Tensor& x, at::Generator& rng) {
  const int64_t n = x.size(0);
  auto y = x + (uniform(rng, n, x) - 0.5);
  if (x.size(1) > 1) {
    const auto mean = y.mean(1, true);
    y = (y - mean) * (uniform(rng, n, x) * 2) + mean;
  }
  const auto mean = y.mean({1, 2, 3}, true);
  return (y - mean) * (uniform(rng, n, x) + 0.5) + mean;
}

torch::Tensor translation(const torch::Tensor& x, at::Generator& rng, double ratio = 0.125) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t sh = static_cast<int64_t>(h * ratio + 0.5),
                sw = static_cast<int64_t>(w * ratio + 0.5);
  const auto long_on_device = torch::TensorOptions().dtype(torch::kInt64).device(x.device());
  const auto shift_y = torch::randint(-sh, sh + 1, {n, 1, 1}, rng, long_on_device);
  const auto shift_x = torch::randint(-sw, sw + 1, {n, 1, 1}, rng, long_on_device);
  // Source pixel of every output pixel in the image padded by one zero pixel on each side; the
  // clamp makes every pixel shifted in from outside read the zero border.
  const auto rows =
      (torch::arange(h, long_on_device).view({1, h, 1}) + shift_y + 1).clamp(0, h + 1);
  const auto cols =
      (torch::arange(w, long_on_device).view({1, 1, w}) + shift_x + 1).clamp(0, w + 1);
  const auto index = (rows * (w + 2) + cols).view({n, 1, h * w}).expand({n, c, h * w});
  const auto padded = torch::constant_pad_nd(x, {1, 1, 1, 1}, 0).view({n, c, (h + 2) * (w + 2)});
  return padded.gather(2, index).view({n, c, h, w});
}

torch::Tensor cutout(const torch::Tensor& x, at::Generator& rng, double ratio = 0.5) {
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  const int64_t ch = static_cast<int64_t>(h * ratio + 0.5),
                cw = static_cast<int64_t>(w * ratio + 0.5);
  const auto long_on_device = torch::TensorOptions().dtype(torch::kInt64).device(x.device());
  const auto top = torch::randint(0, h + (1 - ch % 2), {n, 1, 1}, rng, long_on_device) - ch / 2;
  const auto left = torch::randint(0, w + (1 - cw % 2), {n, 1, 1}, rng, long_on_device) - cw / 2;
  const auto rows = torch::arange(h, long_on_device).view({1, h, 1});
  const auto cols = torch::arange(w, long_on_device).view({1, 1, w});
  const auto inside = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw);
  return x * inside.logical_not().unsqueeze(1).to(x.scalar_type());
}

}  // namespace

torch::Tensor diff_augment(const torch::Tensor& images, const DiffAugmentPolicy& policy,
                           at::Generator& rng) {
  auto x = images;
  if (policy.color) x = color(x, rng);
  if (policy.translation) x = translation(x, rng);
  if (policy.cutout) x = cutout(x, rng);
  return x;
}

}  // namespace ganaug
