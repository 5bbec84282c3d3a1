#pragma once
/// Line charts with error bars as PNG, drawn with OpenCV: the pictures of a benchmark report.

#include <filesystem>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace ganaug {

/// One line of a chart: points (x[i], y[i]) with optional error bars y[i] +- error[i].
struct ChartSeries {
  /// The series' label in the legend.
  std::string name;
  /// The points, as many y as x values, all finite; drawn joined in order of x.
  std::vector<double> x, y;
  /// Empty, or one half-width per point (NaN draws no bar).
  std::vector<double> error;
};

/// A chart: axes fitted to the data (plus error bars), a legend naming every series.
struct LineChart {
  /// Title above the plot, and the axis labels.
  std::string title, x_label, y_label;
  /// A logarithmic x axis (for sizes such as 20, 50, 100, 500); needs x > 0.
  bool log_x = false;
  /// The lines, in legend order; colours repeat after 12.
  std::vector<ChartSeries> series;
  /// Image size in pixels; the plot needs more than 50 x 50 of it after the margins and legend.
  int width = 960, height = 600;
};

/// Draws `chart` as an 8-bit BGR image. Throws ganaug::Error when there is no series, a series
/// is empty, its lengths differ, a value is not finite (or not positive on a log axis), or the
/// image is too small for the plot.
cv::Mat draw_line_chart(const LineChart& chart);

/// draw_line_chart() written as a PNG, atomically (see write_file_atomic()); the folder must
/// exist. Throws as draw_line_chart() does, and ganaug::Error when the PNG cannot be encoded or
/// written.
void save_line_chart(const std::filesystem::path& path, const LineChart& chart);

}  // namespace ganaug
