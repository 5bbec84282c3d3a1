#include "ganaug/datasets/classic_augment.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <random>
#include <sstream>

#include "ganaug/error.hpp"
#include "ganaug/gan.hpp"
#include "ganaug/seed_streams.hpp"
#include "spec_items.hpp"

namespace ganaug {

namespace {

double parse_number(const std::string& key, const std::string& value) {
  return detail::spec_number("classical augmentation", key, value);
}

// Random erasing (Zhong et al.): with probability p, one rectangle of 2-40% of the area and
// aspect ratio 0.3-3.3 (up to 10 tries to fit it) gets uniform random values in [-1, 1].
void erase_rectangle(torch::Tensor image, std::mt19937_64& rng, double p) {
  std::uniform_real_distribution<double> unit(0.0, 1.0), value(-1.0, 1.0);
  if (unit(rng) >= p) return;
  const int64_t c = image.size(0), h = image.size(1), w = image.size(2);
  auto pixels = image.accessor<float, 3>();
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double area = (0.02 + 0.38 * unit(rng)) * static_cast<double>(h * w);
    const double ratio = std::exp(std::log(0.3) + 2 * std::log(1 / 0.3) * unit(rng));
    const auto eh = static_cast<int64_t>(std::llround(std::sqrt(area * ratio)));
    const auto ew = static_cast<int64_t>(std::llround(std::sqrt(area / ratio)));
    if (eh < 1 || ew < 1 || eh >= h || ew >= w) continue;
    std::uniform_int_distribution<int64_t> top(0, h - eh), left(0, w - ew);
    const int64_t y = top(rng), x = left(rng);
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t yy = y; yy < y + eh; ++yy)
        for (int64_t xx = x; xx < x + ew; ++xx) pixels[ch][yy][xx] = static_cast<float>(value(rng));
    return;
  }
}

}  // namespace

ClassicAugmentOptions ClassicAugmentOptions::parse(const std::string& spec) {
  ClassicAugmentOptions o;
  const std::string keys = "shift, rotate, zoom, flip, border, erase, randaugment";
  detail::for_each_spec_item(
      spec, "classical augmentation", keys, [&](const std::string& key, const std::string& value) {
        if (key == "shift") {
          const double shift = parse_number(key, value);
          GANAUG_CHECK(shift == std::floor(shift),
                       "classical augmentation: shift is whole pixels, got '", value, "'");
          o.max_shift(static_cast<int64_t>(shift));
        } else if (key == "rotate") {
          o.max_rotation(parse_number(key, value));
        } else if (key == "zoom") {
          o.max_zoom(parse_number(key, value));
        } else if (key == "flip") {
          GANAUG_CHECK(value == "0" || value == "1",
                       "classical augmentation: flip is 0 or 1, got '", value, "'");
          o.horizontal_flip(value == "1");
        } else if (key == "border") {
          GANAUG_CHECK(value == "constant" || value == "reflect",
                       "classical augmentation: border is constant or reflect, got '", value, "'");
          o.border(value == "constant" ? Border::kConstant : Border::kReflect);
        } else if (key == "erase") {
          o.erase(parse_number(key, value));
        } else if (key == "randaugment") {
          GANAUG_CHECK(value == "0" || value == "1",
                       "classical augmentation: randaugment is 0 or 1, got '", value, "'");
          o.rand_augment(value == "1");
        } else {
          GANAUG_FAIL("classical augmentation: unknown key '", key, "' (keys: ", keys, ")");
        }
      });
  o.validate();
  return o;
}

std::string ClassicAugmentOptions::to_string() const {
  std::ostringstream s;
  s << "shift=" << max_shift() << ",rotate=" << max_rotation() << ",zoom=" << max_zoom()
    << ",flip=" << (horizontal_flip() ? 1 : 0)
    << ",border=" << (border() == Border::kConstant ? "constant" : "reflect");
  if (erase() > 0) s << ",erase=" << erase();  // absent when off: older specs read the same
  if (rand_augment()) s << ",randaugment=1";
  return s.str();
}

void ClassicAugmentOptions::validate() const {
  GANAUG_CHECK(max_shift() >= 0 && max_rotation() >= 0 && max_rotation() <= 180,
               "classical augmentation: shift must be >= 0 and rotate within [0, 180]");
  GANAUG_CHECK(max_zoom() >= 1 && max_zoom() <= 4,
               "classical augmentation: zoom must lie in [1, 4], got ", max_zoom());
  GANAUG_CHECK(erase() >= 0 && erase() <= 1,
               "classical augmentation: erase is a probability in [0, 1], got ", erase());
}

torch::Tensor classic_augment(const torch::Tensor& images, uint64_t seed,
                              const ClassicAugmentOptions& options) {
  options.validate();
  GANAUG_CHECK(images.dim() == 4 && images.scalar_type() == torch::kFloat32,
               "classical augmentation needs N x C x H x W float32 images");
  const auto in = images.to(torch::kCPU).contiguous();
  auto out = torch::empty_like(in, at::MemoryFormat::Contiguous);
  const int64_t n = in.size(0), c = in.size(1), h = in.size(2), w = in.size(3);
  const int border = options.border() == ClassicAugmentOptions::Border::kConstant
                         ? cv::BORDER_CONSTANT
                         : cv::BORDER_REFLECT_101;
  // Whole-pixel shifts and flips only: nearest neighbour copies pixels exactly.
  const bool exact = options.max_rotation() == 0 && options.max_zoom() == 1;
  const int interpolation = exact ? cv::INTER_NEAREST : cv::INTER_LINEAR;
  const cv::Point2f centre(static_cast<float>(w - 1) / 2, static_cast<float>(h - 1) / 2);
  for (int64_t i = 0; i < n; ++i) {
    std::mt19937_64 rng(mix_seed(seed, static_cast<uint64_t>(i)));
    std::uniform_real_distribution<double> unit(-1.0, 1.0);
    const double angle = options.max_rotation() * unit(rng);
    const double zoom = 1.0 + (options.max_zoom() - 1.0) * (unit(rng) + 1.0) / 2.0;
    std::uniform_int_distribution<int64_t> shift(-options.max_shift(), options.max_shift());
    const double dx = static_cast<double>(shift(rng)), dy = static_cast<double>(shift(rng));
    const bool flip = options.horizontal_flip() && (rng() & 1U);
    // Rotation and zoom about the centre, then the shift; a flip mirrors x about the centre.
    cv::Mat m = cv::getRotationMatrix2D(centre, angle, zoom);
    if (flip) {
      m.at<double>(0, 0) = -m.at<double>(0, 0);
      m.at<double>(1, 0) = -m.at<double>(1, 0);
      m.at<double>(0, 2) += 2 * centre.x * (-m.at<double>(0, 0));
      m.at<double>(1, 2) += 2 * centre.x * (-m.at<double>(1, 0));
    }
    m.at<double>(0, 2) += dx;
    m.at<double>(1, 2) += dy;
    for (int64_t ch = 0; ch < c; ++ch) {
      const cv::Mat src(static_cast<int>(h), static_cast<int>(w), CV_32F,
                        in[i][ch].data_ptr<float>());
      cv::Mat dst(static_cast<int>(h), static_cast<int>(w), CV_32F, out[i][ch].data_ptr<float>());
      cv::warpAffine(src, dst, m, dst.size(), interpolation, border, cv::Scalar(-1.0));
    }
    // Drawn after the warp's numbers, so that erase=0 leaves every other draw as it was.
    if (options.erase() > 0) erase_rectangle(out[i], rng, options.erase());
  }
  if (options.rand_augment())
    out = rand_augment(out, mix_seed(seed, streams::kClassicRandAugment), RandAugmentOptions());
  return out.to(images.device());
}

BatchAugmenter classic_augmenter(const ClassicAugmentOptions& options) {
  options.validate();
  return [options](const torch::Tensor& images, uint64_t seed) {
    return classic_augment(images, seed, options);
  };
}

ClassicAugmentOptions strong_augment_options(const ClassicAugmentOptions& weak) {
  auto strong = weak;
  strong.max_shift(std::max<int64_t>(weak.max_shift(), 4))
      .max_rotation(std::max(weak.max_rotation(), 15.0))
      .max_zoom(std::max(weak.max_zoom(), 1.2))
      .erase(1.0);
  return strong;
}

ClassicAugmentOptions weak_augment_options(const ClassicAugmentOptions& classic) {
  auto weak = classic;
  weak.erase(0).rand_augment(false);
  return weak;
}

StrongViewOptions StrongViewOptions::parse(const std::string& spec) {
  StrongViewOptions o;
  if (spec.empty() || spec == "default") return o;
  if (spec == "classic") return o.kind(Kind::kClassicWarp);
  const std::string prefix = "randaugment";
  GANAUG_CHECK(spec.compare(0, prefix.size(), prefix) == 0 &&
                   (spec.size() == prefix.size() || spec[prefix.size()] == ':'),
               "strong view: '", spec, "' is neither classic nor randaugment[:ops=2,cutout=0.5]");
  o.kind(Kind::kRandAugment);
  if (spec.size() > prefix.size())
    o.rand_augment(RandAugmentOptions::parse(spec.substr(prefix.size() + 1)));
  return o;
}

std::string StrongViewOptions::to_string() const {
  return kind() == Kind::kClassicWarp ? "classic" : "randaugment:" + rand_augment().to_string();
}

void StrongViewOptions::validate() const { rand_augment().validate(); }

BatchAugmenter strong_augmenter(const ClassicAugmentOptions* classic,
                                const StrongViewOptions& strong) {
  strong.validate();
  const auto base = classic ? *classic : ClassicAugmentOptions();
  if (strong.kind() == StrongViewOptions::Kind::kClassicWarp)
    return classic_augmenter(strong_augment_options(base));
  const auto weak = weak_augment_options(base);
  weak.validate();
  return [weak, ra = strong.rand_augment()](const torch::Tensor& images, uint64_t seed) {
    return rand_augment(classic_augment(images, seed, weak),
                        mix_seed(seed, streams::kStrongRandAugment), ra);
  };
}

ClassifierHooks classic_hooks(const ClassicAugmentOptions* classic,
                              const StrongViewOptions& strong) {
  ClassifierHooks hooks;
  if (classic) {
    hooks.augment = classic_augmenter(*classic);
    hooks.weak_augment = classic_augmenter(weak_augment_options(*classic));
  }
  hooks.strong_augment = strong_augmenter(classic, strong);
  return hooks;
}

}  // namespace ganaug
