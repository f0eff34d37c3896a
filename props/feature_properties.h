// Property bodies of the model features (docs/CONFIG.md): sliding windows, attention sinks and
// QK-norm, each stated so that a backend which ignores the feature (kernels/cpu Fault
// window_ignored, sink_ignored, qk_norm_skipped) breaks it. Used by props/prop_features.cpp and
// props/prop_fault_detection.cpp; the tolerance policy is properties.h's.
#pragma once

#include <cstdint>

#include "props/generators.h"

namespace attnlab::props {

// 11. Window: replacing token j of sequence b changes no output of a token at or past j + W (its
//     window no longer holds j) — bit-identical on the reference and a row-exact CPU, within the
//     CPU's tolerance otherwise. config must have a window.
void window_hides_old_tokens(const LayerConfig& config, const Case& c, int64_t j, int64_t b,
                             const CpuUnderTest& cpu);

// 12. Sinks: a sink is one more key whose value is zero. With o_proj the identity, every head's
//     output of the layer with sinks is its output without them times exp(lse - lse'), and its
//     LSE lse' = ln(exp(lse) + exp(sinks[h])): the reference and the CPU, each against its own
//     sink-free run. config must be MHA/GQA/MQA with attention_sinks.
void sink_is_a_zero_value_key(const LayerConfig& config, const Case& c, const CpuUnderTest& cpu);

// 13. QK-norm: scaling the q_proj rows (and bias) of each query head, and the k_proj rows of
//     each key head, by its own positive factor changes nothing (rms_norm_eps set to 1e-30 so
//     the invariance is exact to rounding). config must have qk_norm.
void qk_norm_removes_row_scales(const LayerConfig& config, const Case& c, uint64_t factor_seed,
                                const CpuUnderTest& cpu);

}  // namespace attnlab::props
