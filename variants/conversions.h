// Exact rewrites of one attention layer into another that must compute the same function —
// the algebra behind attnlab's equivalence properties (props/) and `attnlab verify`:
//   gqa_as_mha         GQA/MQA -> MHA by repeating each kv head's k/v rows for its query group
//   gqa_as_mla         GQA -> MLA with kv_lora_rank = 2 n_kv d (TransMLA): the latent is [k | v]
//                      and kv_b_proj selects each head's group; needs no RoPE, latent_norms off
//   mla_as_mha         MLA -> MHA whose K/V weights are the materialised products W_UK W_DKV,
//                      W_UV W_DKV (and W_qb W_qa); needs latent_norms off, qk_rope_head_dim 0,
//                      qk_nope_head_dim == v_head_dim
//   swap_rope_layout   the same layer with the other RoPE layout, q/k weight rows permuted so
//                      every score is unchanged
//   shard_heads        head-sharded tensor parallelism: rank r of world_size gets its heads'
//                      slices; the sum of the ranks' outputs is the layer's output (o_proj bias
//                      on rank 0 only)
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
Layer swap_rope_layout(const Layer& layer);
std::vector<Layer> shard_heads(const Layer& layer, int64_t world_size);

}  // namespace attnlab
