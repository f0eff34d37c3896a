// An independent fp64 expectation of GTA and GLA (Zadouri, Strauss, Dao 2025), written as plain
// loops over their equations with their own weight names: no lowering to MLA, no absorption,
// nothing shared with the backends or the reference beyond the layer config, RoPE's
// inverse-frequency table and the plain standard loop's linear and rotate helpers
// (tests/plain_standard_attention.h). Every token of x [B, S, hidden] is one prefill (slot s =
// token s, causal); positions [B, S].
//   GTA: q_h = q_proj(x) head h = [q_nope (d - r) | q_rope (r)], RoPE on q_rope; tied_g =
//        kv_proj(x) head g; k_rope = RoPE(W_rope_k(x)), one for all heads; head h (g = h / (H/G))
//        has key [tied_g[0, d - r) | k_rope] and value tied_g.
//   GLA: q = W_uQ_rope(RMSNorm_q_norm(W_dQ(x))), per head [q_nope (dn) | q_rope (r)], RoPE on
//        q_rope; W_dKV(x) = [c_1 | .. | c_hc | k_rope], c_j = RMSNorm_kv_norm_j(c_j), k_rope
//        RoPE'd; head h (group j = h / (H/h_c), local i = h % (H/h_c)) has [k_nope_h ; v_h] =
//        rows [i (dn + dv), (i + 1) (dn + dv)) of W_ukv_(j+1) (+ bias) times c_j, key
//        [k_nope_h | k_rope] and value v_h.
// score = scale * q_h . key, softmax over slots 0 .. s, lse = log sum exp; y = o_proj(concat
// out_h).
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "tests/plain_standard_attention.h"

namespace attnlab::test {

namespace latent_detail {

using Vec = std::vector<double>;

// RMSNorm of v[offset, offset + n) in place with weight w[0, n).
inline void rms_norm(Vec& v, int64_t offset, int64_t n, const Tensor<double>& w, double eps) {
  double squares = 0;
  for (int64_t i = 0; i < n; ++i) squares += v[offset + i] * v[offset + i];
  const double inv = 1.0 / std::sqrt(squares / double(n) + eps);
  for (int64_t i = 0; i < n; ++i) v[offset + i] *= inv * w.data[i];
}

// RoPE at `position` on v[offset, offset + r).
inline void rotate_part(const LayerConfig& config, Vec& v, int64_t offset, int64_t r,
                        int64_t position) {
  Vec part(v.begin() + offset, v.begin() + offset + r);
  plain_detail::rotate(config, part, 1, r, position);
  std::copy(part.begin(), part.end(), v.begin() + offset);
}

// One query against keys[0 .. count) and values: adds softmax(scale q.k) . v to out[0, dv),
// returns the lse.
inline double attend(const Vec& q, const std::vector<Vec>& keys, const std::vector<Vec>& values,
                     size_t count, double scale, double* out) {
  Vec score(count);
  double max = -INFINITY;
  for (size_t t = 0; t < count; ++t) {
    double dot = 0;
    for (size_t e = 0; e < q.size(); ++e) dot += q[e] * keys[t][e];
    score[t] = dot * scale;
    max = std::max(max, score[t]);
  }
  double sum = 0;
  for (size_t t = 0; t < count; ++t) sum += std::exp(score[t] - max);
  for (size_t t = 0; t < count; ++t) {
    const double p = std::exp(score[t] - max) / sum;
    for (size_t e = 0; e < values[t].size(); ++e) out[e] += p * values[t][e];
  }
  return max + std::log(sum);
}

// Per token of one sequence: the query heads (each [key width]) and, per query head, its key
// and value; `heads_out` the value width. Fills result's rows of sequence b.
struct SequenceHeads {
  std::vector<std::vector<Vec>> q, k, v;  // [token][head]
};

inline void attend_sequence(const LayerConfig& config, const Weights& weights,
                            const SequenceHeads& s, int64_t b, int64_t dv, RunOutput& result) {
  const int64_t seq = static_cast<int64_t>(s.q.size()), heads = config.n_heads;
  const int64_t hidden = config.hidden_size;
  for (int64_t i = 0; i < seq; ++i) {
    Vec concat(heads * dv, 0.0);
    for (int64_t h = 0; h < heads; ++h) {
      std::vector<Vec> keys, values;
      for (int64_t t = 0; t <= i; ++t) {
        keys.push_back(s.k[t][h]);
        values.push_back(s.v[t][h]);
      }
      result.lse.data[(b * seq + i) * heads + h] =
          attend(s.q[i][h], keys, values, keys.size(), config.scale(), &concat[h * dv]);
    }
    const Vec out = plain_detail::linear(config, weights, "o_proj", concat.data());
    std::copy(out.begin(), out.end(), result.out.data.begin() + (b * seq + i) * hidden);
  }
}

}  // namespace latent_detail

inline RunOutput plain_gta_attention(const LayerConfig& config, const Weights& weights,
                                     const Tensor<double>& x, const Tensor<int64_t>& positions) {
  namespace ld = latent_detail;
  const int64_t batch = x.dim(0), seq = x.dim(1), hidden = config.hidden_size;
  const int64_t heads = config.n_heads, groups = config.n_kv_heads, d = config.head_dim;
  const int64_t r = config.qk_rope_head_dim;
  RunOutput result{Tensor<double>({batch, seq, hidden}), Tensor<double>({batch, seq, heads}), 0};
  for (int64_t b = 0; b < batch; ++b) {
    ld::SequenceHeads s;
    for (int64_t t = 0; t < seq; ++t) {
      const double* row = x.data.data() + (b * seq + t) * hidden;
      const int64_t position = positions.data[b * seq + t];
      ld::Vec q = plain_detail::linear(config, weights, "q_proj", row);
      const ld::Vec tied = plain_detail::linear(config, weights, "kv_proj", row);
      ld::Vec k_rope = plain_detail::linear(config, weights, "W_rope_k", row);
      ld::rotate_part(config, k_rope, 0, r, position);
      s.q.emplace_back();
      s.k.emplace_back();
      s.v.emplace_back();
      for (int64_t h = 0; h < heads; ++h) {
        ld::rotate_part(config, q, h * d + d - r, r, position);
        s.q.back().emplace_back(q.begin() + h * d, q.begin() + (h + 1) * d);
        const int64_t g = h / (heads / groups);
        ld::Vec key(tied.begin() + g * d, tied.begin() + g * d + d - r);
        key.insert(key.end(), k_rope.begin(), k_rope.end());
        s.k.back().push_back(key);
        s.v.back().emplace_back(tied.begin() + g * d, tied.begin() + (g + 1) * d);
      }
    }
    ld::attend_sequence(config, weights, s, b, d, result);
  }
  return result;
}

inline RunOutput plain_gla_attention(const LayerConfig& config, const Weights& weights,
                                     const Tensor<double>& x, const Tensor<int64_t>& positions) {
  namespace ld = latent_detail;
  const int64_t batch = x.dim(0), seq = x.dim(1), hidden = config.hidden_size;
  const int64_t heads = config.n_heads, h_c = config.n_latent_heads;
  const int64_t d_c = config.kv_lora_rank, dn = config.qk_nope_head_dim;
  const int64_t r = config.qk_rope_head_dim, dv = config.v_head_dim, qk = dn + r;
  const int64_t per_group = heads / h_c;
  const double eps = config.rms_norm_eps;
  RunOutput result{Tensor<double>({batch, seq, hidden}), Tensor<double>({batch, seq, heads}), 0};
  for (int64_t b = 0; b < batch; ++b) {
    ld::SequenceHeads s;
    for (int64_t t = 0; t < seq; ++t) {
      const double* row = x.data.data() + (b * seq + t) * hidden;
      const int64_t position = positions.data[b * seq + t];
      ld::Vec q_a = plain_detail::linear(config, weights, "W_dQ", row);
      if (config.latent_norms)
        ld::rms_norm(q_a, 0, config.q_lora_rank, weights.get("q_norm.weight"), eps);
      ld::Vec q = plain_detail::linear(config, weights, "W_uQ_rope", q_a.data());
      ld::Vec kv = plain_detail::linear(config, weights, "W_dKV", row);
      for (int64_t j = 0; j < h_c; ++j)
        if (config.latent_norms)
          ld::rms_norm(kv, j * d_c, d_c,
                       weights.get("kv_norm_" + std::to_string(j + 1) + ".weight"), eps);
      ld::rotate_part(config, kv, h_c * d_c, r, position);
      const ld::Vec k_rope(kv.begin() + h_c * d_c, kv.end());
      s.q.emplace_back();
      s.k.emplace_back();
      s.v.emplace_back();
      for (int64_t h = 0; h < heads; ++h) {
        ld::rotate_part(config, q, h * qk + dn, r, position);
        s.q.back().emplace_back(q.begin() + h * qk, q.begin() + (h + 1) * qk);
        const int64_t j = h / per_group, i = h % per_group;
        const std::string ukv = "W_ukv_" + std::to_string(j + 1);
        const ld::Vec up = plain_detail::linear(config, weights, ukv, kv.data() + j * d_c);
        ld::Vec key(up.begin() + i * (dn + dv), up.begin() + i * (dn + dv) + dn);
        key.insert(key.end(), k_rope.begin(), k_rope.end());
        s.k.back().push_back(key);
        s.v.back().emplace_back(up.begin() + i * (dn + dv) + dn, up.begin() + (i + 1) * (dn + dv));
      }
    }
    ld::attend_sequence(config, weights, s, b, dv, result);
  }
  return result;
}

}  // namespace attnlab::test
