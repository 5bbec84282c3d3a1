#include "classifier/classifier_fields.hpp"

#include <cmath>
#include <sstream>

#include "core/field_range.hpp"
#include "ganaug/error.hpp"

namespace ganaug {

namespace {

// The getter of one field, by its storage type.
#define GANAUG_INT(field) \
  [](const ClassifierOptions& o) { return c10::IValue(static_cast<int64_t>(o.field())); }
#define GANAUG_BOOL(field) [](const ClassifierOptions& o) { return c10::IValue(o.field()); }
#define GANAUG_REAL(field) [](const ClassifierOptions& o) { return c10::IValue(o.field()); }
#define GANAUG_CHOICE(field) \
  [](const ClassifierOptions& o) { return c10::IValue(to_string(o.field())); }

std::vector<ClassifierField> make_fields() {
  const std::optional<double> none;
  std::vector<ClassifierField> f;
  const auto add = [&f](ClassifierField field) -> ClassifierField& {
    f.push_back(std::move(field));
    return f.back();
  };
  // -- network and schedule (records hold them under keys of their own) --
  add({"architecture", nullptr, false, GANAUG_CHOICE(architecture)});
  add({"width", nullptr, false, GANAUG_INT(width), 1.0, 4096.0}).special = 0;
  f.back().special_meaning = "the network's own";
  add({"epochs", nullptr, false, GANAUG_INT(epochs), 1.0, none});
  add({"lr_schedule", nullptr, false, GANAUG_CHOICE(lr_schedule)});
  add({"synthetic_share", nullptr, false, GANAUG_REAL(synthetic_share), 0.0, 1.0}).high_open = true;
  add({"synthetic_weight", nullptr, false, GANAUG_REAL(synthetic_weight), 0.0, none});
  add({"pool_weight", "the unlabeled pool's weight", false, GANAUG_REAL(pool_weight), 0.0, none});
  // -- training settings, noted in run records when changed --
  add({"batch_size", nullptr, true, GANAUG_INT(batch_size), 1.0, none});
  add({"optimizer", nullptr, true, GANAUG_CHOICE(optimizer)});
  auto& lr = add({"lr", nullptr, true, GANAUG_REAL(lr), 0.0, none});
  lr.low_open = true;
  lr.special = 0;
  lr.special_meaning = "the optimizer's own";
  auto& momentum = add({"momentum", nullptr, true, GANAUG_REAL(momentum), 0.0, 1.0});
  momentum.low_open = momentum.high_open = true;
  add({"ema_decay", "the weight average's decay", true, GANAUG_REAL(ema_decay), 0.0, 1.0})
      .high_open = true;
  add({"distribution_alignment", nullptr, true, GANAUG_BOOL(distribution_alignment)});
  add({"weight_decay", nullptr, true, GANAUG_REAL(weight_decay), 0.0, none});
  add({"warmup_share", "the dynamic argmax warm-up", true, GANAUG_REAL(warmup_share), 0.0, 1.0})
      .high_open = true;
  add({"dynamic_weight", nullptr, true, GANAUG_REAL(dynamic_weight), 0.0, none});
  add({"pool_ramp_share", nullptr, true, GANAUG_REAL(pool_ramp_share), 0.0, 1.0}).high_open = true;
  add({"pool_target_dropout", nullptr, true, GANAUG_BOOL(pool_target_dropout)});
  add({"pool_one_pass", nullptr, true, GANAUG_BOOL(pool_one_pass)});
  add({"separate_synthetic_batches", nullptr, true, GANAUG_BOOL(separate_synthetic_batches)});
  add({"recalibrate_batchnorm", nullptr, true, GANAUG_BOOL(recalibrate_batchnorm)});
  add({"pool_threshold", "the unlabeled pool's confidence threshold", true,
       GANAUG_REAL(pool_threshold), 0.0, 1.0})
      .low_open = true;
  add({"pool_ratio", "the unlabeled pool's images per step, a multiple of the batch", true,
       GANAUG_REAL(pool_ratio), 0.0, 64.0})
      .low_open = true;
  // -- how the run uses the machine (not a result: never recorded) --
  add({"threads", "the thread count; 0 leaves it as is", false, GANAUG_INT(threads), 0.0, none});
  auto& prefetch =
      add({"prefetch", "steps prepared ahead", false, GANAUG_INT(prefetch), 0.0, 64.0});
  prefetch.special = static_cast<double>(kAutoPrefetch);
  prefetch.special_meaning = "automatic";
  return f;
}

#undef GANAUG_INT
#undef GANAUG_BOOL
#undef GANAUG_REAL
#undef GANAUG_CHOICE

// "lie in [0, 1)", "be positive", "be 0 or positive", "be at least 2".
std::string range_phrase(const ClassifierField& field, bool integer) {
  std::ostringstream range;
  range << detail::field_range_phrase(field, integer);
  if (field.special) range << " (or be " << *field.special << ": " << field.special_meaning << ")";
  return range.str();
}

}  // namespace

const std::vector<ClassifierField>& classifier_fields() {
  static const std::vector<ClassifierField> fields = make_fields();
  return fields;
}

std::vector<std::pair<std::string, c10::IValue>> classifier_option_differences(
    const ClassifierOptions& options, const ClassifierOptions& reference) {
  std::vector<std::pair<std::string, c10::IValue>> out;
  for (const auto& field : classifier_fields()) {
    if (!field.recorded) continue;
    const auto value = field.get(options);
    if (value != field.get(reference)) out.emplace_back(field.name, value);
  }
  return out;
}

namespace detail {

void check_classifier_ranges(const ClassifierOptions& o,
                             const std::function<std::string(const char*)>& name) {
  for (const auto& field : classifier_fields()) {
    if (!field.low && !field.high) continue;
    const auto value = field.get(o);
    const double x = value.isInt() ? static_cast<double>(value.toInt()) : value.toDouble();
    if ((field.special && x == *field.special) || detail::in_field_range(field, x)) continue;
    GANAUG_FAIL(name(field.name),
                field.description ? std::string(" (") + field.description + ")" : std::string(),
                " must ", range_phrase(field, value.isInt()), ", got ", value);
  }
}

}  // namespace detail

}  // namespace ganaug
