#pragma once
/// Command-line pieces shared by the ganaug tools: the dataset options and their conversion to a
/// DatasetSpec, parsing with usage errors told apart from runtime failures, and the dataset
/// summary.

#include <boost/program_options.hpp>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "ganaug/classifier.hpp"
#include "ganaug/dataset.hpp"
#include "ganaug/datasets/classic_augment.hpp"
#include "ganaug/error.hpp"
#include "ganaug/joint.hpp"
#include "ganaug/pipelines/load.hpp"
#include "ganaug/runtime.hpp"

namespace ganaug::cli {

/// A bad command line (unknown option, malformed or out-of-range value). Tools print it with
/// "see --help" and exit with status 2; every other failure exits with status 1.
class UsageError : public std::runtime_error {
 public:
  explicit UsageError(const std::string& message) : std::runtime_error(message) {}
};

/// An unsigned 64-bit option value that, unlike boost's parsing of uint64_t, refuses "-1"
/// instead of wrapping it to 2^64 - 1.
struct Unsigned {
  uint64_t value = 0;
};
/// boost::program_options' hook for parsing an Unsigned.
void validate(boost::any& out, const std::vector<std::string>& texts, Unsigned*, int);

/// `message` without the " [file.cpp:line: condition]" tails of ganaug::Errors (its own and
/// those of errors it quotes), for what users read.
std::string without_location(const std::string& message);

/// `parse` (a ganaug parser: parse_lr_schedule, SchemeChoice::parse, ...) applied to the text of
/// --`flag`; an error it throws becomes a UsageError that names the flag.
template <typename Parse>
auto parse_flag(const boost::program_options::variables_map& values, const std::string& flag,
                Parse parse) -> decltype(parse(std::string())) {
  try {
    return parse(values[flag].as<std::string>());
  } catch (const ganaug::Error& e) {
    throw UsageError("--" + flag + ": " + without_location(e.what()));
  }
}

/// Adds --help and --verbose (errors keep their source locations, for bug reports).
void add_help_options(boost::program_options::options_description& description);

/// Ctrl-C (SIGINT) and SIGTERM: the first asks the run to stop at its next safe point
/// (stop_requested() turns true; the run ends with status 130 and can be resumed). A second
/// signal ends the process at once, and so does SIGTERM on its own when the run has not stopped
/// kTermGraceSeconds later (a user's network whose forward never returns): exit status 128 +
/// the signal, leaving what a SIGKILL leaves (--resume cleans it and goes on).
void install_stop_handlers();
/// Whether a stop was asked for (see install_stop_handlers).
bool stop_requested();
/// Seconds SIGTERM waits for the safe point before it ends the process.
inline constexpr unsigned kTermGraceSeconds = 10;

/// Call from a tool's `catch (...)`: prints the exception in flight as "<tool>: <message>"
/// (source locations only with --verbose among the arguments) and returns the exit status: 2
/// for a UsageError (followed by "see <tool> --help"), 130 for ganaug::Interrupted, 1
/// otherwise. `after_progress` starts the line on a fresh one (a progress line may be open).
int report_failure(const std::string& tool, int argc, const char* const argv[],
                   bool after_progress = false);

/// Adds --data, --format, --split, --image-size, --channels, --per-class, --seed and --threads.
/// `default_per_class` is --per-class's default (0 keeps all images).
void add_dataset_options(boost::program_options::options_description& description,
                         int64_t default_per_class = 0);

/// Adds --classifier, --classifier-width (the classifiers' network and width), --epochs,
/// --lr-schedule, --optimizer, --lr, --weight-decay, --ema, --synthetic-share and
/// --synthetic-weight, and the unlabeled pool's --strong, --pool-threshold, --pool-ratio and
/// --distribution-alignment.
void add_classifier_options(boost::program_options::options_description& description);

/// The ClassifierOptions those flags ask for (the rest at their defaults); checked later, by
/// the job's options. With `pool`, a run that trains on an unlabeled pool by consistency, the
/// flags not given take ganaug::pool_recipe's values. Throws UsageError for an unknown
/// --optimizer, --classifier or --lr-schedule.
ClassifierOptions classifier_options_from(const boost::program_options::variables_map& values,
                                          bool pool = false);

/// Adds --joint-steps, --joint-weight and --joint-warmup: how the joint schemes (newclass-joint,
/// dada-joint, triple-joint) train.
void add_joint_options(boost::program_options::options_description& description);

/// The JointOptions those flags ask for (form kKPlus1; the caller sets the form). With
/// `any_joint` false (no joint scheme asked for), a --joint-* flag given is a UsageError, and
/// with `any_triple` false so is --joint-warmup (only triple-joint warms up), and with `any_pool`
/// false (no unlabeled pool) so is --joint-consistency.
JointOptions joint_options_from(const boost::program_options::variables_map& values, bool any_joint,
                                bool any_triple, bool any_pool);

/// The strong view --strong asks for: with `pool` and no --strong, RandAugment (the pool
/// recipe's). Throws UsageError for a bad spec.
StrongViewOptions strong_view_from(const boost::program_options::variables_map& values,
                                   bool pool = false);

/// Boolean settings have one style: a switch. A setting on by default is turned off by the switch
/// --no-<name> (added to `group`; `help` says what it does). The spelling of ganaug 0.5,
/// --<name> with a value (1 or 0, on or off), is still read for a release, with a notice on
/// stderr; --help does not list it.
void add_default_on(boost::program_options::options_description& group, const std::string& name,
                    const std::string& help);
/// Whether the setting of add_default_on() is on: false with --no-<name>, else the old
/// spelling's value where given (printing the notice), else true. Throws UsageError when both
/// spellings are given or the old one's value is not 1, 0, on or off.
bool default_on(const boost::program_options::variables_map& values, const std::string& name);

/// The options read but not shown by --help: the old spellings of renamed settings.
boost::program_options::options_description& old_spellings();
/// Prints the notice of an old spelling (`--old_name value` is ganaug 0.5's; use `--name`);
/// throws UsageError when the name was given too (`name_given`).
void note_old_spelling(const std::string& name, const std::string& old_name,
                       const std::string& value, bool name_given);

/// One name for one concept: a valued option renamed. --<name> (added to `group` with
/// `default_value` and `help`) is the name; --<old_name>, ganaug 0.5's, is still read for a
/// release with a notice on stderr (renamed_value); --help does not list it.
template <typename T>
void add_renamed(boost::program_options::options_description& group, const std::string& name,
                 const std::string& old_name, const T& default_value, const std::string& help) {
  namespace po = boost::program_options;
  group.add_options()(name.c_str(), po::value<T>()->default_value(default_value), help.c_str());
  if (old_spellings().find_nothrow(old_name, false) == nullptr)
    old_spellings().add_options()(old_name.c_str(), po::value<T>(), "");
}
/// The value of add_renamed()'s option: the old spelling's where given (printing the notice),
/// else the name's. Throws UsageError when both are given.
template <typename T>
T renamed_value(const boost::program_options::variables_map& values, const std::string& name,
                const std::string& old_name) {
  if (!values.count(old_name)) return values[name].as<T>();
  const T value = values[old_name].as<T>();
  std::ostringstream text;
  text << value;
  note_old_spelling(name, old_name, text.str(), !values[name].defaulted());
  return value;
}

/// Adds --device, --no-cuda-graphs and --deterministic.
void add_device_options(boost::program_options::options_description& description);

/// CUDA graphs on unless --no-cuda-graphs (default_on()).
bool cuda_graphs_from(const boost::program_options::variables_map& values);
/// --precision's value; throws UsageError for one other than fp32 or bf16.
Precision precision_from(const boost::program_options::variables_map& values);

/// Turns on LibTorch's deterministic mode (ganaug::use_deterministic_algorithms) when
/// --deterministic is set; call before any work on a device.
void apply_device_options(const boost::program_options::variables_map& values);

/// What --version prints: ganaug's and LibTorch's versions, the CUDA devices, and whether this
/// build can train with several processes.
std::string version_text();

/// Adds --shard and --num-shards.
void add_shard_options(boost::program_options::options_description& description);

/// A process's share of sharded work: shard `index` of `count` (0-based).
struct ShardChoice {
  int64_t index = 0;
  int64_t count = 1;
  std::string from;  ///< "flags", "slurm" or "" (not sharded)
};

/// --shard / --num-shards when given (both, or --num-shards alone for shard 0); otherwise, when
/// `slurm_fallback` and the process runs in a Slurm job array, SLURM_ARRAY_TASK_ID minus
/// SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_COUNT; otherwise shard 0 of 1. Throws UsageError
/// for --shard without --num-shards or a malformed Slurm variable.
ShardChoice shard_from(const boost::program_options::variables_map& values, bool slurm_fallback);

/// The DatasetSpec the dataset options in `values` describe. Throws UsageError for a value out of
/// range (unknown format or split, negative size, channels other than 0, 1 or 3).
DatasetSpec dataset_spec_from(const boost::program_options::variables_map& values);

/// Parses the command line against `description` and the old spellings add_default_on() keeps.
/// Throws UsageError for unknown options, malformed values and positional arguments.
boost::program_options::variables_map parse_command_line(
    int argc, const char* const argv[],
    const boost::program_options::options_description& description);

/// Prints `description` for --help, or version_text() for --version where the table has it, to
/// stdout: true when it printed one and main has nothing more to do.
bool print_help_or_version(const boost::program_options::variables_map& values,
                           const boost::program_options::options_description& description);

/// Writes a human-readable summary: source, format, image count, size, channels and the count
/// of every class with its name.
void print_dataset_summary(std::ostream& out, const LabeledDataset& data, const std::string& format,
                           const std::string& split);

}  // namespace ganaug::cli
