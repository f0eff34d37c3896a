// The bodies of attnlab's properties, shared by the property programs (props/prop_*.cpp) and by
// props/prop_fault_detection.cpp, which runs the same bodies against a plain CPU backend with a
// deliberate cpu::Fault to show that each property catches the bug it is meant to catch. Every
// body takes already-generated inputs (config, case, ...), runs them, and fails the enclosing
// rapidcheck property through RC_ASSERT / RC_FAIL. The CPU implementation under test is a
// CpuUnderTest (generators.h): each registered CPU backend and cache dtype, or the plain backend
// with a fault; its comparisons use tolerance_for(cpu.dtype).
#pragma once

#include <cstdint>
#include <vector>

#include "props/generators.h"

namespace attnlab::props {

// 1. MLA absorb == naive. Reference: outputs and LSE within the fp64 tolerance, prefill after
//    context and token-by-token decode. CPU: absorb vs naive of the same backend, fp32 tolerance.
void absorb_equals_naive_reference(const LayerConfig& config, const Case& c);
void absorb_equals_naive_cpu(const LayerConfig& config, const Case& c, const CpuUnderTest& cpu);

// 2. RoPE. Shifting every position by `shift` leaves outputs and LSE unchanged (only relative
//    positions enter the scores); on the reference within kShiftBound (see properties.cpp), on the
//    CPU within the fp32 tolerance. The two layouts compute the same layer once
//    swap_rope_layout() has permuted the q/k rows.
void rope_shift_invariance_reference(const LayerConfig& config, const Case& c, int64_t shift);
void rope_shift_invariance_cpu(const LayerConfig& config, const Case& c, int64_t shift,
                               const CpuUnderTest& cpu);
void rope_layout_swap(const LayerConfig& config, const Case& c, const CpuUnderTest& cpu);
// reference::apply_rope preserves the norm of v, is the identity at position 0, and rotating by
// p then q equals rotating by p + q.
void rope_rotation_laws(const std::vector<double>& v, int64_t p, int64_t q, RopeLayout layout,
                        double theta);

// 3. GQA with n_kv = n_heads is MHA and GQA with n_kv = 1 is MQA (same weights, relabelled:
//    bit-identical), and gqa_as_mha() computes the original layer.
void gqa_special_cases(const LayerConfig& config, const Case& c, const CpuUnderTest& cpu);

// 4. Token-by-token decode and chunked prefill (chunks, e.g. from gen_chunks) equal one prefill:
//    the CPU against itself and against the reference, and the reference against itself.
void decode_equals_prefill(const LayerConfig& config, const Case& c, const CpuUnderTest& cpu);
void chunked_equals_prefill(const LayerConfig& config, const Case& c,
                            const std::vector<int64_t>& chunks, const CpuUnderTest& cpu);

// 5. Causality: replacing token j of sequence b leaves every output before j unchanged.
void causality(const LayerConfig& config, const Case& c, int64_t j, int64_t b,
               const CpuUnderTest& cpu);

// 6. Batch independence: a sequence's outputs do not depend on its batch neighbours.
void batch_independence(const LayerConfig& config, const Case& c, const CpuUnderTest& cpu);

// 7. MLA naive (latent_norms off, rope dim 0, d_nope == d_v) equals the MHA of mla_as_mha().
void mla_as_mha_equivalence(const LayerConfig& config, const Case& c, const CpuUnderTest& cpu);

// 8. A GQA/MHA/MQA layer without RoPE equals its TransMLA form gqa_as_mla(), naive and absorb.
void gqa_as_mla_equivalence(const LayerConfig& config, const Case& c, const CpuUnderTest& cpu);

// 9. Head-sharded tensor parallelism: the sum of the ranks' outputs is the layer's output and the
//    ranks' LSEs, concatenated, are its LSE.
void sharded_sum(const LayerConfig& config, const Case& c, int64_t world_size,
                 const CpuUnderTest& cpu);
// The world sizes in {1, 2, 3, 4} that shard_heads accepts for this config.
std::vector<int64_t> valid_world_sizes(const LayerConfig& config);

// 10. Every implementation (skipping unsupported ones), both phases, against the fp64 reference of
//     the defining form, judged with tolerance_for(impl.dtype) as `attnlab verify` does.
void conformance(const std::vector<Implementation>& impls, const LayerConfig& config,
                 const Case& c);

}  // namespace attnlab::props
