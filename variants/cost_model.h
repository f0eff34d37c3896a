// Work per forward step of one layer, for roofline figures: FLOPs of the attention core and of
// the projections, and bytes of KV cache and weights moved (../shared/FACTS.md, "Work per step");
// and from them the arithmetic intensity of the attention core in decode (CoreIntensity below).
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

// Arithmetic intensity of the attention core alone (scores and value mixture of every head),
// per sequence, for `query_tokens` new tokens (1: decode; 2: a speculative step verifying one
// draft token) over `context` cached tokens: the figure the decode argument of Zadouri, Strauss,
// Dao 2025 (arXiv 2505.21487) is about. Exact counts from the shapes, as step_cost counts them.
struct CoreIntensity {
  double multiply_adds = 0;        // scores + value mixture over the visible (query, key) pairs
  double cache_elements_read = 0;  // distinct cache elements read (the old and the new slots)
  double io_elements = 0;          // the core's queries read and outputs written
  // The paper's form: multiply-adds per cached element read.
  double macs_per_cached_element() const { return multiply_adds / cache_elements_read; }
  // FLOPs (2 per multiply-add) per byte of KV cache read.
  double flops_per_cache_byte(double element_bytes) const {
    return 2 * multiply_adds / (cache_elements_read * element_bytes);
  }
  // FLOPs per byte the core moves: the cache, its queries and its outputs (all of
  // element_bytes); tends to flops_per_cache_byte as the context grows.
  double flops_per_byte(double element_bytes) const {
    return 2 * multiply_adds / ((cache_elements_read + io_elements) * element_bytes);
  }
};
CoreIntensity core_intensity(const LayerConfig& config, ImplForm form, int64_t context,
                             int64_t query_tokens);

// How the query heads share what is cached, in the paper's terms: g_q query heads read each
// distinct cached K/V (or latent) head; m_kv = 2 when K and V are cached apart (MHA, GQA, MQA,
// the naive forms), 1 when one cached state serves both (GTA's tied state, the absorbed latent
// of MLA and GLA). GTA's shared rope key and the latent's rope key are left out.
struct KvSharing {
  int64_t query_heads_per_kv_head = 0;  // g_q
  int64_t kv_copies = 0;                // m_kv
};
KvSharing kv_sharing(const LayerConfig& config, ImplForm form);
// The paper's approximation for L >> d of a decode step's multiply-adds per cached element:
// 2 g_q / m_kv (MHA 1, GQA H/G, MQA H, GTA 2H/G, MLA absorb 2H, GLA absorb 2H/h_c). The exact
// figure (core_intensity) is below it by the rope key's share of the cache.
double paper_intensity(const LayerConfig& config, ImplForm form);

}  // namespace attnlab
