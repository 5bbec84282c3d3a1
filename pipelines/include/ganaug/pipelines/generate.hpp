#pragma once
/// The generate -> pseudo-label -> encode PNG -> write pipeline, with its manifest.

#include <tbb/flow_graph.h>
#include <tbb/task_arena.h>
#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "ganaug/classifier.hpp"
#include "ganaug/gan.hpp"
#include "ganaug/schemes.hpp"

namespace ganaug {

/// What a GeneratePipeline writes and how.
struct GenerateOptions {
  /// Writes into `out_dir`; the other fields keep their defaults.
  explicit GenerateOptions(std::string out_dir) : out_dir_(std::move(out_dir)) {}
  /// Output folder: images/00000000.png ... and labels.csv (created by run()).
  TORCH_ARG(std::string, out_dir);
  /// Images this pipeline writes: images first, first + 1, ..., first + n - 1.
  TORCH_ARG(int64_t, n) = 5000;
  /// The global index of the first image (a shard of a larger set starts past 0). Batches are
  /// [first, first + batch_size), ...: a shard whose first is a multiple of batch_size makes
  /// the same batches, hence the same bytes, as one pipeline writing the whole set.
  TORCH_ARG(int64_t, first) = 0;
  /// Image i has noise seeded by (seed, i) and class i % K.
  TORCH_ARG(uint64_t, seed) = 0;
  /// Images per generator batch.
  TORCH_ARG(int64_t, batch_size) = 250;
  /// Worker threads in all, the torch stage included; 0 = one per CPU this process may use.
  TORCH_ARG(int, threads) = 0;
  /// Batches admitted and not yet listed in the manifest; 0 = 2 x threads.
  TORCH_ARG(int64_t, max_batches_in_flight) = 0;
};

/// Outcome of GeneratePipeline::run().
struct GenerateResult {
  int64_t already_done = 0;  ///< images found complete in the manifest before this run
  int64_t written = 0;       ///< images written by this run
  bool complete = false;     ///< the manifest lists all n images
  double seconds = 0;        ///< wall time of run()
};

/// Writes `n` synthetic images with their pseudo-labels.
///
/// Owns its flow graph: input_node (batch ranges) -> limiter_node (bounds batches in flight) ->
/// serial function_node (generator + labelling classifier, LibTorch on one thread) -> parallel
/// function_node (PNG encode + atomic file write, OpenCV) -> sequencer_node (index order) ->
/// serial function_node (appends the rows to labels.csv and decrements the limiter). Resumes an
/// interrupted run: rows already in labels.csv are kept and generation continues after them;
/// image files not listed in the manifest are removed at the end of a run, so the folder holds
/// exactly the listed images. Keeps handles to the generator and the labeller (shared modules,
/// kept alive by the pipeline); do not use them elsewhere while run() is in progress.
class GeneratePipeline {
 public:
  /// `labeller` (a classifier trained on the real data) is required for Scheme::kArgmax. Writes
  /// nothing yet. Throws ganaug::Error for a negative n, a batch size below 1, or argmax without
  /// a labeller.
  GeneratePipeline(Generator generator, Scheme scheme, GenerateOptions options,
                   Classifier labeller = nullptr);
  /// Waits for any graph task still pending; never throws.
  ~GeneratePipeline();
  /// Neither copyable nor movable: the graph's nodes point back at this object.
  GeneratePipeline(const GeneratePipeline&) = delete;
  GeneratePipeline& operator=(const GeneratePipeline&) = delete;

  /// Generates the images not yet listed. Throws ganaug::Error for a manifest that belongs to
  /// another run (other header, rows out of order, a listed image missing), or when a file
  /// cannot be written (the disk is full, say); node exceptions reach the caller. Whether it
  /// returns or throws, the folder holds exactly the images its manifest lists, and each
  /// manifest append is flushed to the disk before the next batch is listed. Also throws
  /// ganaug::Error when the manifest already lists more than n images.
  ///
  /// Blocks the calling thread, which joins the pipeline's arena. Puts the generator (and the
  /// labeller) in evaluation mode and generates on their device. LibTorch's process-wide thread
  /// count is 1 while the graph runs and is restored afterwards. One run at a time.
  GenerateResult run();

  /// Called from the manifest stage after every batch with (listed so far of this pipeline's n
  /// images, n), on one of the arena's threads (not necessarily the caller's), one call at a
  /// time.
  std::function<void(int64_t listed, int64_t total)> on_progress;
  /// Polled before each batch is generated; true stops after the batches in flight are listed.
  /// Runs on one of the arena's threads, possibly while on_progress runs on another.
  std::function<bool()> should_stop;

 private:
  struct Batch {
    int64_t sequence = 0, first = 0;
    torch::Tensor images;      // count x C x S x S, CPU
    torch::Tensor conditions;  // count int64
    torch::Tensor targets;     // count x T float32
    torch::Tensor labels;      // count int64, the manifest's hard label
  };
  struct Written {
    int64_t sequence = 0, first = 0;
    std::vector<std::string> rows;
  };
  Batch generate(Batch batch);
  Written encode(const Batch& batch) const;
  void list(const Written& written);
  void remove_unlisted() const;

  Generator generator_;
  Scheme scheme_;
  GenerateOptions options_;
  Classifier labeller_;
  int64_t num_classes_ = 0;
  std::filesystem::path images_dir_, manifest_path_;
  int64_t next_first_ = 0, next_sequence_ = 0, listed_ = 0;
  bool stopped_ = false;

  tbb::task_arena arena_;
  tbb::flow::graph graph_;
  tbb::flow::input_node<Batch> source_;
  tbb::flow::limiter_node<Batch> limiter_;
  tbb::flow::function_node<Batch, Batch> generator_node_;
  tbb::flow::function_node<Batch, Written> encoder_;
  tbb::flow::sequencer_node<Written> sequencer_;
  tbb::flow::function_node<Written, tbb::flow::continue_msg> manifest_writer_;
};

/// The manifest header for `scheme` over `num_classes` classes: file,cond,label,p0,... with
/// target_width(scheme, num_classes) probability columns (no newline).
std::string manifest_header(Scheme scheme, int64_t num_classes);

/// The file name of image `index`, relative to the output folder: images/00000000.png (eight
/// digits, zero padded).
std::string image_file_name(int64_t index);

/// The one check of a generated folder's manifest rows, shared by the generate pipeline
/// (resuming its own folder) and the merge of shards: throws ganaug::Error unless `row` (row
/// `row_number` of the manifest, counting its header as row 1) lists image `index` and that
/// image exists in `folder`. The message starts with `where` (the manifest) and ends with
/// `advice`.
void check_manifest_row(const std::filesystem::path& folder, const std::string& where,
                        const std::string& row, int64_t row_number, int64_t index,
                        const std::string& advice);

}  // namespace ganaug
