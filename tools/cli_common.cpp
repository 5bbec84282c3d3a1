#include "cli_common.hpp"

#include <torch/cuda.h>
#include <torch/version.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <regex>
#include <sstream>

#include "ganaug/classifier.hpp"
#include "ganaug/distributed.hpp"
#include "ganaug/error.hpp"
#include "ganaug/runtime.hpp"
#include "ganaug/version.hpp"

namespace ganaug::cli {

namespace po = boost::program_options;

void validate(boost::any& out, const std::vector<std::string>& texts, Unsigned*, int) {
  po::validators::check_first_occurrence(out);
  const std::string& text = po::validators::get_single_string(texts);
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  const auto parsed = std::from_chars(text.data(), end, value);
  if (text.empty() || parsed.ec != std::errc() || parsed.ptr != end) {
    throw po::invalid_option_value(text + " (expected a whole number from 0 to 2^64-1)");
  }
  out = Unsigned{value};
}

std::string without_location(const std::string& message) {
  // " [name.cpp:LINE" or " [name.hpp:LINE" opens a tail; the condition after it may hold
  // brackets of its own, so the tail ends at the bracket that balances the opening one.
  static const std::regex opening(R"( \[[A-Za-z0-9_.+-]+\.(cpp|hpp|h):[0-9]+)");
  std::string text = message;
  std::smatch found;
  while (std::regex_search(text, found, opening)) {
    const auto start = static_cast<size_t>(found.position(0));
    size_t end = start + 1, depth = 0;
    for (; end < text.size(); ++end) {
      if (text[end] == '[') ++depth;
      if (text[end] == ']' && --depth == 0) break;
    }
    if (end >= text.size()) break;  // no balancing bracket: not a tail
    text.erase(start, end + 1 - start);
  }
  return text;
}

void add_help_options(po::options_description& description) {
  // clang-format off
  po::options_description group("General");
  group.add_options()
      ("help,h", "show this help")
      ("verbose", po::bool_switch(),
       "errors also name the source line and the check that raised them (for bug reports)");
  // clang-format on
  description.add(group);
}

int report_failure(const std::string& tool, int argc, const char* const argv[],
                   bool after_progress) {
  const bool verbose = std::any_of(argv + 1, argv + argc,
                                   [](const char* a) { return std::string(a) == "--verbose"; });
  const auto text = [verbose](const std::exception& e) {
    return verbose ? std::string(e.what()) : without_location(e.what());
  };
  try {
    throw;
  } catch (const UsageError& e) {
    std::cerr << tool << ": " << text(e) << "\nsee " << tool << " --help\n";
    return 2;
  } catch (const Interrupted& e) {
    std::cerr << tool << ": " << text(e) << "\n";
    return 130;
  } catch (const std::exception& e) {
    std::cerr << (after_progress ? "\n" : "") << tool << ": " << text(e) << "\n";
    return 1;
  } catch (...) {
    std::cerr << tool << ": an unknown exception\n";
    return 1;
  }
}

void add_joint_options(po::options_description& description) {
  const JointOptions defaults(2);
  // clang-format off
  po::options_description group("Joint schemes (--scheme newclass-joint, dada-joint, triple-joint)");
  group.add_options()
      ("joint-steps", po::value<int64_t>()->default_value(defaults.iterations()),
       "with a joint scheme: steps of joint training (each a classifier, a generator and, for "
       "triple-joint, a discriminator step)")
      ("joint-weight", po::value<double>()->default_value(defaults.unsupervised_weight()),
       "with a joint scheme: weight of the classifier's terms on generated and unlabeled images "
       "against its labeled cross-entropy")
      ("joint-warmup", po::value<double>()->default_value(defaults.warmup_share()),
       "with triple-joint: share of the steps on the labeled images alone before the other "
       "terms ramp in")
      ("joint-consistency", po::value<double>()->default_value(defaults.consistency_weight()),
       "with a joint scheme and --unlabeled: weight of FixMatch's consistency loss on the pool "
       "images in the joint classifier's loss (weak view: the classical one; strong view: "
       "--strong; confidence: --pool-threshold; --pool-ratio x the labeled batch of pool images a "
       "step); 0 = none");
  // clang-format on
  description.add(group);
}

JointOptions joint_options_from(const po::variables_map& values, bool any_joint, bool any_triple,
                                bool any_pool) {
  for (const char* flag : {"joint-steps", "joint-weight", "joint-warmup", "joint-consistency"}) {
    if (!any_joint && !values[flag].defaulted())
      throw UsageError(std::string("--") + flag +
                       " goes with a joint scheme (newclass-joint, dada-joint or triple-joint)");
  }
  if (!any_pool && !values["joint-consistency"].defaulted())
    throw UsageError(
        "--joint-consistency goes with --unlabeled (it weighs consistency training on a pool)");
  if (!any_triple && !values["joint-warmup"].defaulted())
    throw UsageError(
        "--joint-warmup goes with triple-joint (the other joint forms do not warm up)");
  auto options = JointOptions(2)
                     .iterations(values["joint-steps"].as<int64_t>())
                     .unsupervised_weight(values["joint-weight"].as<double>())
                     .warmup_share(values["joint-warmup"].as<double>())
                     .consistency_weight(values["joint-consistency"].as<double>());
  // The joint classifier takes --optimizer only when given: the pool recipe's SGD, which the
  // other classifiers take by default, lost 6 points in the joint trainer (bench/RESULTS.md).
  if (!values["optimizer"].defaulted()) {
    options.classifier(ClassifierOptions(options.classifier())
                           .optimizer(parse_flag(values, "optimizer", parse_classifier_optimizer)));
  }
  return options;
}

void add_classifier_options(po::options_description& description) {
  const ClassifierOptions defaults(2);
  // clang-format off
  po::options_description group("Classifier"), pool("Consistency training on an unlabeled pool");
  group.add_options()
      ("classifier", po::value<std::string>()->default_value(to_string(defaults.architecture())),
       "classifier network: auto (resnet for RGB, else cnn), cnn, cnn-strided (0.36x the "
       "arithmetic of cnn, about 1.3 points less accurate on Fashion-MNIST), resnet, or your "
       "own: a TorchScript file (in Python, torch.jit.script(model).save(\"net.pt\")) whose "
       "forward maps N x C x S x S images in [-1, 1] to N x K logits (K + 1 for newclass), "
       "trained from its saved weights")
      ("classifier-width", po::value<int64_t>()->default_value(defaults.width()),
       "classifier width: channels of the first convolution (the second has twice as many); 0 "
       "takes the network's own (24 for cnn and cnn-strided, 32 for resnet)")
      ("epochs", po::value<int64_t>()->default_value(defaults.epochs()),
       "classifier epochs over the real images (with a pool trained on by consistency: 450)")
      ("lr-schedule", po::value<std::string>()->default_value(to_string(defaults.lr_schedule())),
       "classifier learning rate: cosine (decays to 0 over the run), constant, or "
       "fixmatch-cosine (FixMatch's cos(7 pi k / 16 K), ending at a fifth of the start)")
      ("optimizer", po::value<std::string>()->default_value(to_string(defaults.optimizer())),
       "classifier optimizer: adam, or sgd (Nesterov momentum 0.9, weight decay on the "
       "convolution and linear weights only: FixMatch's; the default with a pool trained on by "
       "consistency; the joint schemes' classifier keeps adam unless given)")
      ("lr", po::value<double>()->default_value(defaults.lr()),
       "classifier learning rate at the start; 0 takes the optimizer's own (adam 0.001, sgd 0.03)")
      ("weight-decay", po::value<double>()->default_value(defaults.weight_decay()),
       "classifier weight decay (L2; with a pool trained on by consistency: 5e-4, FixMatch's)")
      ("ema", po::value<double>()->default_value(defaults.ema_decay()),
       "evaluate and keep an exponential moving average of the classifier's weights with this "
       "decay, in [0, 1) (FixMatch: 0.999; with a pool trained on by consistency: 0.99); 0 keeps "
       "the last step's weights")
      ("synthetic-share", po::value<double>()->default_value(defaults.synthetic_share()),
       "share of each classifier batch that is synthetic, in [0, 1) (augment-bench: above 0)")
      ("synthetic-weight", po::value<double>()->default_value(defaults.synthetic_weight()),
       "weight of the synthetic images' loss")
      ("prefetch", po::value<std::string>()->default_value("auto"),
       "classifier steps whose batches are drawn and augmented ahead of the step, on a oneTBB "
       "worker thread; 0 prepares each on the training thread (the same batches either way); "
       "auto: 2 on CUDA or when --threads leaves a core free, else 0");
  pool.add_options()
      ("strong", po::value<std::string>()->default_value(StrongViewOptions().to_string()),
       "strong view of unlabeled pool images in consistency training: classic (larger shifts, "
       "rotations, zoom-ins and random erasing) or randaugment[:ops=2,cutout=0.5] (FixMatch's: "
       "shift and flip, then 2 of 14 photometric and geometric operations at random "
       "magnitudes, then a gray square of up to half the side; the default with a pool trained "
       "on by consistency; p=0.5 applies each operation with probability 0.5 and fixed=1 makes "
       "the square always half the side, as the published FixMatch code does)")
      ("pool-threshold", po::value<double>()->default_value(defaults.pool_threshold()),
       "confidence a weak view's prediction needs to become a target in consistency training")
      ("pool-ratio", po::value<double>()->default_value(defaults.pool_ratio()),
       "pool images per classifier step in consistency training, as a multiple of the batch "
       "(FixMatch: 7; with a pool trained on by consistency: 3)")
      ("pool-ramp", po::value<double>()->default_value(defaults.pool_ramp_share()),
       "share of the steps, in [0, 1), over which the consistency loss's weight ramps up from 0 "
       "(published FixMatch: 0)")
      ("pool-one-pass", po::bool_switch(),
       "the labeled images and the pool's weak and strong views in one forward pass, so that "
       "batch norm mixes them (the published FixMatch code); default: three passes")
      ("distribution-alignment", po::bool_switch(),
       "align the pool's targets to the labeled images' class shares (ReMixMatch)");
  // clang-format on
  add_default_on(pool, "pool-target-dropout",
                 "the weak view's pass that makes the pool's targets runs with the classifier's "
                 "dropout off, as FixMatch's networks have none (default: on)");
  description.add(group).add(pool);
}

namespace {
std::atomic<bool> stop_asked{false};

// Async-signal-safe: an atomic exchange, write(2), alarm(2), _exit(2).
[[noreturn]] void end_now(int signal) {
  static const char message[] =
      "\nstopped at once (a second signal, or SIGTERM's grace ran out); what the run wrote "
      "is resumable with --resume\n";
  [[maybe_unused]] const auto written = ::write(STDERR_FILENO, message, sizeof message - 1);
  ::_exit(128 + signal);
}

extern "C" void on_stop_signal(int signal) {
  if (stop_asked.exchange(true)) end_now(signal);
  if (signal == SIGTERM) ::alarm(kTermGraceSeconds);
}

extern "C" void on_grace_over(int) { end_now(SIGTERM); }
}  // namespace

void install_stop_handlers() {
  std::signal(SIGALRM, on_grace_over);
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
}

bool stop_requested() { return stop_asked.load(); }

namespace {
// --prefetch: "auto" or a whole number of steps (its range is ClassifierOptions::validate's).
int64_t prefetch_from(const po::variables_map& values) {
  const auto& text = values["prefetch"].as<std::string>();
  if (text == "auto") return kAutoPrefetch;
  int64_t steps = 0;
  const auto end = text.data() + text.size();
  const auto [at, error] = std::from_chars(text.data(), end, steps);
  if (error != std::errc() || at != end || steps < 0)
    throw UsageError("--prefetch must be auto or a whole number of steps, got '" + text + "'");
  return steps;
}

// --classifier: a built-in network's name, else a TorchScript file (a path, or a name that ends
// in .pt or .pth, or a file that exists).
void set_classifier_network(ClassifierOptions& options, const std::string& value) {
  try {
    options.architecture(parse_classifier_architecture(value));
    return;
  } catch (const ganaug::Error& e) {
    const auto ends_with = [&](const std::string& tail) {
      return value.size() > tail.size() &&
             value.compare(value.size() - tail.size(), tail.size(), tail) == 0;
    };
    if (value.find('/') == std::string::npos && !ends_with(".pt") && !ends_with(".pth") &&
        !std::filesystem::exists(value))
      throw UsageError("--classifier: " + without_location(e.what()));
  }
  options.custom(script_network(value));
}
}  // namespace

ClassifierOptions classifier_options_from(const po::variables_map& values, bool pool) {
  auto options = ClassifierOptions(2)
                     .optimizer(parse_flag(values, "optimizer", parse_classifier_optimizer))
                     .lr(values["lr"].as<double>())
                     .weight_decay(values["weight-decay"].as<double>())
                     .ema_decay(values["ema"].as<double>())
                     .pool_threshold(values["pool-threshold"].as<double>())
                     .pool_ratio(values["pool-ratio"].as<double>())
                     .pool_ramp_share(values["pool-ramp"].as<double>())
                     .pool_target_dropout(default_on(values, "pool-target-dropout"))
                     .pool_one_pass(values["pool-one-pass"].as<bool>())
                     .distribution_alignment(values["distribution-alignment"].as<bool>())
                     .prefetch(prefetch_from(values))
                     .width(values["classifier-width"].as<int64_t>())
                     .epochs(values["epochs"].as<int64_t>())
                     .lr_schedule(parse_flag(values, "lr-schedule", parse_lr_schedule))
                     .synthetic_share(values["synthetic-share"].as<double>())
                     .synthetic_weight(values["synthetic-weight"].as<double>())
                     .cuda_graphs(cuda_graphs_from(values));
  set_classifier_network(options, values["classifier"].as<std::string>());
  if (options.custom() && !values["classifier-width"].defaulted())
    throw UsageError("--classifier-width sets the width of the built-in networks, not of " +
                     options.custom().name);
  if (!pool) return options;
  const auto recipe = pool_recipe(ClassifierOptions(2));
  if (values["optimizer"].defaulted()) options.optimizer(recipe.optimizer());
  if (values["weight-decay"].defaulted()) options.weight_decay(recipe.weight_decay());
  if (values["ema"].defaulted()) options.ema_decay(recipe.ema_decay());
  if (values["epochs"].defaulted()) options.epochs(recipe.epochs());
  if (values["pool-ratio"].defaulted()) options.pool_ratio(recipe.pool_ratio());
  return options;
}

StrongViewOptions strong_view_from(const po::variables_map& values, bool pool) {
  if (pool && values["strong"].defaulted()) return StrongViewOptions::parse("randaugment");
  return parse_flag(values, "strong", StrongViewOptions::parse);
}

void add_device_options(po::options_description& description) {
  // clang-format off
  po::options_description group("Device and threads");
  group.add_options()
      ("device", po::value<std::string>()->default_value("auto"), "auto, cpu, cuda or cuda:N")
      ("precision", po::value<std::string>()->default_value("fp32"),
       "fp32, or bf16: the GAN's training steps under autocast to bfloat16 (weights stay "
       "float32), on a CUDA device (for large --gan-batch) or a CPU with bfloat16 "
       "instructions (AVX512-BF16, AMX: ~1.45x as fast here); a different run from fp32's")
      ("deterministic", po::bool_switch(),
       "deterministic algorithms only (cuDNN, cuBLAS): bit-exact repeats on CUDA; CPU runs "
       "repeat bit for bit without it")
      ("version", "print the versions and what this build can use (CUDA, several processes)");
  // clang-format on
  add_default_on(group, "cuda-graphs",
                 "on a CUDA device, every training step launched eagerly (default: the GAN's and "
                 "the classifiers' steps are captured once as CUDA graphs and replayed, one "
                 "launch per step)");
  description.add(group);
}

std::string version_text() {
  std::ostringstream out;
  out << "ganaug " << version() << " (output revision " << kOutputRevision << "), LibTorch "
      << TORCH_VERSION << "\nCUDA: ";
  if (cuda_available())
    out << torch::cuda::device_count() << " device(s)";
  else
    out << "none (this build or machine has no CUDA)";
  out << "\nCUDA graphs of the training steps: "
      << (cuda_graphs_available() ? "yes" : "no (this build's LibTorch has no CUDA)");
  out << "\nseveral processes (WORLD_SIZE > 1): "
      << (ProcessGroup::supported() ? "yes, c10d Gloo"
                                    : "no, built without Gloo's headers (libgloo-dev)")
      << "\n";
  return out.str();
}

po::options_description& old_spellings() {
  static po::options_description old("Spellings of ganaug 0.5");
  return old;
}

void add_default_on(po::options_description& group, const std::string& name,
                    const std::string& help) {
  group.add_options()(("no-" + name).c_str(), po::bool_switch(), help.c_str());
  if (old_spellings().find_nothrow(name, false) == nullptr)
    old_spellings().add_options()(name.c_str(), po::value<std::string>(), "");
}

bool default_on(const po::variables_map& values, const std::string& name) {
  const bool off = values["no-" + name].as<bool>();
  if (!values.count(name)) return !off;
  if (off) throw UsageError("--" + name + " and --no-" + name + " given together");
  const auto& value = values[name].as<std::string>();
  if (value != "1" && value != "0" && value != "on" && value != "off") {
    throw UsageError("--" + name + " takes 1, 0, on or off, got '" + value +
                     "' (ganaug 0.5's spelling; now the switch --no-" + name + ")");
  }
  const bool on = value == "1" || value == "on";
  std::cerr << "note: --" << name << " " << value << " is ganaug 0.5's spelling; "
            << (on ? "it is the default (drop it)" : "use --no-" + name)
            << ". The old spelling goes in a later release.\n";
  return on;
}

void note_old_spelling(const std::string& name, const std::string& old_name,
                       const std::string& value, bool name_given) {
  if (name_given)
    throw UsageError("--" + old_name + " and --" + name + " given together (--" + old_name +
                     " is ganaug 0.5's name of --" + name + ")");
  std::cerr << "note: --" << old_name << " " << value << " is ganaug 0.5's spelling; use --" << name
            << " " << value << ". The old spelling goes in a later release.\n";
}

bool cuda_graphs_from(const po::variables_map& values) { return default_on(values, "cuda-graphs"); }

Precision precision_from(const po::variables_map& values) {
  return parse_flag(values, "precision", parse_precision);
}

void apply_device_options(const po::variables_map& values) {
  if (values["deterministic"].as<bool>()) use_deterministic_algorithms(true);
}

void add_shard_options(po::options_description& description) {
  // clang-format off
  po::options_description group("Shards and processes (clusters)");
  group.add_options()
      ("shard", po::value<int64_t>(),
       "this process's shard, 0 to --num-shards - 1 (in a Slurm job array, when neither flag is "
       "given: SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN)")
      ("num-shards", po::value<int64_t>(),
       "processes sharing the work (in a Slurm job array: SLURM_ARRAY_TASK_COUNT)");
  // clang-format on
  description.add(group);
}

namespace {

int64_t slurm_number(const char* name, const char* text) {
  int64_t value = 0;
  const auto end = text + std::strlen(text);
  const auto [at, error] = std::from_chars(text, end, value);
  if (error != std::errc() || at != end || value < 0) {
    throw UsageError(std::string(name) + "='" + text +
                     "' is not a whole number; set --shard and --num-shards instead");
  }
  return value;
}

}  // namespace

ShardChoice shard_from(const po::variables_map& values, bool slurm_fallback) {
  ShardChoice choice;
  if (values.count("num-shards")) {
    choice.count = values["num-shards"].as<int64_t>();
    choice.index = values.count("shard") ? values["shard"].as<int64_t>() : 0;
    choice.from = "flags";
    return choice;
  }
  if (values.count("shard")) throw UsageError("--shard needs --num-shards");
  const char* id = std::getenv("SLURM_ARRAY_TASK_ID");
  const char* count = std::getenv("SLURM_ARRAY_TASK_COUNT");
  if (!slurm_fallback || id == nullptr || count == nullptr) return choice;
  const char* min = std::getenv("SLURM_ARRAY_TASK_MIN");
  const char* step = std::getenv("SLURM_ARRAY_TASK_STEP");
  const int64_t stride =
      step ? std::max<int64_t>(1, slurm_number("SLURM_ARRAY_TASK_STEP", step)) : 1;
  const int64_t offset = slurm_number("SLURM_ARRAY_TASK_ID", id) -
                         (min ? slurm_number("SLURM_ARRAY_TASK_MIN", min) : 0);
  choice.index = offset / stride;
  choice.count = slurm_number("SLURM_ARRAY_TASK_COUNT", count);
  choice.from = "slurm";
  if (offset % stride != 0 || choice.index < 0 || choice.index >= choice.count) {
    throw UsageError("the Slurm job array's task " + std::string(id) + " (of " +
                     std::string(count) +
                     " tasks) does not give a shard between 0 and the task count - 1: use an "
                     "evenly spaced array (--array=0-N or 0-N:S), or pass --shard and "
                     "--num-shards");
  }
  return choice;
}

void add_dataset_options(po::options_description& description, int64_t default_per_class) {
  // clang-format off
  po::options_description group("Data");
  group.add_options()
      ("data", po::value<std::string>()->default_value(""),
       "dataset: an MNIST-like folder of IDX files, an image folder root/<class>/<image>, or a "
       "CSV manifest (path,label); empty = Fashion-MNIST from the dataset-fashion-mnist package")
      ("format", po::value<std::string>()->default_value("auto"),
       "auto, fashion-mnist, idx, folder or csv")
      ("split", po::value<std::string>()->default_value("train"),
       "train or test (IDX data: the t10k files)")
      ("image-size", po::value<int64_t>()->default_value(0),
       "resize images to this square size; 0 keeps the stored size")
      ("channels", po::value<int64_t>()->default_value(0),
       "1 (gray) or 3 (RGB); 0 keeps the stored channels")
      ("per-class", po::value<int64_t>()->default_value(default_per_class),
       "keep this many images per class, chosen at random with --seed; 0 keeps all")
      ("seed", po::value<Unsigned>()->default_value(Unsigned{0}, "0"),
       "seed of the per-class choice (and of every random choice of the run)")
      ("threads", po::value<int>()->default_value(0), "loading threads; 0 = one per core")
      ("allow-outside-paths", po::bool_switch(),
       "read CSV manifest paths outside the manifest's folder and follow symbolic links out of "
       "an image folder (refused by default)");
  // clang-format on
  description.add(group);
}

DatasetSpec dataset_spec_from(const po::variables_map& values) {
  DatasetSpec spec;
  spec.path(values["data"].as<std::string>())
      .format(parse_flag(values, "format", parse_dataset_format))
      .split(parse_flag(values, "split", parse_idx_split))
      .image_size(values["image-size"].as<int64_t>())
      .channels(values["channels"].as<int64_t>())
      .per_class(values["per-class"].as<int64_t>())
      .seed(values["seed"].as<Unsigned>().value)
      .threads(values["threads"].as<int>())
      .allow_outside_paths(values["allow-outside-paths"].as<bool>());
  if (spec.image_size() < 0) {
    throw UsageError("--image-size must be 0 or positive, got " +
                     std::to_string(spec.image_size()));
  }
  if (spec.channels() != 0 && spec.channels() != 1 && spec.channels() != 3) {
    throw UsageError("--channels must be 0, 1 or 3, got " + std::to_string(spec.channels()));
  }
  if (spec.per_class() < 0) {
    throw UsageError("--per-class must be 0 or positive, got " + std::to_string(spec.per_class()));
  }
  if (spec.threads() < 0 || spec.threads() > hardware_threads()) {
    throw UsageError("--threads " + std::to_string(spec.threads()) +
                     " is not between 0 (all) and the " + std::to_string(hardware_threads()) +
                     " CPUs this process may use");
  }
  return spec;
}

po::variables_map parse_command_line(int argc, const char* const argv[],
                                     const po::options_description& description) {
  po::variables_map values;
  try {
    po::options_description all;
    all.add(description).add(old_spellings());
    po::store(po::command_line_parser(argc, argv).options(all).run(), values);
    po::notify(values);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  return values;
}

bool print_help_or_version(const po::variables_map& values,
                           const po::options_description& description) {
  if (values.count("help")) {
    std::cout << description << "\n";
    return true;
  }
  if (values.count("version")) {
    std::cout << version_text();
    return true;
  }
  return false;
}

void print_dataset_summary(std::ostream& out, const LabeledDataset& data, const std::string& format,
                           const std::string& split) {
  out << "source:     " << data.source << "\n"
      << "format:     " << format << "\n"
      << "split:      " << split << "\n"
      << "images:     " << data.size() << "\n";
  if (data.size() > 0) {
    out << "image size: " << data.width() << "x" << data.height() << "\n"
        << "channels:   " << data.channels() << "\n";
  }
  out << "classes:    " << data.num_classes() << "\n";
  const auto counts = data.class_counts();
  size_t name_width = 5;
  for (const auto& name : data.class_names) name_width = std::max(name_width, name.size());
  out << "per class:\n";
  for (size_t k = 0; k < counts.size(); ++k) {
    out << "  " << std::setw(3) << k << "  " << std::left << std::setw(static_cast<int>(name_width))
        << data.class_names[k] << std::right << "  " << std::setw(7) << counts[k] << "\n";
  }
  if (data.targets.defined()) {
    out << "soft targets: " << data.targets.size(1) << " per image\n";
  }
}

}  // namespace ganaug::cli
