// MLA absorb's kv_b_proj split per head (variants/mla_absorb_weights.h).
#include "variants/mla_absorb_weights.h"

namespace attnlab {

AbsorbedKvB split_kv_b(const LayerConfig& config, const Weights& weights) {
  AbsorbedKvB a;
  a.heads = config.n_heads;
  a.d_c = config.kv_lora_rank;
  a.d_nope = config.qk_nope_head_dim;
  a.d_v = config.v_head_dim;
  const int64_t block = a.d_nope + a.d_v;
  const std::vector<double>& w = weights.get("kv_b_proj.weight").data;
  a.w_uk.reserve(a.heads * a.d_nope * a.d_c);
  a.w_uv.reserve(a.heads * a.d_v * a.d_c);
  for (int64_t h = 0; h < a.heads; ++h) {
    const auto head_rows = w.begin() + h * block * a.d_c;  // rows [h * block, (h + 1) * block)
    a.w_uk.insert(a.w_uk.end(), head_rows, head_rows + a.d_nope * a.d_c);
    a.w_uv.insert(a.w_uv.end(), head_rows + a.d_nope * a.d_c, head_rows + block * a.d_c);
  }
  if (config.has_bias("kv_b_proj")) {
    const std::vector<double>& b = weights.get("kv_b_proj.bias").data;
    for (int64_t h = 0; h < a.heads; ++h) {
      a.b_uk.insert(a.b_uk.end(), b.begin() + h * block, b.begin() + h * block + a.d_nope);
      a.b_uv.insert(a.b_uv.end(), b.begin() + h * block + a.d_nope, b.begin() + (h + 1) * block);
    }
  }
  return a;
}

}  // namespace attnlab
