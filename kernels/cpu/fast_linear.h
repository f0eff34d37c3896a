// Projections and per-token helpers of the fast CPU backend (fast_standard.cpp, fast_mla.cpp):
//   FastLinear  y = x W^T + b in fp32 through Eigen: a GEMM (Eigen's own OpenMP threads) for
//               many rows; for a few rows (decode) the output features are split across
//               omp_get_max_threads() threads, each a GEMV over its slice of W, since a
//               single-row product is bound by reading W and Eigen runs it on one thread.
//   rope_rows   RoPE (CpuRope) of every head of every row, rows in parallel.
//   QkNorm      QK-norm (Qwen3, Gemma 3): RMSNorm of every query or key head vector.
//   core_query_factor  softmax_scale * log2(e), the q_scale of the core (it works in 2^x).
// Internal to kernels/cpu; tested through tests/test_cpu_fast.cpp and `attnlab verify`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/layer_config.h"
#include "core/weights.h"
#include "kernels/cpu/cpu_rope.h"

namespace attnlab::cpu::fast {

struct FastLinear {
  int64_t in_features = 0;
  int64_t out_features = 0;
  std::vector<float> weight;  // [out, in] row-major
  std::vector<float> bias;    // [out] or empty

  // Reads "<name>.weight" and, when config.has_bias(name), "<name>.bias".
  static FastLinear load(const LayerConfig& config, const Weights& weights,
                         const std::string& name);
  // x [rows, in] -> y [rows, out], both dense row-major; y must not alias x.
  void apply(const float* x, int64_t rows, float* y) const;
};

// RoPE in place on `heads` head vectors per row, head h of row r at
// x + r * row_stride + h * head_stride, at position positions[r].
void rope_rows(const CpuRope& rope, float* x, int64_t rows, int64_t row_stride, int64_t heads,
               int64_t head_stride, const int64_t* positions);

// The RMSNorm over head_dim of every head (LayerConfig::qk_norm): x / sqrt(mean(x^2) + eps) *
// (w + qk_norm_weight_offset), w the weight "<name>.weight" (q_norm or k_norm).
struct QkNorm {
  std::vector<float> weight;  // w + offset, [head_dim]
  double eps = 1e-6;

  static QkNorm load(const LayerConfig& config, const Weights& weights, const std::string& name);
  // In place on `count` contiguous head vectors of weight.size() floats, in parallel.
  void apply(float* x, int64_t count) const;
};

// softmax_scale(config) * log2(e): the factor queries get before the core.
float core_query_factor(const LayerConfig& config);

}  // namespace attnlab::cpu::fast
