#pragma once
// augment-bench's checks before work: what the data allows of the grid, and whether a
// generator checkpoint found in the output folder continues this run's training. Internal to
// the jobs library.

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "experiment_outputs.hpp"
#include "ganaug/dataset.hpp"
#include "ganaug/gan.hpp"
#include "ganaug/jobs/experiment.hpp"

namespace ganaug::jobs::detail {

/// Throws ganaug::Error, naming the flag to change, when the grid of `o` asks more of `ds` than
/// its training images `full` and scoring set `test` hold: a labeled size above a class's
/// count, a pool above the images outside the largest labeled subset, or (with GAN cells) a
/// scoring set too small for the generator metrics. Called right after loading.
void check_grid_fits(const ExperimentOptions& o, const std::string& ds, const LabeledDataset& full,
                     const LabeledDataset& test, const std::vector<CellSpec>& cells);

/// Writes `facts` (gan_training_facts) as DIR/trained-on.json, atomically, before the
/// generator of DIR trains.
void write_generator_record(const std::filesystem::path& dir,
                            const std::vector<std::pair<std::string, std::string>>& facts);

/// Throws ganaug::Error, naming the first difference and what to do, unless the checkpoint
/// `loaded` of DIR continues the training `facts` describe: its record (write_generator_record)
/// holds the same facts, and it has not trained past `iterations`. A checkpoint without a
/// record (ganaug 0.4 and earlier) is judged by the facts of its own stored options on this
/// run's data `train`: its data cannot be checked.
void check_generator_continues(const std::filesystem::path& dir, const GeneratorCheckpoint& loaded,
                               int64_t iterations,
                               const std::vector<std::pair<std::string, std::string>>& facts,
                               const LabeledDataset& train);

}  // namespace ganaug::jobs::detail
