// The plain CPU backend ("cpu"): fp32 compute and an fp32 KV cache, correct before fast.
// Projections through Eigen; attention as straightforward loops over (batch, head, query) with
// a numerically safe softmax (max-subtracted), OpenMP across batch x heads. Each form keeps its
// own cache layout (variant_spec.h cache_layout): standard K,V [B, T, n_kv, d]; MLA naive full
// per-head K [B, T, H, d_nope + d_rope] and V [B, T, H, d_v]; MLA absorb latent [B, T, d_c]
// plus rope key [B, T, d_rope]. Allocated cache bytes equal the analytic size exactly.
#pragma once

#include <memory>

#include "core/attention.h"
#include "core/layer_config.h"
#include "core/weights.h"
#include "variants/variant_spec.h"

namespace attnlab::cpu {

// Throws attnlab::Error if `form` does not apply to the config (e.g. absorb for GQA).
std::unique_ptr<Attention> make_plain_attention(const LayerConfig& config, const Weights& weights,
                                                ImplForm form);

}  // namespace attnlab::cpu
