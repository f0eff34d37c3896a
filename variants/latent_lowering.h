// GTA and GLA as MLA with grouped latent heads: the exact rewriting every optimised backend runs
// them through, so their kernels are MLA's, written once for any number of latent heads.
//
//   GLA (h_c latent heads) -> MLA with n_latent_heads = h_c and the rope key cached per latent
//     head: W_dQ, q_norm, W_uQ_rope, W_dKV are q_a_proj, q_a_layernorm, q_b_proj,
//     kv_a_proj_with_mqa; kv_a_layernorm is kv_norm_1..h_c end to end (each normalises its own
//     slice); kv_b_proj is W_ukv_1..h_c stacked by rows (group j's heads read latent j).
//   GTA (n_kv tied heads of width d, rope key r) -> MLA absorb with n_latent_heads = n_kv,
//     latents of width d (the tied states, no norms), one shared rope key, q_proj as is
//     ([q_nope (d - r) | q_rope (r)] per head), kv_a_proj_with_mqa = [kv_proj ; W_rope_k], and
//     kv_b_proj per head = [I_(d-r) 0 ; I_d]: W_UK selects the tied state's first d - r elements
//     (K's non-rope part) and W_UV is the identity (V is the whole tied state). The selections are
//     exact in every precision (products with 1 and sums with 0).
// The reference runs GTA and GLA from their own equations (reference/reference_gta.cpp,
// reference_gla.cpp); `attnlab verify` compares the two, which is what checks this rewriting.
#pragma once

#include "core/layer_config.h"
#include "core/weights.h"
#include "variants/variant_spec.h"

namespace attnlab {

struct LoweredLayer {
  LayerConfig config;  // attention mla; n_latent_heads, rope_key_per_latent_head set
  Weights weights;     // DeepSeek names (variants/variant_spec.h's weight_specs of config)
  ImplForm form;       // GTA's standard becomes absorb; naive / absorb stay
};

// GLA or GTA layers lowered as above (weights checked against the config first); any other
// kind is returned unchanged. Throws attnlab::Error as check_layer_weights does.
LoweredLayer lower_to_mla(const LayerConfig& config, const Weights& weights, ImplForm form);

}  // namespace attnlab
