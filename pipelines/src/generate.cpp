#include "ganaug/pipelines/generate.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <iomanip>
#include <sstream>

#include "flow_support.hpp"
#include "ganaug/datasets/image.hpp"
#include "ganaug/error.hpp"
#include "ganaug/runtime.hpp"

namespace ganaug {

namespace fs = std::filesystem;
namespace flow = tbb::flow;

std::string manifest_header(Scheme scheme, int64_t num_classes) {
  std::string header = "file,cond,label";
  for (int64_t k = 0; k < target_width(scheme, num_classes); ++k)
    header += ",p" + std::to_string(k);
  return header;
}

void check_manifest_row(const std::filesystem::path& folder, const std::string& where,
                        const std::string& row, int64_t row_number, int64_t index,
                        const std::string& advice) {
  const std::string expected = image_file_name(index);
  GANAUG_CHECK(row.compare(0, expected.size() + 1, expected + ",") == 0, where, " row ", row_number,
               " should list ", expected, " but reads '", row.substr(0, 60), "'", advice);
  std::error_code error;
  GANAUG_CHECK(std::filesystem::is_regular_file(folder / expected, error), where, " lists ",
               expected, " but the file is missing", advice);
}

std::string image_file_name(int64_t index) {
  std::ostringstream name;
  name << "images/" << std::setw(8) << std::setfill('0') << index << ".png";
  return name.str();
}

namespace {

int resolve_threads(int threads) { return threads == 0 ? default_threads() : threads; }

// Complete rows of an existing manifest (a torn last line from a killed run is dropped and
// truncated away; an empty file, from a run killed before its header was durable, counts as
// none). Throws when the header belongs to another scheme or class count, when the rows are not
// images first, first + 1, ... in order, or when a listed image is missing.
int64_t recover_manifest(const fs::path& path, const std::string& header, int64_t first) {
  std::ifstream in(path, std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  if (content.empty()) {
    write_text_atomic(path, header + "\n");
    return 0;
  }
  const auto complete = content.rfind('\n');
  GANAUG_CHECK(complete != std::string::npos && content.compare(0, header.size(), header) == 0 &&
                   content[header.size()] == '\n',
               "manifest ", path.string(), " does not start with the header '", header,
               "': it belongs to another run (other scheme or classes); use another --out or "
               "--force");
  content.resize(complete + 1);
  int64_t rows = 0;
  const fs::path folder = path.parent_path();
  const std::string where = "manifest " + path.string();
  for (size_t begin = header.size() + 1; begin < content.size();) {
    const size_t end = content.find('\n', begin);
    const std::string row = content.substr(begin, end - begin);
    check_manifest_row(folder, where, row, rows + 2, first + rows,
                       ": the folder was changed after the run; use --force or "
                       "another --out");
    ++rows;
    begin = end + 1;
  }
  fs::resize_file(path, content.size());
  return rows;
}

}  // namespace

GeneratePipeline::GeneratePipeline(Generator generator, Scheme scheme, GenerateOptions options,
                                   Classifier labeller)
    : generator_(std::move(generator)),
      scheme_(scheme),
      options_(std::move(options)),
      labeller_(std::move(labeller)),
      num_classes_(generator_->options.num_classes()),
      images_dir_(fs::path(options_.out_dir()) / "images"),
      manifest_path_(fs::path(options_.out_dir()) / "labels.csv"),
      arena_(resolve_threads(options_.threads())),
      source_(graph_,
              [this](tbb::flow_control& control) -> Batch {
                const int64_t end = options_.first() + options_.n();
                if (next_first_ >= end || (should_stop && should_stop())) {
                  stopped_ = next_first_ < end;
                  control.stop();
                  return {};
                }
                Batch batch;
                batch.sequence = next_sequence_++;
                batch.first = next_first_;
                next_first_ = std::min(end, next_first_ + options_.batch_size());
                batch.conditions =
                    balanced_classes(batch.first, next_first_ - batch.first, num_classes_);
                return batch;
              }),
      limiter_(graph_, static_cast<size_t>(options_.max_batches_in_flight() > 0
                                               ? options_.max_batches_in_flight()
                                               : 2 * resolve_threads(options_.threads()))),
      generator_node_(graph_, flow::serial,
                      [this](Batch batch) { return generate(std::move(batch)); }),
      encoder_(graph_, flow::unlimited, [this](const Batch& batch) { return encode(batch); }),
      sequencer_(graph_,
                 [](const Written& written) { return static_cast<size_t>(written.sequence); }),
      manifest_writer_(graph_, flow::serial, [this](const Written& written) {
        list(written);
        return flow::continue_msg();
      }) {
  GANAUG_CHECK(options_.n() >= 0, "the number of images must not be negative");
  GANAUG_CHECK(options_.first() >= 0, "the first image index must not be negative");
  GANAUG_CHECK(options_.batch_size() >= 1, "the generation batch size must be positive");
  GANAUG_CHECK(scheme_ != Scheme::kArgmax || labeller_,
               "the argmax scheme needs a classifier trained on the real data");
  flow::make_edge(source_, limiter_);
  flow::make_edge(limiter_, generator_node_);
  flow::make_edge(generator_node_, encoder_);
  flow::make_edge(encoder_, sequencer_);
  flow::make_edge(sequencer_, manifest_writer_);
  flow::make_edge(manifest_writer_, limiter_.decrementer());
}

GeneratePipeline::~GeneratePipeline() { detail::wait_quietly(arena_, graph_); }

GeneratePipeline::Batch GeneratePipeline::generate(Batch batch) {
  // LibTorch runs on one thread inside the graph: the encoders take the other cores, and a
  // second OpenMP team per TBB worker would oversubscribe them. Checked every batch: run()
  // restores the caller's count afterwards, and a worker thread can serve several runs.
  if (torch::get_num_threads() != 1) torch::set_num_threads(1);
  batch.images = ganaug::generate(generator_, batch.conditions, options_.seed(), batch.first,
                                  options_.batch_size())
                     .contiguous();
  torch::Tensor probabilities;
  if (scheme_ == Scheme::kArgmax) {
    probabilities = predict_probabilities(labeller_, batch.images, num_classes_);
  }
  batch.targets = scheme_targets(scheme_, batch.conditions, num_classes_, probabilities)
                      .to(torch::kFloat32)
                      .contiguous();
  batch.labels = hard_labels(scheme_, batch.targets).contiguous();
  batch.conditions = batch.conditions.contiguous();
  return batch;
}

GeneratePipeline::Written GeneratePipeline::encode(const Batch& batch) const {
  // Plain pointers only below: this runs on every worker at once, and per-image tensor ops would
  // cost more than the PNG encoding of a 28x28 image.
  Written written;
  written.sequence = batch.sequence;
  written.first = batch.first;
  const int64_t count = batch.images.size(0);
  const int channels = static_cast<int>(batch.images.size(1));
  const int height = static_cast<int>(batch.images.size(2));
  const int width = static_cast<int>(batch.images.size(3));
  const int64_t image_floats = static_cast<int64_t>(channels) * height * width;
  const float* pixels = batch.images.data_ptr<float>();
  const int64_t* conditions = batch.conditions.data_ptr<int64_t>();
  const int64_t* labels = batch.labels.data_ptr<int64_t>();
  const float* targets = batch.targets.data_ptr<float>();
  const int64_t target_width = batch.targets.size(1);
  const fs::path out_dir(options_.out_dir());
  written.rows.resize(static_cast<size_t>(count));
  // Split the batch so that idle workers help while the generator stage is busy or done.
  tbb::parallel_for(
      tbb::blocked_range<int64_t>(0, count, 16), [&](const tbb::blocked_range<int64_t>& range) {
        for (int64_t i = range.begin(); i != range.end(); ++i) {
          const auto name = image_file_name(batch.first + i);
          write_file_atomic(out_dir / name,
                            encode_png(pixels + i * image_floats, channels, height, width));
          std::ostringstream row;
          row << name << ',' << conditions[i] << ',' << labels[i] << std::setprecision(7);
          const float* p = targets + i * target_width;
          for (int64_t k = 0; k < target_width; ++k) row << ',' << p[k];
          written.rows[static_cast<size_t>(i)] = row.str();
        }
      });
  return written;
}

void GeneratePipeline::list(const Written& written) {
  std::string rows;
  for (const auto& row : written.rows) rows += row + '\n';
  // Durable before the next batch is admitted: a listed image is never lost to a crash.
  append_file(manifest_path_, rows, Durability::kDurable);
  listed_ = written.first + static_cast<int64_t>(written.rows.size());
  if (on_progress) on_progress(listed_ - options_.first(), options_.n());
}

void GeneratePipeline::remove_unlisted() const {
  // Files of batches that never reached the manifest would make the folder disagree with it.
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(images_dir_, error)) {
    const auto name = entry.path().filename().string();
    const auto stem = entry.path().stem().string();
    const bool numbered = entry.path().extension() == ".png" && !stem.empty() &&
                          stem.size() <= 18 &&
                          stem.find_first_not_of("0123456789") == std::string::npos;
    const auto index = numbered ? std::stoll(stem) : int64_t{-1};
    if ((numbered && (index >= listed_ || index < options_.first())) ||
        is_temporary_file_name(name)) {
      fs::remove(entry.path(), error);
    }
  }
}

GenerateResult GeneratePipeline::run() {
  const auto start = std::chrono::steady_clock::now();
  fs::create_directories(images_dir_);
  const auto header = manifest_header(scheme_, num_classes_);
  GenerateResult result;
  if (fs::exists(manifest_path_)) {
    result.already_done = recover_manifest(manifest_path_, header, options_.first());
  } else {
    write_text_atomic(manifest_path_, header + "\n");
  }
  GANAUG_CHECK(result.already_done <= options_.n(), "manifest ", manifest_path_.string(),
               " already lists ", result.already_done, " images, more than the ", options_.n(),
               " asked for");
  next_first_ = listed_ = options_.first() + result.already_done;
  next_sequence_ = 0;
  stopped_ = false;
  generator_->eval();
  const int saved_threads = torch::get_num_threads();
  // The reset also gives the sequencer a fresh sequence count.
  detail::run_graph_in_arena(
      arena_, graph_, [this] { source_.activate(); },
      [&] {
        torch::set_num_threads(saved_threads);
        remove_unlisted();
      });
  torch::set_num_threads(saved_threads);
  remove_unlisted();
  result.written = listed_ - options_.first() - result.already_done;
  result.complete = listed_ == options_.first() + options_.n();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace ganaug
