// The step cost model; see cost_model.h.
#include "variants/cost_model.h"

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

}  // namespace

StepCost step_cost(const LayerConfig& c, ImplForm form, int64_t batch, int64_t context,
                   int64_t new_tokens, double cache_element_bytes) {
  StepCost cost;
  const double b = double(batch), n = double(new_tokens), l = double(context);
  const double h = double(c.n_heads);
  const CoreWidths w = core_widths(c, form);
  // (query, key) pairs the step scores, per sequence and head: what the layer's mask shows the
  // new tokens in slots context.. (causal: token i of the new ones sees context + i + 1 keys).
  const double keys_seen = double(mask_spec(c).visible_pairs(context, new_tokens));
  cost.attention_flops = b * h * keys_seen * 2 * (w.qk + w.v);

  const double tokens = b * n;
  double weights = 0;  // parameters of the linear layers this form applies per new token
  for (const WeightSpec& spec : weight_specs(c)) {
    if (spec.role != WeightRole::linear_weight) continue;
    // MLA absorb never up-projects the latent with kv_b_proj as a whole; it applies the same
    // parameters per head as W_UK (to the query) and W_UV (to the attention output).
    weights += double(shape_numel(spec.shape));
  }
  cost.projection_flops = 2 * tokens * weights;
  cost.weight_bytes = 4 * weights;

  const double cached_per_token = double(kv_elements_per_token_layer(c, form));
  cost.cache_read_bytes = b * (l + n) * cached_per_token * cache_element_bytes;
  cost.cache_write_bytes = tokens * cached_per_token * cache_element_bytes;
  return cost;
}

}  // namespace attnlab
