// The reference's GTA (grouped-tied attention, Zadouri, Strauss, Dao 2025, arXiv 2505.21487),
// form standard, written from the paper's equations (not through variants/latent_lowering.h,
// whose MLA rewriting this checks): H query heads of width d, G = n_kv_heads tied heads, a rope
// key of width r = qk_rope_head_dim shared by every head.
//   q_h = q_proj(x)[h d, (h + 1) d) = [q_nope_h (d - r) | q_rope_h (r)], RoPE(p) on q_rope_h;
//   tied_g = kv_proj(x)[g d, (g + 1) d); k_rope = RoPE(p)(W_rope_k(x)).
// Query head h reads tied head g = h / (H / G): its key at token t is [tied_g,t[0, d - r) |
// k_rope_t] and its value tied_g,t (all d): score = scale * (q_nope_h . tied_g,t[0, d - r) +
// q_rope_h . k_rope_t), out_h = sum_t p_t tied_g,t, y = o_proj(concat_h out_h).
// Cache per token (cache_layout): "tied" [G, d] and "rope_key" [r] (after RoPE); the key's
// non-rope part is never stored apart from the value.
#include <algorithm>

#include "reference/reference_detail.h"

namespace attnlab::reference::detail {

namespace {

// One token's query heads, split into the part scored against the tied state and the roped part.
struct GtaQuery {
  std::vector<std::vector<double>> nope;  // [H][d - r]
  std::vector<std::vector<double>> rope;  // [H][r], RoPE applied
};

GtaQuery gta_query(const LayerConfig& config, const Weights& weights,
                   const std::vector<double>& x_row, int64_t position) {
  const int64_t d = config.head_dim, r = config.qk_rope_head_dim;
  const std::vector<double> q = project(config, weights, "q_proj", x_row);
  GtaQuery query;
  for (int64_t h = 0; h < config.n_heads; ++h) {
    query.nope.push_back(slice(q, h * d, d - r));
    query.rope.push_back(slice(q, h * d + d - r, r));
    apply_rope(query.rope.back().data(), rope_spec(config), position);
  }
  return query;
}

// Writes token (b, slot)'s tied states and its roped key into the cache.
void write_gta_slot(const LayerConfig& config, const Weights& weights,
                    const std::vector<double>& x_row, int64_t position, int64_t b, int64_t slot,
                    Cache& cache) {
  const std::vector<double> tied = project(config, weights, "kv_proj", x_row);
  std::vector<double> k_rope = project(config, weights, "W_rope_k", x_row);
  apply_rope(k_rope.data(), rope_spec(config), position);
  std::copy(tied.begin(), tied.end(), cache_slot_to_write(cache.parts[0], b, slot));
  std::copy(k_rope.begin(), k_rope.end(), cache_slot_to_write(cache.parts[1], b, slot));
}

// Query head h of one token over tied head g of sequence b, slots [keys.lo, keys.hi).
HeadResult attend_tied(const LayerConfig& config, const GtaQuery& query, int64_t h, int64_t g,
                       const Cache& cache, int64_t b, KeyRange keys) {
  const int64_t d = config.head_dim, r = config.qk_rope_head_dim;
  const Tensor<double>& tied = cache.parts[0];
  const Tensor<double>& rope_key = cache.parts[1];
  std::vector<double> scores(keys.size());
  for (int64_t t = keys.lo; t < keys.hi; ++t) {
    const double nope_score =
        dot(query.nope[h].data(), cache_elements_to_read(tied, b, t, g * d, d - r), d - r);
    const double rope_score =
        dot(query.rope[h].data(), cache_elements_to_read(rope_key, b, t, 0, r), r);
    scores[t - keys.lo] = (nope_score + rope_score) * config.scale();
  }
  const Softmax softmax = softmax_with_lse(scores);
  HeadResult head;
  head.output.assign(d, 0.0);
  for (int64_t t = keys.lo; t < keys.hi; ++t)
    axpy(softmax.weights[t - keys.lo], cache_elements_to_read(tied, b, t, g * d, d),
         head.output.data(), d);
  head.lse = softmax.lse;
  return head;
}

}  // namespace

void forward_gta(const LayerConfig& config, const Weights& weights, const Tensor<double>& x,
                 const Tensor<int64_t>& positions, Cache& cache, Result& result) {
  const int64_t batch = x.dim(0), seq = x.dim(1), old_length = cache.length;
  const int64_t heads = config.n_heads, d = config.head_dim;
  const int64_t group = heads / config.n_kv_heads;  // query heads per tied head

  // Phase 1: cache every new token's tied states and rope key; keep the queries.
  std::vector<GtaQuery> queries(batch * seq);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t s = 0; s < seq; ++s) {
      const std::vector<double> x_row = token_row(x, b, s);
      const int64_t position = positions.data[b * seq + s];
      queries[b * seq + s] = gta_query(config, weights, x_row, position);
      write_gta_slot(config, weights, x_row, position, b, old_length + s, cache);
    }
  }

  // Phase 2: new token s (cache slot old_length + s) sees the slots mask_spec(config) gives it.
  const MaskSpec mask = mask_spec(config);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t s = 0; s < seq; ++s) {
      std::vector<double> concat_heads(heads * d);
      std::vector<double> head_lse(heads);
      for (int64_t h = 0; h < heads; ++h) {
        const HeadResult head = attend_tied(config, queries[b * seq + s], h, h / group, cache, b,
                                            mask.keys_for(old_length + s));
        std::copy(head.output.begin(), head.output.end(), concat_heads.begin() + h * d);
        head_lse[h] = head.lse;
      }
      write_token_result(config, weights, concat_heads, head_lse, b, s, result);
    }
  }
}

}  // namespace attnlab::reference::detail
