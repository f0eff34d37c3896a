// Exact rewrites of one attention layer into another that must compute the same function —
// the algebra behind attnlab's equivalence properties (props/) and `attnlab verify`:
//   gqa_as_mha         GQA/MQA -> MHA by repeating each kv head's k/v rows for its query group
//   gqa_as_mla         GQA -> MLA with kv_lora_rank = 2 n_kv d (TransMLA): the latent is [k | v]
//                      and kv_b_proj selects each head's group; needs no RoPE, latent_norms off
//   mla_as_mha         MLA -> MHA whose K/V weights are the materialised products W_UK W_DKV,
//                      W_UV W_DKV (and W_qb W_qa); needs latent_norms off, qk_rope_head_dim 0,
//                      qk_nope_head_dim == v_head_dim
//   gla_from_mla       MLA with q_lora_rank > 0 -> GLA with one latent head (h_c = 1): the same
//                      tensors under the paper's names (q_a_proj -> W_dQ, q_a_layernorm -> q_norm,
//                      q_b_proj -> W_uQ_rope, kv_a_proj_with_mqa -> W_dKV, kv_a_layernorm ->
//                      kv_norm_1, kv_b_proj -> W_ukv_1)
//   gta_as_gqa         GTA -> GQA (MHA when n_kv == n_heads): GQA rotates the FIRST int(d x
//                      partial_rotary_factor) elements of a head (Hugging Face), so its keys are
//                      [k_rope | tied_g[0, d - r)] with partial_rotary_factor r / d: q_proj rows of
//                      each head reordered to [q_rope | q_nope], k_proj rows of KV head g =
//                      [W_rope_k ; kv_proj's rows of head g's first d - r], v_proj = kv_proj,
//                      biases likewise (zeros where one side has none), o_proj unchanged
//   swap_rope_layout   the same layer with the other RoPE layout, q/k weight rows permuted so
//                      every score is unchanged (MLA/GLA: the q rope rows and the rope key's rows;
//                      GTA: the q rope rows and W_rope_k)
//   shard_heads        head-sharded tensor parallelism: rank r of world_size gets its heads'
//                      slices; the sum of the ranks' outputs is the layer's output (o_proj bias
//                      on rank 0 only). GTA as GQA (tied heads split, or replicated when there is
//                      one; W_rope_k replicated). GLA: world_size must divide h_c; each rank gets
//                      h_c / world_size latent heads and their query heads: W_dQ and q_norm
//                      replicated, its W_uQ_rope rows, W_dKV's rows of its latent slices plus the
//                      rope rows, its kv_norm_j / W_ukv_j renumbered from 1, its o_proj columns
// Each throws attnlab::Error when its preconditions do not hold (naming them).
#pragma once

#include <vector>

#include "core/layer_config.h"
#include "core/weights.h"

namespace attnlab {

struct Layer {
  LayerConfig config;
  Weights weights;
};

Layer gqa_as_mha(const Layer& gqa);
Layer gqa_as_mla(const Layer& gqa);
Layer mla_as_mha(const Layer& mla);
Layer gla_from_mla(const Layer& mla);
Layer gta_as_gqa(const Layer& gta);
Layer swap_rope_layout(const Layer& layer);
std::vector<Layer> shard_heads(const Layer& layer, int64_t world_size);

}  // namespace attnlab
