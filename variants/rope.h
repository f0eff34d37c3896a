// RoPE as one value. A RopeSpec says which elements of a head are rotated (layout and rotary
// width), by which per-pair inverse frequencies (base theta and a frequency scaling: linear,
// YaRN or Llama 3's, as Hugging Face's modeling_rope_utils computes them), and the factor the
// rotated elements are multiplied by (attention_factor: YaRN's mscale, else 1). The
// inverse-frequency formula exists here only: every backend precomputes inv_freq_table() once at
// construction and rotates pair i of a token at position p by the angle p * inv_freq[i] (computed
// in double), then scales cos and sin by attention_factor().
//
// Pairs: pair i (i < rotary_dim / 2) is (x[2i], x[2i+1]) for interleaved (DeepSeek, GPT-J) and
// (x[i], x[i + rotary_dim/2]) for half_split (Hugging Face rotate_half); elements at or past
// rotary_dim are not rotated.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "core/layer_config.h"

namespace attnlab {

struct RopeSpec {
  RopeLayout layout = RopeLayout::none;
  double theta = 10000.0;
  int64_t rotary_dim = 0;  // rotated elements per head; even; 0 = nothing rotated
  RopeScaling scaling;     // RopeScalingType::none: theta^(-2i / rotary_dim) unchanged

  bool rotates() const { return layout != RopeLayout::none && rotary_dim > 0; }
  int64_t pairs() const { return rotates() ? rotary_dim / 2 : 0; }
  // Inverse frequency of pair i: theta^(-2i / rotary_dim), then the scaling (docs/CONFIG.md).
  double inv_freq(int64_t i) const;
  // inv_freq(i) for i < pairs().
  std::vector<double> inv_freq_table() const;
  // Multiplier of cos and sin (YaRN's mscale); 1 when no scaling is configured.
  double attention_factor() const;
  // The two element indices that form pair i, in this layout.
  std::pair<int64_t, int64_t> pair(int64_t i) const {
    return layout == RopeLayout::interleaved ? std::pair<int64_t, int64_t>{2 * i, 2 * i + 1}
                                             : std::pair<int64_t, int64_t>{i, i + rotary_dim / 2};
  }
};

// The RoPE of a layer: config.rope_layout over config.rope_dim() elements of each query and key
// head (MLA: the decoupled qk_rope_head_dim part), with the layer's theta and scaling
// (LayerConfig::layer_rope_theta / layer_rope_scaling: a sliding layer may have its own).
RopeSpec rope_spec(const LayerConfig& config);

}  // namespace attnlab
