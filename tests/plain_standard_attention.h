// An independent fp64 expectation of the standard form (MHA/GQA/MQA) with every model feature
// of docs/CONFIG.md, written as plain loops over the formulas there and sharing no code with the
// backends or the reference beyond the layer config and RoPE's inverse-frequency table
// (variants/rope.h, checked on its own in tests/test_variant_primitives.cpp):
//   q, k, v = x W^T (+ b); QK-norm: each head x / sqrt(mean(x^2) + eps) * (w + offset);
//   RoPE: pair i < rotary_dim / 2 is (2i, 2i + 1) interleaved or (i, i + rotary_dim / 2)
//   half_split, rotated by position * inv_freq[i], cos and sin times attention_factor; elements
//   from rotary_dim on unrotated;
//   the query in slot i sees key slots j with i - W < j <= i (W: the layer's window, if any);
//   softmax of q.k * scale, lse = log sum exp; sinks: lse' = log(exp(lse) + exp(sinks[h])),
//   o' = o * exp(lse - lse'), lse' reported; then o_proj (+ b).
// Every token of x [B, S, hidden] is one prefill (slot s = token s); positions [B, S].
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/layer_config.h"
#include "core/tensor.h"
#include "core/weights.h"
#include "registry/driver.h"
#include "variants/rope.h"

namespace attnlab::test {

namespace plain_detail {

// y = W x (+ b) for W [out, in].
inline std::vector<double> linear(const LayerConfig& config, const Weights& weights,
                                  const std::string& name, const double* x) {
  const Tensor<double>& w = weights.get(name + ".weight");
  const int64_t out = w.dim(0), in = w.dim(1);
  std::vector<double> y(out, 0.0);
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t i = 0; i < in; ++i) y[o] += w.data[o * in + i] * x[i];
    if (config.has_bias(name)) y[o] += weights.get(name + ".bias").data[o];
  }
  return y;
}

// In place on `heads` head vectors of width d: RMSNorm with weight (w + offset).
inline void qk_norm(std::vector<double>& v, int64_t heads, int64_t d, const Tensor<double>& w,
                    double offset, double eps) {
  for (int64_t h = 0; h < heads; ++h) {
    double squares = 0;
    for (int64_t i = 0; i < d; ++i) squares += v[h * d + i] * v[h * d + i];
    const double inv_rms = 1.0 / std::sqrt(squares / double(d) + eps);
    for (int64_t i = 0; i < d; ++i) v[h * d + i] *= inv_rms * (w.data[i] + offset);
  }
}

// In place on `heads` head vectors of width d at `position`.
inline void rotate(const LayerConfig& config, std::vector<double>& v, int64_t heads, int64_t d,
                   int64_t position) {
  if (config.rope_layout == RopeLayout::none) return;
  const RopeSpec spec = rope_spec(config);
  const std::vector<double> inv_freq = spec.inv_freq_table();
  const int64_t half = static_cast<int64_t>(inv_freq.size());  // rotary_dim / 2
  const bool interleaved = config.rope_layout == RopeLayout::interleaved;
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < half; ++i) {
      const double angle = double(position) * inv_freq[i];
      const double c = std::cos(angle) * spec.attention_factor();
      const double s = std::sin(angle) * spec.attention_factor();
      double& a = v[h * d + (interleaved ? 2 * i : i)];
      double& b = v[h * d + (interleaved ? 2 * i + 1 : i + half)];
      const double a0 = a, b0 = b;
      a = a0 * c - b0 * s;
      b = a0 * s + b0 * c;
    }
}

}  // namespace plain_detail

inline RunOutput plain_standard_attention(const LayerConfig& config, const Weights& weights,
                                          const Tensor<double>& x,
                                          const Tensor<int64_t>& positions) {
  namespace pd = plain_detail;
  const int64_t batch = x.dim(0), seq = x.dim(1), hidden = config.hidden_size;
  const int64_t heads = config.n_heads, kv_heads = config.n_kv_heads, d = config.head_dim;
  const int64_t group = heads / kv_heads;
  const int64_t window = config.window().value_or(0);
  RunOutput result{Tensor<double>({batch, seq, hidden}), Tensor<double>({batch, seq, heads}), 0};
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<std::vector<double>> q(seq), k(seq), v(seq);
    for (int64_t s = 0; s < seq; ++s) {
      const double* row = x.data.data() + (b * seq + s) * hidden;
      q[s] = pd::linear(config, weights, "q_proj", row);
      k[s] = pd::linear(config, weights, "k_proj", row);
      v[s] = pd::linear(config, weights, "v_proj", row);
      if (config.qk_norm) {
        const double offset = config.qk_norm_weight_offset, eps = config.rms_norm_eps;
        pd::qk_norm(q[s], heads, d, weights.get("q_norm.weight"), offset, eps);
        pd::qk_norm(k[s], kv_heads, d, weights.get("k_norm.weight"), offset, eps);
      }
      const int64_t position = positions.data[b * seq + s];
      pd::rotate(config, q[s], heads, d, position);
      pd::rotate(config, k[s], kv_heads, d, position);
    }
    for (int64_t i = 0; i < seq; ++i) {
      std::vector<double> concat(heads * d, 0.0);
      for (int64_t h = 0; h < heads; ++h) {
        const int64_t g = h / group;
        std::vector<double> score(i + 1, -INFINITY);
        double max = -INFINITY;
        for (int64_t j = 0; j <= i; ++j) {
          if (window > 0 && j <= i - window) continue;
          double dot = 0;
          for (int64_t e = 0; e < d; ++e) dot += q[i][h * d + e] * k[j][g * d + e];
          score[j] = dot * config.scale();
          max = std::max(max, score[j]);
        }
        double sum = 0;
        for (int64_t j = 0; j <= i; ++j) sum += std::exp(score[j] - max);  // exp(-inf) = 0
        double lse = max + std::log(sum);
        double factor = 1.0;
        if (config.attention_sinks) {
          const double sink = weights.get("sinks").data[h];
          const double with_sink = std::log(std::exp(lse) + std::exp(sink));
          factor = std::exp(lse - with_sink);
          lse = with_sink;
        }
        for (int64_t j = 0; j <= i; ++j) {
          const double p = std::exp(score[j] - max) / sum * factor;
          for (int64_t e = 0; e < d; ++e) concat[h * d + e] += p * v[j][g * d + e];
        }
        result.lse.data[(b * seq + i) * heads + h] = lse;
      }
      const std::vector<double> out = pd::linear(config, weights, "o_proj", concat.data());
      std::copy(out.begin(), out.end(), result.out.data.begin() + (b * seq + i) * hidden);
    }
  }
  return result;
}

}  // namespace attnlab::test
