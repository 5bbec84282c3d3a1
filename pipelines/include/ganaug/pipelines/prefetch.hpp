#pragma once
/// Preparing a classifier's training steps ahead of the training thread: a oneTBB flow graph
/// (the data-loader pattern) behind ganaug::StepFeeder.

#include <cstdint>
#include <memory>

#include "ganaug/classifier.hpp"

namespace ganaug {

/// A StepFeeder that prepares steps in a oneTBB flow graph of its own task arena: a source node
/// numbers them, a limiter admits them while at most `ahead` + 1 are admitted and not done with
/// (the step training uses and `ahead` more), a serial node plans the admitted ones in step
/// order, up to `workers` builders make their batches at once, and a sequencer hands them to
/// take() in step order. What a plan or a build
/// throws reaches take() of that step, and no step is planned after it. Destroying the feeder
/// stops it: steps being built finish, no other plan or build starts. Returns nullptr (train on
/// the training thread's own preparation, the same steps) where oneTBB has no worker thread to
/// give: one CPU, or a global_control limit of 1. Throws ganaug::Error when ahead < 1 or
/// workers < 1.
std::unique_ptr<StepFeeder> make_prefetch_feeder(int64_t ahead, int workers = 1);

/// `hooks` with ClassifierHooks::feeder set to make_prefetch_feeder with `workers` builders.
ClassifierHooks with_prefetch(ClassifierHooks hooks, int workers = 1);

}  // namespace ganaug
