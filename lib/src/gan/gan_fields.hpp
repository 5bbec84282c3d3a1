#pragma once
// Internal to the ganaug library: the one list of GanOptions' stored fields. Validation, the
// checkpoint's writer and reader, and the report of architecture differences all read it, so a
// new option is added here once.

#include <torch/torch.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ganaug/gan.hpp"

namespace ganaug::detail {

/// One stored field of GanOptions.
struct GanField {
  enum class Role { kArchitecture, kTraining };
  enum class Type { kInt, kBool, kReal, kText };
  const char* name;         ///< its key in a checkpoint and its setter's name
  const char* description;  ///< how messages call it ("the latent dimension")
  Role role;                ///< architecture fields must match to resume a checkpoint
  Type type;                ///< how it is stored (bools and the seed as integers)
  std::function<c10::IValue(const GanOptions&)> get;
  std::function<void(GanOptions&, const c10::IValue&)> set;
  /// Its value in checkpoints written before it existed; none: every checkpoint has it.
  std::optional<c10::IValue> before;
  /// The range validate() checks for numbers: [low, high], open at an end when asked.
  std::optional<double> low, high;
  bool low_open = false, high_open = false;
};

/// GanOptions' stored fields, in the order checkpoints write them.
const std::vector<GanField>& gan_fields();

/// Throws ganaug::Error when a stored field of `o` lies outside its range (naming it).
void check_field_ranges(const GanOptions& o);

/// The architecture fields that differ between a checkpoint's options and a run's, as
/// "g_width 64 in the file vs 32" phrases joined by ", "; empty when none does.
std::string architecture_differences(const GanOptions& file, const GanOptions& run);

}  // namespace ganaug::detail
