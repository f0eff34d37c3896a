// The fp64 reference: the definition of "correct" for every attnlab implementation.
// Plain loops, readable by eye, no SIMD, no BLAS, and no code shared with kernels/ (it must never
// include them). One function per variant form; each returns the layer output and the per-head
// log-sum-exp of the scaled scores, and appends the new tokens to a cache in the form's layout:
//   standard (MHA/GQA/MQA): parts "k" [B, T, n_kv, d], "v" [B, T, n_kv, d]
//   GTA standard: "tied" [B, T, n_kv, d], "rope_key" [B, T, d_rope] (after RoPE)
//   MLA/GLA naive:  "k" [B, T, H, d_nope + d_rope], "v" [B, T, H, d_v]
//   MLA absorb: "latent" [B, T, kv_lora_rank] (after RMSNorm), "rope_key" [B, T, d_rope] (after
//   RoPE); with G = n_latent_heads > 1 (GLA, and GLA/GTA lowered to MLA) "latent" [B, T, G,
//   kv_lora_rank] and "rope_key" [B, T, G or 1, d_rope] (variants/variant_spec.h cache_layout)
// GTA and GLA are written from their own equations (reference_gta.cpp, reference_gla.cpp), not
// through variants/latent_lowering.h: comparing the two is what checks that lowering.
// MLA absorb is its own algorithm over the latent cache (W_UK folded into the query, W_UV
// applied after attention), not the naive path reused; with biases on it equals naive exactly:
// the kv_b_proj key bias adds q_nope . b_UK to every score of a query (cancels in softmax, kept
// in the LSE), and the value bias passes through the softmax (weights sum to 1) into the output.
#pragma once

#include <cstdint>
#include <vector>

#include "core/layer_config.h"
#include "core/tensor.h"
#include "core/weights.h"
#include "variants/rope.h"
#include "variants/variant_spec.h"

namespace attnlab::reference {

struct Cache {
  int64_t length = 0;                 // tokens cached per sequence
  std::vector<Tensor<double>> parts;  // in cache_layout(config, form) order; grow along T
};

struct Result {
  Tensor<double> out;  // [B, S, hidden]
  Tensor<double> lse;  // [B, S, n_heads]
};

// x: [B, S, hidden]; positions: [B, S]. Appends S tokens to `cache` (created empty by the
// caller, batch taken from x on first use) and attends over the key range the layer's mask
// gives each query (variants/mask.h mask_spec(config).keys_for(cache.length + s); causal today:
// new token s of a sequence sees cache slots 0 .. cache.length + s). Throws attnlab::Error on
// mismatched shapes.
Result forward(const LayerConfig& config, const Weights& weights, ImplForm form,
               const Tensor<double>& x, const Tensor<int64_t>& positions, Cache& cache);

// Building blocks, exposed for hand-computed tests.
// y = x W^T + b for one row: x [in], W [out, in], b [out] or empty.
std::vector<double> linear(const std::vector<double>& x, const Tensor<double>& weight,
                           const Tensor<double>* bias);
// x / sqrt(mean(x^2) + eps) * weight.
std::vector<double> rms_norm(const std::vector<double>& x, const Tensor<double>& weight,
                             double eps);
// Rotates the first spec.rotary_dim elements of v in place for one position: pair i
// (spec.pair(i): (v[2i], v[2i+1]) interleaved, (v[i], v[i + d/2]) half_split) by the angle
// position * spec.inv_freq(i), cos and sin times spec.attention_factor(); none: no-op.
void apply_rope(double* v, const RopeSpec& spec, int64_t position);

}  // namespace attnlab::reference
