// The size limits the config readers enforce (docs/CONFIG.md lists them), chosen so that every
// count derived from an accepted config — weight elements, KV-cache elements and bytes,
// activations — fits in int64 with room to spare, whatever the order of the arithmetic. The
// static_asserts here and in sweep/sweep_config.cpp are the proof; a reader that widens a limit
// must keep them true.
#pragma once

#include <cstdint>
#include <limits>

namespace attnlab {

// Any one width of a layer: hidden_size, n_heads, head dims, ranks, n_layers.
constexpr int64_t kMaxLayerDim = int64_t{1} << 24;
// n_heads x (qk head dim + value head dim): the widest side of q/k/v/o_proj, q_b_proj and
// kv_b_proj, and a bound on a token's standard or naive cache per layer. MLA's
// kv_lora_rank + qk_rope_head_dim (kv_a_proj_with_mqa's output, the absorb cache) has the
// same limit.
constexpr int64_t kMaxHeadWidth = kMaxLayerDim;

// Derived bounds: a weight tensor is at most [kMaxHeadWidth, kMaxLayerDim] (or the transpose);
// a layer has at most 8 of them; a token's cache per layer is at most kMaxHeadWidth elements.
constexpr int64_t kMaxTensorElements = kMaxHeadWidth * kMaxLayerDim;
constexpr int64_t kMaxLayerWeightElements = 8 * kMaxTensorElements;
constexpr int64_t kMaxCacheElementsPerTokenLayer = kMaxHeadWidth;
constexpr int64_t kMaxCacheElementsPerToken = kMaxCacheElementsPerTokenLayer * kMaxLayerDim;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
// fp64 bytes of a whole layer's weights, and of a token's cache over the whole model.
static_assert(kMaxLayerWeightElements <= kInt64Max / 8);
static_assert(kMaxCacheElementsPerToken <= kInt64Max / 8);

}  // namespace attnlab
