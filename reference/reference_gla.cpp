// The reference's two GLA forms (grouped latent attention, Zadouri, Strauss, Dao 2025, arXiv
// 2505.21487), written from the paper's equations and its reference code's weight names (not
// through variants/latent_lowering.h, whose MLA rewriting this checks). H query heads, h_c latent
// heads of width d_c = kv_lora_rank, each serving the H / h_c query heads of its group:
//   q = W_uQ_rope(RMSNorm_q_norm(W_dQ x)), per head [q_nope_h (d_nope) | q_rope_h (d_rope)], RoPE
//     on q_rope_h;
//   W_dKV x = [c_1 | ... | c_hc | k_rope]; c_j = RMSNorm_kv_norm_j(c_j) (no norms when
//     latent_norms is false); k_rope RoPE'd, one for all heads;
//   head h is in group j = h / (H / h_c) with local index i = h % (H / h_c): rows
//     [i (d_nope + d_v), (i + 1)(d_nope + d_v)) of W_ukv_(j+1) (and its bias) applied to c_j give
//     [k_nope_h ; v_h], i.e. W_UK_h (d_nope rows) and W_UV_h (d_v rows).
//   naive:  K_h = [k_nope_h | k_rope], V_h = v_h, attention as MHA; cache "k" [B, T, H, d_nope +
//           d_rope] and "v" [B, T, H, d_v].
//   absorb: cache "latent" [B, T, h_c, d_c] and "rope_key" [B, T, h_c, d_rope] (each latent head
//           keeps its own copy of the rope key: FlashAttention-3's GLA decode layout; with
//           h_c = 1 the MLA layout [B, T, d_c] + [B, T, d_rope]); score = scale * ((W_UK_h^T
//           q_nope_h) . c_j,t + q_rope_h . k_rope_t + q_nope_h . b_UK_h) (the key bias cancels
//           in softmax, kept so the LSE matches naive), out_h = W_UV_h (sum_t p_t c_j,t) + b_UV_h.
#include <algorithm>
#include <string>

#include "reference/reference_detail.h"

namespace attnlab::reference::detail {

namespace {

// One token's query, per head: the non-positional part and the roped part.
struct GlaQuery {
  std::vector<std::vector<double>> nope;  // [H][d_nope]
  std::vector<std::vector<double>> rope;  // [H][d_rope], RoPE applied
};

// One token's latent heads (each after its own kv_norm_j) and its roped key.
struct GlaLatent {
  std::vector<std::vector<double>> c;  // [h_c][d_c]
  std::vector<double> k_rope;          // [d_rope]
};

// The group (latent head, 0-based) of query head h and its index within the group.
int64_t group_of(const LayerConfig& config, int64_t h) {
  return h / (config.n_heads / config.n_latent_heads);
}
int64_t index_in_group(const LayerConfig& config, int64_t h) {
  return h % (config.n_heads / config.n_latent_heads);
}

// "W_ukv_<j + 1>": the up-projection of latent head j (0-based), numbered from 1 as the paper's
// code does.
std::string ukv_name(int64_t j) {
  return "W_ukv_" + std::to_string(j + 1);
}

// Copies of the rope key a slot of the absorb cache part "rope_key" holds: [B, T, h_c, d_rope]
// (one per latent head) or [B, T, d_rope] (h_c = 1).
int64_t rope_key_copies(const Tensor<double>& rope_key) {
  return rope_key.shape.size() == 4 ? rope_key.dim(2) : 1;
}

// The first row of head h's [W_UK_h ; W_UV_h] block in its group's W_ukv.
int64_t ukv_first_row(const LayerConfig& config, int64_t h) {
  return index_in_group(config, h) * (config.qk_nope_head_dim + config.v_head_dim);
}

GlaQuery gla_query(const LayerConfig& config, const Weights& weights,
                   const std::vector<double>& x_row, int64_t position) {
  const std::vector<double> q_down = project(config, weights, "W_dQ", x_row);
  const std::vector<double> q_normed =
      config.latent_norms ? rms_norm(q_down, weights.get("q_norm.weight"), config.rms_norm_eps)
                          : q_down;
  const std::vector<double> q = project(config, weights, "W_uQ_rope", q_normed);
  const int64_t d_nope = config.qk_nope_head_dim, d_rope = config.qk_rope_head_dim;
  GlaQuery query;
  for (int64_t h = 0; h < config.n_heads; ++h) {
    query.nope.push_back(slice(q, h * (d_nope + d_rope), d_nope));
    query.rope.push_back(slice(q, h * (d_nope + d_rope) + d_nope, d_rope));
    apply_rope(query.rope.back().data(), rope_spec(config), position);
  }
  return query;
}

GlaLatent gla_latent(const LayerConfig& config, const Weights& weights,
                     const std::vector<double>& x_row, int64_t position) {
  const int64_t h_c = config.n_latent_heads, d_c = config.kv_lora_rank;
  const std::vector<double> kv_down = project(config, weights, "W_dKV", x_row);
  GlaLatent latent;
  for (int64_t j = 0; j < h_c; ++j) {
    std::vector<double> c_j = slice(kv_down, j * d_c, d_c);
    if (config.latent_norms)
      c_j = rms_norm(c_j, weights.get("kv_norm_" + std::to_string(j + 1) + ".weight"),
                     config.rms_norm_eps);
    latent.c.push_back(std::move(c_j));
  }
  latent.k_rope = slice(kv_down, h_c * d_c, config.qk_rope_head_dim);
  apply_rope(latent.k_rope.data(), rope_spec(config), position);
  return latent;
}

// ---- naive ----

// Writes each head's key [k_nope_h | k_rope] and value v_h of one token into cache slot `slot`
// of sequence b: head h's rows of its group's W_ukv applied to the group's latent.
void write_gla_naive_slot(const LayerConfig& config, const Weights& weights,
                          const GlaLatent& latent, int64_t b, int64_t slot, Cache& cache) {
  const int64_t d_nope = config.qk_nope_head_dim, d_rope = config.qk_rope_head_dim;
  const int64_t d_v = config.v_head_dim;
  double* k_slot = cache_slot_to_write(cache.parts[0], b, slot);
  double* v_slot = cache_slot_to_write(cache.parts[1], b, slot);
  for (int64_t h = 0; h < config.n_heads; ++h) {
    const int64_t j = group_of(config, h);
    const std::vector<double> kv = linear_rows(latent.c[j], weights.get(ukv_name(j) + ".weight"),
                                               optional_bias(config, weights, ukv_name(j)),
                                               ukv_first_row(config, h), d_nope + d_v);
    double* key = k_slot + h * (d_nope + d_rope);
    std::copy(kv.begin(), kv.begin() + d_nope, key);
    std::copy(latent.k_rope.begin(), latent.k_rope.end(), key + d_nope);
    std::copy(kv.begin() + d_nope, kv.end(), v_slot + h * d_v);
  }
}

// ---- absorb ----

// Attention of query head h of one token over its group's latent head j in the cache of
// sequence b, slots [keys.lo, keys.hi).
HeadResult attend_gla_latent(const LayerConfig& config, const Weights& weights,
                             const GlaQuery& query, int64_t h, const Cache& cache, int64_t b,
                             KeyRange keys) {
  const int64_t j = group_of(config, h), first = ukv_first_row(config, h);
  const int64_t d_c = config.kv_lora_rank, d_nope = config.qk_nope_head_dim;
  const int64_t d_rope = config.qk_rope_head_dim, d_v = config.v_head_dim;
  const Tensor<double>& w_ukv = weights.get(ukv_name(j) + ".weight");
  const Tensor<double>* b_ukv = optional_bias(config, weights, ukv_name(j));
  const Tensor<double>& latent = cache.parts[0];
  const Tensor<double>& rope_key = cache.parts[1];
  const int64_t rope_at = (rope_key_copies(rope_key) > 1 ? j : 0) * d_rope;

  // q_abs = W_UK_h^T q_nope_h over the latent; the key bias's score q_nope_h . b_UK_h.
  std::vector<double> q_abs(d_c, 0.0);
  for (int64_t i = 0; i < d_nope; ++i)
    axpy(query.nope[h][i], w_ukv.ptr() + (first + i) * d_c, q_abs.data(), d_c);
  const double bias_score = b_ukv ? dot(query.nope[h].data(), b_ukv->ptr() + first, d_nope) : 0.0;

  std::vector<double> scores(keys.size());
  for (int64_t t = keys.lo; t < keys.hi; ++t) {
    const double latent_score =
        dot(q_abs.data(), cache_elements_to_read(latent, b, t, j * d_c, d_c), d_c);
    const double rope_score =
        dot(query.rope[h].data(), cache_elements_to_read(rope_key, b, t, rope_at, d_rope), d_rope);
    scores[t - keys.lo] = (latent_score + rope_score + bias_score) * config.scale();
  }
  const Softmax softmax = softmax_with_lse(scores);

  std::vector<double> o_latent(d_c, 0.0);
  for (int64_t t = keys.lo; t < keys.hi; ++t)
    axpy(softmax.weights[t - keys.lo], cache_elements_to_read(latent, b, t, j * d_c, d_c),
         o_latent.data(), d_c);
  // o_h = W_UV_h o_latent + b_UV_h.
  HeadResult head;
  head.output.resize(d_v);
  for (int64_t e = 0; e < d_v; ++e) {
    const int64_t row = first + d_nope + e;
    head.output[e] =
        dot(w_ukv.ptr() + row * d_c, o_latent.data(), d_c) + (b_ukv ? b_ukv->data[row] : 0.0);
  }
  head.lse = softmax.lse;
  return head;
}

// Runs phase 2 of either form: every new token's heads (attend(query, h, b, keys)) through
// o_proj into result.
template <class Attend>
void attend_all(const LayerConfig& config, const Weights& weights,
                const std::vector<GlaQuery>& queries, int64_t batch, int64_t seq,
                int64_t old_length, Result& result, const Attend& attend) {
  const int64_t heads = config.n_heads, d_v = config.v_head_dim;
  const MaskSpec mask = mask_spec(config);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t s = 0; s < seq; ++s) {
      std::vector<double> concat_heads(heads * d_v);
      std::vector<double> head_lse(heads);
      for (int64_t h = 0; h < heads; ++h) {
        const HeadResult head = attend(queries[b * seq + s], h, b, mask.keys_for(old_length + s));
        std::copy(head.output.begin(), head.output.end(), concat_heads.begin() + h * d_v);
        head_lse[h] = head.lse;
      }
      write_token_result(config, weights, concat_heads, head_lse, b, s, result);
    }
  }
}

}  // namespace

void forward_gla_naive(const LayerConfig& config, const Weights& weights, const Tensor<double>& x,
                       const Tensor<int64_t>& positions, Cache& cache, Result& result) {
  const int64_t batch = x.dim(0), seq = x.dim(1), old_length = cache.length;

  // Phase 1: cache every new token's full per-head keys and values; keep the queries.
  std::vector<GlaQuery> queries(batch * seq);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t s = 0; s < seq; ++s) {
      const std::vector<double> x_row = token_row(x, b, s);
      const int64_t position = positions.data[b * seq + s];
      queries[b * seq + s] = gla_query(config, weights, x_row, position);
      write_gla_naive_slot(config, weights, gla_latent(config, weights, x_row, position), b,
                           old_length + s, cache);
    }
  }

  // Phase 2: MHA over the cache; head h's query is [q_nope_h | q_rope_h].
  attend_all(config, weights, queries, batch, seq, old_length, result,
             [&](const GlaQuery& query, int64_t h, int64_t b, KeyRange keys) {
               std::vector<double> q = query.nope[h];
               q.insert(q.end(), query.rope[h].begin(), query.rope[h].end());
               return attend_cached_kv(q, cache.parts[0], cache.parts[1], b, h, keys,
                                       config.scale());
             });
}

void forward_gla_absorb(const LayerConfig& config, const Weights& weights, const Tensor<double>& x,
                        const Tensor<int64_t>& positions, Cache& cache, Result& result) {
  const int64_t batch = x.dim(0), seq = x.dim(1), old_length = cache.length;
  const int64_t d_rope = config.qk_rope_head_dim;

  // Phase 1: cache every new token's latent heads and, beside each, the rope key.
  std::vector<GlaQuery> queries(batch * seq);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t s = 0; s < seq; ++s) {
      const std::vector<double> x_row = token_row(x, b, s);
      const int64_t position = positions.data[b * seq + s];
      queries[b * seq + s] = gla_query(config, weights, x_row, position);
      const GlaLatent latent = gla_latent(config, weights, x_row, position);
      double* latent_slot = cache_slot_to_write(cache.parts[0], b, old_length + s);
      for (size_t j = 0; j < latent.c.size(); ++j)
        std::copy(latent.c[j].begin(), latent.c[j].end(), latent_slot + j * config.kv_lora_rank);
      double* rope_slot = cache_slot_to_write(cache.parts[1], b, old_length + s);
      for (int64_t copy = 0; copy < rope_key_copies(cache.parts[1]); ++copy)
        std::copy(latent.k_rope.begin(), latent.k_rope.end(), rope_slot + copy * d_rope);
    }
  }

  // Phase 2: every query head attends over its group's latent head.
  attend_all(config, weights, queries, batch, seq, old_length, result,
             [&](const GlaQuery& query, int64_t h, int64_t b, KeyRange keys) {
               return attend_gla_latent(config, weights, query, h, cache, b, keys);
             });
}

}  // namespace attnlab::reference::detail
