// The CUDA forms of DeepSeek MLA with G = n_latent_heads latent heads (G = 1: DeepSeek's MLA;
// G > 1: GLA and GTA lowered by variants/latent_lowering.h). Both share the front end
// (MlaFrontEnd): the query from q_proj, or q_b_proj(RMSNorm(q_a_proj(x))), per head
// [nope | rope]; the compressed kv_a = kv_a_proj_with_mqa(x) = [c_1 | .. | c_G | k_rope] with
// each latent c_g RMS-normalised alone by its own d_c slice of kv_a_layernorm; RoPE on every
// query head's rope part and on the one k_rope. Query head h belongs to latent head
// g = h / (H / G).
//   naive:  kv_b_proj's row block g (its H / G heads' [k_nope | v] rows) up-projects c_g, one
//           GEMM per latent head; the cache holds the full per-head K = [k_nope_h | k_rope]
//           [B, H, T, d_nope + d_rope] and V [B, H, T, d_v]; multi-head attention over it.
//   absorb: the cache holds the latents [B, G, T, d_c] and the rope key [B, G, T, d_rope] (a copy
//           per latent head, rope_key_per_latent_head) or [B, 1, T, d_rope] (one shared).
//           W_UK and W_UV (kv_b_proj split per head once at construction:
//           variants/mla_absorb_weights) fold into the query, q_abs_h = q_nope_h W_UK_h (one
//           strided-batched GEMM over heads), and the output, o_h = W_UV_h o_lat_h + b_UV_h;
//           attention is then GQA with G kv heads, key [latent_g | rope] (d_c + d_rope) and
//           value latent_g (d_c). The kv_b_proj key bias adds q_nope_h . b_UK_h to every score
//           of a query: it cancels in softmax and is kept so the LSE equals naive's.
#include <memory>
#include <string>

#include "kernels/cuda/cuda_forms.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/cuda_layer.h"
#include "variants/mla_absorb_weights.h"

ATTNLAB_CUDA_BEGIN

namespace {

// The dimensions of one MLA step: rows = batch * seq; qk = d_nope + d_r; G latent heads of d_c;
// kv_a = G * d_c + d_r, the width of a kv_a row.
struct MlaDims {
  int64_t rows, heads, d_nope, d_r, d_c, d_v, qk, latents, kv_a;
  MlaDims(const LayerConfig& c, const DeviceStep& step)
      : rows(step.batch * step.seq),
        heads(c.n_heads),
        d_nope(c.qk_nope_head_dim),
        d_r(c.qk_rope_head_dim),
        d_c(c.kv_lora_rank),
        d_v(c.v_head_dim),
        qk(c.qk_head_dim()),
        latents(c.n_latent_heads),
        kv_a(c.n_latent_heads * c.kv_lora_rank + c.qk_rope_head_dim) {}
};

// Heads of the rope-key cache part of absorb: one per latent head, or one for all.
int64_t rope_key_heads(const LayerConfig& c) {
  return c.rope_key_per_latent_head ? c.n_latent_heads : 1;
}

// q [rows, H, d_nope + d_rope] (rope part rotated) and kv_a [rows, G * d_c + d_rope] (each
// latent normalised, rope part rotated), both in the workspace.
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
    const auto [rows, heads, d_nope, d_r, d_c, d_v, qk, latents, kv_width] = MlaDims(c, step);
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
    p.kv_a = ws.floats(Slot::kv_a, rows * kv_width);
    kv_a_proj_.apply(blas, step.x, c.hidden_size, rows, p.kv_a);
    if (c.latent_norms)  // c_g alone, by kv_a_layernorm[g * d_c, (g + 1) * d_c)
      for (int64_t g = 0; g < latents; ++g)
        rms_norm(p.kv_a + g * d_c, rows, d_c, kv_width, kv_a_norm_.floats() + g * d_c, eps);
    rope.apply({p.q, heads * qk, qk, d_nope}, rows, heads, step.positions);
    rope.apply({p.kv_a, kv_width, 0, latents * d_c}, rows, 1, step.positions);
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

// up [rows, H * (d_nope + d_v)] = for each latent head g, its heads' block of columns
// [g * n, (g + 1) * n), n = H / G * (d_nope + d_v): c_g [rows, d_c] (kv_a columns
// [g * d_c, (g + 1) * d_c)) times kv_b_proj's row block g [n, d_c] transposed; then the bias.
// One GEMM per latent head, each writing its own column block of up.
void up_project(const Blas& blas, const DeviceLinear& kv_b_proj, const float* kv_a,
                int64_t kv_width, int64_t rows, int64_t latents, int64_t d_c, float* up) {
  const int64_t n = kv_b_proj.out_features / latents;
  for (int64_t g = 0; g < latents; ++g) {
    RowMajorGemm gemm;
    gemm.m = rows;
    gemm.n = n;
    gemm.k = d_c;
    gemm.a = kv_a + g * d_c;
    gemm.lda = kv_width;
    gemm.b = kv_b_proj.weight.floats() + g * n * d_c;
    gemm.ldb = d_c;
    gemm.trans_b = true;
    gemm.c = up + g * n;
    gemm.ldc = kv_b_proj.out_features;
    blas.gemm(gemm);
  }
  if (!kv_b_proj.bias.empty()) add_bias(up, rows, kv_b_proj.out_features, kv_b_proj.bias.floats());
}

class MlaNaiveAttention final : public CudaAttention {
 public:
  MlaNaiveAttention(const LayerConfig& config, const Weights& weights, DType dtype)
      : CudaAttention(
            config, dtype,
            "cuda mla naive attention, " + std::to_string(config.n_heads) + " heads, k " +
                std::to_string(config.qk_head_dim()) + ", v " + std::to_string(config.v_head_dim) +
                ", " + std::to_string(config.n_latent_heads) + " latent heads",
            {{config.n_heads, config.qk_head_dim()}, {config.n_heads, config.v_head_dim}}),
        front_(config, weights),
        kv_b_proj_(DeviceLinear::load(config, weights, "kv_b_proj")),
        o_proj_(DeviceLinear::load(config, weights, "o_proj")) {}

 private:
  void run_step(const DeviceStep& step) const override {
    const auto [rows, heads, d_nope, d_r, d_c, d_v, qk, latents, kv_width] =
        MlaDims(config(), step);
    const int64_t up_width = d_nope + d_v;  // kv_b_proj output per head: [k_nope | v]
    const MlaProjected p = front_.project(blas(), workspace(), rope(), step);

    float* up = workspace().floats(Slot::up, rows * heads * up_width);
    up_project(blas(), kv_b_proj_, p.kv_a, kv_width, rows, latents, d_c, up);
    CudaCache& cache = *step.cache;
    const int64_t length = cache.length();
    // K_h = [k_nope_h | k_rope]: k_nope from the up-projection, k_rope shared by every head.
    store_tokens(cache.part(kNaiveKeys), length, step.seq, {up, heads * up_width, up_width, 0}, 0,
                 d_nope);
    store_tokens(cache.part(kNaiveKeys), length, step.seq, {p.kv_a, kv_width, 0, latents * d_c},
                 d_nope, d_r);
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
                      "cuda mla absorb attention, " + std::to_string(config.n_latent_heads) +
                          " x latent " + std::to_string(config.kv_lora_rank) + " + " +
                          std::to_string(rope_key_heads(config)) + " x rope " +
                          std::to_string(config.qk_rope_head_dim),
                      {{config.n_latent_heads, config.kv_lora_rank},
                       {rope_key_heads(config), config.qk_rope_head_dim}}),
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
    const auto [rows, heads, d_nope, d_r, d_c, d_v, qk, latents, kv_width] =
        MlaDims(config(), step);
    const int64_t key_dim = d_c + d_r;  // the absorbed query and key: [latent part | rope part]
    const MlaProjected p = front_.project(blas(), workspace(), rope(), step);

    // Latent head g gets c_g; the rope key (one vector per token) goes to every head of its part.
    CudaCache& cache = *step.cache;
    store_tokens(cache.part(kLatent), cache.length(), step.seq, {p.kv_a, kv_width, d_c, 0}, 0, d_c);
    store_tokens(cache.part(kRopeKey), cache.length(), step.seq,
                 {p.kv_a, kv_width, 0, latents * d_c}, 0, d_r);

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
                       .kv_heads = latents,
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
