#pragma once
/// The oneTBB flow graph that turns raw 8-bit pixels (as IDX files hold them) into ganaug's
/// float layout, in parallel chunks.

#include <tbb/flow_graph.h>
#include <tbb/task_arena.h>
#include <torch/types.h>

#include <cstdint>

#include "ganaug/datasets/image.hpp"

namespace ganaug {

/// Converts N x 1 x H x W uint8 pixels to N x C x S x S float32 in [-1, 1] (x / 127.5 - 1),
/// resizing and converting channels per image as `image` asks (see conform_image()); channels 0
/// keeps 1, image_size 0 keeps H x W.
///
/// Owns a flow graph: input_node (chunks of `images_per_chunk` images) -> parallel
/// function_node writing each chunk straight into the preallocated output. It keeps a reference
/// to nothing but its own copy of `pixels` (which shares storage with the caller's tensor when
/// that is already a contiguous CPU tensor; the caller must not write to it meanwhile).
/// Runs on `threads` worker threads (0 = all cores) in its own task_arena; OpenCV's own
/// threading is turned off (process-wide) for the duration of run().
class NormalizePipeline {
 public:
  /// Throws ganaug::Error for a negative thread count, images_per_chunk < 1, pixels that are
  /// not N x 1 x H x W uint8, invalid image options, or an output that would take more than
  /// half the machine's memory.
  NormalizePipeline(torch::Tensor pixels, ImageOptions image, int threads = 0,
                    int64_t images_per_chunk = 512);
  /// Waits for any graph task still pending; never throws.
  ~NormalizePipeline();
  /// Neither copyable nor movable: the graph's nodes point back at this object.
  NormalizePipeline(const NormalizePipeline&) = delete;
  NormalizePipeline& operator=(const NormalizePipeline&) = delete;

  /// Converts all images and returns the float tensor (CPU), blocking the calling thread.
  /// Exceptions thrown while converting reach the caller; run() may be called again afterwards.
  /// One run at a time per pipeline.
  torch::Tensor run();

 private:
  struct Chunk {
    int64_t begin = 0;
    int64_t end = 0;
  };

  void convert(const Chunk& chunk);

  torch::Tensor pixels_;
  ImageOptions image_;
  int64_t images_per_chunk_;
  int64_t out_channels_ = 0;
  int64_t out_height_ = 0;
  int64_t out_width_ = 0;
  torch::Tensor output_;
  int64_t next_ = 0;
  // The arena outlives the graph that attaches to it; the graph outlives its nodes.
  tbb::task_arena arena_;
  tbb::flow::graph graph_;
  tbb::flow::input_node<Chunk> source_;
  tbb::flow::function_node<Chunk, tbb::flow::continue_msg> converter_;
};

}  // namespace ganaug
