// ganaug-info: loads a dataset the way the other tools do and prints what it holds.

#include <chrono>
#include <iomanip>
#include <iostream>

#include "cli_common.hpp"
#include "commands.hpp"
#include "ganaug/error.hpp"

namespace po = boost::program_options;

int ganaug::cli::run_info(int argc, char** argv) try {
  po::options_description description(
      "ganaug-info: summarise a dataset (with no options: Fashion-MNIST, train split)\n\nOptions");
  ganaug::cli::add_help_options(description);
  ganaug::cli::add_dataset_options(description);
  const auto values = ganaug::cli::parse_command_line(argc, argv, description);
  if (ganaug::cli::print_help_or_version(values, description)) return 0;
  const auto spec = ganaug::cli::dataset_spec_from(values);
  const auto format = ganaug::resolve_format(spec);
  const auto start = std::chrono::steady_clock::now();
  const auto data = ganaug::load_dataset(spec);
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  ganaug::cli::print_dataset_summary(std::cout, data, to_string(format), to_string(spec.split()));
  std::cout << "loaded in  " << std::fixed << std::setprecision(2) << elapsed.count() << " s\n";
  return 0;
} catch (...) {
  return ganaug::cli::report_failure("ganaug-info", argc, argv);
}
