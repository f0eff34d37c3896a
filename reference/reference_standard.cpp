// The reference's standard form: MHA, GQA and MQA (they differ only in n_kv_heads). Query head h
// reads kv head h / (n_heads / n_kv_heads), consecutive groups as with repeat_interleave; RoPE
// rotates every query and key head over the full head_dim with the token's position id.
#include <algorithm>

#include "reference/reference_detail.h"

namespace attnlab::reference::detail {

namespace {

// Rotates each of the `heads` consecutive head vectors of width d in v by RoPE.
void rope_each_head(const LayerConfig& config, std::vector<double>& v, int64_t heads, int64_t d,
                    int64_t position) {
  for (int64_t h = 0; h < heads; ++h) apply_rope(v.data() + h * d, rope_spec(config), position);
}

// Projects token (b, s), writes its roped key and its value into cache slot `slot`, and returns
// its roped query [n_heads * head_dim].
std::vector<double> project_token(const LayerConfig& config, const Weights& weights,
                                  const std::vector<double>& x_row, int64_t position, int64_t b,
                                  int64_t slot, Cache& cache) {
  const int64_t d = config.head_dim, n_kv = config.n_kv_heads;
  std::vector<double> q = project(config, weights, "q_proj", x_row);
  std::vector<double> k = project(config, weights, "k_proj", x_row);
  const std::vector<double> v = project(config, weights, "v_proj", x_row);
  rope_each_head(config, q, config.n_heads, d, position);
  rope_each_head(config, k, n_kv, d, position);
  std::copy(k.begin(), k.end(), cache_slot_to_write(cache.parts[0], b, slot));
  std::copy(v.begin(), v.end(), cache_slot_to_write(cache.parts[1], b, slot));
  return q;
}

}  // namespace

void forward_standard(const LayerConfig& config, const Weights& weights, const Tensor<double>& x,
                      const Tensor<int64_t>& positions, Cache& cache, Result& result) {
  const int64_t batch = x.dim(0), seq = x.dim(1), old_length = cache.length;
  const int64_t heads = config.n_heads, d = config.head_dim;
  const int64_t group = heads / config.n_kv_heads;  // query heads per kv head

  // Phase 1: every new token's key and value go into the cache; keep the queries.
  std::vector<std::vector<double>> queries(batch * seq);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t s = 0; s < seq; ++s)
      queries[b * seq + s] = project_token(config, weights, token_row(x, b, s),
                                           positions.data[b * seq + s], b, old_length + s, cache);

  // Phase 2: new token s (cache slot old_length + s) sees the slots mask_spec(config) gives it.
  const MaskSpec mask = mask_spec(config);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t s = 0; s < seq; ++s) {
      const std::vector<double>& q = queries[b * seq + s];
      std::vector<double> concat_heads(heads * d);
      std::vector<double> head_lse(heads);
      for (int64_t h = 0; h < heads; ++h) {
        const HeadResult head =
            attend_cached_kv(slice(q, h * d, d), cache.parts[0], cache.parts[1], b, h / group,
                             mask.keys_for(old_length + s), config.scale());
        std::copy(head.output.begin(), head.output.end(), concat_heads.begin() + h * d);
        head_lse[h] = head.lse;
      }
      write_token_result(config, weights, concat_heads, head_lse, b, s, result);
    }
  }
}

}  // namespace attnlab::reference::detail
