// The CUDA backend's forms, one constructor each; cuda_attention.cpp picks among them after
// checking the config, form and weights. Internal to kernels/cuda.
#pragma once

#include <memory>

#include "core/attention.h"
#include "core/layer_config.h"
#include "core/weights.h"
#include "kernels/cuda/cuda_dtype.h"
#include "kernels/cuda/cuda_namespace.h"

ATTNLAB_CUDA_BEGIN

// MHA / GQA / MQA: cache K, V [B, n_kv, T, d]. kernels/cuda/cuda_standard.cpp.
std::unique_ptr<Attention> make_standard_attention(const LayerConfig& config,
                                                   const Weights& weights, DType dtype);
// MLA with G = n_latent_heads latent heads (GLA and GTA arrive lowered to it:
// variants/latent_lowering.h). naive: cache K [B, H, T, d_nope + d_rope], V [B, H, T, d_v].
// kernels/cuda/cuda_mla.cpp.
std::unique_ptr<Attention> make_mla_naive_attention(const LayerConfig& config,
                                                    const Weights& weights, DType dtype);
// MLA absorb: cache latents [B, G, T, d_c] and rope key [B, G or 1, T, d_rope]
// (rope_key_per_latent_head).
// kernels/cuda/cuda_mla.cpp.
std::unique_ptr<Attention> make_mla_absorb_attention(const LayerConfig& config,
                                                     const Weights& weights, DType dtype);

ATTNLAB_CUDA_END
