// The host-side weight preparation of MLA's absorb form, shared by every backend (both CPU
// backends and CUDA): kv_b_proj [H * (d_nope + d_v), d_c] split per head into contiguous
// W_UK [H, d_nope, d_c] and W_UV [H, d_v, d_c], and its bias into b_UK [H, d_nope] and
// b_UV [H, d_v] (empty without a kv_b_proj bias). Absorb folds W_UK into the query
// (q_abs_h = q_nope_h W_UK_h), W_UV into the output (o_h = W_UV_h o_lat_h + b_UV_h), and adds
// q_nope_h . b_UK_h to every score of the head (it cancels in softmax; kept so the LSE equals
// the naive form's).
#pragma once

#include <cstdint>
#include <vector>

#include "core/layer_config.h"
#include "core/weights.h"

namespace attnlab {

struct AbsorbedKvB {
  int64_t heads = 0, d_c = 0, d_nope = 0, d_v = 0;
  std::vector<float> w_uk, w_uv, b_uk, b_uv;  // fp32, rounded once from the fp64 master

  bool has_bias() const { return !b_uk.empty(); }
  const float* w_uk_head(int64_t h) const { return w_uk.data() + h * d_nope * d_c; }
  const float* w_uv_head(int64_t h) const { return w_uv.data() + h * d_v * d_c; }
  const float* b_uk_head(int64_t h) const {
    return has_bias() ? b_uk.data() + h * d_nope : nullptr;
  }
  const float* b_uv_head(int64_t h) const { return has_bias() ? b_uv.data() + h * d_v : nullptr; }
};

// Requires an MLA config and weights checked by check_layer_weights.
AbsorbedKvB split_kv_b(const LayerConfig& config, const Weights& weights);

}  // namespace attnlab
