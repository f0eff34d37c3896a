// The fast CPU form of MHA, GQA and MQA (ImplForm::standard): q/k/v projections (FastLinear),
// QK-norm when configured (QkNorm: RMSNorm of every query and key head, before RoPE), RoPE
// (CpuRope on rope_spec(config)) on every query and key head, the new keys and values
// converted to the cache dtype and appended to the head-major cache (K and V parts,
// [B, n_kv, capacity, d]), then the core (fast_kernels.h run_core: query head h reads KV stream
// h / g, all g heads of a stream served by one pass over it; attention sinks, when configured,
// join each query head's softmax in the core's final merge) and o_proj. A sliding layer's cache
// is a ring of cache_slots(config, capacity) rows (variants/variant_spec.h): a forward of more
// than kRingStepTokens tokens then stores and attends them kRingStepTokens at a time.
// Tested by tests/test_cpu_fast.cpp and `attnlab verify`; timed by bench/bench_attention.cpp.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_common.h"
#include "kernels/cpu/fast_cache.h"
#include "kernels/cpu/fast_forms.h"
#include "kernels/cpu/fast_kernels.h"
#include "kernels/cpu/fast_linear.h"

namespace attnlab::cpu::fast {

namespace {

class FastStandardAttention final : public FastAttention {
 public:
  FastStandardAttention(const LayerConfig& config, const Weights& weights, DType dtype)
      : config_(config),
        dtype_(dtype),
        q_proj_(FastLinear::load(config, weights, "q_proj")),
        k_proj_(FastLinear::load(config, weights, "k_proj")),
        v_proj_(FastLinear::load(config, weights, "v_proj")),
        o_proj_(FastLinear::load(config, weights, "o_proj")),
        rope_(attnlab::rope_spec(config)),
        sinks_(config.attention_sinks ? to_float(weights.get("sinks")) : std::vector<float>{}),
        owner_(std::string("cpu fast standard attention (") + to_string(dtype) + "), " +
               std::to_string(config.n_kv_heads) + " kv heads x " +
               std::to_string(config.head_dim)) {
    if (config.qk_norm) {
      q_norm_ = QkNorm::load(config, weights, "q_norm");
      k_norm_ = QkNorm::load(config, weights, "k_norm");
    }
  }

  std::unique_ptr<KvCache> make_cache(int64_t batch, int64_t capacity) const override {
    check_cache_request(batch, capacity);
    const CachePartShape part{config_.n_kv_heads, config_.head_dim};
    return std::make_unique<FastCache>(
        batch, capacity, owner_, dtype_, std::vector<CachePartShape>{part, part},
        cache_slots(config_, capacity), config_.window().value_or(0));
  }

  void forward(const float* x, const int64_t* positions, int64_t batch, int64_t seq, KvCache& cache,
               float* out, float* lse) const override {
    FastCache& kv = checked_fast_cache(cache, owner_, batch, seq);
    const int64_t rows = batch * seq, heads = config_.n_heads, d = config_.head_dim;
    const int64_t kv_width = config_.n_kv_heads * d;
    std::vector<float> q(rows * heads * d), k(rows * kv_width), v(rows * kv_width);
    q_proj_.apply(x, rows, q.data());
    k_proj_.apply(x, rows, k.data());
    v_proj_.apply(x, rows, v.data());
    if (config_.qk_norm) {
      q_norm_.apply(q.data(), rows * heads);
      k_norm_.apply(k.data(), rows * config_.n_kv_heads);
    }
    rope_rows(rope_, q.data(), rows, heads * d, heads, d, positions);
    rope_rows(rope_, k.data(), rows, kv_width, config_.n_kv_heads, d, positions);
    std::vector<float> heads_out(rows * heads * d);
    // A ring holds the keys of at most kRingStepTokens new tokens' windows: store a piece of
    // that many, attend it, then the next.
    const int64_t step = kv.ring() ? kRingStepTokens : seq;
    for (int64_t first = 0; first < seq; first += step) {
      const int64_t n = std::min(step, seq - first);
      store(kv, k.data(), v.data(), seq, first, n);
      kv.advance(n);
      core(q.data(), seq, first, n, kv, heads_out.data(), lse);
    }
    o_proj_.apply(heads_out.data(), rows, out);
  }

  int64_t core_query_width() const override { return config_.head_dim; }
  int64_t core_value_width() const override { return config_.head_dim; }

  void attend_core(const float* q, int64_t seq, KvCache& cache, float* out,
                   float* lse) const override {
    FastCache& kv = own_fast_cache(cache, owner_);
    kv.check_resident(kv.length() - seq);
    core(q, seq, 0, seq, kv, out, lse);
  }

  float cached_value(const KvCache& cache, int part, int64_t b, int64_t head, int64_t t,
                     int64_t i) const override {
    return own_fast_cache(cache, owner_).read(part, b, head, t, i);
  }

 private:
  // Tokens [first, first + n) of each sequence's `seq` rows of k and v ([batch * seq,
  // n_kv * d]) into the next n cache slots.
  void store(FastCache& kv, const float* k, const float* v, int64_t seq, int64_t first,
             int64_t n) const {
    const int64_t d = config_.head_dim, kv_width = config_.n_kv_heads * d;
    const int64_t start = kv.length(), rows = kv.batch() * n;
#pragma omp parallel for collapse(2) schedule(static) if (rows > 16)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t h = 0; h < config_.n_kv_heads; ++h) {
        const int64_t b = r / n, s = r % n, row = b * seq + first + s;
        kv.write(0, b, h, start + s, k + row * kv_width + h * d, 0, d);
        kv.write(1, b, h, start + s, v + row * kv_width + h * d, 0, d);
      }
  }

  // The core for the last n cached tokens, which are tokens [first, first + n) of the `seq`
  // rows per sequence of q, out and lse.
  void core(const float* q, int64_t seq, int64_t first, int64_t n, const FastCache& kv, float* out,
            float* lse) const {
    CoreProblem p;
    p.dtype = dtype_;
    p.batch = kv.batch();
    p.streams = config_.n_kv_heads;
    p.group = config_.n_heads / config_.n_kv_heads;
    p.seq = n;
    p.rows_seq = seq;
    p.rows_first = first;
    p.ring = kv.ring() ? kv.slots() : 0;
    p.length = kv.length();
    p.mask = mask_spec(config_);
    p.keys = kv.data(0);
    p.key_stream_stride = kv.stream_stride(0);
    p.key_row_stride = kv.row_stride(0);
    p.values = kv.data(1);
    p.value_stream_stride = kv.stream_stride(1);
    p.value_row_stride = kv.row_stride(1);
    p.dk = p.dv = config_.head_dim;
    p.q = q;
    p.q_scale = core_query_factor(config_);
    p.out = out;
    p.lse = lse;
    p.sinks = sinks_.empty() ? nullptr : sinks_.data();
    run_core(p);
  }

  LayerConfig config_;
  DType dtype_;
  FastLinear q_proj_, k_proj_, v_proj_, o_proj_;
  CpuRope rope_;              // rope_spec(config), inverse frequencies taken once
  std::vector<float> sinks_;  // [n_heads] sink logits, or empty without attention_sinks
  QkNorm q_norm_, k_norm_;    // used only with config.qk_norm
  std::string owner_;
};

}  // namespace

std::unique_ptr<FastAttention> make_fast_standard(const LayerConfig& config, const Weights& weights,
                                                  DType dtype) {
  return std::make_unique<FastStandardAttention>(config, weights, dtype);
}

}  // namespace attnlab::cpu::fast
