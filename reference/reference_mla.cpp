// The reference's two MLA forms (DeepSeek-V2/V3 multi-head latent attention), for any number G
// of latent heads (n_latent_heads; G > 1 only on a GLA or GTA layer lowered to MLA,
// variants/latent_lowering.h): kv_a_proj_with_mqa gives [c_1 | ... | c_G | k_rope], each c_j
// normalised alone by its own slice of kv_a_layernorm, and query head h reads latent head
// j = h / (n_heads / G) (G = 1: DeepSeek's one shared latent).
//   naive:  up-project the latent through kv_b_proj (head h's rows applied to c_j) to full
//           per-head keys and values, cache those ("k" [B, T, H, d_nope + d_rope], "v"
//           [B, T, H, d_v]) and attend as MHA.
//   absorb: cache only the normalised latents ("latent" [B, T, d_c], or [B, T, G, d_c]) and the
//           roped key ("rope_key" [B, T, d_rope]; with G > 1 [B, T, G, d_rope] when
//           rope_key_per_latent_head, one copy per latent head, else [B, T, 1, d_rope]); fold
//           W_UK into the query and apply W_UV after the softmax. It is a separate algorithm, not
//           the naive path reused, and handles the kv_b_proj bias exactly: the key bias adds
//           q_nope_h . b_UK_h to every score of a query (cancels in softmax, kept in the LSE); the
//           value bias passes through the softmax.
// Both share the projections up to the latent: the query path (q_proj, or q_a_proj ->
// RMSNorm -> q_b_proj) and kv_a_proj_with_mqa -> [c_1 | ... | c_G | k_rope].
#include <algorithm>

#include "reference/reference_detail.h"

namespace attnlab::reference::detail {

namespace {

// One token's query, per head: the non-positional part and the roped part.
struct MlaQuery {
  std::vector<std::vector<double>> nope;  // [H][d_nope]
  std::vector<std::vector<double>> rope;  // [H][d_rope], RoPE applied
};

// One token's compressed key/value: the normalised latents and the shared roped key.
struct MlaLatent {
  std::vector<double> c;       // [G * d_c], latent head j at [j * d_c, (j + 1) * d_c)
  std::vector<double> k_rope;  // [d_rope], RoPE applied
};

// The latent head query head h reads: h / (n_heads / G).
int64_t latent_head_of(const LayerConfig& config, int64_t h) {
  return h / (config.n_heads / config.n_latent_heads);
}

// Copies of the rope key an absorb cache slot holds (cache_layout): one per latent head when
// G > 1 and rope_key_per_latent_head, else one.
int64_t rope_key_copies(const LayerConfig& config) {
  return config.n_latent_heads > 1 && config.rope_key_per_latent_head ? config.n_latent_heads : 1;
}

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
  const int64_t latents = config.n_latent_heads * d_c;
  const std::vector<double> kv_a = project(config, weights, "kv_a_proj_with_mqa", x_row);
  MlaLatent latent;
  latent.c = slice(kv_a, 0, latents);
  if (config.latent_norms) {
    // Each latent head is normalised alone, by its own d_c elements of kv_a_layernorm.
    const Tensor<double>& norm = weights.get("kv_a_layernorm.weight");
    for (int64_t j = 0; j < config.n_latent_heads; ++j) {
      const Tensor<double> norm_j({d_c}, slice(norm.data, j * d_c, d_c));
      const std::vector<double> c_j =
          rms_norm(slice(latent.c, j * d_c, d_c), norm_j, config.rms_norm_eps);
      std::copy(c_j.begin(), c_j.end(), latent.c.begin() + j * d_c);
    }
  }
  latent.k_rope = slice(kv_a, latents, d_rope);
  apply_rope(latent.k_rope.data(), rope_spec(config), position);
  return latent;
}

// ---- naive ----

// Up-projects the latent of one token and writes each head's full key [k_nope_h | k_rope] and
// value v_h into cache slot `slot` of sequence b: head h's rows of kv_b_proj applied to the
// latent head it reads.
void write_naive_slot(const LayerConfig& config, const Weights& weights, const MlaLatent& latent,
                      int64_t b, int64_t slot, Cache& cache) {
  const int64_t d_nope = config.qk_nope_head_dim, d_rope = config.qk_rope_head_dim;
  const int64_t d_v = config.v_head_dim, d_c = config.kv_lora_rank;
  const Tensor<double>& kv_b = weights.get("kv_b_proj.weight");
  const Tensor<double>* kv_b_bias = optional_bias(config, weights, "kv_b_proj");
  double* k_slot = cache_slot_to_write(cache.parts[0], b, slot);
  double* v_slot = cache_slot_to_write(cache.parts[1], b, slot);
  for (int64_t h = 0; h < config.n_heads; ++h) {
    const std::vector<double> c_j = slice(latent.c, latent_head_of(config, h) * d_c, d_c);
    const std::vector<double> kv =
        linear_rows(c_j, kv_b, kv_b_bias, h * (d_nope + d_v), d_nope + d_v);
    double* key = k_slot + h * (d_nope + d_rope);
    std::copy(kv.begin(), kv.begin() + d_nope, key);
    std::copy(latent.k_rope.begin(), latent.k_rope.end(), key + d_nope);
    std::copy(kv.begin() + d_nope, kv.end(), v_slot + h * d_v);
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

// Attention of query head h of one token over latent head j = latent_head_of(h) of the cache of
// sequence b, slots [keys.lo, keys.hi): scores (q_abs . latent_j,t + q_rope . rope_key_t +
// q_nope . b_UK) * scale, the rope key read from latent head j's copy when there is one each.
HeadResult attend_latent(const LayerConfig& config, const Weights& weights, const MlaQuery& query,
                         int64_t h, const Cache& cache, int64_t b, KeyRange keys) {
  const Tensor<double>& kv_b_weight = weights.get("kv_b_proj.weight");
  const Tensor<double>* kv_b_bias = optional_bias(config, weights, "kv_b_proj");
  const Tensor<double>& latent = cache.parts[0];
  const Tensor<double>& rope_key = cache.parts[1];
  const int64_t d_c = config.kv_lora_rank, d_rope = config.qk_rope_head_dim;
  const int64_t j = latent_head_of(config, h);
  const int64_t latent_at = j * d_c, rope_at = (rope_key_copies(config) > 1 ? j : 0) * d_rope;

  const std::vector<double> q_abs = absorbed_query(config, kv_b_weight, h, query.nope[h]);
  const double bias_score = key_bias_score(config, kv_b_bias, h, query.nope[h]);
  std::vector<double> scores(keys.size());
  for (int64_t t = keys.lo; t < keys.hi; ++t) {
    const double latent_score =
        dot(q_abs.data(), cache_elements_to_read(latent, b, t, latent_at, d_c), d_c);
    const double rope_score =
        dot(query.rope[h].data(), cache_elements_to_read(rope_key, b, t, rope_at, d_rope), d_rope);
    scores[t - keys.lo] = (latent_score + rope_score + bias_score) * config.scale();
  }
  const Softmax softmax = softmax_with_lse(scores);

  std::vector<double> o_latent(d_c, 0.0);
  for (int64_t t = keys.lo; t < keys.hi; ++t)
    axpy(softmax.weights[t - keys.lo], cache_elements_to_read(latent, b, t, latent_at, d_c),
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
  const int64_t heads = config.n_heads, d_v = config.v_head_dim, d_rope = config.qk_rope_head_dim;

  // Phase 1: cache every new token's latents and rope key(s); keep the queries.
  std::vector<MlaQuery> queries(batch * seq);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t s = 0; s < seq; ++s) {
      const std::vector<double> x_row = token_row(x, b, s);
      const int64_t position = positions.data[b * seq + s];
      queries[b * seq + s] = mla_query(config, weights, x_row, position);
      const MlaLatent latent = mla_latent(config, weights, x_row, position);
      std::copy(latent.c.begin(), latent.c.end(),
                cache_slot_to_write(cache.parts[0], b, old_length + s));
      double* rope_slot = cache_slot_to_write(cache.parts[1], b, old_length + s);
      for (int64_t copy = 0; copy < rope_key_copies(config); ++copy)
        std::copy(latent.k_rope.begin(), latent.k_rope.end(), rope_slot + copy * d_rope);
    }
  }

  // Phase 2: every query head attends over its latent head's cache (MQA over each latent).
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
