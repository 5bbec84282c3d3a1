#include "augment_report.hpp"

#include <algorithm>
#include <boost/archive/iterators/base64_from_binary.hpp>
#include <boost/archive/iterators/transform_width.hpp>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <opencv2/imgcodecs.hpp>
#include <sstream>

#include "ganaug/datasets/chart.hpp"
#include "ganaug/datasets/csv_manifest.hpp"
#include "ganaug/datasets/image.hpp"
#include "ganaug/error.hpp"

namespace ganaug::jobs::detail {

namespace {

std::string escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A PNG as an <img> that needs no file: a data: URL.
std::string png_img(const std::vector<uchar>& png, const std::string& alt) {
  using namespace boost::archive::iterators;
  using Base64 = base64_from_binary<transform_width<std::vector<uchar>::const_iterator, 6, 8>>;
  std::string encoded(Base64(png.begin()), Base64(png.end()));
  encoded.append((3 - png.size() % 3) % 3, '=');
  return "<img alt=\"" + escape(alt) + "\" src=\"data:image/png;base64," + encoded + "\">";
}

std::string percent(double share, int decimals = 2) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(decimals) << 100 * share;
  return s.str();
}

std::string signed_points(double share) {
  std::ostringstream s;
  s << std::showpos << std::fixed << std::setprecision(2) << 100 * share;
  return s.str();
}

// Per class: its name, some real images, the generator's samples of it.
std::string images_section(const ReportInputs& in) {
  std::ostringstream s;
  s << "<h2>Real and generated images</h2>\n<table class=\"images\">\n"
    << "<tr><th>class</th><th>real (training set)</th><th>generated</th></tr>\n";
  for (size_t k = 0; k < in.class_names.size(); ++k) {
    const auto& name = in.class_names[k];
    s << "<tr><td>" << escape(name) << "</td><td>";
    if (k < in.real.size() && in.real[k].defined() && in.real[k].size(0) > 0)
      s << png_img(encode_labelled_grid(in.real[k], {}, in.real[k].size(0)), "real " + name);
    s << "</td><td>";
    if (k < in.generated.size() && in.generated[k].defined() && in.generated[k].size(0) > 0)
      s << png_img(encode_labelled_grid(in.generated[k], {}, in.generated[k].size(0)),
                   "generated " + name);
    s << "</td></tr>\n";
  }
  s << "</table>\n";
  return s.str();
}

// The losses over the training steps, from a training log (the GAN's or the joint one's): the
// columns its header names among the loss columns ganaug writes.
std::string losses_section(const std::filesystem::path& log, bool joint) {
  std::string out = joint ? "<h2>Joint training</h2>\n" : "<h2>GAN training</h2>\n";
  std::ifstream in(log);
  if (!in) return out + "<p>No training log: the generator was loaded, not trained here.</p>\n";
  LineChart chart;
  chart.title = joint ? "Joint training losses" : "GAN losses";
  chart.x_label = "iteration";
  chart.y_label = "loss";
  chart.width = 800;
  chart.height = 400;
  const std::vector<std::pair<std::string, std::string>> known = {
      {"d_loss", "discriminator"},
      {"c_loss", "classifier"},
      {"labelled_loss", "classifier, labelled images"},
      {"g_loss", "generator"}};
  std::string line;
  std::getline(in, line);
  const auto header = split_csv_line(line);
  std::vector<size_t> columns;  // of the series, in `known` order
  for (const auto& [column, name] : known) {
    const auto at = std::find(header.begin(), header.end(), column);
    if (at == header.end()) continue;
    columns.push_back(static_cast<size_t>(at - header.begin()));
    chart.series.push_back({name, {}, {}, {}});
  }
  // A line cut short (a killed run, resumed) or not numbers is left out.
  const auto number = [](const std::string& field, double& value) {
    char* end = nullptr;
    value = std::strtod(field.c_str(), &end);
    return !field.empty() && end == field.c_str() + field.size() && std::isfinite(value);
  };
  while (std::getline(in, line)) {
    const auto fields = split_csv_line(line);
    double iteration = 0;
    std::vector<double> values(columns.size());
    bool complete = !fields.empty() && number(fields[0], iteration);
    for (size_t i = 0; complete && i < columns.size(); ++i)
      complete = columns[i] < fields.size() && number(fields[columns[i]], values[i]);
    if (!complete) continue;
    for (size_t i = 0; i < columns.size(); ++i) {
      chart.series[i].x.push_back(iteration);
      chart.series[i].y.push_back(values[i]);
    }
  }
  // A series of zeros is left out: a joint form without a discriminator logs d_loss 0.
  chart.series.erase(std::remove_if(chart.series.begin(), chart.series.end(),
                                    [](const auto& series) {
                                      return std::all_of(series.y.begin(), series.y.end(),
                                                         [](double y) { return y == 0; });
                                    }),
                     chart.series.end());
  if (chart.series.empty() || chart.series[0].x.empty())
    return out + "<p>The training log is empty.</p>\n";
  std::vector<uchar> png;
  GANAUG_CHECK(cv::imencode(".png", draw_line_chart(chart), png), "cannot encode the loss chart");
  return out + png_img(png, chart.title) + "\n";
}

// A confusion matrix, each cell shaded by its share of the true class's images.
std::string confusion_table(const nlohmann::json& confusion, const std::vector<std::string>& names,
                            const std::string& title) {
  std::ostringstream s;
  s << "<table class=\"confusion\"><caption>" << escape(title)
    << " (rows: true class, columns: predicted)</caption>\n<tr><th></th>";
  for (const auto& name : names) s << "<th>" << escape(name) << "</th>";
  s << "</tr>\n";
  for (size_t i = 0; i < confusion.size(); ++i) {
    double total = 0;
    for (const auto& v : confusion[i]) total += v.get<double>();
    s << "<tr><th>" << escape(i < names.size() ? names[i] : "") << "</th>";
    for (const auto& v : confusion[i]) {
      const double share = total > 0 ? v.get<double>() / total : 0;
      s << "<td style=\"background: rgba(31, 119, 180, " << std::setprecision(3) << share << ")\">"
        << v.get<int64_t>() << "</td>";
    }
    s << "</tr>\n";
  }
  return s.str() + "</table>\n";
}

// The gain with its caveat, accuracy per class, both confusion matrices.
std::string accuracy_section(const nlohmann::json& summary, const std::vector<std::string>& names) {
  std::ostringstream s;
  s << "<h2>Baseline against retrained</h2>\n";
  if (!summary.contains("retrained")) {
    return s.str() +
           "<p>No classifier was trained (--no-retrain): only the images were written.</p>\n";
  }
  const auto& base = summary["baseline"];
  const auto& retrained = summary["retrained"];
  s << "<p class=\"gain\">Gain: <b>" << signed_points(summary["gain"].get<double>())
    << " points</b> (baseline " << percent(base["accuracy"].get<double>()) << "%, retrained "
    << percent(retrained["accuracy"].get<double>()) << "%, on "
    << summary["test"].value("images", int64_t{0}) << " test images).</p>\n"
    << "<p class=\"caveat\">One seed. Two classifiers trained on the same data with different "
       "seeds often differ by a point or more; before trusting a gain, measure it over several "
       "seeds with <code>augment-bench</code>, which reports paired 95% intervals.</p>\n";
  s << "<table class=\"per-class\"><tr><th>class</th><th>baseline</th><th>retrained</th>"
       "<th>change (points)</th></tr>\n";
  for (size_t k = 0; k < names.size(); ++k) {
    const double a = base["per_class_accuracy"][k].get<double>();
    const double b = retrained["per_class_accuracy"][k].get<double>();
    s << "<tr><td>" << escape(names[k]) << "</td><td>" << percent(a, 1) << "%</td><td>"
      << percent(b, 1) << "%</td><td>" << signed_points(b - a) << "</td></tr>\n";
  }
  s << "</table>\n<div class=\"side\">" << confusion_table(base["confusion"], names, "Baseline")
    << confusion_table(retrained["confusion"], names, "Retrained") << "</div>\n";
  return s.str();
}

// The run's settings: the headline ones, then summary.json and run.json whole.
std::string run_section(const ReportInputs& in) {
  const auto& s = in.summary;
  std::ostringstream out;
  out << "<h2>What was run</h2>\n<ul>\n<li>scheme <code>" << escape(s.value("scheme", ""))
      << "</code>, " << s.value("n", int64_t{0}) << " synthetic images, seed "
      << s.value("seed", uint64_t{0})
      << "</li>\n<li>training data: " << escape(s["train"].value("source", "")) << " ("
      << s["train"].value("images", int64_t{0}) << " images)</li>\n<li>device "
      << escape(s.value("device", "")) << ", " << s.value("threads", 0) << " threads; "
      << std::fixed << std::setprecision(1) << s["timings"].value("total_s", 0.0)
      << " s in all</li>\n</ul>\n";
  for (const auto& [name, json] :
       {std::pair{"summary.json", &in.summary}, {"run.json", &in.record}})
    out << "<details><summary>" << name << "</summary><pre>"
        << escape(json->dump(2, ' ', false, nlohmann::json::error_handler_t::replace))
        << "</pre></details>\n";
  return out.str();
}

constexpr const char* kStyle = R"(<style>
body { font-family: sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: middle; }
table.confusion td { text-align: right; min-width: 2.5em; }
.side { display: flex; gap: 2em; flex-wrap: wrap; }
.caveat { color: #8a5a00; }
img { image-rendering: pixelated; display: block; }
img.broken { outline: 3px solid red; min-width: 40px; min-height: 20px; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; }
</style>
)";

// Counts the images that loaded (for people and for tests) and outlines any that did not.
constexpr const char* kImageCheck = R"(<script>
addEventListener("load", () => {
  const images = [...document.images];
  const loaded = images.filter(i => i.complete && i.naturalWidth > 0);
  images.filter(i => !loaded.includes(i)).forEach(i => i.classList.add("broken"));
  document.documentElement.dataset.images = loaded.length + " of " + images.length;
});
</script>
)";

}  // namespace

std::string report_html(const ReportInputs& in) {
  // The data set by its file or folder name (the whole path is under "What was run").
  const auto data =
      escape(std::filesystem::path(in.summary["train"].value("source", "")).filename().string());
  const auto scheme = escape(in.summary.value("scheme", ""));
  std::ostringstream page;
  page << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>ganaug: "
       << scheme << " on " << data << "</title>\n"
       << kStyle << "</head>\n<body>\n<h1>ganaug augment: <code>" << scheme << "</code> on " << data
       << "</h1>\n"
       << accuracy_section(in.summary, in.class_names) << images_section(in)
       << losses_section(in.gan_log, in.joint) << run_section(in) << kImageCheck
       << "</body>\n</html>\n";
  return page.str();
}

}  // namespace ganaug::jobs::detail
