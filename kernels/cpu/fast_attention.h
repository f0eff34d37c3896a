// The fast CPU backend ("cpu" in the registry, namespace attnlab::cpu::fast; the plain one is
// "cpu-plain", namespace attnlab::cpu): every form
// (standard MHA/GQA/MQA, MLA naive, MLA absorb; GLA and GTA lowered to MLA with grouped latent
// heads, variants/latent_lowering.h), both phases, a KV cache stored in fp32, bf16 or
// fp16 with fp32 accumulation, OpenMP threads (omp_get_max_threads()).
//
//   decode   flash-decoding: each KV stream's keys split into ranges across threads, online
//            softmax per range, partials merged by log-sum-exp; GQA/MQA serve all g query heads
//            of a KV head from one pass over its cache; MLA absorb runs the heads of each latent
//            head (all of them for MLA) as one GEMM-shaped pass over its latent cache (scores =
//            Q_abs C^T + Q_rope K_rope^T, then P C) in L2-sized key tiles.
//   prefill  tiled flash attention over the cache (new tokens included): queries in vector
//            lanes, online softmax per key tile, tiles past a query block's causal limit skipped;
//            the S x S score matrix is never formed.
//   weights  projections through Eigen (fast_linear.h), absorbed per-head W_UK / W_UV split out
//            once at construction.
//   cache    head-major [B, heads, capacity, width] per part (standard: K and V per KV head;
//            naive: K and V per head; absorb: one part [B, G, capacity, d_c + d_rope] holding
//            [latent j | rope key] per latent head j, so V is the latent prefix of each K row,
//            or with one rope key for all G > 1 latent heads (GTA) parts [B, G, capacity, d_c]
//            and [B, 1, capacity, d_rope], the core's second key segment); bytes_allocated()
//            equals the analytic size for the dtype; never-written slots hold NaN. A sliding
//            layer's standard cache is a ring of cache_slots(config, capacity) rows
//            (variants/variant_spec.h), forwards stored and attended kRingStepTokens at a time.
//   features QK-norm before RoPE, attention sinks joined in the core's final merge.
//
// Files: fast_simd.h (vectors, bf16/fp16), fast_kernels.h (+ fast_kernel_rows.cpp,
// fast_kernel_lanes.cpp, fast_core.cpp: the attention core), fast_cache.h/.cpp, fast_linear.h/.cpp
// (projections, RoPE, RMSNorm), fast_standard.cpp, fast_mla.cpp.
// Tests: tests/test_cpu_fast.cpp and `attnlab verify` (every registered dtype). Benchmarks:
// bench/bench_attention.cpp (`build/bench/bench_attention`, see README "Performance (CPU)").
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/attention.h"
#include "core/dtype.h"
#include "core/layer_config.h"
#include "core/weights.h"
#include "variants/variant_spec.h"

namespace attnlab::cpu::fast {

// An Attention of the fast backend, with the hooks benchmarks and tests need beyond forward().
// Long contexts for benchmarks come from KvCache::fill_synthetic (the fast cache implements it:
// values with mean 0 and variance 1, as projected keys/values would be) and KvCache::rewind.
class FastAttention : public Attention {
 public:
  // Width of one prepared query row of the core and of one core output row (per head):
  // standard d / d; naive d_nope + d_rope / d_v; absorb d_c + d_rope / d_c.
  virtual int64_t core_query_width() const = 0;
  virtual int64_t core_value_width() const = 0;
  // Only the attention core over the cache for its last `seq` cached tokens (causal among
  // them): q [batch, seq, H, core_query_width()] already projected, roped (and absorbed),
  // out [batch, seq, H, core_value_width()] (absorb: the latent output before W_UV), lse
  // [batch, seq, H] or nullptr. No projections, no cache writes.
  virtual void attend_core(const float* q, int64_t seq, KvCache& cache, float* out,
                           float* lse) const = 0;
  // One cached element as fp32 (tests): part 0 = K (absorb: [latent j | rope] of latent head
  // `head`; GTA: latent j alone), 1 = V (GTA absorb: the shared rope key, head 0).
  virtual float cached_value(const KvCache& cache, int part, int64_t b, int64_t head, int64_t t,
                             int64_t i) const = 0;
};

// Throws attnlab::Error if `form` does not apply to the config or the weights do not match.
std::unique_ptr<FastAttention> make_fast_attention(const LayerConfig& config,
                                                   const Weights& weights, ImplForm form,
                                                   DType dtype);

}  // namespace attnlab::cpu::fast
