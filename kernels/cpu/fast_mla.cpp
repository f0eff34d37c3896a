// The fast CPU forms of DeepSeek MLA (registry backend "cpu"), with G = n_latent_heads >= 1 latent
// heads (G > 1: GLA and GTA lowered to MLA, variants/latent_lowering.h; head h belongs to latent
// head j = h / (H / G)). The front end, shared with cpu-plain (cpu_mla_front_end.h): the query
// from q_proj, or q_b_proj(RMSNorm(q_a_proj(x))), per head [nope | rope]; kv_a =
// kv_a_proj_with_mqa(x) = [c_1 | .. | c_G | k_rope] with each latent RMS-normalised alone and RoPE
// on k_rope and every query's rope part.
//   naive:  each head's rows of kv_b_proj applied to its latent head's c_j (one FastLinear per
//           latent head over its heads' row block) give [k_nope | v]; cache K_h = [k_nope_h |
//           k_rope] [B, H, capacity, d_nope + d_rope] and V_h [B, H, capacity, d_v]; the core
//           runs it as MHA (H streams, one query head each).
//   absorb: cache the latents themselves; the query becomes [W_UK_h^T q_nope_h | q_rope_h]
//           (W_UK_h split out of kv_b_proj once, at construction), so every head's score is one
//           dot product with a cached row and the value is the row's latent prefix: the core runs
//           G streams, each serving the H / G heads of its latent head (x new tokens) as the rows
//           of one GEMM-shaped pass over that latent, each latent row read once for its whole
//           query group. The rope key, by rope_key_per_latent_head:
//             true (MLA, GLA): one part [B, G, capacity, d_c + d_rope], stream j = [c_j | k_rope]
//               (each latent head keeps its own copy of the rope key);
//             false (GTA, G > 1): parts [B, G, capacity, d_c] and [B, 1, capacity, d_rope], the
//               one rope key the core's second key segment (fast_kernels.h keys2) shared by all G
//               streams.
//           After the core, W_UV_h and its bias per head, then o_proj. kv_b_proj's key bias adds
//           q_nope_h . b_UK_h to every score of a query: it cancels in softmax and is added to
//           the LSE.
// Cache sizes equal cache_layout(config, form)'s elements (variants/variant_spec.h).
// Tested by tests/test_cpu_fast.cpp, tests/test_cpu_fast_latent_groups.cpp and `attnlab verify`;
// timed by bench/bench_attention.cpp.
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "kernels/cpu/cpu_common.h"
#include "kernels/cpu/cpu_mla_front_end.h"
#include "kernels/cpu/fast_cache.h"
#include "kernels/cpu/fast_forms.h"
#include "kernels/cpu/fast_kernels.h"
#include "kernels/cpu/fast_linear.h"
#include "variants/mla_absorb_weights.h"

namespace attnlab::cpu::fast {

namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Block = Eigen::Map<RowMatrix, 0, Eigen::OuterStride<>>;
using ConstBlock = Eigen::Map<const RowMatrix, 0, Eigen::OuterStride<>>;

using FrontEnd = MlaFrontEnd<FastLinear>;

// The cache streams and widths of one core run.
struct CoreStreams {
  int64_t streams, group, dk, dv;
  int key_part, value_part;
  int key2_part = -1;  // >= 0: the second key segment, one stream per sequence (GTA's rope key)
  int64_t dk2 = 0;
};

CoreProblem core_problem(const LayerConfig& config, const FastCache& kv, const CoreStreams& s,
                         int64_t seq, const float* q, float* out, float* lse) {
  CoreProblem p;
  p.dtype = kv.dtype();
  p.batch = kv.batch();
  p.streams = s.streams;
  p.group = s.group;
  p.seq = seq;
  p.length = kv.length();
  p.mask = mask_spec(config);
  p.keys = kv.data(s.key_part);
  p.key_stream_stride = kv.stream_stride(s.key_part);
  p.key_row_stride = kv.row_stride(s.key_part);
  p.values = kv.data(s.value_part);
  p.value_stream_stride = kv.stream_stride(s.value_part);
  p.value_row_stride = kv.row_stride(s.value_part);
  p.dk = s.dk;
  p.dv = s.dv;
  if (s.key2_part >= 0) {
    p.keys2 = kv.data(s.key2_part);
    p.key2_stream_stride = 0;
    p.key2_batch_stride = kv.stream_stride(s.key2_part);
    p.key2_row_stride = kv.row_stride(s.key2_part);
    p.dk2 = s.dk2;
  }
  p.q = q;
  p.q_scale = core_query_factor(config);
  p.out = out;
  p.lse = lse;
  return p;
}

// What naive and absorb share beyond the front end: the benchmark/test hooks.
class FastMlaBase : public FastAttention {
 public:
  FastMlaBase(const LayerConfig& config, const Weights& weights, DType dtype, std::string owner,
              CoreStreams streams)
      : config_(config),
        dtype_(dtype),
        front_(config, weights, attnlab::rope_spec(config)),
        o_proj_(FastLinear::load(config, weights, "o_proj")),
        owner_(std::move(owner)),
        streams_(streams) {}

  int64_t core_query_width() const override { return streams_.dk + streams_.dk2; }
  int64_t core_value_width() const override { return streams_.dv; }
  void attend_core(const float* q, int64_t seq, KvCache& cache, float* out,
                   float* lse) const override {
    FastCache& kv = own_fast_cache(cache, owner_);
    run_core(core_problem(config_, kv, streams_, seq, q, out, lse));
  }
  float cached_value(const KvCache& cache, int part, int64_t b, int64_t head, int64_t t,
                     int64_t i) const override {
    return own_fast_cache(cache, owner_).read(part, b, head, t, i);
  }

 protected:
  LayerConfig config_;
  DType dtype_;
  FrontEnd front_;
  FastLinear o_proj_;
  std::string owner_;
  CoreStreams streams_;
};

std::string owner_name(const char* form, const LayerConfig& c, DType dtype) {
  const std::string latents =
      c.n_latent_heads > 1 ? std::to_string(c.n_latent_heads) + " x " : std::string();
  const char* rope = c.n_latent_heads > 1 && !c.rope_key_per_latent_head ? " (one rope key)" : "";
  return std::string("cpu fast mla ") + form + " attention (" + to_string(dtype) + "), " +
         std::to_string(c.n_heads) + " heads, latent " + latents + std::to_string(c.kv_lora_rank) +
         rope + ", k " + std::to_string(c.qk_head_dim()) + ", v " + std::to_string(c.v_head_dim);
}

// Absorb with G > 1 latent heads and one rope key for all of them (GTA): latent and rope key
// cached apart, the rope key the core's second key segment.
bool shared_rope_key(const LayerConfig& c) {
  return c.n_latent_heads > 1 && !c.rope_key_per_latent_head;
}

// ---------------------------------------------------------------------------------------------
// naive

// kv_b_proj's rows of latent head j's heads (rows [j H/G (d_nope + d_v), (j + 1) H/G (d_nope +
// d_v))), as a projection of that latent head alone.
std::vector<FastLinear> per_latent_head(const FastLinear& kv_b, int64_t latent_heads) {
  std::vector<FastLinear> parts(latent_heads);
  const int64_t rows = kv_b.out_features / latent_heads, in = kv_b.in_features;
  for (int64_t j = 0; j < latent_heads; ++j) {
    FastLinear& part = parts[j];
    part.in_features = in;
    part.out_features = rows;
    part.weight.assign(kv_b.weight.begin() + j * rows * in,
                       kv_b.weight.begin() + (j + 1) * rows * in);
    if (!kv_b.bias.empty())
      part.bias.assign(kv_b.bias.begin() + j * rows, kv_b.bias.begin() + (j + 1) * rows);
  }
  return parts;
}

class FastMlaNaive final : public FastMlaBase {
 public:
  FastMlaNaive(const LayerConfig& c, const Weights& weights, DType dtype)
      : FastMlaBase(c, weights, dtype, owner_name("naive", c, dtype),
                    {c.n_heads, 1, c.qk_head_dim(), c.v_head_dim, 0, 1}),
        kv_b_proj_(per_latent_head(FastLinear::load(c, weights, "kv_b_proj"), c.n_latent_heads)) {}

  std::unique_ptr<KvCache> make_cache(int64_t batch, int64_t capacity) const override {
    check_cache_request(batch, capacity);
    return std::make_unique<FastCache>(
        batch, capacity, owner_, dtype_,
        std::vector<CachePartShape>{{config_.n_heads, config_.qk_head_dim()},
                                    {config_.n_heads, config_.v_head_dim}});
  }

  void forward(const float* x, const int64_t* positions, int64_t batch, int64_t seq, KvCache& cache,
               float* out, float* lse) const override {
    FastCache& kv = checked_fast_cache(cache, owner_, batch, seq);
    const LayerConfig& c = config_;
    const int64_t rows = batch * seq, heads = c.n_heads, d_nope = c.qk_nope_head_dim;
    const int64_t d_c = c.kv_lora_rank, d_r = c.qk_rope_head_dim, d_v = c.v_head_dim;
    const int64_t latents = c.n_latent_heads, group = heads / latents;
    const int64_t width = latents * d_c + d_r, up_width = d_nope + d_v;
    MlaFrontEndOutput p = front_.project(x, positions, rows);
    // up [rows, H, d_nope + d_v]: latent head j's heads from c_j alone.
    std::vector<float> latent(rows * d_c), up_j(rows * group * up_width),
        up(rows * heads * up_width);
    for (int64_t j = 0; j < latents; ++j) {
      for (int64_t r = 0; r < rows; ++r)
        std::copy_n(p.kv_a.data() + r * width + j * d_c, d_c, latent.data() + r * d_c);
      kv_b_proj_[j].apply(latent.data(), rows, up_j.data());
      for (int64_t r = 0; r < rows; ++r)
        std::copy_n(up_j.data() + r * group * up_width, group * up_width,
                    up.data() + (r * heads + j * group) * up_width);
    }
    const int64_t start = kv.length();
#pragma omp parallel for collapse(2) schedule(static) if (rows > 16)
    for (int64_t row = 0; row < rows; ++row)
      for (int64_t h = 0; h < heads; ++h) {
        const int64_t b = row / seq, slot = start + row % seq;
        const float* head_up = up.data() + (row * heads + h) * up_width;
        kv.write(0, b, h, slot, head_up, 0, d_nope);
        kv.write(0, b, h, slot, p.kv_a.data() + row * width + latents * d_c, d_nope, d_r);
        kv.write(1, b, h, slot, head_up + d_nope, 0, d_v);
      }
    CacheWriter::advance(cache, seq);
    std::vector<float> heads_out(rows * heads * d_v);
    run_core(core_problem(c, kv, streams_, seq, p.q.data(), heads_out.data(), lse));
    o_proj_.apply(heads_out.data(), rows, out);
  }

 private:
  std::vector<FastLinear> kv_b_proj_;  // per latent head
};

// ---------------------------------------------------------------------------------------------
// absorb

// The core's streams: one per latent head, serving its H / G heads; keys [c_j | k_rope] in one
// part, or c_j in part 0 and the shared k_rope in part 1 (the second key segment).
CoreStreams absorb_streams(const LayerConfig& c) {
  const int64_t latents = c.n_latent_heads, d_c = c.kv_lora_rank, d_r = c.qk_rope_head_dim;
  if (shared_rope_key(c)) return {latents, c.n_heads / latents, d_c, d_c, 0, 0, 1, d_r};
  return {latents, c.n_heads / latents, d_c + d_r, d_c, 0, 0};
}

class FastMlaAbsorb final : public FastMlaBase {
 public:
  FastMlaAbsorb(const LayerConfig& c, const Weights& weights, DType dtype)
      : FastMlaBase(c, weights, dtype, owner_name("absorb", c, dtype), absorb_streams(c)),
        kv_b_(split_kv_b(c, weights)) {}

  std::unique_ptr<KvCache> make_cache(int64_t batch, int64_t capacity) const override {
    check_cache_request(batch, capacity);
    const int64_t latents = config_.n_latent_heads, d_c = config_.kv_lora_rank;
    const int64_t d_r = config_.qk_rope_head_dim;
    std::vector<CachePartShape> parts{{latents, d_c + d_r}};
    if (shared_rope_key(config_)) parts = {{latents, d_c}, {1, d_r}};
    return std::make_unique<FastCache>(batch, capacity, owner_, dtype_, std::move(parts));
  }

  void forward(const float* x, const int64_t* positions, int64_t batch, int64_t seq, KvCache& cache,
               float* out, float* lse) const override {
    FastCache& kv = checked_fast_cache(cache, owner_, batch, seq);
    const LayerConfig& c = config_;
    const int64_t rows = batch * seq, heads = c.n_heads, d_nope = c.qk_nope_head_dim;
    const int64_t d_c = c.kv_lora_rank, d_r = c.qk_rope_head_dim, qk = d_nope + d_r;
    const int64_t latents = c.n_latent_heads, kv_width = latents * d_c + d_r;
    const int64_t width = d_c + d_r;  // an absorbed query row
    const MlaFrontEndOutput p = front_.project(x, positions, rows);
    const int64_t start = kv.length();
    const bool shared = shared_rope_key(c);
    for (int64_t row = 0; row < rows; ++row) {
      const int64_t b = row / seq, slot = start + row % seq;
      const float* kv_a = p.kv_a.data() + row * kv_width;
      for (int64_t j = 0; j < latents; ++j) {
        kv.write(0, b, j, slot, kv_a + j * d_c, 0, d_c);
        if (!shared) kv.write(0, b, j, slot, kv_a + latents * d_c, d_c, d_r);
      }
      if (shared) kv.write(1, b, 0, slot, kv_a + latents * d_c, 0, d_r);
    }
    CacheWriter::advance(cache, seq);

    // Absorbed queries [rows, H, d_c + d_rope] and the key-bias scores [rows, H].
    std::vector<float> q_full(rows * heads * width), key_bias(rows * heads, 0.0f);
#pragma omp parallel for schedule(static)
    for (int64_t h = 0; h < heads; ++h) {
      ConstBlock q_nope(p.q.data() + h * qk, rows, d_nope, Eigen::OuterStride<>(heads * qk));
      Block absorbed(q_full.data() + h * width, rows, d_c, Eigen::OuterStride<>(heads * width));
      absorbed.noalias() = q_nope * Eigen::Map<const RowMatrix>(kv_b_.w_uk_head(h), d_nope, d_c);
      for (int64_t r = 0; r < rows; ++r)
        std::copy_n(p.q.data() + (r * heads + h) * qk + d_nope, d_r,
                    q_full.data() + (r * heads + h) * width + d_c);
      if (kv_b_.has_bias())
        for (int64_t r = 0; r < rows; ++r)
          key_bias[r * heads + h] =
              Eigen::Map<const Eigen::VectorXf>(p.q.data() + (r * heads + h) * qk, d_nope)
                  .dot(Eigen::Map<const Eigen::VectorXf>(kv_b_.b_uk_head(h), d_nope));
    }
    std::vector<float> latent_out(rows * heads * d_c);
    run_core(core_problem(c, kv, streams_, seq, q_full.data(), latent_out.data(), lse));
    if (lse != nullptr) {
      const float scale = static_cast<float>(c.scale());
      for (int64_t i = 0; i < rows * heads; ++i) lse[i] += scale * key_bias[i];
    }
    std::vector<float> heads_out(rows * heads * c.v_head_dim);
    apply_value_projection(latent_out.data(), rows, heads_out.data());
    o_proj_.apply(heads_out.data(), rows, out);
  }

 private:
  // heads [rows, H, d_v] = W_UV_h o_latent_h + b_UV_h.
  void apply_value_projection(const float* latent, int64_t rows, float* out) const {
    const int64_t heads = config_.n_heads, d_c = config_.kv_lora_rank, d_v = config_.v_head_dim;
#pragma omp parallel for schedule(static)
    for (int64_t h = 0; h < heads; ++h) {
      ConstBlock lat(latent + h * d_c, rows, d_c, Eigen::OuterStride<>(heads * d_c));
      Block values(out + h * d_v, rows, d_v, Eigen::OuterStride<>(heads * d_v));
      values.noalias() =
          lat * Eigen::Map<const RowMatrix>(kv_b_.w_uv_head(h), d_v, d_c).transpose();
      if (kv_b_.has_bias())
        values.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(kv_b_.b_uv_head(h), d_v);
    }
  }

  AbsorbedKvB kv_b_;  // W_UK, W_UV and their biases per head
};

}  // namespace

std::unique_ptr<FastAttention> make_fast_mla_naive(const LayerConfig& config,
                                                   const Weights& weights, DType dtype) {
  return std::make_unique<FastMlaNaive>(config, weights, dtype);
}

std::unique_ptr<FastAttention> make_fast_mla_absorb(const LayerConfig& config,
                                                    const Weights& weights, DType dtype) {
  return std::make_unique<FastMlaAbsorb>(config, weights, dtype);
}

}  // namespace attnlab::cpu::fast
