#pragma once
// Private to the jobs: the command-line flag of each ClassifierOptions field the tools set, so
// that the jobs' options name them in their messages as the user typed them; and the changed
// classifier and GAN settings that run records hold.

#include <filesystem>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "ganaug/classifier.hpp"
#include "ganaug/gan.hpp"

namespace ganaug::jobs::detail {

/// The file of a user's TorchScript classifier (ClassifierOptions::custom), when it is one; else
/// empty. An input that --force must not delete.
inline std::string classifier_file(const ClassifierOptions& o) {
  std::error_code error;
  return o.custom() && std::filesystem::is_regular_file(o.custom().name, error) ? o.custom().name
                                                                                : std::string();
}

/// "--epochs" for "epochs", "--classifier-width" for "width", ...; other fields keep their own
/// name. For ClassifierOptions::validate.
inline std::string classifier_flag_name(const std::string& field) {
  static const std::map<std::string, std::string> flags = {
      {"epochs", "--epochs"},
      {"lr_schedule", "--lr-schedule"},
      {"architecture", "--classifier"},
      {"width", "--classifier-width"},
      {"synthetic_share", "--synthetic-share"},
      {"synthetic_weight", "--synthetic-weight"},
      {"separate_synthetic_batches", "--no-separate-batches"},
      {"recalibrate_batchnorm", "--no-recalibrate-bn"},
      {"pool_threshold", "--pool-threshold"},
      {"pool_ratio", "--pool-ratio"},
      {"optimizer", "--optimizer"},
      {"lr", "--lr"},
      {"weight_decay", "--weight-decay"},
      {"ema_decay", "--ema"},
      {"distribution_alignment", "--distribution-alignment"},
      {"pool_ramp_share", "--pool-ramp"},
      {"pool_target_dropout", "--no-pool-target-dropout"},
      {"pool_one_pass", "--pool-one-pass"},
      {"threads", "--threads"}};
  const auto found = flags.find(field);
  return found != flags.end() ? found->second : field;
}

/// A field's value as run records write it: integers, switches, reals and choices' names.
inline nlohmann::json record_value(const c10::IValue& value) {
  if (value.isBool()) return value.toBool();
  if (value.isInt()) return value.toInt();
  if (value.isDouble()) return value.toDouble();
  return value.toStringRef();
}

/// The recorded training fields of `o` (ClassifierField::recorded: batch size, learning rate,
/// optimizer, weight decay, weight average, ...) that differ from ClassifierOptions' defaults,
/// by field name; empty for default options. Run records hold it only when not empty, and each
/// field only when changed, so that records written before a field existed still match.
inline nlohmann::json classifier_tuning(const ClassifierOptions& o) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, value] :
       classifier_option_differences(o, ClassifierOptions(o.num_outputs())))
    out[name] = record_value(value);
  return out;
}

/// The stored GAN settings (gan_option_differences) in which `o` differs from a job's default
/// `defaults`, by field name, leaving out `recorded` (those a record holds under keys of their
/// own) and the fields a job sets from its data and seed; empty for default settings. Like
/// classifier_tuning, records hold it only when not empty.
inline nlohmann::json gan_tuning(const GanOptions& o, const GanOptions& defaults,
                                 std::initializer_list<const char*> recorded) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, value] : gan_option_differences(o, defaults))
    out[name] = record_value(value);
  for (const char* name : {"num_classes", "image_size", "channels", "seed"}) out.erase(name);
  for (const char* name : recorded) out.erase(name);
  return out;
}

}  // namespace ganaug::jobs::detail
