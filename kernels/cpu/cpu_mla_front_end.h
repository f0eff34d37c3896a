// The MLA front end of both CPU backends (cpu-plain's cpu_mla.cpp, the fast backend's
// fast_mla.cpp): everything DeepSeek MLA computes before attention, for `rows` new tokens.
//   query:  q_proj(x), or q_b_proj(RMSNorm_q_a_layernorm(q_a_proj(x))) (the norm only when
//           config.latent_norms), per head [nope | rope];
//   kv_a:   kv_a_proj_with_mqa(x) = [latent | k_rope], the latent RMS-normalised by
//           kv_a_layernorm (when latent_norms); with n_latent_heads G > 1 (GLA/GTA lowered,
//           variants/latent_lowering.h) [c_1 | .. | c_G | k_rope], each c_j normalised alone;
//   RoPE:   on every query head's rope part and on the single shared k_rope, at each row's
//           position (CpuRope, inverse frequencies taken once at construction).
// LinearT is the backend's projection type (cpu::Linear or fast::FastLinear, both with
// load(config, weights, name) and apply(x, rows, y)); cpu_mla_front_end.cpp instantiates both.
// The cpu-plain faults enter as parameters: the RopeSpec (Fault::rope_pairs) and rope_keys =
// false (Fault::rope_query_only: k_rope left unrotated).
#pragma once

#include <cstdint>
#include <vector>

#include "core/layer_config.h"
#include "core/weights.h"
#include "kernels/cpu/cpu_rope.h"
#include "variants/rope.h"

namespace attnlab::cpu {

struct MlaFrontEndOutput {
  std::vector<float> q;     // [rows, H, d_nope + d_rope], RoPE applied to the rope parts
  std::vector<float> kv_a;  // [rows, G d_c + d_rope]: G normalised latents | roped k_rope
};

template <class LinearT>
class MlaFrontEnd {
 public:
  MlaFrontEnd(const LayerConfig& config, const Weights& weights, const RopeSpec& rope,
              bool rope_keys = true);

  MlaFrontEndOutput project(const float* x, const int64_t* positions, int64_t rows) const;

 private:
  LayerConfig config_;
  CpuRope rope_;
  bool rope_keys_;
  LinearT q_proj_, q_a_proj_, q_b_proj_, kv_a_proj_;
  std::vector<float> q_a_norm_;
  std::vector<std::vector<float>> kv_a_norm_;  // per latent head
};

}  // namespace attnlab::cpu
