// The MLA front end shared by both CPU backends; see cpu_mla_front_end.h.
#include "kernels/cpu/cpu_mla_front_end.h"

#include "kernels/cpu/cpu_common.h"
#include "kernels/cpu/fast_linear.h"

namespace attnlab::cpu {

template <class LinearT>
MlaFrontEnd<LinearT>::MlaFrontEnd(const LayerConfig& config, const Weights& weights,
                                  const RopeSpec& rope, bool rope_keys)
    : config_(config), rope_(rope), rope_keys_(rope_keys) {
  if (config.q_lora_rank == 0) {
    q_proj_ = LinearT::load(config, weights, "q_proj");
  } else {
    q_a_proj_ = LinearT::load(config, weights, "q_a_proj");
    if (config.latent_norms) q_a_norm_ = to_float(weights.get("q_a_layernorm.weight"));
    q_b_proj_ = LinearT::load(config, weights, "q_b_proj");
  }
  kv_a_proj_ = LinearT::load(config, weights, "kv_a_proj_with_mqa");
  if (config.latent_norms) {
    const std::vector<float> norm = to_float(weights.get("kv_a_layernorm.weight"));
    for (int64_t j = 0; j < config.n_latent_heads; ++j)
      kv_a_norm_.emplace_back(norm.begin() + j * config.kv_lora_rank,
                              norm.begin() + (j + 1) * config.kv_lora_rank);
  }
}

template <class LinearT>
MlaFrontEndOutput MlaFrontEnd<LinearT>::project(const float* x, const int64_t* positions,
                                                int64_t rows) const {
  const LayerConfig& c = config_;
  const int64_t heads = c.n_heads, qk = c.qk_head_dim(), d_nope = c.qk_nope_head_dim;
  // G latent heads (GLA, GTA lowered to MLA; 1 for DeepSeek): kv_a = [c_1 | .. | c_G | k_rope].
  const int64_t latents = c.n_latent_heads, d_c = c.kv_lora_rank, d_r = c.qk_rope_head_dim;
  const int64_t width = latents * d_c + d_r;
  MlaFrontEndOutput p{std::vector<float>(rows * heads * qk), std::vector<float>(rows * width)};
  if (c.q_lora_rank == 0) {
    q_proj_.apply(x, rows, p.q.data());
  } else {
    std::vector<float> q_a(rows * c.q_lora_rank);
    q_a_proj_.apply(x, rows, q_a.data());
    if (c.latent_norms)
      rms_norm_rows(q_a.data(), rows, c.q_lora_rank, c.q_lora_rank, q_a_norm_, c.rms_norm_eps);
    q_b_proj_.apply(q_a.data(), rows, p.q.data());
  }
  kv_a_proj_.apply(x, rows, p.kv_a.data());
  if (c.latent_norms)  // each latent head over its own d_c, with its own slice of the weight
    for (int64_t j = 0; j < latents; ++j)
      rms_norm_rows(p.kv_a.data() + j * d_c, rows, d_c, width, kv_a_norm_[j], c.rms_norm_eps);
  if (!rope_.rotates()) return p;
#pragma omp parallel for schedule(static) if (rows > 16)
  for (int64_t r = 0; r < rows; ++r) {
    rope_.rotate_heads(p.q.data() + r * heads * qk + d_nope, heads, qk, positions[r]);
    if (rope_keys_)
      rope_.rotate_heads(p.kv_a.data() + r * width + latents * d_c, 1, 0, positions[r]);
  }
  return p;
}

template class MlaFrontEnd<Linear>;
template class MlaFrontEnd<fast::FastLinear>;

}  // namespace attnlab::cpu
