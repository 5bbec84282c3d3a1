#include "ganaug/metrics.hpp"

#include <torch/torch.h>

#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <limits>

#include "ganaug/error.hpp"

namespace ganaug {

Metrics compute_metrics(const torch::Tensor& truth, const torch::Tensor& predicted,
                        int64_t num_classes) {
  GANAUG_CHECK(truth.numel() == predicted.numel() && truth.numel() > 0,
               "metrics need as many predictions as labels, and at least one");
  Metrics m;
  m.confusion.assign(num_classes, std::vector<int64_t>(num_classes, 0));
  const auto t = truth.to(torch::kCPU, torch::kInt64).contiguous();
  const auto p = predicted.to(torch::kCPU, torch::kInt64).contiguous();
  int64_t correct = 0;
  for (int64_t i = 0; i < t.numel(); ++i) {
    const int64_t a = t.data_ptr<int64_t>()[i], b = p.data_ptr<int64_t>()[i];
    GANAUG_CHECK(a >= 0 && a < num_classes && b >= 0 && b < num_classes,
                 "label out of range in metrics");
    ++m.confusion[a][b];
    correct += a == b;
  }
  m.accuracy = static_cast<double>(correct) / t.numel();
  double f1_sum = 0;
  for (int64_t c = 0; c < num_classes; ++c) {
    int64_t row = 0, column = 0;
    for (int64_t j = 0; j < num_classes; ++j) {
      row += m.confusion[c][j];
      column += m.confusion[j][c];
    }
    const double tp = m.confusion[c][c];
    m.per_class_accuracy.push_back(row ? tp / row : 0.0);
    const double precision = column ? tp / column : 0.0, recall = row ? tp / row : 0.0;
    f1_sum += precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
  }
  m.macro_f1 = f1_sum / num_classes;
  return m;
}

Metrics evaluate(Classifier& classifier, const LabeledDataset& test) {
  test.validate();
  const auto probabilities = predict_probabilities(classifier, test.images, test.num_classes());
  return compute_metrics(test.labels, probabilities.argmax(1), test.num_classes());
}

torch::Tensor classifier_features(Classifier& classifier, const torch::Tensor& images,
                                  int64_t batch_size) {
  torch::NoGradGuard no_grad;
  classifier->eval();
  const auto device = classifier->parameters().front().device();
  std::vector<torch::Tensor> parts;
  for (int64_t first = 0; first < images.size(0); first += batch_size) {
    const auto batch = images.slice(0, first, std::min(first + batch_size, images.size(0)));
    parts.push_back(classifier->embed(batch.to(device)).to(torch::kCPU, torch::kFloat64));
  }
  GANAUG_CHECK(!parts.empty(), "no images to extract features from");
  return torch::cat(parts);
}

namespace {

// The symmetric positive semi-definite square root, through an eigendecomposition.
torch::Tensor psd_sqrt(const torch::Tensor& s) {
  // torch::linalg_eigh (the ATen function): <torch/linalg.h> is gone from LibTorch 2.x.
  auto [values, vectors] = torch::linalg_eigh(s, "L");
  return vectors.matmul(torch::diag(values.clamp_min(0).sqrt())).matmul(vectors.t());
}

}  // namespace

double frechet_distance(const torch::Tensor& a, const torch::Tensor& b) {
  GANAUG_CHECK(a.dim() == 2 && b.dim() == 2 && a.size(1) == b.size(1),
               "Fréchet distance needs two N x D feature sets of one width");
  GANAUG_CHECK(a.size(0) >= 2 && b.size(0) >= 2,
               "Fréchet distance needs at least 2 samples a side");
  const auto x = a.to(torch::kFloat64), y = b.to(torch::kFloat64);
  const auto mu_x = x.mean(0), mu_y = y.mean(0);
  const auto cx = x - mu_x, cy = y - mu_y;
  const auto s_x = cx.t().matmul(cx) / (x.size(0) - 1);
  const auto s_y = cy.t().matmul(cy) / (y.size(0) - 1);
  const auto root_x = psd_sqrt(s_x);
  const auto middle = root_x.matmul(s_y).matmul(root_x);
  const auto cross = psd_sqrt((middle + middle.t()) / 2).trace();
  const double d =
      ((mu_x - mu_y).pow(2).sum() + s_x.trace() + s_y.trace() - 2 * cross).item<double>();
  return std::max(0.0, d);
}

double within_class_spread(const torch::Tensor& images, const torch::Tensor& labels) {
  GANAUG_CHECK(images.dim() >= 2 && labels.dim() == 1 && images.size(0) == labels.size(0),
               "within_class_spread needs one label per image");
  const auto flat = images.detach().to(torch::kCPU, torch::kFloat64).reshape({images.size(0), -1});
  const auto cpu_labels = labels.to(torch::kCPU, torch::kInt64);
  // The labels present (at::_unique, which LibTorch 2.x removed, is not needed for this).
  const auto classes = torch::nonzero(torch::bincount(cpu_labels)).flatten();
  double sum = 0;
  int64_t counted = 0;
  for (int64_t i = 0; i < classes.numel(); ++i) {
    const auto members = torch::nonzero(cpu_labels == classes[i]).flatten();
    if (members.numel() < 2) continue;
    sum += flat.index_select(0, members).std(0, /*unbiased=*/true).mean().item<double>();
    ++counted;
  }
  GANAUG_CHECK(counted > 0, "within_class_spread needs a class with at least two images");
  return sum / counted;
}

double student_t_975(int64_t degrees_of_freedom) {
  GANAUG_CHECK(degrees_of_freedom >= 1, "Student's t needs at least 1 degree of freedom");
  return boost::math::quantile(
      boost::math::students_t_distribution<double>(static_cast<double>(degrees_of_freedom)), 0.975);
}

Interval mean_interval_95(const std::vector<double>& values) {
  Interval out;
  out.n = static_cast<int64_t>(values.size());
  GANAUG_CHECK(out.n > 0, "an interval needs at least one value");
  for (double v : values) out.mean += v;
  out.mean /= static_cast<double>(out.n);
  if (out.n < 2) {
    out.low = out.high = std::numeric_limits<double>::quiet_NaN();
    return out;
  }
  double squares = 0;
  for (double v : values) squares += (v - out.mean) * (v - out.mean);
  out.stddev = std::sqrt(squares / static_cast<double>(out.n - 1));
  const double half = student_t_975(out.n - 1) * out.stddev / std::sqrt(static_cast<double>(out.n));
  out.low = out.mean - half;
  out.high = out.mean + half;
  return out;
}

}  // namespace ganaug
