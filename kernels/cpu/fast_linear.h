// Projections and per-token helpers of the fast CPU backend (fast_standard.cpp, fast_mla.cpp):
//   FastLinear  y = x W^T + b in fp32 through Eigen: a GEMM (Eigen's own OpenMP threads) for
//               many rows; for a few rows (decode) the output features are split across
//               omp_get_max_threads() threads, each a GEMV over its slice of W, since a
//               single-row product is bound by reading W and Eigen runs it on one thread.
//   rope_rows   RoPE of every head of every row, one angle table per row, rows in parallel.
//   core_query_factor  softmax_scale * log2(e), the q_scale of the core (it works in 2^x).
// Internal to kernels/cpu; tested through tests/test_cpu_fast.cpp and `attnlab verify`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/layer_config.h"
#include "core/weights.h"

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

// RoPE in place on `heads` vectors of width `dim` starting at element `offset` of each head,
// heads `head_stride` floats apart, rows `row_stride` apart; row r at positions[r].
void rope_rows(float* x, int64_t rows, int64_t row_stride, int64_t heads, int64_t head_stride,
               int64_t offset, int64_t dim, const int64_t* positions, RopeLayout layout,
               double theta);

// softmax_scale(config) * log2(e): the factor queries get before the core.
float core_query_factor(const LayerConfig& config);

}  // namespace attnlab::cpu::fast
