// The plain CPU forms of DeepSeek MLA. Both share the front end (MlaFrontEnd): the query from
// q_proj, or q_b_proj(RMSNorm(q_a_proj(x))), split per head into [nope | rope]; the compressed
// kv_a = kv_a_proj_with_mqa(x) = [latent | k_rope], latent RMS-normalised; RoPE on every query
// head's rope part and on the single shared k_rope.
//   naive:  up-project the latent with kv_b_proj into per-head [k_nope | v], cache the full
//           per-head K = [k_nope_h | k_rope] [B, T, H, d_nope + d_rope] and V [B, T, H, d_v],
//           and attend as multi-head attention.
//   absorb: cache only latent [B, T, d_c] and rope key [B, T, d_rope]; fold W_UK into the query
//           (q_abs_h = W_UK_h^T q_nope_h), attend over the latent (MQA with d_c-wide values), then
//           apply W_UV_h and its bias after attention. The kv_b_proj key bias adds q_nope_h .
//           b_UK_h to every score of a query: it cancels in softmax and is kept so the LSE equals
//           naive's.
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "kernels/cpu/cpu_common.h"
#include "kernels/cpu/cpu_forms.h"

namespace attnlab::cpu {

namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
// A [rows, cols] block of a row-major buffer whose rows lie `stride` floats apart (one head's
// columns of a [rows, heads * cols] activation).
using StridedBlock = Eigen::Map<RowMatrix, 0, Eigen::OuterStride<>>;
using ConstStridedBlock = Eigen::Map<const RowMatrix, 0, Eigen::OuterStride<>>;

// What the front end produces for `rows` = batch * seq new tokens.
struct MlaInputs {
  std::vector<float> q;         // [rows, H, d_nope + d_rope], RoPE applied to the rope part
  std::vector<float> latent;    // [rows, d_c], after kv_a_layernorm
  std::vector<float> rope_key;  // [rows, d_rope], after RoPE
};

class MlaFrontEnd {
 public:
  MlaFrontEnd(const LayerConfig& config, const Weights& weights, Fault fault)
      : config_(config), fault_(fault) {
    if (config.q_lora_rank == 0) {
      q_proj_ = Linear::load(config, weights, "q_proj");
    } else {
      q_a_proj_ = Linear::load(config, weights, "q_a_proj");
      if (config.latent_norms) q_a_norm_ = to_float(weights.get("q_a_layernorm.weight"));
      q_b_proj_ = Linear::load(config, weights, "q_b_proj");
    }
    kv_a_proj_ = Linear::load(config, weights, "kv_a_proj_with_mqa");
    if (config.latent_norms) kv_a_norm_ = to_float(weights.get("kv_a_layernorm.weight"));
  }

  MlaInputs project(const float* x, const int64_t* positions, int64_t rows) const {
    MlaInputs in;
    in.q = project_queries(x, rows);
    split_compressed_kv(x, rows, in);
    rope_queries_and_key(positions, rows, in);
    return in;
  }

 private:
  std::vector<float> project_queries(const float* x, int64_t rows) const {
    std::vector<float> q(rows * config_.n_heads * config_.qk_head_dim());
    if (config_.q_lora_rank == 0) {
      q_proj_.apply(x, rows, q.data());
      return q;
    }
    const int64_t rank = config_.q_lora_rank;
    std::vector<float> q_a(rows * rank);
    q_a_proj_.apply(x, rows, q_a.data());
    if (config_.latent_norms)
      rms_norm_rows(q_a.data(), rows, rank, rank, q_a_norm_, config_.rms_norm_eps);
    q_b_proj_.apply(q_a.data(), rows, q.data());
    return q;
  }

  // kv_a = [latent | k_rope] per row; the latent normalised, both parts copied out densely.
  void split_compressed_kv(const float* x, int64_t rows, MlaInputs& in) const {
    const int64_t d_c = config_.kv_lora_rank, d_r = config_.qk_rope_head_dim;
    std::vector<float> kv_a(rows * (d_c + d_r));
    kv_a_proj_.apply(x, rows, kv_a.data());
    if (config_.latent_norms)
      rms_norm_rows(kv_a.data(), rows, d_c, d_c + d_r, kv_a_norm_, config_.rms_norm_eps);
    in.latent.resize(rows * d_c);
    in.rope_key.resize(rows * d_r);
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = kv_a.data() + r * (d_c + d_r);
      std::copy_n(row, d_c, in.latent.data() + r * d_c);
      std::copy_n(row + d_c, d_r, in.rope_key.data() + r * d_r);
    }
  }

  void rope_queries_and_key(const int64_t* positions, int64_t rows, MlaInputs& in) const {
    const RopeLayout layout = rope_layout(config_, fault_);
    if (layout == RopeLayout::none) return;
    const int64_t d_nope = config_.qk_nope_head_dim, d_r = config_.qk_rope_head_dim;
    const int64_t qk = config_.qk_head_dim();
    for (int64_t r = 0; r < rows; ++r) {
      const RopeAngles angles(positions[r], d_r, config_.rope_theta);
      for (int64_t h = 0; h < config_.n_heads; ++h)
        apply_rope(in.q.data() + (r * config_.n_heads + h) * qk + d_nope, angles, layout);
      if (fault_ != Fault::rope_query_only)
        apply_rope(in.rope_key.data() + r * d_r, angles, layout);
    }
  }

  LayerConfig config_;
  Fault fault_;
  Linear q_proj_, q_a_proj_, q_b_proj_, kv_a_proj_;
  std::vector<float> q_a_norm_, kv_a_norm_;
};

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
        front_(config, weights, fault),
        kv_b_proj_(Linear::load(config, weights, "kv_b_proj")),
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
    const MlaInputs in = front_.project(x, positions, rows);
    append_up_projected_kv(in, batch, seq, kv);
    std::vector<float> heads(rows * config_.n_heads * config_.v_head_dim);
    attend(in.q.data(), batch, seq, kv, heads.data(), lse);
    CacheWriter::advance(cache, seq);
    o_proj_.apply(heads.data(), rows, out);
  }

 private:
  // kv_b_proj(latent) per head [k_nope | v]; cache K_h = [k_nope_h | k_rope], V_h = v_h.
  void append_up_projected_kv(const MlaInputs& in, int64_t batch, int64_t seq,
                              NaiveCache& kv) const {
    const int64_t n_heads = config_.n_heads, d_nope = config_.qk_nope_head_dim;
    const int64_t d_r = config_.qk_rope_head_dim, d_v = config_.v_head_dim;
    const int64_t qk = d_nope + d_r, kv_b_width = d_nope + d_v;
    std::vector<float> up(batch * seq * n_heads * kv_b_width);
    kv_b_proj_.apply(in.latent.data(), batch * seq, up.data());
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t s = 0; s < seq; ++s) {
        const int64_t row = b * seq + s, slot = write_slot(kv.length(), s, fault_);
        float* keys = kv.slot(kNaiveKeys, b, slot);
        float* values = kv.slot(kNaiveValues, b, slot);
        for (int64_t h = 0; h < n_heads; ++h) {
          const float* head_up = up.data() + (row * n_heads + h) * kv_b_width;
          std::copy_n(head_up, d_nope, keys + h * qk);
          std::copy_n(in.rope_key.data() + row * d_r, d_r, keys + h * qk + d_nope);
          std::copy_n(head_up + d_nope, d_v, values + h * d_v);
        }
      }
    }
  }

  void attend(const float* q, int64_t batch, int64_t seq, const NaiveCache& kv, float* heads,
              float* lse) const {
    const int64_t n_heads = config_.n_heads, qk = config_.qk_head_dim();
    const int64_t d_v = config_.v_head_dim, length = kv.length();
    const float scale = softmax_scale(config_, fault_);
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t h = 0; h < n_heads; ++h) {
        std::vector<float> scores(length + seq);
        for (int64_t s = 0; s < seq; ++s) {
          const int64_t row_head = (b * seq + s) * n_heads + h;
          const int64_t out_head = (b * seq + s) * n_heads + output_head(h, n_heads, fault_);
          const float* q_head = q + row_head * qk;
          attend_one_query(
              visible_keys(length, s, seq, fault_),
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
  MlaFrontEnd front_;
  Linear kv_b_proj_, o_proj_;
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
        front_(config, weights, fault),
        heads_(split_kv_b_per_head(config, weights)),
        o_proj_(Linear::load(config, weights, "o_proj")),
        owner_("cpu mla absorb attention, latent " + std::to_string(config.kv_lora_rank) +
               " + rope " + std::to_string(config.qk_rope_head_dim)) {}

  std::unique_ptr<KvCache> make_cache(int64_t batch, int64_t capacity) const override {
    check_cache_request(batch, capacity);
    return std::make_unique<AbsorbCache>(
        batch, capacity, owner_,
        std::vector<int64_t>{config_.kv_lora_rank, config_.qk_rope_head_dim});
  }

  void forward(const float* x, const int64_t* positions, int64_t batch, int64_t seq, KvCache& cache,
               float* out, float* lse) const override {
    AbsorbCache& kv = checked_cache<AbsorbCache>(cache, owner_, batch, seq);
    const int64_t rows = batch * seq, n_heads = config_.n_heads;
    const MlaInputs in = front_.project(x, positions, rows);
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
  void append_latent(const MlaInputs& in, int64_t batch, int64_t seq, AbsorbCache& kv) const {
    const int64_t d_c = config_.kv_lora_rank, d_r = config_.qk_rope_head_dim;
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t s = 0; s < seq; ++s) {
        const int64_t row = b * seq + s, slot = write_slot(kv.length(), s, fault_);
        std::copy_n(in.latent.data() + row * d_c, d_c, kv.slot(kLatent, b, slot));
        std::copy_n(in.rope_key.data() + row * d_r, d_r, kv.slot(kRopeKey, b, slot));
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
      Eigen::Map<const RowMatrix> w_uk(heads_[h].w_uk.data(), d_nope, d_c);
      StridedBlock absorbed(q_abs + h * d_c, rows, d_c, Eigen::OuterStride<>(n_heads * d_c));
      absorbed.noalias() = q_nope * w_uk;
      if (heads_[h].b_uk.empty()) continue;
      Eigen::Map<const Eigen::VectorXf> b_uk(heads_[h].b_uk.data(), d_nope);
      Eigen::Map<Eigen::VectorXf, 0, Eigen::InnerStride<>> bias_scores(
          key_bias_score + h, rows, Eigen::InnerStride<>(n_heads));
      bias_scores.noalias() = q_nope * b_uk;
    }
  }

  // latent_heads [rows, H, d_c]: softmax-weighted sums of cached latents.
  void attend(const float* q, const float* q_abs, const float* key_bias_score, int64_t batch,
              int64_t seq, const AbsorbCache& kv, float* latent_heads, float* lse) const {
    const int64_t n_heads = config_.n_heads, d_c = config_.kv_lora_rank;
    const int64_t d_nope = config_.qk_nope_head_dim, d_r = config_.qk_rope_head_dim;
    const int64_t qk = d_nope + d_r, length = kv.length();
    const float scale = softmax_scale(config_, fault_);
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t h = 0; h < n_heads; ++h) {
        std::vector<float> scores(length + seq);
        for (int64_t s = 0; s < seq; ++s) {
          const int64_t row_head = (b * seq + s) * n_heads + h;
          const int64_t out_head = (b * seq + s) * n_heads + output_head(h, n_heads, fault_);
          const float* q_latent = q_abs + row_head * d_c;
          const float* q_rope = q + row_head * qk + d_nope;
          const float bias_score = key_bias_score[row_head];
          auto score_of = [&](int64_t t) {
            return (dot(q_latent, kv.slot(kLatent, b, t), d_c) +
                    dot(q_rope, kv.slot(kRopeKey, b, t), d_r) + bias_score) *
                   scale;
          };
          attend_one_query(
              visible_keys(length, s, seq, fault_), score_of,
              [&](int64_t t) { return kv.slot(kLatent, b, t); }, d_c, scores.data(),
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
      Eigen::Map<const RowMatrix> w_uv(heads_[h].w_uv.data(), d_v, d_c);
      StridedBlock values(heads + h * d_v, rows, d_v, Eigen::OuterStride<>(n_heads * d_v));
      values.noalias() = latent * w_uv.transpose();
      if (!heads_[h].b_uv.empty() && fault_ != Fault::value_bias_unfolded)
        values.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(heads_[h].b_uv.data(), d_v);
    }
  }

  LayerConfig config_;
  Fault fault_;
  MlaFrontEnd front_;
  std::vector<AbsorbedHead> heads_;
  Linear o_proj_;
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
