#include "ganaug/pipelines/normalize.hpp"

#include <torch/torch.h>

#include <algorithm>

#include "flow_support.hpp"
#include "ganaug/error.hpp"

namespace ganaug {

NormalizePipeline::NormalizePipeline(torch::Tensor pixels, ImageOptions image, int threads,
                                     int64_t images_per_chunk)
    : pixels_(std::move(pixels)),
      image_(image),
      images_per_chunk_(images_per_chunk),
      arena_(detail::arena_threads(threads)),
      source_(graph_,
              [this](tbb::flow_control& control) -> Chunk {
                const int64_t count = pixels_.size(0);
                if (next_ >= count) {
                  control.stop();
                  return {};
                }
                const Chunk chunk{next_, std::min(count, next_ + images_per_chunk_)};
                next_ = chunk.end;
                return chunk;
              }),
      converter_(graph_, tbb::flow::unlimited, [this](const Chunk& chunk) {
        convert(chunk);
        return tbb::flow::continue_msg();
      }) {
  GANAUG_CHECK(threads >= 0, "the thread count must be 0 (all cores) or positive, got ", threads);
  GANAUG_CHECK(images_per_chunk_ > 0, "images per chunk must be positive, got ", images_per_chunk_);
  GANAUG_CHECK(pixels_.defined() && pixels_.dim() == 4 && pixels_.size(1) == 1 &&
                   pixels_.scalar_type() == torch::kUInt8,
               "NormalizePipeline needs N x 1 x H x W uint8 pixels");
  GANAUG_CHECK(image_.channels() == 0 || image_.channels() == 1 || image_.channels() == 3,
               "channels must be 0 (as stored), 1 or 3, got ", image_.channels());
  GANAUG_CHECK(image_.image_size() >= 0 && image_.image_size() <= kMaxImageSide,
               "the image size must be 0 (as stored) or from 1 to ", kMaxImageSide, ", got ",
               image_.image_size());
  pixels_ = pixels_.to(torch::kCPU).contiguous();
  out_channels_ = image_.channels() == 0 ? 1 : image_.channels();
  out_height_ = image_.image_size() == 0 ? pixels_.size(2) : image_.image_size();
  out_width_ = image_.image_size() == 0 ? pixels_.size(3) : image_.image_size();
  detail::check_memory(pixels_.size(0), out_channels_, out_height_, out_width_,
                       "the images after resizing");
  tbb::flow::make_edge(source_, converter_);
}

// Wiring the nodes already queues graph tasks (a buffer forwarding to its new successor), and a
// failed run may leave some: let them finish while the nodes still exist.
NormalizePipeline::~NormalizePipeline() { detail::wait_quietly(arena_, graph_); }

void NormalizePipeline::convert(const Chunk& chunk) {
  const int height = static_cast<int>(pixels_.size(2));
  const int width = static_cast<int>(pixels_.size(3));
  const int64_t in_size = static_cast<int64_t>(height) * width;
  const int64_t out_size = out_channels_ * out_height_ * out_width_;
  const bool as_stored = out_channels_ == 1 && out_height_ == height && out_width_ == width;
  const uint8_t* in = pixels_.data_ptr<uint8_t>();
  float* out = output_.data_ptr<float>();
  for (int64_t i = chunk.begin; i < chunk.end; ++i) {
    if (as_stored) {  // the common case: a straight scaled copy
      const uint8_t* from = in + i * in_size;
      float* to = out + i * out_size;
      for (int64_t j = 0; j < in_size; ++j) to[j] = static_cast<float>(from[j]) / 127.5f - 1.0f;
      continue;
    }
    // cv::Mat over the tensor's bytes, no copy; conform_image leaves it untouched.
    const cv::Mat stored(height, width, CV_8UC1, const_cast<uint8_t*>(in + i * in_size));
    write_chw_normalized(conform_image(stored, image_, "image " + std::to_string(i)),
                         out + i * out_size);
  }
}

torch::Tensor NormalizePipeline::run() {
  at::NoGradGuard no_grad;
  output_ =
      torch::empty({pixels_.size(0), out_channels_, out_height_, out_width_}, torch::kFloat32);
  next_ = 0;
  detail::SerialOpenCV serial_opencv;
  detail::run_graph_in_arena(
      arena_, graph_, [this] { source_.activate(); }, [this] { output_ = torch::Tensor(); });
  return std::exchange(output_, torch::Tensor());
}

}  // namespace ganaug
