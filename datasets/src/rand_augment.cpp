#include "ganaug/datasets/rand_augment.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <random>
#include <sstream>

#include "ganaug/error.hpp"
#include "ganaug/seed_streams.hpp"
#include "spec_items.hpp"

namespace ganaug {

namespace {

// Magnitude m in [0, 1] to a point of [low, high].
double lerp(double low, double high, double m) { return low + (high - low) * m; }

// C x H x W float in [-1, 1] to H x W 8-bit pixels with C channels (RGB order kept).
cv::Mat to_bytes(const torch::Tensor& image) {
  const auto c = image.size(0), h = image.size(1), w = image.size(2);
  const auto in = image.contiguous();
  std::vector<cv::Mat> planes;
  for (int64_t ch = 0; ch < c; ++ch) {
    const cv::Mat plane(static_cast<int>(h), static_cast<int>(w), CV_32F,
                        const_cast<float*>(in[ch].data_ptr<float>()));
    cv::Mat bytes;
    plane.convertTo(bytes, CV_8U, 127.5, 127.5);
    planes.push_back(bytes);
  }
  cv::Mat out;
  cv::merge(planes, out);
  return out;
}

// The inverse of to_bytes, written into `out` (C x H x W float, contiguous): 0 -> -1 and
// 255 -> 1 exactly, p -> p / 127.5 - 1 rounded once.
void from_bytes(const cv::Mat& bytes, torch::Tensor out) {
  static const std::vector<float> table = [] {
    std::vector<float> t(256);
    for (int p = 0; p < 256; ++p) t[p] = static_cast<float>(p / 127.5 - 1.0);
    return t;
  }();
  const int64_t c = bytes.channels();
  float* data = out.data_ptr<float>();
  const int64_t plane = static_cast<int64_t>(bytes.rows) * bytes.cols;
  for (int y = 0; y < bytes.rows; ++y) {
    const uint8_t* row = bytes.ptr<uint8_t>(y);
    for (int x = 0; x < bytes.cols; ++x)
      for (int64_t ch = 0; ch < c; ++ch)
        data[ch * plane + static_cast<int64_t>(y) * bytes.cols + x] = table[row[x * c + ch]];
  }
}

// Each channel through f, a function of one 8-bit plane.
template <typename F>
void per_channel(cv::Mat& m, F f) {
  std::vector<cv::Mat> planes;
  cv::split(m, planes);
  for (auto& plane : planes) f(plane);
  cv::merge(planes, m);
}

// out = degenerate + factor * (m - degenerate), as PIL's ImageEnhance blends.
void blend(cv::Mat& m, const cv::Mat& degenerate, double factor) {
  cv::addWeighted(m, factor, degenerate, 1 - factor, 0, m);
}

void warp(cv::Mat& m, const cv::Mat& inverse_map) {
  cv::warpAffine(m, m, inverse_map, m.size(), cv::INTER_NEAREST | cv::WARP_INVERSE_MAP,
                 cv::BORDER_CONSTANT, cv::Scalar::all(0));
}

void shear_or_translate(cv::Mat& m, double x_by_y, double y_by_x, double dx, double dy) {
  const cv::Mat inverse = (cv::Mat_<double>(2, 3) << 1, x_by_y, dx, y_by_x, 1, dy);
  warp(m, inverse);
}

void auto_contrast(cv::Mat& m) {
  per_channel(m, [](cv::Mat& plane) {
    double low = 0, high = 0;
    cv::minMaxLoc(plane, &low, &high);
    if (high > low) plane.convertTo(plane, CV_8U, 255 / (high - low), -low * 255 / (high - low));
  });
}

void solarize(cv::Mat& m, double threshold) {
  cv::Mat table(1, 256, CV_8U);
  for (int p = 0; p < 256; ++p)
    table.at<uint8_t>(p) = static_cast<uint8_t>(p >= threshold * 256 ? 255 - p : p);
  cv::LUT(m, table, m);
}

cv::Mat gray_of(const cv::Mat& m) {
  if (m.channels() == 1) return m;
  cv::Mat gray;
  cv::cvtColor(m, gray, cv::COLOR_RGB2GRAY);
  return gray;
}

void color(cv::Mat& m, double factor) {
  if (m.channels() == 1) return;  // a gray image has no saturation
  cv::Mat gray;
  cv::cvtColor(gray_of(m), gray, cv::COLOR_GRAY2RGB);
  blend(m, gray, factor);
}

void contrast(cv::Mat& m, double factor) {
  const double mean = std::floor(cv::mean(gray_of(m))[0] + 0.5);
  blend(m, cv::Mat(m.size(), m.type(), cv::Scalar::all(mean)), factor);
}

// PIL's ImageFilter.SMOOTH (3x3, centre weight 5, total 13); its outermost pixels keep their
// values, as PIL leaves them.
void sharpness(cv::Mat& m, double factor) {
  const cv::Mat kernel = (cv::Mat_<float>(3, 3) << 1, 1, 1, 1, 5, 1, 1, 1, 1) / 13.0f;
  cv::Mat smooth = m.clone();
  if (m.rows > 2 && m.cols > 2) {
    cv::Mat filtered;
    cv::filter2D(m, filtered, -1, kernel);
    const cv::Rect inner(1, 1, m.cols - 2, m.rows - 2);
    filtered(inner).copyTo(smooth(inner));
  }
  blend(m, smooth, factor);
}

void apply_op(cv::Mat& m, RandAugmentOp op, double magnitude) {
  const double w = m.cols, h = m.rows;
  switch (op) {
    case RandAugmentOp::kIdentity:
      return;
    case RandAugmentOp::kAutoContrast:
      return auto_contrast(m);
    case RandAugmentOp::kEqualize:
      return per_channel(m, [](cv::Mat& plane) { cv::equalizeHist(plane, plane); });
    case RandAugmentOp::kRotate: {
      const cv::Point2f centre(static_cast<float>(w - 1) / 2, static_cast<float>(h - 1) / 2);
      cv::Mat forward = cv::getRotationMatrix2D(centre, lerp(-30, 30, magnitude), 1.0);
      cv::warpAffine(m, m, forward, m.size(), cv::INTER_NEAREST, cv::BORDER_CONSTANT,
                     cv::Scalar::all(0));
      return;
    }
    case RandAugmentOp::kSolarize:
      return solarize(m, magnitude);
    case RandAugmentOp::kColor:
      return color(m, lerp(0.05, 0.95, magnitude));
    case RandAugmentOp::kPosterize: {
      const int bits = std::min(8, 4 + static_cast<int>(magnitude * 5));
      cv::bitwise_and(m, cv::Scalar::all(static_cast<double>((0xFF << (8 - bits)) & 0xFF)), m);
      return;
    }
    case RandAugmentOp::kContrast:
      return contrast(m, lerp(0.05, 0.95, magnitude));
    case RandAugmentOp::kBrightness:
      return blend(m, cv::Mat::zeros(m.size(), m.type()), lerp(0.05, 0.95, magnitude));
    case RandAugmentOp::kSharpness:
      return sharpness(m, lerp(0.05, 0.95, magnitude));
    case RandAugmentOp::kShearX:
      return shear_or_translate(m, lerp(-0.3, 0.3, magnitude), 0, 0, 0);
    case RandAugmentOp::kShearY:
      return shear_or_translate(m, 0, lerp(-0.3, 0.3, magnitude), 0, 0);
    case RandAugmentOp::kTranslateX:
      return shear_or_translate(m, 0, 0, std::round(lerp(-0.3, 0.3, magnitude) * w), 0);
    case RandAugmentOp::kTranslateY:
      return shear_or_translate(m, 0, 0, 0, std::round(lerp(-0.3, 0.3, magnitude) * h));
  }
}

void check_image(const torch::Tensor& image) {
  GANAUG_CHECK(image.dim() == 3 && image.scalar_type() == torch::kFloat32 &&
                   (image.size(0) == 1 || image.size(0) == 3),
               "RandAugment needs C x H x W float32 images with 1 or 3 channels, got ",
               image.sizes());
}

void cutout_in_place(torch::Tensor image, int64_t side, int64_t cy, int64_t cx) {
  if (side <= 0) return;
  const int64_t h = image.size(1), w = image.size(2);
  const int64_t top = std::clamp<int64_t>(cy - side / 2, 0, h),
                left = std::clamp<int64_t>(cx - side / 2, 0, w);
  const int64_t bottom = std::clamp<int64_t>(cy - side / 2 + side, 0, h),
                right = std::clamp<int64_t>(cx - side / 2 + side, 0, w);
  using torch::indexing::Slice;
  image.index_put_({Slice(), Slice(top, bottom), Slice(left, right)}, 0.0f);
}

}  // namespace

std::string to_string(RandAugmentOp op) {
  static const char* const names[] = {
      "identity", "autocontrast", "equalize",  "rotate",  "solarize", "color",       "posterize",
      "contrast", "brightness",   "sharpness", "shear-x", "shear-y",  "translate-x", "translate-y"};
  return names[static_cast<int>(op)];
}

std::vector<RandAugmentOp> rand_augment_ops(int64_t channels) {
  std::vector<RandAugmentOp> ops;
  for (int i = 0; i <= static_cast<int>(RandAugmentOp::kTranslateY); ++i) {
    const auto op = static_cast<RandAugmentOp>(i);
    if (op != RandAugmentOp::kColor || channels == 3) ops.push_back(op);
  }
  return ops;
}

RandAugmentOptions RandAugmentOptions::parse(const std::string& spec) {
  RandAugmentOptions o;
  detail::for_each_spec_item(spec, "RandAugment", "ops, cutout, p, fixed",
                             [&](const std::string& key, const std::string& value) {
                               const double number = detail::spec_number("RandAugment", key, value);
                               const auto whole = [&] {
                                 GANAUG_CHECK(number == std::floor(number), "RandAugment: ", key,
                                              " is a whole number, got '", value, "'");
                                 return static_cast<int64_t>(number);
                               };
                               if (key == "ops") {
                                 o.ops(whole());
                               } else if (key == "cutout") {
                                 o.cutout(number);
                               } else if (key == "p") {
                                 o.op_probability(number);
                               } else if (key == "fixed") {
                                 GANAUG_CHECK(number == 0 || number == 1,
                                              "RandAugment: fixed is 0 or 1, got '", value, "'");
                                 o.fixed_cutout(number == 1);
                               } else {
                                 GANAUG_FAIL("RandAugment: unknown key '", key,
                                             "' (keys: ops, cutout, p, fixed)");
                               }
                             });
  o.validate();
  return o;
}

std::string RandAugmentOptions::to_string() const {
  std::ostringstream s;
  s << "ops=" << ops() << ",cutout=" << cutout();
  // Only when set, so that the default spec reads as before they existed.
  if (op_probability() != 1.0) s << ",p=" << op_probability();
  if (fixed_cutout()) s << ",fixed=1";
  return s.str();
}

void RandAugmentOptions::validate() const {
  GANAUG_CHECK(ops() >= 0 && ops() <= 8, "RandAugment: ops must lie in [0, 8], got ", ops());
  GANAUG_CHECK(cutout() >= 0 && cutout() <= 1,
               "RandAugment: cutout is a share of the side in "
               "[0, 1], got ",
               cutout());
  GANAUG_CHECK(op_probability() >= 0 && op_probability() <= 1,
               "RandAugment: p is a probability in [0, 1], got ", op_probability());
}

torch::Tensor apply_rand_augment_op(const torch::Tensor& image, RandAugmentOp op,
                                    double magnitude) {
  check_image(image);
  GANAUG_CHECK(magnitude >= 0 && magnitude <= 1, "a RandAugment magnitude lies in [0, 1], got ",
               magnitude);
  auto bytes = to_bytes(image.to(torch::kCPU));
  apply_op(bytes, op, magnitude);
  auto out = torch::empty(image.sizes(), torch::kFloat32);
  from_bytes(bytes, out);
  return out.to(image.device());
}

torch::Tensor cutout(const torch::Tensor& image, int64_t side, int64_t cy, int64_t cx) {
  check_image(image);
  auto out = image.clone();
  cutout_in_place(out, side, cy, cx);
  return out;
}

torch::Tensor rand_augment(const torch::Tensor& images, uint64_t seed,
                           const RandAugmentOptions& options) {
  options.validate();
  GANAUG_CHECK(images.dim() == 4, "RandAugment needs N x C x H x W images, got ", images.sizes());
  const auto in = images.to(torch::kCPU).contiguous();
  auto out = torch::empty_like(in, at::MemoryFormat::Contiguous);
  const auto ops = rand_augment_ops(in.size(1));
  const int64_t h = in.size(2), w = in.size(3);
  for (int64_t i = 0; i < in.size(0); ++i) {
    check_image(in[i]);
    std::mt19937_64 rng(mix_seed(seed, static_cast<uint64_t>(i)));
    std::uniform_int_distribution<size_t> pick(0, ops.size() - 1);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    auto bytes = to_bytes(in[i]);
    for (int64_t k = 0; k < options.ops(); ++k) {
      const auto op = ops[pick(rng)];
      const double magnitude = unit(rng);
      // The coin only when it can come up tails, so that the default draws as before.
      if (options.op_probability() < 1 && unit(rng) >= options.op_probability()) continue;
      apply_op(bytes, op, magnitude);
    }
    from_bytes(bytes, out[i]);
    const double share = options.fixed_cutout() ? 1.0 : unit(rng);
    const auto side = static_cast<int64_t>(std::llround(share * options.cutout() * std::min(h, w)));
    std::uniform_int_distribution<int64_t> row(0, h - 1), column(0, w - 1);
    const int64_t cy = row(rng), cx = column(rng);
    cutout_in_place(out[i], side, cy, cx);
  }
  return out.to(images.device());
}

}  // namespace ganaug
