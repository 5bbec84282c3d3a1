#pragma once
// What augment-bench writes from its results object (results.json, results.csv, report.md,
// accuracy-<dataset>.png, and for pseudo cells pool.csv and pool-<dataset>.png), shared by the grid
// (experiment.cpp) and the merge of its shards (experiment_merge.cpp). Internal to the pipelines
// library.

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "ganaug/jobs/experiment.hpp"

namespace ganaug::jobs::detail {

/// One cell of a (dataset, size, seed) unit: a column, its synthetic multiple (0 without
/// synthetic images) and its unlabeled pool size (0 without a pool).
struct CellSpec {
  ExperimentScheme scheme;
  double multiple = 0;
  int64_t pool = 0;
};

/// What the pseudo cells' pools did: per data set, per group of cells
/// ("<scheme> n<size> pool <p>"), per series ("threshold_share", "label_accuracy"), the mean
/// over the group's seeds in each epoch (null in an epoch without a value).
std::map<std::string, std::map<std::string, nlohmann::json>> pool_traces(
    const nlohmann::json& cells);

/// The cells of one unit in run order, scheme by scheme: a column without synthetic images or
/// pool runs once (pool 0); a pseudo column once per pool size above 0; a GAN column once per
/// multiple and pool size (pool sizes above 0 only with pseudo); a joint column once per pool
/// size.
std::vector<CellSpec> unit_cells(const std::vector<ExperimentScheme>& schemes,
                                 const std::vector<double>& multiples,
                                 const std::vector<int64_t>& pools);

/// A cell's key in results.json: "ds|size|seed|scheme|multiple", then "|u<pool>" with a pool.
std::string cell_key(const std::string& dataset, int64_t size, uint64_t seed,
                     const std::string& scheme, double multiple, int64_t pool);

/// The keys of the cells shard `index` of `count` of the grid in `results` (its "grid" and
/// settings' first_seed) holds when finished; index 0 of 1 for a whole grid.
std::set<std::string> grid_cell_keys(const nlohmann::json& results, int64_t index, int64_t count);

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

}  // namespace ganaug::jobs::detail
