#include "augment_report.hpp"

#include <algorithm>
#include <boost/archive/iterators/base64_from_binary.hpp>
#include <boost/archive/iterators/transform_width.hpp>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <numeric>
#include <opencv2/imgcodecs.hpp>
#include <sstream>
#include <vector>

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

// Past this many classes the confusion matrices show the most confused ones: the page grows with
// the square of the classes otherwise (500 classes made 43.5 MB that took 26 s to render).
constexpr size_t kConfusionClasses = 20;
// Class names in the page's tables are cut to this many characters (the whole names are in
// summary.json).
constexpr size_t kNameCharacters = 40;

// `name` cut to kNameCharacters bytes (on a UTF-8 character boundary) with an ellipsis.
std::string cut_name(const std::string& name) {
  if (name.size() <= kNameCharacters) return name;
  size_t cut = kNameCharacters - 3;
  while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;
  return name.substr(0, cut) + "\u2026";
}

std::string short_name(const std::string& name) { return escape(cut_name(name)); }

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
    s << "<tr><td>" << short_name(name) << "</td><td>";
    if (k < in.real.size() && in.real[k].defined() && in.real[k].size(0) > 0)
      s << png_img(encode_labeled_grid(in.real[k], {}, in.real[k].size(0)),
                   "real " + cut_name(name));
    s << "</td><td>";
    if (k < in.generated.size() && in.generated[k].defined() && in.generated[k].size(0) > 0)
      s << png_img(encode_labeled_grid(in.generated[k], {}, in.generated[k].size(0)),
                   "generated " + cut_name(name));
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
      {"labeled_loss", "classifier, labeled images"},
      {"labelled_loss", "classifier, labeled images"},  // a joint log of ganaug 0.x
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

// With --pseudo: the share of pool images over the threshold, per epoch of consistency training.
std::string pool_section(const nlohmann::json& summary) {
  if (!summary.contains("unlabeled") || !summary["unlabeled"].contains("retrained") ||
      !summary["unlabeled"]["retrained"].contains("threshold_share"))
    return "";
  const auto& retrained = summary["unlabeled"]["retrained"];
  LineChart chart;
  chart.title = "Pool images over the threshold (" + retrained["confidence"].dump() + ")";
  chart.x_label = "epoch";
  chart.y_label = "share of the step's pool images";
  chart.width = 800;
  chart.height = 400;
  ChartSeries series{"retrained classifier", {}, {}, {}};
  const auto& shares = retrained["threshold_share"];
  // About 16 epochs drawn (the chart marks every x drawn), the last among them.
  const size_t step = std::max<size_t>(1, shares.size() / 16);
  for (size_t e = 0; e < shares.size(); ++e) {
    if (e % step != 0 && e + 1 != shares.size()) continue;
    series.x.push_back(static_cast<double>(e + 1));
    series.y.push_back(shares[e].get<double>());
  }
  chart.series.push_back(series);
  std::vector<uchar> png;
  GANAUG_CHECK(cv::imencode(".png", draw_line_chart(chart), png), "cannot encode the pool chart");
  return "<h2>Consistency training on the pool</h2>\n<p>" +
         std::to_string(retrained.value("confident", int64_t{0})) +
         " pool images are confident to the retrained classifier at the end; the share of each "
         "epoch's pool images whose weak view passed the threshold:</p>\n" +
         png_img(png, chart.title) + "\n";
}

// The classes the confusion matrices show: every class up to kConfusionClasses, else the
// kConfusionClasses with the most misclassified images (as the true class or the predicted one)
// in either matrix, in class order.
std::vector<size_t> shown_classes(const nlohmann::json& a, const nlohmann::json& b) {
  std::vector<size_t> classes(a.size());
  std::iota(classes.begin(), classes.end(), size_t{0});
  if (classes.size() <= kConfusionClasses) return classes;
  std::vector<double> errors(classes.size(), 0.0);
  for (const auto* m : {&a, &b})
    for (size_t i = 0; i < m->size() && i < errors.size(); ++i)
      for (size_t j = 0; j < (*m)[i].size() && j < errors.size(); ++j)
        if (i != j) {
          errors[i] += (*m)[i][j].get<double>();
          errors[j] += (*m)[i][j].get<double>();
        }
  std::stable_sort(classes.begin(), classes.end(),
                   [&](size_t x, size_t y) { return errors[x] > errors[y]; });
  classes.resize(kConfusionClasses);
  std::sort(classes.begin(), classes.end());
  return classes;
}

// A confusion matrix over the `shown` classes, each cell shaded by its share of the true
// class's images.
std::string confusion_table(const nlohmann::json& confusion, const std::vector<std::string>& names,
                            const std::string& title, const std::vector<size_t>& shown) {
  std::ostringstream s;
  s << "<table class=\"confusion\"><caption>" << escape(title)
    << " (rows: true class, columns: predicted";
  if (shown.size() < confusion.size())
    s << "; the " << shown.size() << " most confused of " << confusion.size()
      << " classes, all in summary.json";
  s << ")</caption>\n<tr><th></th>";
  const auto name = [&](size_t k) { return short_name(k < names.size() ? names[k] : ""); };
  for (const size_t j : shown) s << "<th>" << name(j) << "</th>";
  s << "</tr>\n";
  for (const size_t i : shown) {
    double total = 0;
    for (const auto& v : confusion[i]) total += v.get<double>();
    s << "<tr><th>" << name(i) << "</th>";
    for (const size_t j : shown) {
      const auto& v = confusion[i][j];
      const double share = total > 0 ? v.get<double>() / total : 0;
      s << "<td style=\"background: rgba(31, 119, 180, " << std::setprecision(3) << share << ")\">"
        << v.get<int64_t>() << "</td>";
    }
    s << "</tr>\n";
  }
  return s.str() + "</table>\n";
}

// Which supervised arm the gain is over: the classical setting given, which no validation split
// chose here.
std::string baseline_note(const nlohmann::json& summary) {
  const auto classic = summary.value("classic", nlohmann::json());
  return "<p class=\"caveat\">Baseline: the classifier without generated images, " +
         (classic.is_string()
              ? "classical augmentation <code>" + escape(classic.get<std::string>()) + "</code>"
              : std::string("no classical augmentation")) +
         ", as given: not chosen on a validation split, so perhaps not the strongest "
         "supervised arm. <code>augment-bench --validation 0.1</code> chooses it among "
         "<code>default</code>, <code>erase=0.5</code> and <code>randaugment=1</code> and states "
         "the gains against it.</p>\n";
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
       "seeds with <code>augment-bench</code>, which reports paired 95% intervals.</p>\n"
    << baseline_note(summary);
  const bool teacher = summary.contains("teacher");
  if (teacher) {
    s << "<p class=\"gain\">Dual pseudo training: the GAN's share <b>"
      << signed_points(summary["gan_share"].get<double>()) << " points</b> (teacher "
      << percent(summary["teacher"]["accuracy"].get<double>()) << "%, student "
      << percent(retrained["accuracy"].get<double>())
      << "%). The teacher trained on the labeled images and the pool by consistency and "
         "labeled the pool for the GAN; the student trained as it did, with the generated "
         "images added. What the GAN adds beyond those labels alone, measure with "
         "<code>augment-bench</code>'s <code>classic+pseudo+self</code> column.</p>\n";
  }
  s << "<table class=\"per-class\"><tr><th>class</th><th>baseline</th>"
    << (teacher ? "<th>teacher</th>" : "") << "<th>retrained</th><th>change (points)</th></tr>\n";
  for (size_t k = 0; k < names.size(); ++k) {
    const double a = base["per_class_accuracy"][k].get<double>();
    const double b = retrained["per_class_accuracy"][k].get<double>();
    s << "<tr><td>" << short_name(names[k]) << "</td><td>" << percent(a, 1) << "%</td>";
    if (teacher)
      s << "<td>" << percent(summary["teacher"]["per_class_accuracy"][k].get<double>(), 1)
        << "%</td>";
    s << "<td>" << percent(b, 1) << "%</td><td>" << signed_points(b - a) << "</td></tr>\n";
  }
  const auto shown = shown_classes(base["confusion"], retrained["confusion"]);
  s << "</table>\n<div class=\"side\">"
    << confusion_table(base["confusion"], names, "Baseline", shown)
    << confusion_table(retrained["confusion"], names, "Retrained", shown) << "</div>\n";
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
  // Past kConfusionClasses classes the matrices stay in summary.json, out of the page.
  nlohmann::json summary = in.summary;
  if (in.class_names.size() > kConfusionClasses)
    for (const char* model : {"baseline", "teacher", "retrained"})
      if (summary.contains(model) && summary[model].contains("confusion"))
        summary[model]["confusion"] = "(" + std::to_string(in.class_names.size()) + " x " +
                                      std::to_string(in.class_names.size()) + ": in summary.json)";
  const std::pair<const char*, const nlohmann::json*> files[] = {{"summary.json", &summary},
                                                                 {"run.json", &in.record}};
  for (const auto& [name, json] : files)
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
       << accuracy_section(in.summary, in.class_names) << pool_section(in.summary)
       << images_section(in) << losses_section(in.gan_log, in.joint) << run_section(in)
       << kImageCheck << "</body>\n</html>\n";
  return page.str();
}

}  // namespace ganaug::jobs::detail
