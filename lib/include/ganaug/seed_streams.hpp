#pragma once
/// Every random stream of ganaug, named in one list. A run's randomness comes from its seed
/// alone: each use draws from mix_seed(seed, stream) with a stream of its own, so that two uses
/// never share draws and adding one never shifts another. A new use takes a new name here; an
/// existing value never changes without an output revision (version.hpp's kOutputRevision).

#include <cstdint>

namespace ganaug {

/// Mixes a seed and a stream index into a new, well-spread seed (splitmix64).
uint64_t mix_seed(uint64_t seed, uint64_t stream);

namespace streams {
// -- the classifier (lib/src/classifier/classifier.cpp, classifier_training.cpp) --
/// Initial weights.
constexpr uint64_t kClassifierInit = 0xC1A5500000000ULL;
/// Dropout masks.
constexpr uint64_t kClassifierDropout = 0xD50000000000ULL;
/// Dropout masks of steps trained as a CUDA graph (ClassifierOptions::cuda_graphs): step i
/// draws from mix_seed(mix_seed(seed, kClassifierGraphDropout), i) on the device's default
/// generator.
constexpr uint64_t kClassifierGraphDropout = 0xD56000000000ULL;
/// Pool images drawn per step, mixed into the epoch's seed (mix_seed(seed, epoch)); the epoch's
/// order uses stream `epoch` and a batch's augmentation stream `epoch * 100003 + first image`.
constexpr uint64_t kClassifierPoolDraw = 0x706f6f6c;  // "pool"
// -- the views of consistency training (datasets/src/classic_augment.cpp) --
/// RandAugment of the strong view, mixed into the batch's seed (the shift and flip under it
/// draw from the batch's seed itself).
constexpr uint64_t kStrongRandAugment = 0x52414e44;  // "RAND"
/// RandAugment of the labeled images under a classical setting with randaugment=1, mixed into
/// the batch's seed.
constexpr uint64_t kClassicRandAugment = 0x4352414e44;  // "CRAND"
// -- the GAN (lib/src/gan/gan.cpp) --
/// Initial weights of the generator and of the discriminator.
constexpr uint64_t kGeneratorInit = 0x6E0000000000ULL;
constexpr uint64_t kDiscriminatorInit = 0xD10000000000ULL;
/// The EMA generator's batch-norm statistics, mixed again with the iteration.
constexpr uint64_t kEmaStatistics = 0xE3A000000000ULL;
/// GanTrainer::on_samples' images. Training iteration i draws from stream i; rank r of a
/// multi-process run augments from mix_seed(mix_seed(seed, i), kRankAugment + r).
constexpr uint64_t kTrainingSamples = 0xA11CE;
constexpr uint64_t kRankAugment = 7;
// -- joint training (lib/src/joint/joint.cpp), from the run's seed --
/// Initial weights of the classifier take ClassifierImpl::reset_parameters(seed) (the
/// classifier's streams above); the generator's and the discriminator's mix these.
constexpr uint64_t kJointGeneratorInit = 0x6A6E0000000000ULL;
constexpr uint64_t kJointDiscriminatorInit = 0x6AD10000000000ULL;
/// Step i draws from mix_seed(seed, i); its classifier dropout masks from
/// mix_seed(mix_seed(seed, i), kJointDropout), its labeled images' augmentation from
/// mix_seed(mix_seed(seed, i), kJointAugment).
constexpr uint64_t kJointDropout = 0x6A64726F70ULL;  // "jdrop"
constexpr uint64_t kJointAugment = 0x6A617567ULL;    // "jaug"
/// The weak and the strong view of its pool images (JointOptions::consistency_weight).
constexpr uint64_t kJointWeakView = 0x6A7765616BULL;    // "jweak"
constexpr uint64_t kJointStrongView = 0x6A7374726FULL;  // "jstro"
// -- augment-bench (jobs/src/experiment.cpp), from a cell's seed or the first seed --
/// The validation split (first seed).
constexpr uint64_t kValidationSplit = 0x76616c;  // "val"
/// The unlabeled pool of a labeled subset (the cell's seed).
constexpr uint64_t kUnlabeledPool = 0x706f6f6c;  // "pool"
/// Test and training images compared by the Fréchet classifier distance (first seed).
constexpr uint64_t kFcdTestImages = 1;
constexpr uint64_t kFcdTrainImages = 2;
/// A cell's synthetic images, the classification-accuracy-score images, the FCD samples and
/// the sample grid of a generator (the cell's seed).
constexpr uint64_t kBenchSynthetic = 77;
constexpr uint64_t kBenchCas = 78;
constexpr uint64_t kBenchFcdSamples = 79;
constexpr uint64_t kBenchSampleGrid = 80;
}  // namespace streams

}  // namespace ganaug
