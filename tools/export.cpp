// ganaug-export: writes a GAN checkpoint's sampling generator for Python (PyTorch's
// torch.load(..., weights_only=True) and python/ganaug_generator.py).

#include "ganaug/export.hpp"

#include <filesystem>
#include <iostream>

#include "cli_common.hpp"
#include "commands.hpp"
#include "ganaug/error.hpp"
#include "ganaug/file_io.hpp"
#include "ganaug/gan.hpp"

namespace po = boost::program_options;

int ganaug::cli::run_export(int argc, char** argv) try {
  po::options_description description(
      "ganaug-export: write a GAN checkpoint's generator as a PyTorch file\n\n"
      "  ganaug-export --generator RUN/gan/checkpoint.pt --out generator.pt\n"
      "  python3 -c 'from ganaug_generator import load_generator; g, names = "
      "load_generator(\"generator.pt\")'\n\nOptions");
  ganaug::cli::add_help_options(description);
  description.add_options()("generator", po::value<std::string>(),
                            "the GAN checkpoint (augment's DIR/gan/checkpoint.pt)")(
      "out", po::value<std::string>(), "the file to write")("force", po::bool_switch(),
                                                            "overwrite --out when it exists");
  const auto values = ganaug::cli::parse_command_line(argc, argv, description);
  if (ganaug::cli::print_help_or_version(values, description)) return 0;
  if (!values.count("generator") || !values.count("out"))
    throw ganaug::cli::UsageError("--generator and --out are required");
  const auto checkpoint = values["generator"].as<std::string>();
  const auto out = values["out"].as<std::string>();
  const bool force = values["force"].as<bool>();
  if (ganaug::path_within(out, checkpoint)) {
    throw ganaug::cli::UsageError("--out " + out + " is the --generator checkpoint itself" +
                                  (force ? ": --force would replace it by the export" : "") +
                                  "; choose another --out");
  }
  if (std::filesystem::exists(out) && !force) {
    throw ganaug::cli::UsageError(out + " exists; choose another --out or add --force");
  }
  auto loaded = ganaug::load_generator(checkpoint, "cpu");
  ganaug::export_generator(loaded.generator, loaded.class_names, out);
  std::cout << "wrote " << out << ": the generator of " << checkpoint << " ("
            << loaded.class_names.size() << " classes, " << loaded.options.channels() << "x"
            << loaded.options.image_size() << "x" << loaded.options.image_size() << ", iteration "
            << loaded.iteration << ")\n";
  return 0;
} catch (...) {
  return ganaug::cli::report_failure("ganaug-export", argc, argv);
}
