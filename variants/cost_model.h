// Work per forward step of one layer, for roofline figures: FLOPs of the attention core and of
// the projections, and bytes of KV cache and weights moved (../shared/FACTS.md, "Work per step").
// A step is either a decode step (one new token per sequence over `context` cached tokens) or a
// prefill (`seq` new tokens per sequence on an empty cache, causal). Useful FLOPs only: the
// masked half of a causal prefill is not counted, whatever an implementation computes.
#pragma once

#include <cstdint>

#include "core/layer_config.h"
#include "variants/variant_spec.h"

namespace attnlab {

struct StepCost {
  double attention_flops = 0;    // QK^T and PV (and the absorbed-score terms for MLA absorb)
  double projection_flops = 0;   // every linear layer, including MLA absorb's per-head W_UK, W_UV
  double cache_read_bytes = 0;   // KV cache read by the attention
  double cache_write_bytes = 0;  // new tokens written to the cache
  double weight_bytes = 0;       // weights read once per step (fp32)

  double flops() const { return attention_flops + projection_flops; }
  double bytes() const { return cache_read_bytes + cache_write_bytes + weight_bytes; }
};

// `new_tokens` per sequence attend over `context` cached tokens plus themselves (decode:
// new_tokens 1; prefill: context 0). cache_element_bytes: 4 fp32, 2 bf16/fp16.
StepCost step_cost(const LayerConfig& config, ImplForm form, int64_t batch, int64_t context,
                   int64_t new_tokens, double cache_element_bytes);

}  // namespace attnlab
