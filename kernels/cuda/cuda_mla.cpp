// The CUDA forms of DeepSeek MLA. Both share the front end (MlaFrontEnd): the query from q_proj,
// or q_b_proj(RMSNorm(q_a_proj(x))), per head [nope | rope]; the compressed kv_a =
// kv_a_proj_with_mqa(x) = [latent | k_rope] with the latent RMS-normalised; RoPE on every query
// head's rope part and on the one shared k_rope.
//   naive:  kv_b_proj up-projects the latent into per-head [k_nope | v]; the cache holds the
//           full per-head K = [k_nope_h | k_rope] [B, H, T, d_nope + d_rope] and V
//           [B, H, T, d_v]; multi-head attention over it.
//   absorb: the cache holds the latent [B, 1, T, d_c] and the rope key [B, 1, T, d_rope]. W_UK and
//           W_UV (kv_b_proj split per head once at construction: variants/mla_absorb_weights) fold
//           into the query, q_abs_h = q_nope_h W_UK_h (one strided-batched GEMM over heads), and
//           the output, o_h = W_UV_h o_lat_h + b_UV_h; attention is then MQA with key [latent |
//           rope] (d_c + d_rope) and value latent (d_c). The kv_b_proj key bias adds q_nope_h .
//           b_UK_h to every score of a query: it cancels in softmax and is kept so the LSE
//           equals naive's.
#include <memory>
#include <string>

#include "kernels/cuda/cuda_forms.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/cuda_layer.h"
#include "variants/mla_absorb_weights.h"

ATTNLAB_CUDA_BEGIN

namespace {

// The dimensions of one MLA step: rows = batch * seq; qk = d_nope + d_r.
struct MlaDims {
  int64_t rows, heads, d_nope, d_r, d_c, d_v, qk;
  MlaDims(const LayerConfig& c, const DeviceStep& step)
      : rows(step.batch * step.seq),
        heads(c.n_heads),
        d_nope(c.qk_nope_head_dim),
        d_r(c.qk_rope_head_dim),
        d_c(c.kv_lora_rank),
        d_v(c.v_head_dim),
        qk(c.qk_head_dim()) {}
};

// q [rows, H, d_nope + d_rope] (rope part rotated) and kv_a [rows, d_c + d_rope] (latent
// normalised, rope part rotated), both in the workspace.
struct MlaProjected {
  float* q = nullptr;
  float* kv_a = nullptr;
};

class MlaFrontEnd {
 public:
  MlaFrontEnd(const LayerConfig& config, const Weights& weights) : config_(config) {
    if (config.q_lora_rank == 0) {
      q_proj_ = DeviceLinear::load(config, weights, "q_proj");
    } else {
      q_a_proj_ = DeviceLinear::load(config, weights, "q_a_proj");
      if (config.latent_norms)
        q_a_norm_ = upload_tensor(weights.get("q_a_layernorm.weight"), "q_a_layernorm.weight");
      q_b_proj_ = DeviceLinear::load(config, weights, "q_b_proj");
    }
    kv_a_proj_ = DeviceLinear::load(config, weights, "kv_a_proj_with_mqa");
    if (config.latent_norms)
      kv_a_norm_ = upload_tensor(weights.get("kv_a_layernorm.weight"), "kv_a_layernorm.weight");
  }

  MlaProjected project(const Blas& blas, Workspace& ws, const DeviceRope& rope,
                       const DeviceStep& step) const {
    const LayerConfig& c = config_;
    const auto [rows, heads, d_nope, d_r, d_c, d_v, qk] = MlaDims(c, step);
    const auto eps = static_cast<float>(c.rms_norm_eps);
    MlaProjected p;
    p.q = ws.floats(Slot::q, rows * heads * qk);
    if (c.q_lora_rank == 0) {
      q_proj_.apply(blas, step.x, c.hidden_size, rows, p.q);
    } else {
      float* q_a = ws.floats(Slot::q_latent, rows * c.q_lora_rank);
      q_a_proj_.apply(blas, step.x, c.hidden_size, rows, q_a);
      if (c.latent_norms)
        rms_norm(q_a, rows, c.q_lora_rank, c.q_lora_rank, q_a_norm_.floats(), eps);
      q_b_proj_.apply(blas, q_a, c.q_lora_rank, rows, p.q);
    }
    p.kv_a = ws.floats(Slot::kv_a, rows * (d_c + d_r));
    kv_a_proj_.apply(blas, step.x, c.hidden_size, rows, p.kv_a);
    if (c.latent_norms) rms_norm(p.kv_a, rows, d_c, d_c + d_r, kv_a_norm_.floats(), eps);
    rope.apply({p.q, heads * qk, qk, d_nope}, rows, heads, step.positions);
    rope.apply({p.kv_a, d_c + d_r, 0, d_c}, rows, 1, step.positions);
    return p;
  }

 private:
  LayerConfig config_;
  DeviceLinear q_proj_, q_a_proj_, q_b_proj_, kv_a_proj_;
  DeviceBuffer q_a_norm_, kv_a_norm_;
};

// ---------------------------------------------------------------------------------------------
// naive

enum NaivePart : int { kNaiveKeys = 0, kNaiveValues = 1 };

class MlaNaiveAttention final : public CudaAttention {
 public:
  MlaNaiveAttention(const LayerConfig& config, const Weights& weights, DType dtype)
      : CudaAttention(
            config, dtype,
            "cuda mla naive attention, " + std::to_string(config.n_heads) + " heads, k " +
                std::to_string(config.qk_head_dim()) + ", v " + std::to_string(config.v_head_dim),
            {{config.n_heads, config.qk_head_dim()}, {config.n_heads, config.v_head_dim}}),
        front_(config, weights),
        kv_b_proj_(DeviceLinear::load(config, weights, "kv_b_proj")),
        o_proj_(DeviceLinear::load(config, weights, "o_proj")) {}

 private:
  void run_step(const DeviceStep& step) const override {
    const auto [rows, heads, d_nope, d_r, d_c, d_v, qk] = MlaDims(config(), step);
    const int64_t up_width = d_nope + d_v;  // kv_b_proj output per head: [k_nope | v]
    const MlaProjected p = front_.project(blas(), workspace(), rope(), step);

    float* up = workspace().floats(Slot::up, rows * heads * up_width);
    kv_b_proj_.apply(blas(), p.kv_a, d_c + d_r, rows, up);  // the latent: kv_a[:, :d_c]
    CudaCache& cache = *step.cache;
    const int64_t length = cache.length();
    // K_h = [k_nope_h | k_rope]: k_nope from the up-projection, k_rope shared by every head.
    store_tokens(cache.part(kNaiveKeys), length, step.seq, {up, heads * up_width, up_width, 0}, 0,
                 d_nope);
    store_tokens(cache.part(kNaiveKeys), length, step.seq, {p.kv_a, d_c + d_r, 0, d_c}, d_nope,
                 d_r);
    store_tokens(cache.part(kNaiveValues), length, step.seq,
                 {up, heads * up_width, up_width, d_nope}, 0, d_v);

    float* heads_out = workspace().floats(Slot::heads, rows * heads * d_v);
    attend_step(step, {.q = p.q,
                       .key_parts = {kNaiveKeys, 0},
                       .key_part_count = 1,
                       .value_part = kNaiveValues,
                       .heads = heads,
                       .kv_heads = heads,
                       .key_dim = qk,
                       .value_dim = d_v,
                       .out = heads_out});
    o_proj_.apply(blas(), heads_out, heads * d_v, rows, step.out);
  }

  MlaFrontEnd front_;
  DeviceLinear kv_b_proj_, o_proj_;
};

// ---------------------------------------------------------------------------------------------
// absorb

enum AbsorbPart : int { kLatent = 0, kRopeKey = 1 };

// Absorb's per-head products: for every head h, head h of dst [rows, n] = head h of src
// [rows, k] . W_h, W_h = w + h * k * n stored [k, n] (or stored [n, k] and transposed when
// trans_w). One GEMM batched over heads into the dense per-head scratch [H, rows, n] (so that
// the batch's outputs do not interleave), then copied into dst.
void per_head_product(const Blas& blas, float* scratch, const HeadsView& src, int64_t rows,
                      int64_t heads, int64_t k, const float* w, bool trans_w, int64_t n,
                      const HeadsView& dst) {
  RowMajorGemm g;
  g.m = rows;
  g.n = n;
  g.k = k;
  g.a = src.ptr + src.offset;  // head h: + h * head_stride, rows row_stride apart
  g.lda = src.row_stride;
  g.stride_a = src.head_stride;
  g.b = w;
  g.ldb = trans_w ? k : n;
  g.trans_b = trans_w;
  g.stride_b = k * n;
  g.c = scratch;
  g.ldc = n;
  g.stride_c = rows * n;
  g.batch = heads;
  blas.gemm(g);
  copy_heads(dst, {scratch, n, rows * n, 0}, rows, heads, n);
}

class MlaAbsorbAttention final : public CudaAttention {
 public:
  MlaAbsorbAttention(const LayerConfig& config, const Weights& weights, DType dtype)
      : CudaAttention(config, dtype,
                      "cuda mla absorb attention, latent " + std::to_string(config.kv_lora_rank) +
                          " + rope " + std::to_string(config.qk_rope_head_dim),
                      {{1, config.kv_lora_rank}, {1, config.qk_rope_head_dim}}),
        front_(config, weights),
        o_proj_(DeviceLinear::load(config, weights, "o_proj")) {
    const AbsorbedKvB a = attnlab::split_kv_b(config, weights);
    w_uk_ = upload(a.w_uk, "W_UK");
    w_uv_ = upload(a.w_uv, "W_UV");
    if (a.has_bias()) {
      b_uk_ = upload(a.b_uk, "b_UK");
      b_uv_ = upload(a.b_uv, "b_UV");
    }
  }

 private:
  void run_step(const DeviceStep& step) const override {
    const auto [rows, heads, d_nope, d_r, d_c, d_v, qk] = MlaDims(config(), step);
    const int64_t key_dim = d_c + d_r;  // the absorbed query and key: [latent part | rope part]
    const MlaProjected p = front_.project(blas(), workspace(), rope(), step);

    CudaCache& cache = *step.cache;
    store_tokens(cache.part(kLatent), cache.length(), step.seq, {p.kv_a, d_c + d_r, 0, 0}, 0, d_c);
    store_tokens(cache.part(kRopeKey), cache.length(), step.seq, {p.kv_a, d_c + d_r, 0, d_c}, 0,
                 d_r);

    // q_abs [rows, H, d_c + d_r]: q_abs_h[:, :d_c] = q_nope_h [rows, d_nope] . W_UK_h
    // [d_nope, d_c]; q_abs_h[:, d_c:] is q_rope_h.
    float* q_abs = workspace().floats(Slot::q_absorbed, rows * heads * key_dim);
    per_head_product(blas(), workspace().floats(Slot::per_head_q, heads * rows * d_c),
                     {p.q, heads * qk, qk, 0}, rows, heads, d_nope, w_uk_.floats(), false, d_c,
                     {q_abs, heads * key_dim, key_dim, 0});
    copy_heads({q_abs, heads * key_dim, key_dim, d_c}, {p.q, heads * qk, qk, d_nope}, rows, heads,
               d_r);
    float* key_bias = nullptr;
    if (!b_uk_.empty()) {
      key_bias = workspace().floats(Slot::key_bias, rows * heads);
      key_bias_scores(p.q, rows, heads, qk, d_nope, b_uk_.floats(), key_bias);
    }

    float* latent_heads = workspace().floats(Slot::latent_heads, rows * heads * d_c);
    attend_step(step, {.q = q_abs,
                       .score_bias = key_bias,
                       .key_parts = {kLatent, kRopeKey},
                       .key_part_count = 2,
                       .value_part = kLatent,
                       .heads = heads,
                       .kv_heads = 1,
                       .key_dim = key_dim,
                       .value_dim = d_c,
                       .out = latent_heads});

    // heads_out [rows, H, d_v]: heads_out_h = o_lat_h [rows, d_c] . W_UV_h^T (W_UV_h stored
    // [d_v, d_c]), then + b_UV.
    float* heads_out = workspace().floats(Slot::heads, rows * heads * d_v);
    per_head_product(blas(), workspace().floats(Slot::per_head_out, heads * rows * d_v),
                     {latent_heads, heads * d_c, d_c, 0}, rows, heads, d_c, w_uv_.floats(), true,
                     d_v, {heads_out, heads * d_v, d_v, 0});
    if (!b_uv_.empty()) add_bias(heads_out, rows, heads * d_v, b_uv_.floats());
    o_proj_.apply(blas(), heads_out, heads * d_v, rows, step.out);
  }

  MlaFrontEnd front_;
  DeviceLinear o_proj_;
  DeviceBuffer w_uk_, w_uv_, b_uk_, b_uv_;
};

}  // namespace

std::unique_ptr<Attention> make_mla_naive_attention(const LayerConfig& config,
                                                    const Weights& weights, DType dtype) {
  return std::make_unique<MlaNaiveAttention>(config, weights, dtype);
}

std::unique_ptr<Attention> make_mla_absorb_attention(const LayerConfig& config,
                                                     const Weights& weights, DType dtype) {
  return std::make_unique<MlaAbsorbAttention>(config, weights, dtype);
}

ATTNLAB_CUDA_END
