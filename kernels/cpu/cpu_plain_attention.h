// The plain CPU backend (registry backend "cpu-plain", namespace attnlab::cpu; the fast one is
// "cpu", namespace attnlab::cpu::fast): fp32 compute and an fp32 KV cache, correct before fast.
// Projections through Eigen; attention as straightforward loops over (batch, head, query) with
// a numerically safe softmax (max-subtracted), OpenMP across batch x heads. Each form keeps its
// own cache layout (variant_spec.h cache_layout): standard K,V [B, T, n_kv, d]; MLA naive full
// per-head K [B, T, H, d_nope + d_rope] and V [B, T, H, d_v]; MLA absorb latent [B, T, G, d_c]
// plus rope key [B, T, G or 1, d_rope] (G latent heads: 1 for DeepSeek MLA). GLA and GTA run as
// MLA with G = n_latent_heads or n_kv_heads (variants/latent_lowering.h; GTA's standard form is
// the lowered absorb). Allocated cache bytes equal the analytic size exactly.
#pragma once

#include <memory>
#include <vector>

#include "core/attention.h"
#include "core/layer_config.h"
#include "core/weights.h"
#include "variants/variant_spec.h"

namespace attnlab::cpu {

// Deliberate bugs, for the verification gate's own tests only (tests/test_verify_gate.cpp,
// props/): each reproduces a classic attention mistake at the place in these kernels where it
// would be made, so the tests can show that `attnlab verify` and the properties catch it.
enum class Fault {
  none,
  softmax_scale,         // scores divided by d instead of sqrt(d)
  rope_pairs,            // RoPE rotates the other layout's pairs
  rope_query_only,       // keys are cached without RoPE (scores then depend on absolute position)
  causal_off_by_one,     // a query also sees the next token (prefill only)
  value_bias_unfolded,   // MLA absorb drops kv_b_proj's value bias (seed 002's mistake)
  heads_permuted,        // head h's output lands in head h+1's slot before o_proj
  cache_offset_ignored,  // new tokens written at slot s instead of length + s (decode only)
  sink_ignored,          // attention sinks not applied (output and LSE of the keys alone)
  qk_norm_skipped,       // the q/k RMSNorms left out (raw projections roped and cached)
  window_ignored,        // a sliding layer's window ignored: plain causal
  latent_group_swapped,  // MLA with G latent heads (GLA, GTA): query head h reads latent head
                         // (h / (H / G) + 1) % G instead of h / (H / G) (no-op when G = 1)
};
const char* to_string(Fault fault);
std::vector<Fault> all_faults();  // every fault except none

// Throws attnlab::Error if `form` does not apply to the config (e.g. absorb for GQA), naming the
// config's own kind and the form asked for. GLA and GTA configs are lowered to MLA first.
std::unique_ptr<Attention> make_plain_attention(const LayerConfig& config, const Weights& weights,
                                                ImplForm form, Fault fault = Fault::none);

}  // namespace attnlab::cpu
