#pragma once
// The deprecated run fields of the options structs (seed, device, threads, and out_dir where
// there is one) and the RunContext that replaces them: what the trainers' two overloads share.

#include "ganaug/error.hpp"
#include "ganaug/run_context.hpp"

namespace ganaug::detail {

// The run that the deprecated fields of `o` describe (the overloads without a RunContext).
template <class Options>
RunContext run_of(const Options& o) {
  auto run = RunContext().seed(o.seed()).device(o.device()).threads(o.threads());
  if constexpr (HasOutDir<Options>::value) run.out_dir(o.out_dir());
  return run;
}

// Throws unless a deprecated field holds its default or the run's value.
template <class T>
void check_run_field(const char* options, const char* field, const T& value, const T& unset,
                     const T& run) {
  GANAUG_CHECK(value == unset || value == run, options, "::", field, " is ", value,
               " but the run's ", field, " is ", run, ": set the ", field,
               " in the RunContext alone (the options' ", field, " is deprecated)");
}

// `o` holding the run's seed, device, threads (and out_dir), as the trainers read them. Throws
// ganaug::Error for an invalid run, or when `o` sets one of its deprecated run fields to another
// value than the run's: `options` names the struct in the message ("GanOptions").
template <class Options>
Options with_run(Options o, const RunContext& run, const char* options) {
  run.validate();
  const RunContext unset;
  check_run_field(options, "seed", o.seed(), unset.seed(), run.seed());
  check_run_field(options, "device", o.device(), unset.device(), run.device());
  check_run_field(options, "threads", o.threads(), unset.threads(), run.threads());
  o.seed(run.seed()).device(run.device()).threads(run.threads());
  if constexpr (HasOutDir<Options>::value) {
    check_run_field(options, "out_dir", o.out_dir(), unset.out_dir(), run.out_dir());
    o.out_dir(run.out_dir());
  }
  return o;
}

}  // namespace ganaug::detail
