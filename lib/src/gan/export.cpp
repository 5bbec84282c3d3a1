#include "ganaug/export.hpp"

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>
#include <torch/torch.h>

#include "ganaug/error.hpp"
#include "ganaug/file_io.hpp"

namespace ganaug {

void save_for_python(const c10::IValue& value, const std::string& path) {
  // torch::pickle_save, without its type tags: it wraps every dict and list in
  // torch.jit._pickle.restore_type_tag, which torch.load(weights_only=True) refuses. The same
  // pickler and zip container, with tag_aggregates off, give what torch.save writes.
  std::string pickled;
  torch::jit::Pickler pickler([&](const char* data, size_t size) { pickled.append(data, size); },
                              nullptr, nullptr, nullptr, nullptr, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(value);
  pickler.stop();
  std::string bytes;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, size_t size) {
    bytes.append(static_cast<const char*>(data), size);
    return size;
  });
  torch::jit::writeArchiveAndTensors("data", pickled.data(), pickled.size(), pickler.tensorData(),
                                     writer);
  writer.writeEndOfFile();
  write_file_atomic(path, bytes.data(), bytes.size(), Durability::kDurable);
}

void export_generator(Generator& generator, const std::vector<std::string>& class_names,
                      const std::string& path) {
  const auto& o = generator->options;
  GANAUG_CHECK(static_cast<int64_t>(class_names.size()) == o.num_classes(), "got ",
               class_names.size(), " class names for a generator of ", o.num_classes(), " classes");
  c10::Dict<std::string, at::Tensor> state;
  for (const auto& item : generator->named_parameters())
    state.insert(item.key(), item.value().detach().to(torch::kCPU).contiguous().clone());
  for (const auto& item : generator->named_buffers())
    state.insert(item.key(), item.value().detach().to(torch::kCPU).contiguous().clone());
  c10::List<std::string> names;
  for (const auto& name : class_names) names.push_back(name);
  c10::impl::GenericDict file(c10::StringType::get(), c10::AnyType::get());
  file.insert("format", std::string(kGeneratorExportFormat));
  file.insert("num_classes", o.num_classes());
  file.insert("image_size", o.image_size());
  file.insert("channels", o.channels());
  file.insert("latent_dim", o.latent_dim());
  file.insert("width", o.width());
  file.insert("class_names", names);
  file.insert("state_dict", state);
  save_for_python(c10::IValue(file), path);
}

}  // namespace ganaug
