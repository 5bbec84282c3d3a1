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
#include "ganaug/joint.hpp"

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

/// The training fields of `o` that differ from ClassifierOptions' defaults (batch size, learning
/// rate, optimizer, weight decay, weight average, ...), by field name; empty for default
/// options. Run records hold it only when not empty, and each field only when changed, so that
/// records written before a field existed still match.
inline nlohmann::json classifier_tuning(const ClassifierOptions& o) {
  const ClassifierOptions d(o.num_outputs());
  nlohmann::json out = nlohmann::json::object();
  const auto note = [&](const char* name, const auto& value, const auto& fallback) {
    if (value != fallback) out[name] = value;
  };
  note("batch_size", o.batch_size(), d.batch_size());
  if (o.optimizer() != d.optimizer()) out["optimizer"] = to_string(o.optimizer());
  note("lr", o.lr(), d.lr());
  note("momentum", o.momentum(), d.momentum());
  note("ema_decay", o.ema_decay(), d.ema_decay());
  note("distribution_alignment", o.distribution_alignment(), d.distribution_alignment());
  note("weight_decay", o.weight_decay(), d.weight_decay());
  note("warmup_share", o.warmup_share(), d.warmup_share());
  note("dynamic_weight", o.dynamic_weight(), d.dynamic_weight());
  note("pool_ramp_share", o.pool_ramp_share(), d.pool_ramp_share());
  note("pool_target_dropout", o.pool_target_dropout(), d.pool_target_dropout());
  note("pool_one_pass", o.pool_one_pass(), d.pool_one_pass());
  note("separate_synthetic_batches", o.separate_synthetic_batches(),
       d.separate_synthetic_batches());
  note("recalibrate_batchnorm", o.recalibrate_batchnorm(), d.recalibrate_batchnorm());
  note("pool_threshold", o.pool_threshold(), d.pool_threshold());
  note("pool_ratio", o.pool_ratio(), d.pool_ratio());
  return out;
}

/// The classifier options of a job's joint training: the job's classifier `c` (network, learning
/// rate, schedule, weight decay, batch) with the joint options' optimizer (Adam unless asked: the
/// pool recipe's SGD does not carry over), and their Polyak decay unless `c` sets one.
inline ClassifierOptions joint_classifier_options(const ClassifierOptions& c,
                                                  const JointOptions& j) {
  return ClassifierOptions(c)
      .optimizer(j.classifier().optimizer())
      .ema_decay(c.ema_decay() > 0 ? c.ema_decay() : j.classifier().ema_decay());
}

/// The stored GAN settings (gan_option_differences) in which `o` differs from a job's default
/// `defaults`, by field name, leaving out `recorded` (those a record holds under keys of their
/// own) and the fields a job sets from its data and seed; empty for default settings. Like
/// classifier_tuning, records hold it only when not empty.
inline nlohmann::json gan_tuning(const GanOptions& o, const GanOptions& defaults,
                                 std::initializer_list<const char*> recorded) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, value] : gan_option_differences(o, defaults)) {
    if (value.isInt()) {
      out[name] = value.toInt();
    } else if (value.isDouble()) {
      out[name] = value.toDouble();
    } else {
      out[name] = value.toStringRef();
    }
  }
  for (const char* name : {"num_classes", "image_size", "channels", "seed"}) out.erase(name);
  for (const char* name : recorded) out.erase(name);
  return out;
}

}  // namespace ganaug::jobs::detail
