// The plain CPU forms of DeepSeek MLA (registry backend "cpu-plain"), for any number G of latent
// heads (1 for DeepSeek; GLA and GTA lowered to MLA, variants/latent_lowering.h). Both use the
// front end shared with the fast backend (cpu_mla_front_end.h): the query from q_proj, or
// q_b_proj(RMSNorm(q_a_proj(x))), split per head into [nope | rope]; the compressed
// kv_a = kv_a_proj_with_mqa(x) = [c_1 | .. | c_G | k_rope], each latent c_j RMS-normalised; RoPE
// on every query head's rope part and on the single shared k_rope (faults rope_pairs and
// rope_query_only enter as its RopeSpec and rope_keys parameters). Query head h belongs to latent
// head j = h / (H / G) (cpu_common.h latent_head; Fault::latent_group_swapped reads the next).
//   naive:  up-project each latent c_j with its heads' rows of kv_b_proj into per-head
//           [k_nope | v], cache the full per-head K = [k_nope_h | k_rope] [B, T, H, d_nope +
//           d_rope] and V [B, T, H, d_v], and attend as multi-head attention.
//   absorb: cache only the latents [B, T, G, d_c] and the rope key [B, T, G or 1, d_rope] (a copy
//           per latent head when rope_key_per_latent_head, GLA; one for all, GTA); fold W_UK into
//           the query (q_abs_h = W_UK_h^T q_nope_h), attend over latent head j (MQA with d_c-wide
//           values, per group), then apply W_UV_h and its bias after attention. The kv_b_proj key
//           bias adds q_nope_h . b_UK_h to every score of a query: it cancels in softmax and is
//           kept so the LSE equals naive's.
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "kernels/cpu/cpu_common.h"
#include "kernels/cpu/cpu_forms.h"
#include "kernels/cpu/cpu_mla_front_end.h"
#include "variants/mla_absorb_weights.h"

namespace attnlab::cpu {

namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
// A [rows, cols] block of a row-major buffer whose rows lie `stride` floats apart (one head's
// columns of a [rows, heads * cols] activation).
using StridedBlock = Eigen::Map<RowMatrix, 0, Eigen::OuterStride<>>;
using ConstStridedBlock = Eigen::Map<const RowMatrix, 0, Eigen::OuterStride<>>;

using FrontEnd = MlaFrontEnd<Linear>;

// kv_b_proj [H * (d_nope + d_v), d_c] split by rows into G parts, part j the [k_nope ; v] rows of
// the H / G heads of latent head j (with their bias rows).
std::vector<Linear> kv_b_per_latent_head(const LayerConfig& config, const Weights& weights) {
  const Linear whole = Linear::load(config, weights, "kv_b_proj");
  const int64_t latents = config.n_latent_heads, rows = whole.out_features / latents;
  const int64_t cols = whole.in_features;
  std::vector<Linear> parts(latents);
  for (int64_t j = 0; j < latents; ++j) {
    parts[j].in_features = cols;
    parts[j].out_features = rows;
    parts[j].weight.assign(whole.weight.begin() + j * rows * cols,
                           whole.weight.begin() + (j + 1) * rows * cols);
    if (!whole.bias.empty())
      parts[j].bias.assign(whole.bias.begin() + j * rows, whole.bias.begin() + (j + 1) * rows);
  }
  return parts;
}

// ---------------------------------------------------------------------------------------------
// naive

enum NaivePart : size_t { kNaiveKeys = 0, kNaiveValues = 1 };

class NaiveCache final : public PlainCache {
 public:
  using PlainCache::PlainCache;
};

class MlaNaiveAttention final : public Attention {
 public:
  MlaNaiveAttention(const LayerConfig& config, const Weights& weights, Fault fault)
      : config_(config),
        fault_(fault),
        front_(config, weights, rope_spec(config, fault), fault != Fault::rope_query_only),
        kv_b_proj_(kv_b_per_latent_head(config, weights)),
        o_proj_(Linear::load(config, weights, "o_proj")),
        owner_("cpu mla naive attention, " + std::to_string(config.n_heads) + " heads, k " +
               std::to_string(config.qk_head_dim()) + ", v " + std::to_string(config.v_head_dim)) {}

  std::unique_ptr<KvCache> make_cache(int64_t batch, int64_t capacity) const override {
    check_cache_request(batch, capacity);
    return std::make_unique<NaiveCache>(
        batch, capacity, owner_,
        std::vector<int64_t>{config_.n_heads * config_.qk_head_dim(),
                             config_.n_heads * config_.v_head_dim});
  }

  void forward(const float* x, const int64_t* positions, int64_t batch, int64_t seq, KvCache& cache,
               float* out, float* lse) const override {
    NaiveCache& kv = checked_cache<NaiveCache>(cache, owner_, batch, seq);
    const int64_t rows = batch * seq;
    const MlaFrontEndOutput in = front_.project(x, positions, rows);
    append_up_projected_kv(in, batch, seq, kv);
    std::vector<float> heads(rows * config_.n_heads * config_.v_head_dim);
    attend(in.q.data(), batch, seq, kv, heads.data(), lse);
    CacheWriter::advance(cache, seq);
    o_proj_.apply(heads.data(), rows, out);
  }

 private:
  // Per latent head j, its heads' rows of kv_b_proj applied to c_j give each head [k_nope | v];
  // cache K_h = [k_nope_h | k_rope], V_h = v_h.
  void append_up_projected_kv(const MlaFrontEndOutput& in, int64_t batch, int64_t seq,
                              NaiveCache& kv) const {
    const int64_t n_heads = config_.n_heads, d_nope = config_.qk_nope_head_dim;
    const int64_t d_r = config_.qk_rope_head_dim, d_v = config_.v_head_dim;
    const int64_t qk = d_nope + d_r, kv_b_width = d_nope + d_v, rows = batch * seq;
    const int64_t latents = config_.n_latent_heads, group_heads = n_heads / latents;
    const int64_t d_c = config_.kv_lora_rank, kv_a_width = latents * d_c + d_r;
    std::vector<float> up(rows * n_heads * kv_b_width);  // [rows, H, d_nope + d_v]
    std::vector<float> latent(rows * d_c), group_up(rows * group_heads * kv_b_width);
    for (int64_t g = 0; g < latents; ++g) {
      const int64_t j = latent_head(g * group_heads, config_, fault_);
      for (int64_t r = 0; r < rows; ++r)
        std::copy_n(in.kv_a.data() + r * kv_a_width + j * d_c, d_c, latent.data() + r * d_c);
      kv_b_proj_[g].apply(latent.data(), rows, group_up.data());
      for (int64_t r = 0; r < rows; ++r)
        std::copy_n(group_up.data() + r * group_heads * kv_b_width, group_heads * kv_b_width,
                    up.data() + (r * n_heads + g * group_heads) * kv_b_width);
    }
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t s = 0; s < seq; ++s) {
        const int64_t row = b * seq + s, slot = write_slot(kv.length(), s, fault_);
        const float* k_rope = in.kv_a.data() + row * kv_a_width + latents * d_c;
        for (int64_t h = 0; h < n_heads; ++h) {
          const float* head_up = up.data() + (row * n_heads + h) * kv_b_width;
          kv.store(kNaiveKeys, b, slot, h * qk, head_up, d_nope);
          kv.store(kNaiveKeys, b, slot, h * qk + d_nope, k_rope, d_r);
          kv.store(kNaiveValues, b, slot, h * d_v, head_up + d_nope, d_v);
        }
      }
    }
  }

  void attend(const float* q, int64_t batch, int64_t seq, const NaiveCache& kv, float* heads,
              float* lse) const {
    const int64_t n_heads = config_.n_heads, qk = config_.qk_head_dim();
    const int64_t d_v = config_.v_head_dim, length = kv.length();
    const float scale = softmax_scale(config_, fault_);
    const MaskSpec mask = mask_spec(config_);
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t h = 0; h < n_heads; ++h) {
        std::vector<float> scores(length + seq);
        for (int64_t s = 0; s < seq; ++s) {
          const int64_t row_head = (b * seq + s) * n_heads + h;
          const int64_t out_head = (b * seq + s) * n_heads + output_head(h, n_heads, fault_);
          const float* q_head = q + row_head * qk;
          attend_one_query(
              visible_keys(mask, length, s, seq, fault_),
              [&](int64_t t) {
                return dot(q_head, kv.slot(kNaiveKeys, b, t) + h * qk, qk) * scale;
              },
              [&](int64_t t) { return kv.slot(kNaiveValues, b, t) + h * d_v; }, d_v, scores.data(),
              heads + out_head * d_v, lse != nullptr ? lse + row_head : nullptr);
        }
      }
    }
  }

  LayerConfig config_;
  Fault fault_;
  FrontEnd front_;
  std::vector<Linear> kv_b_proj_;  // per latent head: rows of its H / G heads
  Linear o_proj_;
  std::string owner_;
};

// ---------------------------------------------------------------------------------------------
// absorb

enum AbsorbPart : size_t { kLatent = 0, kRopeKey = 1 };

class AbsorbCache final : public PlainCache {
 public:
  using PlainCache::PlainCache;
};

class MlaAbsorbAttention final : public Attention {
 public:
  MlaAbsorbAttention(const LayerConfig& config, const Weights& weights, Fault fault)
      : config_(config),
        fault_(fault),
        front_(config, weights, rope_spec(config, fault), fault != Fault::rope_query_only),
        kv_b_(split_kv_b(config, weights)),
        o_proj_(Linear::load(config, weights, "o_proj")),
        rope_copies_(config.rope_key_per_latent_head ? config.n_latent_heads : 1),
        owner_("cpu mla absorb attention, latent " + std::to_string(config.n_latent_heads) + " x " +
               std::to_string(config.kv_lora_rank) + " + rope " + std::to_string(rope_copies_) +
               " x " + std::to_string(config.qk_rope_head_dim)) {}

  std::unique_ptr<KvCache> make_cache(int64_t batch, int64_t capacity) const override {
    check_cache_request(batch, capacity);
    return std::make_unique<AbsorbCache>(
        batch, capacity, owner_,
        std::vector<int64_t>{config_.n_latent_heads * config_.kv_lora_rank,
                             rope_copies_ * config_.qk_rope_head_dim});
  }

  void forward(const float* x, const int64_t* positions, int64_t batch, int64_t seq, KvCache& cache,
               float* out, float* lse) const override {
    AbsorbCache& kv = checked_cache<AbsorbCache>(cache, owner_, batch, seq);
    const int64_t rows = batch * seq, n_heads = config_.n_heads;
    const MlaFrontEndOutput in = front_.project(x, positions, rows);
    append_latent(in, batch, seq, kv);
    std::vector<float> q_abs(rows * n_heads * config_.kv_lora_rank);
    std::vector<float> key_bias_score(rows * n_heads, 0.0f);
    absorb_key_projection(in.q.data(), rows, q_abs.data(), key_bias_score.data());
    std::vector<float> latent_heads(rows * n_heads * config_.kv_lora_rank);
    attend(in.q.data(), q_abs.data(), key_bias_score.data(), batch, seq, kv, latent_heads.data(),
           lse);
    CacheWriter::advance(cache, seq);
    std::vector<float> heads(rows * n_heads * config_.v_head_dim);
    apply_value_projection(latent_heads.data(), rows, heads.data());
    o_proj_.apply(heads.data(), rows, out);
  }

 private:
  // Latents [G, d_c] as they are; the rope key once per copy (G or 1).
  void append_latent(const MlaFrontEndOutput& in, int64_t batch, int64_t seq,
                     AbsorbCache& kv) const {
    const int64_t d_c = config_.kv_lora_rank, d_r = config_.qk_rope_head_dim;
    const int64_t latent_width = config_.n_latent_heads * d_c;
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t s = 0; s < seq; ++s) {
        const int64_t row = b * seq + s, slot = write_slot(kv.length(), s, fault_);
        const float* kv_a = in.kv_a.data() + row * (latent_width + d_r);
        kv.store(kLatent, b, slot, 0, kv_a, latent_width);
        for (int64_t copy = 0; copy < rope_copies_; ++copy)
          kv.store(kRopeKey, b, slot, copy * d_r, kv_a + latent_width, d_r);
      }
    }
  }

  // q_abs [rows, H, d_c] = W_UK_h^T q_nope_h, and the per-query key-bias score q_nope_h . b_UK_h.
  void absorb_key_projection(const float* q, int64_t rows, float* q_abs,
                             float* key_bias_score) const {
    const int64_t n_heads = config_.n_heads, d_c = config_.kv_lora_rank;
    const int64_t d_nope = config_.qk_nope_head_dim, qk = config_.qk_head_dim();
    for (int64_t h = 0; h < n_heads; ++h) {
      ConstStridedBlock q_nope(q + h * qk, rows, d_nope, Eigen::OuterStride<>(n_heads * qk));
      Eigen::Map<const RowMatrix> w_uk(kv_b_.w_uk_head(h), d_nope, d_c);
      StridedBlock absorbed(q_abs + h * d_c, rows, d_c, Eigen::OuterStride<>(n_heads * d_c));
      absorbed.noalias() = q_nope * w_uk;
      if (!kv_b_.has_bias()) continue;
      Eigen::Map<const Eigen::VectorXf> b_uk(kv_b_.b_uk_head(h), d_nope);
      Eigen::Map<Eigen::VectorXf, 0, Eigen::InnerStride<>> bias_scores(
          key_bias_score + h, rows, Eigen::InnerStride<>(n_heads));
      bias_scores.noalias() = q_nope * b_uk;
    }
  }

  // latent_heads [rows, H, d_c]: softmax-weighted sums of the cached latents of each head's
  // latent head j, scored against latent j and rope key copy j (or the one copy).
  void attend(const float* q, const float* q_abs, const float* key_bias_score, int64_t batch,
              int64_t seq, const AbsorbCache& kv, float* latent_heads, float* lse) const {
    const int64_t n_heads = config_.n_heads, d_c = config_.kv_lora_rank;
    const int64_t d_nope = config_.qk_nope_head_dim, d_r = config_.qk_rope_head_dim;
    const int64_t qk = d_nope + d_r, length = kv.length();
    const float scale = softmax_scale(config_, fault_);
    const MaskSpec mask = mask_spec(config_);
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t h = 0; h < n_heads; ++h) {
        const int64_t j = latent_head(h, config_, fault_);
        const int64_t latent_at = j * d_c, rope_at = (rope_copies_ > 1 ? j : 0) * d_r;
        std::vector<float> scores(length + seq);
        for (int64_t s = 0; s < seq; ++s) {
          const int64_t row_head = (b * seq + s) * n_heads + h;
          const int64_t out_head = (b * seq + s) * n_heads + output_head(h, n_heads, fault_);
          const float* q_latent = q_abs + row_head * d_c;
          const float* q_rope = q + row_head * qk + d_nope;
          const float bias_score = key_bias_score[row_head];
          auto score_of = [&](int64_t t) {
            return (dot(q_latent, kv.slot(kLatent, b, t) + latent_at, d_c) +
                    dot(q_rope, kv.slot(kRopeKey, b, t) + rope_at, d_r) + bias_score) *
                   scale;
          };
          attend_one_query(
              visible_keys(mask, length, s, seq, fault_), score_of,
              [&](int64_t t) { return kv.slot(kLatent, b, t) + latent_at; }, d_c, scores.data(),
              latent_heads + out_head * d_c, lse != nullptr ? lse + row_head : nullptr);
        }
      }
    }
  }

  // heads [rows, H, d_v] = W_UV_h o_latent_h + b_UV_h.
  void apply_value_projection(const float* latent_heads, int64_t rows, float* heads) const {
    const int64_t n_heads = config_.n_heads, d_c = config_.kv_lora_rank;
    const int64_t d_v = config_.v_head_dim;
    for (int64_t h = 0; h < n_heads; ++h) {
      ConstStridedBlock latent(latent_heads + h * d_c, rows, d_c,
                               Eigen::OuterStride<>(n_heads * d_c));
      Eigen::Map<const RowMatrix> w_uv(kv_b_.w_uv_head(h), d_v, d_c);
      StridedBlock values(heads + h * d_v, rows, d_v, Eigen::OuterStride<>(n_heads * d_v));
      values.noalias() = latent * w_uv.transpose();
      if (kv_b_.has_bias() && fault_ != Fault::value_bias_unfolded)
        values.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(kv_b_.b_uv_head(h), d_v);
    }
  }

  LayerConfig config_;
  Fault fault_;
  FrontEnd front_;
  AbsorbedKvB kv_b_;  // W_UK, W_UV and their biases per head
  Linear o_proj_;
  int64_t rope_copies_;  // rope keys cached per token: G (rope_key_per_latent_head) or 1
  std::string owner_;
};

}  // namespace

std::unique_ptr<Attention> make_mla_naive_attention(const LayerConfig& config,
                                                    const Weights& weights, Fault fault) {
  return std::make_unique<MlaNaiveAttention>(config, weights, fault);
}

std::unique_ptr<Attention> make_mla_absorb_attention(const LayerConfig& config,
                                                     const Weights& weights, Fault fault) {
  return std::make_unique<MlaAbsorbAttention>(config, weights, fault);
}

}  // namespace attnlab::cpu
