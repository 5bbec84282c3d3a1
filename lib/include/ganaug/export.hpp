#pragma once
/// Exporting a trained generator for Python: a file that PyTorch's
/// `torch.load(path, weights_only=True)` reads, and python/ganaug_generator.py turns back into a
/// module that draws the same images as ganaug for the same classes and noise.

#include <ATen/core/ivalue.h>

#include <string>
#include <vector>

#include "ganaug/models.hpp"

namespace ganaug {

/// The format tag stored in an exported file's "format" entry.
constexpr const char* kGeneratorExportFormat = "ganaug-generator-v1";

/// Writes `value` (dicts with string keys, lists, tensors, ints, floats, bools, strings) in
/// torch.save's format so that Python's torch.load(path, weights_only=True) reads it: LibTorch's
/// pickler, as torch::pickle_save uses it, but without the type tags (restore_type_tag) that
/// weights_only refuses. Tensors are saved as they are (move them to the CPU first for a
/// machine without CUDA). Atomic; throws ganaug::Error when the file cannot be written.
void save_for_python(const c10::IValue& value, const std::string& path);

/// Writes `generator`'s weights (parameters and batch-norm statistics, as contiguous CPU
/// tensors under their LibTorch names) and its shape to `path` in torch.save's format (LibTorch's
/// pickler, as torch::pickle_save, without the type tags weights_only refuses): a dict
/// {"format", "num_classes", "image_size", "channels", "latent_dim", "width", "class_names",
/// "state_dict"}. The file is written atomically. Throws ganaug::Error when the class names do
/// not match the generator or the file cannot be written.
void export_generator(Generator& generator, const std::vector<std::string>& class_names,
                      const std::string& path);

}  // namespace ganaug
