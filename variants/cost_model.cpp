// The step cost model; see cost_model.h for what it counts.
#include "variants/cost_model.h"

#include <string>

#include "variants/mask.h"

namespace attnlab {

namespace {

// Query/key and value widths the attention core contracts over, per head.
struct CoreWidths {
  double qk;
  double v;
};

CoreWidths core_widths(const LayerConfig& c, ImplForm form) {
  switch (form) {
    case ImplForm::standard:
      return {double(c.head_dim), double(c.head_dim)};
    case ImplForm::naive:
      return {double(c.qk_head_dim()), double(c.v_head_dim)};
    case ImplForm::absorb:  // scores over [latent | rope key], values are the latent
      return {double(c.kv_lora_rank + c.qk_rope_head_dim), double(c.kv_lora_rank)};
  }
  return {0, 0};
}

// Multiply-adds per new token outside the attention core.
double projection_multiply_adds_per_token(const LayerConfig& c, ImplForm form) {
  double multiply_adds = 0;
  // Every linear layer, once per token. MLA absorb never up-projects the latent with kv_b_proj
  // as a whole; it applies the same parameters per head as W_UK (to the query) and W_UV (to the
  // attention output), the same count.
  for (const WeightSpec& spec : weight_specs(c))
    if (spec.role == WeightRole::linear_weight) multiply_adds += double(shape_numel(spec.shape));
  // MLA absorb's key bias never reaches a cached key: it enters each score as q_nope_h . b_UK_h,
  // one dot per query head (naive adds it to the up-projected key, an add).
  if (form == ImplForm::absorb && c.is_mla() && c.has_bias("kv_b_proj"))
    multiply_adds += double(c.n_heads * c.qk_nope_head_dim);
  // GLA: the same per group, for each W_ukv_j that carries a bias (its n_heads / h_c heads).
  if (form == ImplForm::absorb && c.is_gla())
    for (int64_t j = 1; j <= c.n_latent_heads; ++j)
      if (c.has_bias("W_ukv_" + std::to_string(j)))
        multiply_adds += double(c.n_heads / c.n_latent_heads * c.qk_nope_head_dim);
  return multiply_adds;
}

}  // namespace

StepCost step_cost(const LayerConfig& c, ImplForm form, int64_t batch, int64_t context,
                   int64_t new_tokens, double cache_element_bytes) {
  StepCost cost;
  const double b = double(batch), h = double(c.n_heads);
  const CoreWidths w = core_widths(c, form);
  const MaskSpec mask = mask_spec(c);
  // (query, key) pairs the step scores, per sequence and head: what the layer's mask shows the
  // new tokens in slots context.. (causal: token i of the new ones sees context + i + 1 keys).
  const double keys_seen = double(mask.visible_pairs(context, new_tokens));
  cost.attention_flops = b * h * keys_seen * 2 * (w.qk + w.v);

  const double tokens = b * double(new_tokens);
  cost.projection_flops = 2 * tokens * projection_multiply_adds_per_token(c, form);
  double weight_elements = 0;
  for (const WeightSpec& spec : weight_specs(c)) weight_elements += double(shape_numel(spec.shape));
  cost.weight_bytes = 4 * weight_elements;

  // The cache slots some new token sees, each read once: the union of their key ranges.
  const double slots_read =
      new_tokens > 0 ? double(mask.keys_for_block(context, context + new_tokens - 1).size()) : 0.0;
  const double cached_per_token = double(kv_elements_per_token_layer(c, form));
  cost.cache_read_bytes = b * slots_read * cached_per_token * cache_element_bytes;
  cost.cache_write_bytes = tokens * cached_per_token * cache_element_bytes;
  return cost;
}

CoreIntensity core_intensity(const LayerConfig& c, ImplForm form, int64_t context,
                             int64_t query_tokens) {
  // One sequence, one byte per element: step_cost's bytes are then elements.
  const StepCost step = step_cost(c, form, 1, context, query_tokens, 1.0);
  const CoreWidths w = core_widths(c, form);
  CoreIntensity out;
  out.multiply_adds = step.attention_flops / 2;
  out.cache_elements_read = step.cache_read_bytes;
  out.io_elements = double(query_tokens) * double(c.n_heads) * (w.qk + w.v);
  return out;
}

KvSharing kv_sharing(const LayerConfig& c, ImplForm form) {
  switch (form) {
    case ImplForm::standard:  // GTA's tied state is K (but the rope part) and V at once
      return {c.n_heads / c.n_kv_heads, c.is_gta() ? 1 : 2};
    case ImplForm::naive:  // every head its own up-projected K and V
      return {1, 2};
    case ImplForm::absorb:  // each latent head serves its group for the scores and the values
      return {c.n_heads / c.latent_heads(), 1};
  }
  return {0, 0};
}

double paper_intensity(const LayerConfig& c, ImplForm form) {
  const KvSharing s = kv_sharing(c, form);
  return 2.0 * double(s.query_heads_per_kv_head) / double(s.kv_copies);
}

}  // namespace attnlab
