#pragma once
/// Measuring classifiers, generated images and experiment results: test-set figures, the
/// Fréchet classifier distance and confidence intervals over seeds.

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ganaug/classifier.hpp"

namespace ganaug {

/// Test-set figures of a classifier.
struct Metrics {
  /// Share of images whose predicted class is the true one, in [0, 1].
  double accuracy = 0;
  /// Per true class: the share of its images predicted right (recall); 0 for a class with none.
  std::vector<double> per_class_accuracy;
  /// Mean over the K classes of each class's F1 (0 where precision and recall are both 0).
  double macro_f1 = 0;
  /// confusion[true][predicted]
  std::vector<std::vector<int64_t>> confusion;
};

/// Evaluates on `test` (hard labels), predicting over its num_classes() real classes, on the
/// classifier's device; leaves it in evaluation mode. Throws ganaug::Error for invalid data, a
/// test label outside [0, K) (-1 included), or more classes than the classifier has outputs.
Metrics evaluate(Classifier& classifier, const LabeledDataset& test);

/// Metrics from true and predicted labels (N int64 each, any device) over K classes. Throws
/// ganaug::Error when the counts differ, there are none, or a label lies outside [0, K).
Metrics compute_metrics(const torch::Tensor& truth, const torch::Tensor& predicted,
                        int64_t num_classes);

/// Penultimate-layer features (N x D, float64, CPU) of `images` under `classifier`, in
/// evaluation mode (where it leaves the classifier) and batches of `batch_size` on its device,
/// without autograd. Throws ganaug::Error when there are no images.
torch::Tensor classifier_features(Classifier& classifier, const torch::Tensor& images,
                                  int64_t batch_size = 1000);

/// The Fréchet distance between Gaussians fitted to two feature sets (N x D and M x D):
/// |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2). With classifier features this is
/// the Fréchet classifier distance; values compare only for one extractor and one sample count.
/// Computed in float64 (on the inputs' device); never negative. Throws ganaug::Error unless both
/// are 2-D, of one width, with at least 2 rows each.
double frechet_distance(const torch::Tensor& a, const torch::Tensor& b);

/// How varied the images of each class are: the per-pixel standard deviation within each class
/// (over the images labeled with it), averaged over pixels and then over the classes present.
/// A generator that draws one image per class scores near 0; compare with the real images'.
/// Classes with fewer than 2 images are skipped. Throws ganaug::Error unless there is one label
/// per image and some class has at least 2 images.
double within_class_spread(const torch::Tensor& images, const torch::Tensor& labels);

/// A mean with its two-sided 95% Student-t interval over `n` values; low and high are NaN when
/// n < 2 (no spread to estimate).
struct Interval {
  /// The mean, the sample standard deviation (0 when n < 2), and the interval's bounds.
  double mean = 0, stddev = 0, low = 0, high = 0;
  /// Number of values.
  int64_t n = 0;
};

/// The 97.5% quantile of Student's t with `degrees_of_freedom` (>= 1), from Boost.Math.
/// Throws ganaug::Error for fewer than 1.
double student_t_975(int64_t degrees_of_freedom);

/// Mean, sample standard deviation and 95% t-interval of the mean of `values`. For a gain over
/// a baseline, pass the per-seed differences (a paired interval). Throws ganaug::Error for no
/// values.
Interval mean_interval_95(const std::vector<double>& values);

}  // namespace ganaug
