#pragma once
/// Bridges between OpenCV images and ganaug's tensors, and the one-call API for images held as
/// cv::Mat (see ganaug/synthesize.hpp).

#include <cstdint>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "ganaug/dataset.hpp"
#include "ganaug/datasets/image.hpp"
#include "ganaug/synthesize.hpp"

namespace ganaug {

/// A LabeledDataset from 8-bit OpenCV images (1, 3 or 4 channels in OpenCV's BGR(A) order, as
/// cv::imread gives them), their labels (indices into `class_names`) and the class names.
/// Images are shaped by `options` (size and channels; by default the first image's), so that
/// all share one shape. The tensors are copies: the Mats may be released afterwards. Throws
/// ganaug::Error naming the image (by index) that is empty, not 8-bit, of another shape than
/// the first when no size is set, or whose label is out of range; or when the counts differ.
LabeledDataset dataset_from_mats(const std::vector<cv::Mat>& images,
                                 const std::vector<int64_t>& labels,
                                 const std::vector<std::string>& class_names,
                                 const ImageOptions& options = {});

/// N x C x H x W images in [-1, 1] (C = 1 or 3, RGB) as N 8-bit cv::Mats in OpenCV's order
/// (CV_8UC1, or CV_8UC3 in BGR), ready for cv::imwrite. Throws ganaug::Error for another shape.
std::vector<cv::Mat> mats_from_tensor(const torch::Tensor& images);

/// synthesize() in `run` for images held as cv::Mat: dataset_from_mats(images, labels,
/// class_names, image_options), then synthesize(run, ...). The returned images are tensors;
/// mats_from_tensor turns them into cv::Mats.
SyntheticSet synthesize(const RunContext& run, const std::vector<cv::Mat>& images,
                        const std::vector<int64_t>& labels,
                        const std::vector<std::string>& class_names,
                        const SynthesizeOptions& options = {},
                        const SynthesizeCallbacks& callbacks = {},
                        const ImageOptions& image_options = {});
/// Deprecated (removed in 0.7): the above in the run that options' seed, device and threads
/// describe.
GANAUG_DEPRECATED("pass a ganaug::RunContext: synthesize(run, images, labels, class_names, ...)")
SyntheticSet synthesize(const std::vector<cv::Mat>& images, const std::vector<int64_t>& labels,
                        const std::vector<std::string>& class_names,
                        const SynthesizeOptions& options = {},
                        const SynthesizeCallbacks& callbacks = {},
                        const ImageOptions& image_options = {});

}  // namespace ganaug
