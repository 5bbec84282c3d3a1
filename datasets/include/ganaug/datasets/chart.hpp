#pragma once
/// Line charts with error bars as PNG, drawn with OpenCV: the pictures of a benchmark report.

#include <filesystem>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace ganaug {

/// One line of a chart: points (x[i], y[i]) with optional error bars y[i] +- error[i].
struct ChartSeries {
  std::string name;
  std::vector<double> x, y;
  /// Empty, or one half-width per point (NaN draws no bar).
  std::vector<double> error;
};

/// A chart: axes fitted to the data (plus error bars), a legend naming every series.
struct LineChart {
  std::string title, x_label, y_label;
  /// A logarithmic x axis (for sizes such as 20, 50, 100, 500); needs x > 0.
  bool log_x = false;
  std::vector<ChartSeries> series;
  int width = 960, height = 600;
};

/// Draws `chart` as an 8-bit BGR image. Throws ganaug::Error when a series is empty, its
/// lengths differ, or a value is not finite (or not positive on a log axis).
cv::Mat draw_line_chart(const LineChart& chart);

/// draw_line_chart() written as a PNG, atomically (see write_file_atomic()).
void save_line_chart(const std::filesystem::path& path, const LineChart& chart);

}  // namespace ganaug
