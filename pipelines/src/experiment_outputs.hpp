#pragma once
// What augment-bench writes from its results object (results.json, results.csv, report.md,
// accuracy-<dataset>.png), shared by the grid (experiment.cpp) and the merge of its shards
// (experiment_merge.cpp). Internal to the pipelines library.

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace ganaug::detail {

/// `v` with `digits` digits after the point.
std::string fixed(double v, int digits);

/// "YYYY-MM-DD HH:MM UTC", now.
std::string now_utc();

/// Stamps results["updated"] and results["summary"], then writes results.json, results.csv,
/// report.md and one accuracy chart per dataset into `out`, each file atomically.
void write_experiment_outputs(const std::filesystem::path& out, nlohmann::json& results);

/// The index of the (dataset, size, seed) unit of `cell` (a cell or generator record) in the
/// grid's run order (datasets, then sizes, then seeds), from results["grid"] and the first seed.
/// Throws ganaug::Error when the grid does not hold the cell's dataset or size.
int64_t experiment_unit(const nlohmann::json& results, const nlohmann::json& cell);

}  // namespace ganaug::detail
