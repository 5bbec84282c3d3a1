#include "experiment_outputs.hpp"

#include <algorithm>
#include <ctime>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "ganaug/datasets/chart.hpp"
#include "ganaug/datasets/csv_manifest.hpp"
#include "ganaug/datasets/image.hpp"
#include "ganaug/error.hpp"
#include "ganaug/jobs/experiment.hpp"

namespace ganaug::jobs::detail {

namespace fs = std::filesystem;

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  std::ostringstream s;
  s << std::put_time(std::gmtime(&t), "%Y-%m-%d %H:%M UTC");
  return s.str();
}

namespace {

void write_text(const fs::path& path, const std::string& text) {
  write_file_atomic(path, std::vector<uchar>(text.begin(), text.end()));
}

void write_charts(const fs::path& out, const nlohmann::json& results) {
  std::map<std::string, LineChart> charts;
  std::map<std::pair<std::string, std::string>, size_t> series_index;
  const bool several = results["grid"]["multiples"].size() > 1;
  for (const auto& row : results["summary"]) {
    const auto ds = row["dataset"].get<std::string>();
    auto& chart = charts[ds];
    chart.title = ds + ": test accuracy (%) against labeled images per class";
    chart.x_label = "labeled images per class";
    chart.y_label = "accuracy %, bars: 1 sd over seeds";
    chart.log_x = true;
    const double mult = row["multiple"].get<double>();
    const int64_t pool = row.value("unlabeled", int64_t{0});
    const auto name = row["scheme"].get<std::string>() +
                      (several && mult > 0 ? " x" + fixed(mult, 1) : "") +
                      (pool > 0 ? " pool " + std::to_string(pool) : "");
    auto [it, fresh] = series_index.try_emplace({ds, name}, chart.series.size());
    if (fresh) chart.series.push_back({name, {}, {}, {}});
    auto& s = chart.series[it->second];
    s.x.push_back(row["size"].get<double>());
    s.y.push_back(100 * row["accuracy"]["mean"].get<double>());
    s.error.push_back(100 * row["accuracy"]["stddev"].get<double>());
  }
  for (const auto& [ds, chart] : charts) save_line_chart(out / ("accuracy-" + ds + ".png"), chart);
}

// Per data set with pseudo cells: each (scheme, size, pool)'s share of pool images over the
// threshold and the accuracy of those targets, per epoch, in % (means over the seeds).
void write_pool_charts(const fs::path& out, const nlohmann::json& results) {
  for (const auto& [ds, groups] : pool_traces(results["cells"])) {
    LineChart chart;
    chart.title = ds + ": the pool's targets per epoch (means over seeds)";
    chart.x_label = "epoch";
    chart.y_label = "%";
    for (const auto& [name, trace] : groups) {
      for (const auto& [series, label] :
           {std::pair{"threshold_share", ": over the threshold"}, {"label_accuracy", ": right"}}) {
        ChartSeries s{name + label, {}, {}, {}};
        const auto& means = trace.at(series);
        // About 16 epochs drawn (the chart marks every x drawn), the last among them.
        const size_t step = std::max<size_t>(1, means.size() / 16);
        for (size_t e = 0; e < means.size(); ++e) {
          if (means[e].is_null() || (e % step != 0 && e + 1 != means.size())) continue;
          s.x.push_back(static_cast<double>(e + 1));
          s.y.push_back(100 * means[e].get<double>());
        }
        if (!s.x.empty()) chart.series.push_back(std::move(s));
      }
    }
    if (!chart.series.empty()) save_line_chart(out / ("pool-" + ds + ".png"), chart);
  }
}

int64_t position(const nlohmann::json& list, const nlohmann::json& value, const char* what) {
  for (size_t i = 0; i < list.size(); ++i)
    if (list[i] == value) return static_cast<int64_t>(i);
  GANAUG_FAIL("the grid has no ", what, " ", value.dump());
}

}  // namespace

void write_experiment_outputs(const fs::path& out, nlohmann::json& results) {
  results["updated"] = now_utc();
  results["summary"] = summarize_cells(results["cells"]);
  write_text(out / "results.json", results.dump(2) + "\n");
  std::ostringstream csv;
  // `classic`: the classical setting a classic cell's real images were augmented with (the
  // size's chosen one where the grid chose it on the validation split); empty otherwise.
  csv << "dataset,size,seed,scheme,multiple,unlabeled,synthetic_images,accuracy,macro_f1,"
         "classic,seconds\n";
  // The pseudo cells' log: per epoch, the share of pool images over the threshold and the
  // accuracy of those targets (empty in an epoch without one).
  std::ostringstream pool_csv;
  pool_csv << "dataset,size,seed,scheme,multiple,unlabeled,epoch,threshold_share,label_accuracy\n";
  bool traced = false;
  for (const auto& c : results["cells"]) {
    std::ostringstream cell;
    cell << csv_field(c["dataset"].get<std::string>()) << "," << c["size"] << "," << c["seed"]
         << "," << c["scheme"].get<std::string>() << "," << c["multiple"] << ","
         << c.value("unlabeled", int64_t{0}) << ",";
    csv << cell.str() << c["synthetic_images"] << "," << fixed(c["accuracy"].get<double>(), 6)
        << "," << fixed(c["macro_f1"].get<double>(), 6) << ","
        << csv_field(c.value("classic", std::string())) << ","
        << fixed(c["seconds"].get<double>(), 1) << "\n";
    if (!c.contains("pool")) continue;
    traced = true;
    const auto& shares = c["pool"]["threshold_share"];
    const auto& right = c["pool"]["label_accuracy"];
    for (size_t e = 0; e < shares.size(); ++e)
      pool_csv << cell.str() << e + 1 << "," << fixed(shares[e].get<double>(), 6) << ","
               << (e < right.size() && !right[e].is_null() ? fixed(right[e].get<double>(), 6)
                                                           : std::string())
               << "\n";
  }
  write_text(out / "results.csv", csv.str());
  if (traced) write_text(out / "pool.csv", pool_csv.str());
  write_text(out / "report.md", experiment_report(results));
  write_charts(out, results);
  write_pool_charts(out, results);
}

int64_t experiment_unit(const nlohmann::json& results, const nlohmann::json& cell) {
  const auto& grid = results["grid"];
  const int64_t d = position(grid["datasets"], cell["dataset"], "dataset");
  const int64_t s = position(grid["sizes"], cell["size"], "size");
  const auto seeds = grid["seeds"].get<int64_t>();
  const auto seed = static_cast<int64_t>(cell["seed"].get<uint64_t>() -
                                         results["settings"]["first_seed"].get<uint64_t>());
  GANAUG_CHECK(seed >= 0 && seed < seeds, "the grid has no seed ", cell["seed"].dump());
  return (d * static_cast<int64_t>(grid["sizes"].size()) + s) * seeds + seed;
}

std::map<std::string, std::map<std::string, nlohmann::json>> pool_traces(
    const nlohmann::json& cells) {
  // Per (data set, group): per series, per epoch, the sum and count of the seeds' values.
  std::map<std::string,
           std::map<std::string, std::map<std::string, std::vector<std::pair<double, int>>>>>
      sums;
  for (const auto& c : cells) {
    if (!c.contains("pool")) continue;
    const auto name = c["scheme"].get<std::string>() + " n" + c["size"].dump() + " pool " +
                      std::to_string(c.value("unlabeled", int64_t{0}));
    auto& group = sums[c["dataset"].get<std::string>()][name];
    for (const auto& [series, values] : c["pool"].items()) {
      auto& epochs = group[series];
      if (epochs.size() < values.size()) epochs.resize(values.size(), {0.0, 0});
      for (size_t e = 0; e < values.size(); ++e)
        if (!values[e].is_null())
          epochs[e] = {epochs[e].first + values[e].get<double>(), epochs[e].second + 1};
    }
  }
  std::map<std::string, std::map<std::string, nlohmann::json>> out;
  for (const auto& [ds, groups] : sums)
    for (const auto& [name, series] : groups)
      for (const auto& [key, epochs] : series) {
        auto means = nlohmann::json::array();
        for (const auto& [sum, count] : epochs)
          means.push_back(count > 0 ? nlohmann::json(sum / count) : nlohmann::json());
        out[ds][name][key] = means;
      }
  return out;
}

std::vector<CellSpec> unit_cells(const std::vector<ExperimentScheme>& schemes,
                                 const std::vector<double>& multiples,
                                 const std::vector<int64_t>& pools) {
  std::vector<CellSpec> cells;
  for (const auto& scheme : schemes) {
    std::vector<int64_t> cell_pools{0};
    const bool needs_pool = scheme.pseudo || scheme.self_training;
    if (needs_pool || scheme.synthetic || scheme.joint) {
      cell_pools.clear();
      for (auto p : pools)
        if (p > 0 || !needs_pool) cell_pools.push_back(p);
    }
    const auto cell_multiples = scheme.synthetic ? multiples : std::vector<double>{0.0};
    for (auto p : cell_pools)
      for (double m : cell_multiples) cells.push_back({scheme, m, p});
  }
  return cells;
}

std::set<std::string> grid_cell_keys(const nlohmann::json& results, int64_t index, int64_t count) {
  const auto& grid = results["grid"];
  std::set<std::string> keys;
  int64_t unit = 0;
  for (const auto& ds : grid["datasets"]) {
    for (const auto& size : grid["sizes"]) {
      for (int64_t i = 0; i < grid["seeds"].get<int64_t>(); ++i, ++unit) {
        if (unit % count != index) continue;
        const auto seed = results["settings"]["first_seed"].get<uint64_t>() + i;
        const auto pools = grid.value("unlabeled", std::vector<int64_t>{0});
        for (const auto& cell : unit_cells(
                 ExperimentScheme::parse_all(grid["schemes"].get<std::vector<std::string>>()),
                 grid["multiples"].get<std::vector<double>>(), pools))
          keys.insert(cell_key(ds.get<std::string>(), size.get<int64_t>(), seed, cell.scheme.name(),
                               cell.multiple, cell.pool));
      }
    }
  }
  return keys;
}

std::string cell_key(const std::string& dataset, int64_t size, uint64_t seed,
                     const std::string& scheme, double multiple, int64_t pool) {
  return dataset + "|" + std::to_string(size) + "|" + std::to_string(seed) + "|" + scheme + "|" +
         fixed(multiple, 3) + (pool > 0 ? "|u" + std::to_string(pool) : "");
}

}  // namespace ganaug::jobs::detail
