// The plain CPU form of MHA, GQA and MQA (ImplForm::standard): q/k/v projections through Eigen,
// QK-norm (when configured) then RoPE on every query and key head, the new keys and values
// appended to a K, V cache [B, T, n_kv, d], then attention over the mask's key range per
// (batch, query head) where query head h reads kv head h / (n_heads / n_kv_heads), the head's
// sink (when configured) folded in post hoc, and o_proj over the concatenated heads.
#include <memory>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_common.h"
#include "kernels/cpu/cpu_forms.h"
#include "kernels/cpu/cpu_rope.h"

namespace attnlab::cpu {

namespace {

enum StandardPart : size_t { kKeys = 0, kValues = 1 };

class StandardCache final : public PlainCache {
 public:
  using PlainCache::PlainCache;
};

class StandardAttention final : public Attention {
 public:
  StandardAttention(const LayerConfig& config, const Weights& weights, Fault fault)
      : config_(config),
        fault_(fault),
        q_proj_(Linear::load(config, weights, "q_proj")),
        k_proj_(Linear::load(config, weights, "k_proj")),
        v_proj_(Linear::load(config, weights, "v_proj")),
        o_proj_(Linear::load(config, weights, "o_proj")),
        rope_(rope_spec(config, fault)),
        qk_norm_(config.qk_norm && fault != Fault::qk_norm_skipped),
        q_norm_(qk_norm_ ? qk_norm_weight(config, weights, "q_norm.weight") : std::vector<float>{}),
        k_norm_(qk_norm_ ? qk_norm_weight(config, weights, "k_norm.weight") : std::vector<float>{}),
        sinks_(config.attention_sinks && fault != Fault::sink_ignored
                   ? to_float(weights.get("sinks"))
                   : std::vector<float>{}),
        owner_("cpu standard attention, " + std::to_string(config.n_kv_heads) + " kv heads x " +
               std::to_string(config.head_dim)) {}

  std::unique_ptr<KvCache> make_cache(int64_t batch, int64_t capacity) const override {
    check_cache_request(batch, capacity);
    const int64_t per_token = config_.n_kv_heads * config_.head_dim;
    return std::make_unique<StandardCache>(batch, capacity, owner_,
                                           std::vector<int64_t>{per_token, per_token});
  }

  void forward(const float* x, const int64_t* positions, int64_t batch, int64_t seq, KvCache& cache,
               float* out, float* lse) const override {
    StandardCache& kv = checked_cache<StandardCache>(cache, owner_, batch, seq);
    const int64_t rows = batch * seq;
    std::vector<float> q(rows * config_.n_heads * config_.head_dim);
    project_queries_and_append_kv(x, positions, batch, seq, kv, q.data());
    std::vector<float> heads(rows * config_.n_heads * config_.head_dim);
    attend(q.data(), batch, seq, kv, heads.data(), lse);
    CacheWriter::advance(cache, seq);
    o_proj_.apply(heads.data(), rows, out);
  }

 private:
  // q [rows, H, d] with RoPE applied; the new tokens' roped keys and values written to the
  // cache slots length .. length + seq - 1 of each sequence.
  void project_queries_and_append_kv(const float* x, const int64_t* positions, int64_t batch,
                                     int64_t seq, StandardCache& kv, float* q) const {
    const int64_t rows = batch * seq, d = config_.head_dim;
    const int64_t kv_width = config_.n_kv_heads * d;
    std::vector<float> k(rows * kv_width), v(rows * kv_width);
    q_proj_.apply(x, rows, q);
    k_proj_.apply(x, rows, k.data());
    v_proj_.apply(x, rows, v.data());
    if (qk_norm_) {  // each head over its head_dim, before RoPE
      rms_norm_rows(q, rows * config_.n_heads, d, d, q_norm_, config_.rms_norm_eps);
      rms_norm_rows(k.data(), rows * config_.n_kv_heads, d, d, k_norm_, config_.rms_norm_eps);
    }
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t s = 0; s < seq; ++s) {
        const int64_t row = b * seq + s;
        rope_heads(q + row * config_.n_heads * d, config_.n_heads, positions[row]);
        if (fault_ != Fault::rope_query_only)
          rope_heads(k.data() + row * kv_width, config_.n_kv_heads, positions[row]);
        const int64_t slot = write_slot(kv.length(), s, fault_);
        kv.store(kKeys, b, slot, 0, k.data() + row * kv_width, kv_width);
        kv.store(kValues, b, slot, 0, v.data() + row * kv_width, kv_width);
      }
    }
  }

  // RoPE on `n_heads` consecutive head vectors of width head_dim, all at `position`.
  void rope_heads(float* heads, int64_t n_heads, int64_t position) const {
    if (rope_.rotates()) rope_.rotate_heads(heads, n_heads, config_.head_dim, position);
  }

  // heads [rows, H, d]: each new token's attention over the cache up to and including itself.
  void attend(const float* q, int64_t batch, int64_t seq, const StandardCache& kv, float* heads,
              float* lse) const {
    const int64_t n_heads = config_.n_heads, d = config_.head_dim;
    const int64_t group = n_heads / config_.n_kv_heads;
    const int64_t length = kv.length();
    const float scale = softmax_scale(config_, fault_);
    const MaskSpec mask = mask_spec(config_);
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t h = 0; h < n_heads; ++h) {
        const int64_t kv_offset = (h / group) * d;
        std::vector<float> scores(length + seq);
        for (int64_t s = 0; s < seq; ++s) {
          const int64_t row_head = (b * seq + s) * n_heads + h;
          const int64_t out_head = (b * seq + s) * n_heads + output_head(h, n_heads, fault_);
          const float* q_head = q + row_head * d;
          float head_lse = 0;
          attend_one_query(
              visible_keys(mask, length, s, seq, fault_),
              [&](int64_t t) { return dot(q_head, kv.slot(kKeys, b, t) + kv_offset, d) * scale; },
              [&](int64_t t) { return kv.slot(kValues, b, t) + kv_offset; }, d, scores.data(),
              heads + out_head * d, &head_lse);
          if (!sinks_.empty()) fold_sink(heads + out_head * d, d, &head_lse, sinks_[h]);
          if (lse != nullptr) lse[row_head] = head_lse;
        }
      }
    }
  }

  LayerConfig config_;
  Fault fault_;
  Linear q_proj_, k_proj_, v_proj_, o_proj_;
  CpuRope rope_;                        // rope_spec(config, fault), inverse frequencies taken once
  bool qk_norm_;                        // config.qk_norm, unless Fault::qk_norm_skipped
  std::vector<float> q_norm_, k_norm_;  // q/k norm weights + offset (empty without QK-norm)
  std::vector<float> sinks_;  // [n_heads] sink logits (empty without sinks or with sink_ignored)
  std::string owner_;
};

}  // namespace

std::unique_ptr<Attention> make_standard_attention(const LayerConfig& config,
                                                   const Weights& weights, Fault fault) {
  return std::make_unique<StandardAttention>(config, weights, fault);
}

}  // namespace attnlab::cpu
