// Work per forward step of one layer, for roofline figures: FLOPs of the attention core and of
// the projections, and bytes of KV cache and weights moved (../shared/FACTS.md, "Work per step").
// A step is `new_tokens` new tokens per sequence over `context` cached tokens: a decode step
// (new_tokens 1), a prefill (context 0) or a chunk of a chunked prefill (both > 0).
//
// What is counted (tests/test_cost_model.cpp checks every figure against the work the fp64
// reference counts while it runs the same step, reference/work_counter.h):
// - FLOPs: 2 x the multiply-adds of the form's contractions: the linear layers; the scores and
//   the value mixture of every (query, key) pair the mask shows (variants/mask.h; the masked half
//   of a causal prefill is not counted, whatever an implementation computes); for MLA absorb the
//   per-head W_UK and W_UV products and the key-bias score q_nope . b_UK. Not counted: bias adds,
//   the score scale, softmax (with its sink logit), RMSNorm (MLA's latent norms, QK-norm) and
//   RoPE (elementwise work). attention_flops is the part
//   that grows with the (query, key) pairs, projection_flops the part per new token.
// - Bytes: every cache element the attention reads, once per step (the slots the mask shows any
//   new token, old and new); every element the step writes; every weight tensor of the layer
//   (weight_specs: linear weights, biases, norm weights, sink logits), read once, fp32.
#pragma once

#include <cstdint>

#include "core/layer_config.h"
#include "variants/variant_spec.h"

namespace attnlab {

struct StepCost {
  double attention_flops = 0;    // scores and value mixture over the visible (query, key) pairs
  double projection_flops = 0;   // linear layers; MLA absorb's W_UK, W_UV and key-bias score
  double cache_read_bytes = 0;   // KV cache read by the attention
  double cache_write_bytes = 0;  // new tokens written to the cache
  double weight_bytes = 0;       // every weight tensor, read once per step (fp32)

  double flops() const { return attention_flops + projection_flops; }
  double bytes() const { return cache_read_bytes + cache_write_bytes + weight_bytes; }
};

// `new_tokens` per sequence attend over `context` cached tokens plus themselves
// (decode: new_tokens 1; prefill: context 0). cache_element_bytes: 4 fp32, 2
// bf16/fp16.
StepCost step_cost(const LayerConfig& config, ImplForm form, int64_t batch, int64_t context,
                   int64_t new_tokens, double cache_element_bytes);

}  // namespace attnlab
