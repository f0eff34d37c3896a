// Projections and per-token helpers of the fast CPU backend; see fast_linear.h.
#include "kernels/cpu/fast_linear.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

#include <Eigen/Dense>

#include "kernels/cpu/cpu_common.h"

namespace attnlab::cpu::fast {

namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Strided = Eigen::Map<RowMatrix, 0, Eigen::OuterStride<>>;

// Below this many rows a projection is bound by reading W: split its outputs over threads.
constexpr int64_t kGemvRows = 8;
constexpr int64_t kSliceFeatures = 64;

}  // namespace

FastLinear FastLinear::load(const LayerConfig& config, const Weights& weights,
                            const std::string& name) {
  const Linear plain = Linear::load(config, weights, name);
  return {plain.in_features, plain.out_features, plain.weight, plain.bias};
}

void FastLinear::apply(const float* x, int64_t rows, float* y) const {
  Eigen::Map<const RowMatrix> input(x, rows, in_features);
  if (rows >= kGemvRows || omp_get_max_threads() == 1) {
    Eigen::Map<const RowMatrix> w(weight.data(), out_features, in_features);
    Eigen::Map<RowMatrix> output(y, rows, out_features);
    output.noalias() = input * w.transpose();
    if (!bias.empty())
      output.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(bias.data(), out_features);
    return;
  }
  const int64_t slices = (out_features + kSliceFeatures - 1) / kSliceFeatures;
#pragma omp parallel for schedule(static)
  for (int64_t s = 0; s < slices; ++s) {
    const int64_t f0 = s * kSliceFeatures, n = std::min(kSliceFeatures, out_features - f0);
    Eigen::Map<const RowMatrix> w(weight.data() + f0 * in_features, n, in_features);
    Strided output(y + f0, rows, n, Eigen::OuterStride<>(out_features));
    output.noalias() = input * w.transpose();
    if (!bias.empty())
      output.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(bias.data() + f0, n);
  }
}

void rope_rows(const CpuRope& rope, float* x, int64_t rows, int64_t row_stride, int64_t heads,
               int64_t head_stride, const int64_t* positions) {
  if (!rope.rotates()) return;
#pragma omp parallel for schedule(static) if (rows > 16)
  for (int64_t r = 0; r < rows; ++r)
    rope.rotate_heads(x + r * row_stride, heads, head_stride, positions[r]);
}

QkNorm QkNorm::load(const LayerConfig& config, const Weights& weights, const std::string& name) {
  QkNorm norm;
  norm.weight = qk_norm_weight(config, weights, name + ".weight");  // w + offset (cpu_common)
  norm.eps = config.rms_norm_eps;
  return norm;
}

void QkNorm::apply(float* x, int64_t count) const {
  const int64_t d = static_cast<int64_t>(weight.size());
#pragma omp parallel for schedule(static) if (count > 64)
  for (int64_t r = 0; r < count; ++r) {
    float* head = x + r * d;
    double squares = 0;
    for (int64_t i = 0; i < d; ++i) squares += static_cast<double>(head[i]) * head[i];
    const float inv_rms = static_cast<float>(1.0 / std::sqrt(squares / d + eps));
    for (int64_t i = 0; i < d; ++i) head[i] = head[i] * inv_rms * weight[i];
  }
}

float core_query_factor(const LayerConfig& config) {
  return static_cast<float>(config.scale() * 1.4426950408889634);
}

}  // namespace attnlab::cpu::fast
