#include "ganaug/datasets/chart.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "ganaug/datasets/image.hpp"
#include "ganaug/error.hpp"

namespace ganaug {

namespace {

// A palette that stays distinguishable for about a dozen lines (BGR).
const cv::Scalar kColors[] = {{40, 40, 40},    {180, 119, 31},  {14, 127, 255}, {44, 160, 44},
                              {40, 39, 214},   {189, 103, 148}, {75, 86, 140},  {194, 119, 227},
                              {127, 127, 127}, {34, 189, 188},  {207, 190, 23}, {0, 0, 139}};

std::string format_tick(double v) {
  std::ostringstream s;
  s << std::setprecision(std::abs(v) >= 100 ? 0 : 3)
    << (std::abs(v) >= 100 ? std::fixed : std::defaultfloat) << v;
  return s.str();
}

void text(cv::Mat& image, const std::string& s, cv::Point at, double scale = 0.5,
          cv::Scalar color = {0, 0, 0}) {
  cv::putText(image, s, at, cv::FONT_HERSHEY_SIMPLEX, scale, color, 1, cv::LINE_AA);
}

// Where the chart's data land: the data's extent with a margin, and the plot's pixel frame.
struct Frame {
  const LineChart& chart;
  double x_lo, x_hi, y_lo, y_hi;
  int left = 80, right = 230, top = 72, bottom = 60, plot_w = 0, plot_h = 0;

  int px(double x) const {
    const double v = chart.log_x ? std::log10(x) : x;
    return left + static_cast<int>(std::lround((v - x_lo) / (x_hi - x_lo) * plot_w));
  }
  int py(double y) const {
    return top + plot_h - static_cast<int>(std::lround((y - y_lo) / (y_hi - y_lo) * plot_h));
  }
};

Frame frame_of(const LineChart& chart) {
  GANAUG_CHECK(!chart.series.empty(), "chart '", chart.title, "' has no series");
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
  for (const auto& s : chart.series) {
    GANAUG_CHECK(!s.x.empty() && s.x.size() == s.y.size() &&
                     (s.error.empty() || s.error.size() == s.y.size()),
                 "chart series '", s.name, "' needs as many y values (and errors) as x values");
    for (size_t i = 0; i < s.x.size(); ++i) {
      GANAUG_CHECK(std::isfinite(s.x[i]) && std::isfinite(s.y[i]) && (!chart.log_x || s.x[i] > 0),
                   "chart series '", s.name, "' has a point that cannot be drawn");
      const double e = s.error.empty() || !std::isfinite(s.error[i]) ? 0 : std::abs(s.error[i]);
      const double x = chart.log_x ? std::log10(s.x[i]) : s.x[i];
      x_lo = std::min(x_lo, x);
      x_hi = std::max(x_hi, x);
      y_lo = std::min(y_lo, s.y[i] - e);
      y_hi = std::max(y_hi, s.y[i] + e);
    }
  }
  const double x_pad = x_hi > x_lo ? 0.06 * (x_hi - x_lo) : 0.5;
  const double y_pad = y_hi > y_lo ? 0.08 * (y_hi - y_lo) : 0.5;
  Frame f{chart, x_lo - x_pad, x_hi + x_pad, y_lo - y_pad, y_hi + y_pad};
  f.plot_w = chart.width - f.left - f.right;
  f.plot_h = chart.height - f.top - f.bottom;
  GANAUG_CHECK(f.plot_w > 50 && f.plot_h > 50, "chart '", chart.title, "' is too small to draw");
  return f;
}

// Axes, grid and ticks: y at 5 even steps; x at the data's own x values.
void draw_axes(cv::Mat& image, const Frame& f) {
  const auto& chart = f.chart;
  cv::rectangle(image, {f.left, f.top}, {f.left + f.plot_w, f.top + f.plot_h}, {0, 0, 0}, 1);
  for (int i = 0; i <= 5; ++i) {
    const double y = f.y_lo + (f.y_hi - f.y_lo) * i / 5.0;
    cv::line(image, {f.left, f.py(y)}, {f.left + f.plot_w, f.py(y)}, {225, 225, 225}, 1);
    text(image, format_tick(y), {8, f.py(y) + 5}, 0.45);
  }
  std::vector<double> xs;
  for (const auto& s : chart.series) xs.insert(xs.end(), s.x.begin(), s.x.end());
  std::sort(xs.begin(), xs.end());
  xs.erase(std::unique(xs.begin(), xs.end()), xs.end());
  for (double x : xs) {
    cv::line(image, {f.px(x), f.top + f.plot_h}, {f.px(x), f.top + f.plot_h + 5}, {0, 0, 0}, 1);
    text(image, format_tick(x), {f.px(x) - 12, f.top + f.plot_h + 22}, 0.45);
  }
  text(image, chart.title, {f.left, 30}, 0.65);
  text(image, chart.x_label, {f.left + f.plot_w / 2 - 60, chart.height - 15});
  text(image, chart.y_label, {8, f.top - 12}, 0.45);
}

// Series k: its points in x order joined by lines, error bars, and its legend entry.
void draw_series(cv::Mat& image, const Frame& f, size_t k) {
  const auto& s = f.chart.series[k];
  const auto color = kColors[k % (sizeof kColors / sizeof kColors[0])];
  std::vector<size_t> order(s.x.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return s.x[a] < s.x[b]; });
  // Offset series sideways a little so that error bars at one x do not hide each other.
  const int nudge = static_cast<int>(k) * 3 - static_cast<int>(f.chart.series.size()) * 3 / 2;
  for (size_t j = 0; j < order.size(); ++j) {
    const size_t i = order[j];
    const cv::Point p(f.px(s.x[i]) + nudge, f.py(s.y[i]));
    if (j > 0) {
      const size_t h = order[j - 1];
      cv::line(image, {f.px(s.x[h]) + nudge, f.py(s.y[h])}, p, color, 2, cv::LINE_AA);
    }
    if (!s.error.empty() && std::isfinite(s.error[i]) && s.error[i] != 0) {
      const int lo = f.py(s.y[i] - std::abs(s.error[i])), hi = f.py(s.y[i] + std::abs(s.error[i]));
      cv::line(image, {p.x, lo}, {p.x, hi}, color, 1, cv::LINE_AA);
      cv::line(image, {p.x - 4, lo}, {p.x + 4, lo}, color, 1);
      cv::line(image, {p.x - 4, hi}, {p.x + 4, hi}, color, 1);
    }
    cv::circle(image, p, 3, color, cv::FILLED, cv::LINE_AA);
  }
  const int ly = f.top + 15 + static_cast<int>(k) * 22;
  cv::line(image, {f.left + f.plot_w + 15, ly}, {f.left + f.plot_w + 45, ly}, color, 2);
  text(image, s.name, {f.left + f.plot_w + 52, ly + 5}, 0.5, color);
}

}  // namespace

cv::Mat draw_line_chart(const LineChart& chart) {
  const Frame f = frame_of(chart);
  cv::Mat image(chart.height, chart.width, CV_8UC3, cv::Scalar(255, 255, 255));
  draw_axes(image, f);
  for (size_t k = 0; k < chart.series.size(); ++k) draw_series(image, f, k);
  return image;
}

void save_line_chart(const std::filesystem::path& path, const LineChart& chart) {
  std::vector<uchar> png;
  GANAUG_CHECK(cv::imencode(".png", draw_line_chart(chart), png), "could not encode chart ",
               path.string());
  write_file_atomic(path, png);
}

}  // namespace ganaug
