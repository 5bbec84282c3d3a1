// augment-merge: join the folders of a sharded augment run into the folder one process would
// have written.

#include "ganaug/jobs/merge.hpp"

#include <iostream>

#include "cli_common.hpp"
#include "commands.hpp"

namespace po = boost::program_options;

int ganaug::cli::run_merge(int argc, char** argv) try {
  po::options_description description(
      "augment-merge: join the shard folders of `augment --generator CKPT --no-retrain --shard K\n"
      "--num-shards S` into one folder, the same bytes as a single run (images, labels.csv),\n"
      "after checking that the shards belong to one run and that none is missing.\n\n"
      "Usage: augment-merge --out DIR SHARD_DIR...\n\nOptions");
  // clang-format off
  ganaug::cli::add_help_options(description);
  description.add_options()
      ("out", po::value<std::string>(), "the merged output folder (new or empty)")
      ("force", po::bool_switch(), "replace the contents of a non-empty --out")
      ("quiet,q", po::bool_switch(), "print only errors");
  // clang-format on
  po::options_description hidden;
  hidden.add_options()("shards", po::value<std::vector<std::string>>(), "shard folders");
  po::options_description all;
  all.add(description).add(hidden);
  po::positional_options_description positional;
  positional.add("shards", -1);
  po::variables_map values;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(),
              values);
    po::notify(values);
  } catch (const po::error& e) {
    throw ganaug::cli::UsageError(e.what());
  }
  if (ganaug::cli::print_help_or_version(values, description)) return 0;
  if (!values.count("out")) throw ganaug::cli::UsageError("--out is required");
  if (!values.count("shards")) throw ganaug::cli::UsageError("give the shard folders to merge");
  const auto summary = ganaug::jobs::merge_shards(values["out"].as<std::string>(),
                                                  values["shards"].as<std::vector<std::string>>(),
                                                  values["force"].as<bool>());
  if (!values["quiet"].as<bool>()) {
    std::cout << "merged " << summary["merged"]["shards"] << " shards, "
              << summary["merged"]["images"] << " images, into "
              << summary["out_dir"].get<std::string>() << "/\n";
  }
  return 0;
} catch (...) {
  return ganaug::cli::report_failure("augment-merge", argc, argv);
}
