// The plain CPU backend's ("cpu-plain") forms, one constructor each; cpu_plain_attention.cpp picks
// among them. Internal to kernels/cpu.
#pragma once

#include <memory>

#include "core/attention.h"
#include "core/layer_config.h"
#include "core/weights.h"
#include "kernels/cpu/cpu_plain_attention.h"

namespace attnlab::cpu {

// MHA / GQA / MQA (ImplForm::standard): cache K, V [B, T, n_kv, d]. kernels/cpu/cpu_standard.cpp.
std::unique_ptr<Attention> make_standard_attention(const LayerConfig& config,
                                                   const Weights& weights, Fault fault);
// MLA (any n_latent_heads G; GLA and GTA lowered to MLA) naive: cache full per-head
// K [B, T, H, d_nope + d_rope], V [B, T, H, d_v]. kernels/cpu/cpu_mla.cpp.
std::unique_ptr<Attention> make_mla_naive_attention(const LayerConfig& config,
                                                    const Weights& weights, Fault fault);
// MLA absorb: cache latents [B, T, G, d_c] and rope key [B, T, G or 1, d_rope]
// (rope_key_per_latent_head). kernels/cpu/cpu_mla.cpp.
std::unique_ptr<Attention> make_mla_absorb_attention(const LayerConfig& config,
                                                     const Weights& weights, Fault fault);

}  // namespace attnlab::cpu
