#include "ganaug/datasets/mat.hpp"

#include <torch/torch.h>

#include <opencv2/imgproc.hpp>

#include "ganaug/error.hpp"

namespace ganaug {

LabeledDataset dataset_from_mats(const std::vector<cv::Mat>& images,
                                 const std::vector<int64_t>& labels,
                                 const std::vector<std::string>& class_names,
                                 const ImageOptions& options) {
  GANAUG_CHECK(images.size() == labels.size(), "got ", images.size(), " images but ", labels.size(),
               " labels");
  GANAUG_CHECK(!images.empty(), "no images given");
  GANAUG_CHECK(!class_names.empty(), "no class names given");
  const auto k = static_cast<int64_t>(class_names.size());
  auto shape = options;
  std::vector<cv::Mat> shaped(images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    const auto name = "image " + std::to_string(i);
    const auto& image = images[i];
    GANAUG_CHECK(!image.empty(), name, " is empty");
    GANAUG_CHECK(image.depth() == CV_8U, name, " is not 8-bit (OpenCV depth ", image.depth(),
                 "); convert it with cv::Mat::convertTo first");
    GANAUG_CHECK(labels[i] >= 0 && labels[i] < k, name, " has label ", labels[i], ", outside the ",
                 k, " classes");
    shaped[i] = conform_image(image, shape, name);
    if (i == 0) {
      // The first image fixes what the options leave open.
      if (shape.channels() == 0) shape.channels(shaped[0].channels());
    }
    GANAUG_CHECK(shaped[i].rows == shaped[0].rows && shaped[i].cols == shaped[0].cols &&
                     shaped[i].channels() == shaped[0].channels(),
                 name, " is ", shaped[i].cols, "x", shaped[i].rows, "x", shaped[i].channels(),
                 " but image 0 is ", shaped[0].cols, "x", shaped[0].rows, "x", shaped[0].channels(),
                 "; set ImageOptions::image_size to resize them all");
  }
  const int64_t c = shaped[0].channels(), h = shaped[0].rows, w = shaped[0].cols;
  LabeledDataset out;
  out.images = torch::empty({static_cast<int64_t>(images.size()), c, h, w});
  float* data = out.images.data_ptr<float>();
  for (size_t i = 0; i < shaped.size(); ++i) {
    if (!shaped[i].isContinuous()) shaped[i] = shaped[i].clone();
    write_chw_normalized(shaped[i], data + static_cast<int64_t>(i) * c * h * w);
  }
  out.labels = torch::tensor(labels, torch::kInt64);
  out.class_names = class_names;
  out.source = std::to_string(images.size()) + " images in memory";
  return out;
}

std::vector<cv::Mat> mats_from_tensor(const torch::Tensor& images) {
  GANAUG_CHECK(images.dim() == 4 && (images.size(1) == 1 || images.size(1) == 3),
               "expected N x C x H x W images with C = 1 or 3, got ", images.sizes());
  const auto hwc = ((images.detach().to(torch::kCPU, torch::kFloat32).clamp(-1, 1) + 1) * 127.5)
                       .round()
                       .to(torch::kUInt8)
                       .permute({0, 2, 3, 1})
                       .contiguous();
  const int c = static_cast<int>(images.size(1));
  const int h = static_cast<int>(images.size(2)), w = static_cast<int>(images.size(3));
  std::vector<cv::Mat> out;
  out.reserve(static_cast<size_t>(images.size(0)));
  for (int64_t i = 0; i < images.size(0); ++i) {
    cv::Mat rgb(h, w, CV_8UC(c), hwc[i].data_ptr<uint8_t>());
    cv::Mat image;
    if (c == 3)
      cv::cvtColor(rgb, image, cv::COLOR_RGB2BGR);
    else
      image = rgb.clone();
    out.push_back(image);
  }
  return out;
}

SyntheticSet synthesize(const RunContext& run, const std::vector<cv::Mat>& images,
                        const std::vector<int64_t>& labels,
                        const std::vector<std::string>& class_names,
                        const SynthesizeOptions& options, const SynthesizeCallbacks& callbacks,
                        const ImageOptions& image_options) {
  return synthesize(run, dataset_from_mats(images, labels, class_names, image_options), options,
                    callbacks);
}

SyntheticSet synthesize(const std::vector<cv::Mat>& images, const std::vector<int64_t>& labels,
                        const std::vector<std::string>& class_names,
                        const SynthesizeOptions& options, const SynthesizeCallbacks& callbacks,
                        const ImageOptions& image_options) {
  // The core's deprecated overload maps the options' run fields to a run (written once there).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  return synthesize(dataset_from_mats(images, labels, class_names, image_options), options,
                    callbacks);
#pragma GCC diagnostic pop
}

}  // namespace ganaug
