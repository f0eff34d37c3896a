// The fast CPU backend's (registry "cpu", namespace attnlab::cpu::fast) forms, one constructor
// each; fast_attention.cpp picks among them. Internal to kernels/cpu.
#pragma once

#include <memory>

#include "core/layer_config.h"
#include "core/weights.h"
#include "kernels/cpu/fast_attention.h"

namespace attnlab::cpu::fast {

// MHA / GQA / MQA: kernels/cpu/fast_standard.cpp.
std::unique_ptr<FastAttention> make_fast_standard(const LayerConfig& config, const Weights& weights,
                                                  DType dtype);
// MLA naive and absorb: kernels/cpu/fast_mla.cpp.
std::unique_ptr<FastAttention> make_fast_mla_naive(const LayerConfig& config,
                                                   const Weights& weights, DType dtype);
std::unique_ptr<FastAttention> make_fast_mla_absorb(const LayerConfig& config,
                                                    const Weights& weights, DType dtype);

}  // namespace attnlab::cpu::fast
