// The reference's two MLA forms (DeepSeek-V2/V3 multi-head latent attention).
//   naive:  up-project the latent through kv_b_proj to full per-head keys and values, cache
//           those ("k" [B, T, H, d_nope + d_rope], "v" [B, T, H, d_v]) and attend as MHA.
//   absorb: cache only the normalised latent c ("latent" [B, T, d_c]) and the shared rope key
//           ("rope_key" [B, T, d_rope]); fold W_UK into the query and apply W_UV after the
//           softmax. It is a separate algorithm, not the naive path reused, and handles the
//           kv_b_proj bias exactly: the key bias adds q_nope_h . b_UK_h to every score of a query
//           (cancels in softmax, kept in the LSE); the value bias passes through the softmax.
// Both share the projections up to the latent: the query path (q_proj, or q_a_proj ->
// RMSNorm -> q_b_proj) and kv_a_proj_with_mqa -> [c | k_rope].
#include <algorithm>

#include "reference/reference_detail.h"

namespace attnlab::reference::detail {

namespace {

// One token's query, per head: the non-positional part and the roped part.
struct MlaQuery {
  std::vector<std::vector<double>> nope;  // [H][d_nope]
  std::vector<std::vector<double>> rope;  // [H][d_rope], RoPE applied
};

// One token's compressed key/value: the normalised latent and the shared roped key.
struct MlaLatent {
  std::vector<double> c;       // [d_c], after kv_a_layernorm
  std::vector<double> k_rope;  // [d_rope], RoPE applied
};

MlaQuery mla_query(const LayerConfig& config, const Weights& weights,
                   const std::vector<double>& x_row, int64_t position) {
  std::vector<double> q;
  if (config.q_lora_rank == 0) {
    q = project(config, weights, "q_proj", x_row);
  } else {
    const std::vector<double> q_a = project(config, weights, "q_a_proj", x_row);
    const std::vector<double> q_a_normed =
        config.latent_norms
            ? rms_norm(q_a, weights.get("q_a_layernorm.weight"), config.rms_norm_eps)
            : q_a;
    q = project(config, weights, "q_b_proj", q_a_normed);
  }
  const int64_t d_nope = config.qk_nope_head_dim, d_rope = config.qk_rope_head_dim;
  MlaQuery query;
  for (int64_t h = 0; h < config.n_heads; ++h) {
    const int64_t head_begin = h * (d_nope + d_rope);
    query.nope.push_back(slice(q, head_begin, d_nope));
    query.rope.push_back(slice(q, head_begin + d_nope, d_rope));
    apply_rope(query.rope.back().data(), rope_spec(config), position);
  }
  return query;
}

MlaLatent mla_latent(const LayerConfig& config, const Weights& weights,
                     const std::vector<double>& x_row, int64_t position) {
  const int64_t d_c = config.kv_lora_rank, d_rope = config.qk_rope_head_dim;
  const std::vector<double> kv_a = project(config, weights, "kv_a_proj_with_mqa", x_row);
  MlaLatent latent;
  latent.c = slice(kv_a, 0, d_c);
  if (config.latent_norms)
    latent.c = rms_norm(latent.c, weights.get("kv_a_layernorm.weight"), config.rms_norm_eps);
  latent.k_rope = slice(kv_a, d_c, d_rope);
  apply_rope(latent.k_rope.data(), rope_spec(config), position);
  return latent;
}

// ---- naive ----

// Up-projects the latent of one token and writes each head's full key [k_nope_h | k_rope] and
// value v_h into cache slot `slot` of sequence b.
void write_naive_slot(const LayerConfig& config, const Weights& weights, const MlaLatent& latent,
                      int64_t b, int64_t slot, Cache& cache) {
  const int64_t d_nope = config.qk_nope_head_dim, d_rope = config.qk_rope_head_dim;
  const int64_t d_v = config.v_head_dim;
  const std::vector<double> kv = project(config, weights, "kv_b_proj", latent.c);
  double* k_slot = cache_slot_to_write(cache.parts[0], b, slot);
  double* v_slot = cache_slot_to_write(cache.parts[1], b, slot);
  for (int64_t h = 0; h < config.n_heads; ++h) {
    const auto head_begin = kv.begin() + h * (d_nope + d_v);
    double* key = k_slot + h * (d_nope + d_rope);
    std::copy(head_begin, head_begin + d_nope, key);
    std::copy(latent.k_rope.begin(), latent.k_rope.end(), key + d_nope);
    std::copy(head_begin + d_nope, head_begin + d_nope + d_v, v_slot + h * d_v);
  }
}

// ---- absorb ----

// The rows of kv_b_proj that belong to head h: W_UK_h is rows [h*(d_nope+d_v), +d_nope),
// W_UV_h the d_v rows after them; each row has d_c columns.
int64_t uk_row(const LayerConfig& config, int64_t h, int64_t i) {
  return h * (config.qk_nope_head_dim + config.v_head_dim) + i;
}
int64_t uv_row(const LayerConfig& config, int64_t h, int64_t j) {
  return h * (config.qk_nope_head_dim + config.v_head_dim) + config.qk_nope_head_dim + j;
}

// q_abs_h = W_UK_h^T q_nope_h, a query over the latent [d_c].
std::vector<double> absorbed_query(const LayerConfig& config, const Tensor<double>& kv_b_weight,
                                   int64_t h, const std::vector<double>& q_nope) {
  const int64_t d_c = config.kv_lora_rank;
  std::vector<double> q_abs(d_c, 0.0);
  for (int64_t i = 0; i < config.qk_nope_head_dim; ++i) {
    axpy(q_nope[i], kv_b_weight.ptr() + uk_row(config, h, i) * d_c, q_abs.data(), d_c);
  }
  return q_abs;
}

// q_nope_h . b_UK_h: what the key bias adds to every score of this query head (0 without bias).
double key_bias_score(const LayerConfig& config, const Tensor<double>* kv_b_bias, int64_t h,
                      const std::vector<double>& q_nope) {
  if (!kv_b_bias) return 0.0;
  return dot(q_nope.data(), kv_b_bias->ptr() + uk_row(config, h, 0), config.qk_nope_head_dim);
}

// o_h = W_UV_h o_lat + b_UV_h: the head's value output from its attention-weighted latent.
std::vector<double> up_project_value(const LayerConfig& config, const Tensor<double>& kv_b_weight,
                                     const Tensor<double>* kv_b_bias, int64_t h,
                                     const std::vector<double>& o_latent) {
  const int64_t d_c = config.kv_lora_rank;
  std::vector<double> o(config.v_head_dim);
  for (int64_t j = 0; j < config.v_head_dim; ++j) {
    const int64_t row = uv_row(config, h, j);
    o[j] = dot(kv_b_weight.ptr() + row * d_c, o_latent.data(), d_c) +
           (kv_b_bias ? kv_b_bias->data[row] : 0.0);
  }
  return o;
}

// Attention of query head h of one token over the latent cache of sequence b, slots
// [keys.lo, keys.hi): scores (q_abs . latent_t + q_rope . rope_key_t + q_nope . b_UK) * scale.
HeadResult attend_latent(const LayerConfig& config, const Weights& weights, const MlaQuery& query,
                         int64_t h, const Cache& cache, int64_t b, KeyRange keys) {
  const Tensor<double>& kv_b_weight = weights.get("kv_b_proj.weight");
  const Tensor<double>* kv_b_bias = optional_bias(config, weights, "kv_b_proj");
  const Tensor<double>& latent = cache.parts[0];
  const Tensor<double>& rope_key = cache.parts[1];
  const int64_t d_c = config.kv_lora_rank, d_rope = config.qk_rope_head_dim;

  const std::vector<double> q_abs = absorbed_query(config, kv_b_weight, h, query.nope[h]);
  const double bias_score = key_bias_score(config, kv_b_bias, h, query.nope[h]);
  std::vector<double> scores(keys.size());
  for (int64_t t = keys.lo; t < keys.hi; ++t) {
    const double latent_score =
        dot(q_abs.data(), cache_elements_to_read(latent, b, t, 0, d_c), d_c);
    const double rope_score =
        dot(query.rope[h].data(), cache_elements_to_read(rope_key, b, t, 0, d_rope), d_rope);
    scores[t - keys.lo] = (latent_score + rope_score + bias_score) * config.scale();
  }
  const Softmax softmax = softmax_with_lse(scores);

  std::vector<double> o_latent(d_c, 0.0);
  for (int64_t t = keys.lo; t < keys.hi; ++t)
    axpy(softmax.weights[t - keys.lo], cache_elements_to_read(latent, b, t, 0, d_c),
         o_latent.data(), d_c);
  return {up_project_value(config, kv_b_weight, kv_b_bias, h, o_latent), softmax.lse};
}

}  // namespace

void forward_mla_naive(const LayerConfig& config, const Weights& weights, const Tensor<double>& x,
                       const Tensor<int64_t>& positions, Cache& cache, Result& result) {
  const int64_t batch = x.dim(0), seq = x.dim(1), old_length = cache.length;
  const int64_t heads = config.n_heads, d_v = config.v_head_dim;

  // Phase 1: cache every new token's full per-head keys and values; keep the queries.
  std::vector<MlaQuery> queries(batch * seq);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t s = 0; s < seq; ++s) {
      const std::vector<double> x_row = token_row(x, b, s);
      const int64_t position = positions.data[b * seq + s];
      queries[b * seq + s] = mla_query(config, weights, x_row, position);
      write_naive_slot(config, weights, mla_latent(config, weights, x_row, position), b,
                       old_length + s, cache);
    }
  }

  // Phase 2: MHA over the cache; head h's query is [q_nope_h | q_rope_h].
  const MaskSpec mask = mask_spec(config);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t s = 0; s < seq; ++s) {
      const MlaQuery& query = queries[b * seq + s];
      std::vector<double> concat_heads(heads * d_v);
      std::vector<double> head_lse(heads);
      for (int64_t h = 0; h < heads; ++h) {
        std::vector<double> q = query.nope[h];
        q.insert(q.end(), query.rope[h].begin(), query.rope[h].end());
        const HeadResult head = attend_cached_kv(q, cache.parts[0], cache.parts[1], b, h,
                                                 mask.keys_for(old_length + s), config.scale());
        std::copy(head.output.begin(), head.output.end(), concat_heads.begin() + h * d_v);
        head_lse[h] = head.lse;
      }
      write_token_result(config, weights, concat_heads, head_lse, b, s, result);
    }
  }
}

void forward_mla_absorb(const LayerConfig& config, const Weights& weights, const Tensor<double>& x,
                        const Tensor<int64_t>& positions, Cache& cache, Result& result) {
  const int64_t batch = x.dim(0), seq = x.dim(1), old_length = cache.length;
  const int64_t heads = config.n_heads, d_v = config.v_head_dim;

  // Phase 1: cache every new token's latent and rope key; keep the queries.
  std::vector<MlaQuery> queries(batch * seq);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t s = 0; s < seq; ++s) {
      const std::vector<double> x_row = token_row(x, b, s);
      const int64_t position = positions.data[b * seq + s];
      queries[b * seq + s] = mla_query(config, weights, x_row, position);
      const MlaLatent latent = mla_latent(config, weights, x_row, position);
      std::copy(latent.c.begin(), latent.c.end(),
                cache_slot_to_write(cache.parts[0], b, old_length + s));
      std::copy(latent.k_rope.begin(), latent.k_rope.end(),
                cache_slot_to_write(cache.parts[1], b, old_length + s));
    }
  }

  // Phase 2: every query head attends over the shared latent cache (MQA over the latent).
  const MaskSpec mask = mask_spec(config);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t s = 0; s < seq; ++s) {
      std::vector<double> concat_heads(heads * d_v);
      std::vector<double> head_lse(heads);
      for (int64_t h = 0; h < heads; ++h) {
        const HeadResult head = attend_latent(config, weights, queries[b * seq + s], h, cache, b,
                                              mask.keys_for(old_length + s));
        std::copy(head.output.begin(), head.output.end(), concat_heads.begin() + h * d_v);
        head_lse[h] = head.lse;
      }
      write_token_result(config, weights, concat_heads, head_lse, b, s, result);
    }
  }
}

}  // namespace attnlab::reference::detail
