// The reference's standard form: MHA, GQA and MQA (they differ only in n_kv_heads). Query head h
// reads kv head h / (n_heads / n_kv_heads), consecutive groups as with repeat_interleave; with
// qk_norm every query and key head is RMS-normalised (q_norm / k_norm weights plus
// qk_norm_weight_offset) after its biased projection; RoPE then rotates every query and key head
// (rope_spec: its rotary width) with the token's position id. With attention_sinks, head h's
// softmax also takes the logit sinks[h] (attend_cached_kv).
#include <algorithm>
#include <cmath>
#include <optional>

#include "reference/reference_detail.h"

namespace attnlab::reference::detail {

namespace {

// Rotates each of the `heads` consecutive head vectors of width d in v by RoPE.
void rope_each_head(const LayerConfig& config, std::vector<double>& v, int64_t heads, int64_t d,
                    int64_t position) {
  for (int64_t h = 0; h < heads; ++h) apply_rope(v.data() + h * d, rope_spec(config), position);
}

// QK-norm of each of the `heads` consecutive head vectors x of width d in v, in place:
// x / sqrt(mean(x^2) + eps) * (weight + offset). Elementwise work, not counted by a WorkCounter.
void qk_norm_each_head(std::vector<double>& v, int64_t heads, int64_t d,
                       const Tensor<double>& weight, double offset, double eps) {
  for (int64_t h = 0; h < heads; ++h) {
    double* x = v.data() + h * d;
    double mean_square = 0;
    for (int64_t i = 0; i < d; ++i) mean_square += x[i] * x[i];
    mean_square /= static_cast<double>(d);
    const double rms = std::sqrt(mean_square + eps);
    for (int64_t i = 0; i < d; ++i) x[i] = x[i] / rms * (weight.data[i] + offset);
  }
}

// Projects token (b, s), writes its (normed and) roped key and its value into cache slot
// `slot`, and returns its (normed and) roped query [n_heads * head_dim].
std::vector<double> project_token(const LayerConfig& config, const Weights& weights,
                                  const std::vector<double>& x_row, int64_t position, int64_t b,
                                  int64_t slot, Cache& cache) {
  const int64_t d = config.head_dim, n_kv = config.n_kv_heads;
  std::vector<double> q = project(config, weights, "q_proj", x_row);
  std::vector<double> k = project(config, weights, "k_proj", x_row);
  const std::vector<double> v = project(config, weights, "v_proj", x_row);
  if (config.qk_norm) {
    qk_norm_each_head(q, config.n_heads, d, weights.get("q_norm.weight"),
                      config.qk_norm_weight_offset, config.rms_norm_eps);
    qk_norm_each_head(k, n_kv, d, weights.get("k_norm.weight"), config.qk_norm_weight_offset,
                      config.rms_norm_eps);
  }
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
  const Tensor<double>* sinks = config.attention_sinks ? &weights.get("sinks") : nullptr;
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t s = 0; s < seq; ++s) {
      const std::vector<double>& q = queries[b * seq + s];
      std::vector<double> concat_heads(heads * d);
      std::vector<double> head_lse(heads);
      for (int64_t h = 0; h < heads; ++h) {
        const std::optional<double> sink =
            sinks != nullptr ? std::optional<double>(sinks->data[h]) : std::nullopt;
        const HeadResult head =
            attend_cached_kv(slice(q, h * d, d), cache.parts[0], cache.parts[1], b, h / group,
                             mask.keys_for(old_length + s), config.scale(), sink);
        std::copy(head.output.begin(), head.output.end(), concat_heads.begin() + h * d);
        head_lse[h] = head.lse;
      }
      write_token_result(config, weights, concat_heads, head_lse, b, s, result);
    }
  }
}

}  // namespace attnlab::reference::detail
