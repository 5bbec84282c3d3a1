#pragma once
/// The downstream classifier: trained on real (+ synthetic) data with soft targets, evaluated on
/// a held-out test set.

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ganaug/dataset.hpp"

namespace ganaug {

/// Classifier architecture and training schedule.
struct ClassifierOptions {
  /// `num_outputs` is K, or K + 1 for the newclass scheme.
  explicit ClassifierOptions(int64_t num_outputs, int64_t image_size = 28, int64_t channels = 1)
      : num_outputs_(num_outputs), image_size_(image_size), channels_(channels) {}
  TORCH_ARG(int64_t, num_outputs);
  TORCH_ARG(int64_t, image_size);
  TORCH_ARG(int64_t, channels);
  /// "cnn" (2 conv + 2 fully connected layers) or "resnet" (3 residual stages, for color).
  TORCH_ARG(std::string, architecture) = "cnn";
  /// Channels of the first convolution.
  TORCH_ARG(int64_t, width) = 32;
  /// Passes over the real images.
  TORCH_ARG(int64_t, epochs) = 150;
  /// Real images per batch.
  TORCH_ARG(int64_t, batch_size) = 64;
  TORCH_ARG(double, lr) = 1e-3;
  /// "cosine" (the rate decays to 0 over the run, step by step: the last epochs average out the
  /// noise of small batches) or "constant".
  TORCH_ARG(std::string, lr_schedule) = "cosine";
  TORCH_ARG(double, weight_decay) = 0.0;
  /// Weight of the synthetic images' loss relative to the real ones' (LSRO's default is 1).
  TORCH_ARG(double, synthetic_weight) = 1.0;
  /// Share of each batch that is synthetic, in [0, 1): 0.25 adds 1 synthetic per 3 real images.
  TORCH_ARG(double, synthetic_share) = 0.25;
  /// Real and synthetic images go through the network in separate forward passes, so that batch
  /// normalisation normalises each with its own statistics and the real images' features are
  /// never shifted by the synthetic ones' (as AdvProp keeps adversarial examples apart).
  TORCH_ARG(bool, separate_synthetic_batches) = true;
  /// After training, recompute every batch-norm layer's running statistics from the real
  /// training images alone (un-augmented), the distribution the test images come from. Applied
  /// to every classifier, with or without synthetic images, so comparisons stay fair.
  TORCH_ARG(bool, recalibrate_batchnorm) = true;
  /// The paper's dynamic argmax: relabel the synthetic images every epoch with the classifier
  /// being trained, after `warmup_epochs` on real data only, with weight `dynamic_weight`.
  TORCH_ARG(bool, dynamic_argmax) = false;
  TORCH_ARG(int64_t, warmup_epochs) = 5;
  TORCH_ARG(double, dynamic_weight) = 0.1;
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(std::string, device) = "auto";
  TORCH_ARG(int, threads) = 0;

 public:
  void validate() const;
};

/// A small CNN or ResNet mapping N x C x S x S images to N x num_outputs logits.
class ClassifierImpl : public torch::nn::Module {
 public:
  explicit ClassifierImpl(const ClassifierOptions& options);
  torch::Tensor forward(const torch::Tensor& images);
  /// The penultimate layer's activations (N x D): what the output layer sees. For the Fréchet
  /// classifier distance.
  torch::Tensor embed(const torch::Tensor& images);

  ClassifierOptions options;

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Sequential head_{nullptr};
  torch::nn::Linear output_{nullptr};
};
TORCH_MODULE(Classifier);

/// A batch transform for classical augmentation: (images N x C x H x W, seed) -> images.
using BatchAugmenter = std::function<torch::Tensor(const torch::Tensor& images, uint64_t seed)>;

/// Progress of classifier training, once per epoch.
struct ClassifierProgress {
  int64_t epoch = 0, epochs = 0;
  double loss = 0;
  double seconds = 0;
};

/// Optional hooks into classifier training.
struct ClassifierHooks {
  /// Applied to the real images of every batch (and the synthetic ones too when
  /// augment_synthetic is true).
  BatchAugmenter augment;
  bool augment_synthetic = false;
  std::function<void(const ClassifierProgress&)> on_epoch;
  /// Polled every batch; true stops training (throws ganaug::Error "interrupted").
  std::function<bool()> should_stop;
};

/// Trains a classifier on `real` (hard labels) plus, when `synthetic` is given, its images with
/// their soft targets (`synthetic->targets`, num_outputs wide). Real labels become one-hot
/// targets over num_outputs. Deterministic for a seed on the CPU.
Classifier train_classifier(const LabeledDataset& real, const LabeledDataset* synthetic,
                            const ClassifierOptions& options, const ClassifierHooks& hooks = {});

/// Throws ganaug::Error naming `schedule` unless it is "cosine" or "constant".
void check_lr_schedule(const std::string& schedule);

/// The learning rate of optimizer step `step` (0-based) of `total_steps` under
/// options.lr_schedule(): constant lr, or cosine from lr at step 0 down to 0 after the last step.
double scheduled_learning_rate(const ClassifierOptions& options, int64_t step, int64_t total_steps);

/// Recomputes the running mean and variance of every batch-norm layer of `classifier` from
/// `images` alone: the average of the per-batch statistics over batches of `batch_size`
/// (without autograd; one batch gives the images' exact mean). Leaves it in evaluation mode.
void recalibrate_batchnorm(Classifier& classifier, const torch::Tensor& images,
                           int64_t batch_size = 256);

/// Softmax probabilities over the first `num_classes` outputs (the real classes: a newclass
/// classifier's extra output is dropped before the softmax), N x num_classes on the CPU.
torch::Tensor predict_probabilities(Classifier& classifier, const torch::Tensor& images,
                                    int64_t num_classes, int64_t batch_size = 1000);

/// Test-set figures of a classifier.
struct Metrics {
  double accuracy = 0;
  std::vector<double> per_class_accuracy;
  double macro_f1 = 0;
  /// confusion[true][predicted]
  std::vector<std::vector<int64_t>> confusion;
};

/// Evaluates on `test` (hard labels), predicting over its num_classes() real classes.
Metrics evaluate(Classifier& classifier, const LabeledDataset& test);

/// Metrics from true and predicted labels (N int64 each) over K classes.
Metrics compute_metrics(const torch::Tensor& truth, const torch::Tensor& predicted,
                        int64_t num_classes);

}  // namespace ganaug
