#include "training/batchnorm_pool.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

namespace ganaug::detail {

namespace nn = torch::nn;

namespace {

// Images per block of the per-channel sums. Fixed, so that the sums (float within a block, then
// double across blocks in block order) do not depend on the thread count.
constexpr int64_t kBlockImages = 4;

// The batch's statistics, for the running-statistics update after the forward pass.
struct BatchStatistics {
  torch::Tensor mean, variance;  // float32 [C]; the variance is the biased one
};

struct Shape {
  int64_t n, c, h, w;
  explicit Shape(const torch::Tensor& x) : n(x.size(0)), c(x.size(1)), h(x.size(2)), w(x.size(3)) {}
  int64_t blocks() const { return (n + kBlockImages - 1) / kBlockImages; }
  int64_t values() const { return n * h * w; }  // per channel
};

// Runs body(first_image, last_image, sums_a, sums_b) for each block of images in parallel, each
// block with its own zeroed sums of C floats, and returns the two sums of all blocks, added in
// block order in double.
template <typename Body>
std::array<std::vector<double>, 2> blocked_sums(const Shape& shape, const Body& body) {
  const int64_t blocks = shape.blocks(), c = shape.c;
  std::vector<float> a(static_cast<size_t>(blocks * c)), b(a.size());
  at::parallel_for(0, blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t block = begin; block < end; ++block)
      body(block * kBlockImages, std::min(shape.n, (block + 1) * kBlockImages), &a[block * c],
           &b[block * c]);
  });
  std::array<std::vector<double>, 2> total{std::vector<double>(c), std::vector<double>(c)};
  for (int64_t block = 0; block < blocks; ++block)
    for (int64_t k = 0; k < c; ++k) {
      total[0][k] += a[block * c + k];
      total[1][k] += b[block * c + k];
    }
  return total;
}

// The four values of one 2x2 window of a channels-last N x H x W x C array, per channel.
struct Window {
  Window(const float* x, int64_t n, int64_t i, int64_t j, int64_t h, int64_t w, int64_t c)
      : x00(x + ((n * h + 2 * i) * w + 2 * j) * c), x01(x00 + c), x10(x00 + w * c), x11(x10 + c) {}
  const float *x00, *x01, *x10, *x11;
};

// Four channels at a time with the compiler's vector extensions (GCC and Clang: one SSE or NEON
// register), without branches: which value of a window is chosen is unpredictable, and a
// branch per value cost more than the arithmetic. The channels past the last multiple of four
// run the same code on single floats.
using Vec = float __attribute__((vector_size(16)));
using Mask = int32_t __attribute__((vector_size(16)));
constexpr int64_t kLanes = 4;

template <typename V>
V load(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename V>
void store(float* p, const V& v) {
  std::memcpy(p, &v, sizeof v);
}
inline float blend(bool mask, float a, float b) { return mask ? a : b; }
inline Vec blend(Mask mask, Vec a, Vec b) {
  return reinterpret_cast<Vec>((mask & reinterpret_cast<Mask>(a)) |
                               (~mask & reinterpret_cast<Mask>(b)));
}

// body(V{}, k) with V = Vec for the channels k, ..., k + 3, then with V = float for each channel
// left.
template <typename Body>
inline void for_channels(int64_t c, const Body& body) {
  int64_t k = 0;
  for (; k + kLanes <= c; k += kLanes) body(Vec{}, k);
  for (; k < c; ++k) body(0.0f, k);
}

// The first of the window's values (in the order 00, 01, 10, 11, as max pooling scans them)
// whose product with `sign` is the largest: `lower` says whether it is in the lower row, and
// `second` and `fourth` whether it is the second of the upper row and of the lower row.
template <typename V>
struct Choice {
  explicit Choice(V v0, V v1, V v2, V v3, V sign) {
    const V t0 = v0 * sign, t1 = v1 * sign, t2 = v2 * sign, t3 = v3 * sign;
    second = t1 > t0;
    fourth = t3 > t2;
    lower = blend(fourth, t3, t2) > blend(second, t1, t0);
    value = blend(lower, blend(fourth, v3, v2), blend(second, v1, v0));
  }
  V value;
  decltype(V{} > V{}) lower, second, fourth;
};

// The `sign` of Choice per channel: 1 where gamma > 0 (the window's maximum), -1 where
// gamma < 0 (its minimum), 0 where gamma = 0 (all values equal after batch norm: the first).
std::vector<float> window_signs(const float* gamma, int64_t c) {
  std::vector<float> sign(static_cast<size_t>(c));
  for (int64_t k = 0; k < c; ++k) sign[k] = gamma[k] < 0 ? -1.0f : gamma[k] > 0 ? 1.0f : 0.0f;
  return sign;
}

torch::Tensor float_vector(const std::vector<float>& values) {
  return torch::tensor(values, torch::kFloat32);
}

class BatchNormPoolRelu : public torch::autograd::Function<BatchNormPoolRelu> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input,
                               const torch::Tensor& weight, const torch::Tensor& bias, double eps,
                               BatchStatistics* statistics) {
    const Shape shape(input);
    const int64_t c = shape.c, h = shape.h, w = shape.w, ho = h / 2, wo = w / 2;
    const auto x = input.contiguous(torch::MemoryFormat::ChannelsLast);
    const auto gamma = weight.contiguous(), beta = bias.contiguous();
    const float* px = x.data_ptr<float>();
    const float* pgamma = gamma.data_ptr<float>();
    const float* pbeta = beta.data_ptr<float>();
    auto selected =
        torch::empty({shape.n, c, ho, wo}, torch::TensorOptions()
                                               .dtype(torch::kFloat32)
                                               .memory_format(torch::MemoryFormat::ChannelsLast));
    float* psel = selected.data_ptr<float>();
    // Each window's maximum of a x + b is at x's maximum where a > 0, at its minimum where
    // a < 0 (the first such value in the window, as max pooling picks; all values are equal
    // where a = 0, and it picks the first). The sums are taken around the first image's first
    // values (no cancellation when the mean is large).
    const auto sign = window_signs(pgamma, c);
    const std::vector<float> pivot(px, px + c);
    const float* psign = sign.data();
    const float* ppivot = pivot.data();
    const auto sums = blocked_sums(shape, [&](int64_t first, int64_t last, float* s, float* q) {
      for (int64_t n = first; n < last; ++n)
        for (int64_t i = 0; i < ho; ++i)
          for (int64_t j = 0; j < wo; ++j) {
            const Window window(px, n, i, j, h, w, c);
            float* out = psel + ((n * ho + i) * wo + j) * c;
            for_channels(c, [&](auto zero, int64_t k) {
              using V = decltype(zero);
              const V v0 = load<V>(window.x00 + k), v1 = load<V>(window.x01 + k),
                      v2 = load<V>(window.x10 + k), v3 = load<V>(window.x11 + k);
              store(out + k, Choice<V>(v0, v1, v2, v3, load<V>(psign + k)).value);
              const V p = load<V>(ppivot + k);
              const V d0 = v0 - p, d1 = v1 - p, d2 = v2 - p, d3 = v3 - p;
              store(s + k, load<V>(s + k) + ((d0 + d1) + (d2 + d3)));
              store(q + k, load<V>(q + k) + ((d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3)));
            });
          }
    });
    const double count = static_cast<double>(shape.values());
    std::vector<float> mean(static_cast<size_t>(c)), variance(mean.size()), invstd(mean.size()),
        scale(mean.size()), shift(mean.size());
    for (int64_t k = 0; k < c; ++k) {
      const double shifted_mean = sums[0][k] / count;
      const double var = std::max(0.0, sums[1][k] / count - shifted_mean * shifted_mean);
      mean[k] = static_cast<float>(pivot[k] + shifted_mean);
      variance[k] = static_cast<float>(var);
      invstd[k] = static_cast<float>(1.0 / std::sqrt(var + eps));
      scale[k] = pgamma[k] * invstd[k];
      shift[k] = pbeta[k] - mean[k] * scale[k];
    }
    auto output = torch::empty_like(selected);
    float* pout = output.data_ptr<float>();
    const float *pscale = scale.data(), *pshift = shift.data();
    at::parallel_for(0, shape.n * ho * wo, 64, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p)
        for_channels(c, [&](auto zero, int64_t k) {
          using V = decltype(zero);
          const V y = load<V>(psel + p * c + k) * load<V>(pscale + k) + load<V>(pshift + k);
          store(pout + p * c + k, blend(y < zero, zero, y));  // NaN stays NaN, as in torch::relu
        });
    });
    const auto mean_tensor = float_vector(mean), invstd_tensor = float_vector(invstd);
    ctx->save_for_backward({x, gamma, output, selected, mean_tensor, invstd_tensor});
    statistics->mean = mean_tensor;
    statistics->variance = float_vector(variance);
    return output;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &gamma = saved[1], &output = saved[2], &selected = saved[3];
    const Shape shape(x);
    const int64_t c = shape.c, h = shape.h, w = shape.w, ho = h / 2, wo = w / 2;
    const auto grad = grad_outputs[0].contiguous(torch::MemoryFormat::ChannelsLast);
    const float* pgrad = grad.data_ptr<float>();
    const float* pout = output.data_ptr<float>();
    const float* psel = selected.data_ptr<float>();
    const float* px = x.data_ptr<float>();
    const float* pgamma = gamma.data_ptr<float>();
    const float* mean = saved[4].data_ptr<float>();
    const float* invstd = saved[5].data_ptr<float>();
    // The gradient reaching batch norm's output is zero outside the chosen positions: its sums
    // run over the quarter-size tensors.
    const int64_t per_image = ho * wo * c;
    const auto sums = blocked_sums(shape, [&](int64_t first, int64_t last, float* s, float* q) {
      for (int64_t o = first * per_image; o < last * per_image; o += c)
        for_channels(c, [&](auto zero, int64_t k) {
          using V = decltype(zero);
          const V dy = blend(load<V>(pout + o + k) > zero, load<V>(pgrad + o + k), zero);
          store(s + k, load<V>(s + k) + dy);
          store(q + k, load<V>(q + k) + dy * (load<V>(psel + o + k) - load<V>(mean + k)));
        });
    });
    const double count = static_cast<double>(shape.values());
    auto grad_weight = torch::empty({c}, torch::kFloat32);
    auto grad_bias = torch::empty({c}, torch::kFloat32);
    float* pgrad_weight = grad_weight.data_ptr<float>();
    float* pgrad_bias = grad_bias.data_ptr<float>();
    // dx = a (dy - mean(dy) - xhat mean(dy xhat)) with a = gamma invstd, xhat = (x - mean) invstd:
    // constant + slope (x - mean) everywhere, plus a dy at the chosen positions.
    std::vector<float> scale(static_cast<size_t>(c)), constant(scale.size()), slope(scale.size());
    const auto sign = window_signs(pgamma, c);
    for (int64_t k = 0; k < c; ++k) {
      const double dy_xhat = sums[1][k] * invstd[k];
      pgrad_bias[k] = static_cast<float>(sums[0][k]);
      pgrad_weight[k] = static_cast<float>(dy_xhat);
      scale[k] = pgamma[k] * invstd[k];
      constant[k] = static_cast<float>(-scale[k] * sums[0][k] / count);
      slope[k] = static_cast<float>(-scale[k] * invstd[k] * dy_xhat / count);
    }
    auto grad_input = torch::empty_like(x, torch::MemoryFormat::ChannelsLast);
    float* pdx = grad_input.data_ptr<float>();
    const float *pscale = scale.data(), *pconstant = constant.data(), *pslope = slope.data(),
                *psign = sign.data();
    at::parallel_for(0, shape.n, 1, [&](int64_t begin, int64_t end) {
      for (int64_t n = begin; n < end; ++n)
        for (int64_t i = 0; i < ho; ++i)
          for (int64_t j = 0; j < wo; ++j) {
            // The window's choice is made again from x, as in the forward pass.
            const Window window(px, n, i, j, h, w, c);
            const int64_t o = ((n * ho + i) * wo + j) * c;
            float* dx00 = pdx + (window.x00 - px);
            float* dx01 = dx00 + c;
            float* dx10 = dx00 + w * c;
            float* dx11 = dx10 + c;
            for_channels(c, [&](auto zero, int64_t k) {
              using V = decltype(zero);
              const V v0 = load<V>(window.x00 + k), v1 = load<V>(window.x01 + k),
                      v2 = load<V>(window.x10 + k), v3 = load<V>(window.x11 + k);
              const Choice<V> chosen(v0, v1, v2, v3, load<V>(psign + k));
              const V dy = blend(load<V>(pout + o + k) > zero,
                                 load<V>(pscale + k) * load<V>(pgrad + o + k), zero);
              const V upper_dy = blend(chosen.lower, zero, dy),
                      lower_dy = blend(chosen.lower, dy, zero);
              const V m = load<V>(mean + k), b = load<V>(pconstant + k), a = load<V>(pslope + k);
              store(dx00 + k, b + a * (v0 - m) + blend(chosen.second, zero, upper_dy));
              store(dx01 + k, b + a * (v1 - m) + blend(chosen.second, upper_dy, zero));
              store(dx10 + k, b + a * (v2 - m) + blend(chosen.fourth, zero, lower_dy));
              store(dx11 + k, b + a * (v3 - m) + blend(chosen.fourth, lower_dy, zero));
            });
          }
    });
    return {grad_input, grad_weight, grad_bias, torch::Tensor(), torch::Tensor()};
  }
};

bool is_plain_2x2(const nn::MaxPool2dImpl& pool) {
  const auto& o = pool.options;
  const auto kernel = *o.kernel_size(), stride = *o.stride(), padding = *o.padding(),
             dilation = *o.dilation();
  return kernel[0] == 2 && kernel[1] == 2 && stride[0] == 2 && stride[1] == 2 && padding[0] == 0 &&
         padding[1] == 0 && dilation[0] == 1 && dilation[1] == 1 && !o.ceil_mode();
}

}  // namespace

bool can_fuse_batchnorm_pool_relu(const nn::BatchNorm2dImpl& bn, const torch::Tensor& x) {
  const auto on_cpu_float = [](const torch::Tensor& t) {
    return t.defined() && t.device().is_cpu() && t.scalar_type() == torch::kFloat32;
  };
  return bn.is_training() && bn.options.affine() && on_cpu_float(bn.weight) &&
         on_cpu_float(bn.bias) && on_cpu_float(x) && x.dim() == 4 &&
         x.size(1) == bn.options.num_features() && x.size(2) > 0 && x.size(3) > 0 &&
         x.size(2) % 2 == 0 && x.size(3) % 2 == 0 && x.size(0) * x.size(2) * x.size(3) > 1 &&
         x.is_contiguous(torch::MemoryFormat::ChannelsLast);
}

torch::Tensor batchnorm_pool_relu(nn::BatchNorm2dImpl& bn, const torch::Tensor& x) {
  BatchStatistics statistics;
  auto output = BatchNormPoolRelu::apply(x, bn.weight, bn.bias, bn.options.eps(), &statistics);
  if (bn.options.track_running_stats() && bn.running_mean.defined()) {
    // As BatchNormImplBase::forward: a fixed momentum, or without one the cumulative average.
    torch::NoGradGuard no_grad;
    double factor = bn.options.momentum() ? *bn.options.momentum() : 0.0;
    if (bn.num_batches_tracked.defined()) {
      bn.num_batches_tracked += 1;
      if (!bn.options.momentum()) factor = 1.0 / bn.num_batches_tracked.item<double>();
    }
    const double count = static_cast<double>(x.size(0) * x.size(2) * x.size(3));
    bn.running_mean.mul_(1 - factor).add_(statistics.mean, factor);
    bn.running_var.mul_(1 - factor).add_(statistics.variance, factor * count / (count - 1));
  }
  return output;
}

torch::Tensor forward_fusing_batchnorm_pool_relu(nn::Sequential& sequential, torch::Tensor x) {
  for (auto it = sequential->begin(); it != sequential->end();) {
    if (sequential->end() - it >= 3) {
      auto* bn = it->ptr()->as<nn::BatchNorm2d>();
      auto* pool = (it + 1)->ptr()->as<nn::MaxPool2d>();
      if (bn && pool && (it + 2)->ptr()->as<nn::ReLU>() && is_plain_2x2(*pool) &&
          can_fuse_batchnorm_pool_relu(*bn, x)) {
        x = batchnorm_pool_relu(*bn, x);
        it += 3;
        continue;
      }
    }
    x = it->forward(x);
    ++it;
  }
  return x;
}

}  // namespace ganaug::detail
