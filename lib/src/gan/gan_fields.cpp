#include "gan/gan_fields.hpp"

#include <cmath>
#include <sstream>

#include "core/field_range.hpp"
#include "ganaug/error.hpp"

namespace ganaug::detail {

namespace {

using Role = GanField::Role;
using Type = GanField::Type;

// Accessors of one field of each storage type; `Get` and `Set` are the options' own getter and
// setter, bound by the macro below.
#define GANAUG_INT_FIELD(field)                                                     \
  [](const GanOptions& o) { return c10::IValue(static_cast<int64_t>(o.field())); }, \
      [](GanOptions& o, const c10::IValue& v) { o.field(v.toInt()); }
#define GANAUG_BOOL_FIELD(field)                                                    \
  [](const GanOptions& o) { return c10::IValue(static_cast<int64_t>(o.field())); }, \
      [](GanOptions& o, const c10::IValue& v) { o.field(v.toInt() != 0); }
#define GANAUG_REAL_FIELD(field)                              \
  [](const GanOptions& o) { return c10::IValue(o.field()); }, \
      [](GanOptions& o, const c10::IValue& v) { o.field(v.toDouble()); }

std::vector<GanField> make_fields() {
  const auto none = std::optional<double>();
  std::vector<GanField> f;
  // -- architecture --
  f.push_back({"num_classes", "the class count", Role::kArchitecture, Type::kInt,
               GANAUG_INT_FIELD(num_classes), std::nullopt, none, none});
  f.push_back({"image_size", "the image size", Role::kArchitecture, Type::kInt,
               GANAUG_INT_FIELD(image_size), std::nullopt, none, none});
  f.push_back({"channels", "the channel count", Role::kArchitecture, Type::kInt,
               GANAUG_INT_FIELD(channels), std::nullopt, none, none});
  f.push_back({"latent_dim", "the latent dimension", Role::kArchitecture, Type::kInt,
               GANAUG_INT_FIELD(latent_dim), std::nullopt, 1.0, 4096.0});
  f.push_back({"g_width", "the generator width", Role::kArchitecture, Type::kInt,
               GANAUG_INT_FIELD(g_width), std::nullopt, 4.0, 4096.0});
  f.push_back({"d_width", "the discriminator width", Role::kArchitecture, Type::kInt,
               GANAUG_INT_FIELD(d_width), std::nullopt, 4.0, 4096.0});
  f.push_back({"spectral_norm", "spectral normalisation", Role::kArchitecture, Type::kBool,
               GANAUG_BOOL_FIELD(spectral_norm), std::nullopt, none, none});
  f.push_back({"projection", "the projection discriminator", Role::kArchitecture, Type::kBool,
               GANAUG_BOOL_FIELD(projection), std::nullopt, none, none});
  f.push_back({"minibatch_std", "the minibatch-std feature", Role::kArchitecture, Type::kBool,
               GANAUG_BOOL_FIELD(minibatch_std), c10::IValue(int64_t{0}), none, none});
  // -- training --
  f.push_back({"mode_seeking", "the mode-seeking weight", Role::kTraining, Type::kReal,
               GANAUG_REAL_FIELD(mode_seeking), c10::IValue(0.0), 0.0, none});
  f.push_back({"loss", "the loss", Role::kTraining, Type::kText,
               [](const GanOptions& o) { return c10::IValue(to_string(o.loss())); },
               [](GanOptions& o, const c10::IValue& v) { o.loss(parse_gan_loss(v.toStringRef())); },
               std::nullopt, none, none});
  f.push_back({"iterations", "the GAN iterations", Role::kTraining, Type::kInt,
               GANAUG_INT_FIELD(iterations), std::nullopt, 0.0, none});
  f.push_back({"batch_size", "the GAN batch size", Role::kTraining, Type::kInt,
               GANAUG_INT_FIELD(batch_size), std::nullopt, 1.0, none});
  f.push_back({"g_lr", "the generator's learning rate", Role::kTraining, Type::kReal,
               GANAUG_REAL_FIELD(g_lr), std::nullopt, 0.0, none});
  f.back().low_open = true;
  f.push_back({"d_lr", "the discriminator's learning rate", Role::kTraining, Type::kReal,
               GANAUG_REAL_FIELD(d_lr), std::nullopt, 0.0, none});
  f.back().low_open = true;
  f.push_back({"beta1", "Adam's beta1", Role::kTraining, Type::kReal, GANAUG_REAL_FIELD(beta1),
               std::nullopt, 0.0, 1.0});
  f.back().high_open = true;
  f.push_back({"beta2", "Adam's beta2", Role::kTraining, Type::kReal, GANAUG_REAL_FIELD(beta2),
               std::nullopt, 0.0, 1.0});
  f.back().high_open = true;
  f.push_back({"d_steps", "the discriminator steps per generator step", Role::kTraining, Type::kInt,
               GANAUG_INT_FIELD(d_steps), std::nullopt, 1.0, none});
  f.push_back({"diffaugment", "the DiffAugment policy", Role::kTraining, Type::kText,
               [](const GanOptions& o) { return c10::IValue(to_string(o.diffaugment())); },
               [](GanOptions& o, const c10::IValue& v) {
                 o.diffaugment(parse_diffaugment_choice(v.toStringRef()));
               },
               std::nullopt, none, none});
  f.push_back({"ema_decay", "the EMA decay", Role::kTraining, Type::kReal,
               GANAUG_REAL_FIELD(ema_decay), std::nullopt, 0.0, 1.0});
  f.back().high_open = true;
  f.push_back({"unlabeled_share", "the unlabeled share of the real batches", Role::kTraining,
               Type::kReal, GANAUG_REAL_FIELD(unlabeled_share), c10::IValue(0.0), 0.0, 1.0});
  f.back().high_open = true;
  f.push_back(
      {"seed", "the seed", Role::kTraining, Type::kInt,
       [](const GanOptions& o) { return c10::IValue(static_cast<int64_t>(o.seed())); },
       [](GanOptions& o, const c10::IValue& v) { o.seed(static_cast<uint64_t>(v.toInt())); },
       std::nullopt, none, none});
  return f;
}

#undef GANAUG_INT_FIELD
#undef GANAUG_BOOL_FIELD
#undef GANAUG_REAL_FIELD

double number(const c10::IValue& v) {
  return v.isDouble() ? v.toDouble() : static_cast<double>(v.toInt());
}

}  // namespace

const std::vector<GanField>& gan_fields() {
  static const std::vector<GanField> fields = make_fields();
  return fields;
}

void check_field_ranges(const GanOptions& o) {
  for (const auto& field : gan_fields()) {
    if (!field.low && !field.high) continue;
    const auto value = field.get(o);
    if (in_field_range(field, number(value))) continue;
    GANAUG_FAIL(field.description, " (", field.name, ") must ",
                field_range_phrase(field, value.isInt()), ", got ", value);
  }
}

std::string architecture_differences(const GanOptions& file, const GanOptions& run) {
  std::ostringstream out;
  for (const auto& field : gan_fields()) {
    if (field.role != GanField::Role::kArchitecture) continue;
    const auto a = field.get(file), b = field.get(run);
    if (a.toInt() != b.toInt())
      out << (out.tellp() > 0 ? ", " : "") << field.name << " " << a << " in the file vs " << b;
  }
  return out.str();
}

}  // namespace ganaug::detail
