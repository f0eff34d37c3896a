// The attention core of the fast CPU backend, below the Attention classes: rows of queries that
// share one stream of cached keys/values (the g query heads of a KV head times the new tokens;
// MLA absorb: every head of a sequence over the shared latent) attend with an online softmax,
// key range by key range, so that ranges can run on different threads and be merged by
// log-sum-exp (flash-decoding).
//
//   attend_range()  one key range [t_begin, t_end) of one RowsJob, updating a Partial (a job
//                   with a second key segment, GTA's shared rope key: the rows kernel over an
//                   fp32 cache adds q[dk:] . keys2 to each block's scores itself; otherwise its
//                   [keys | keys2] rows are assembled tile by tile, ~32 KiB each, in
//                   thread-local scratch of the cache's element type, each tile run by the
//                   kernel below); picks
//                   the few-rows kernel (m <= 8: fast_kernel_rows.cpp, one pass over the keys
//                   serving all m rows, dot products reduced across lanes) or the lanes kernel
//                   (m > 8: fast_kernel_lanes.cpp, queries in vector lanes, register-blocked
//                   K x Q^T and V^T x P^T micro-kernels over L1/L2-sized key tiles; tiles
//                   outside every row's key range skipped, rows masked only on tiles that
//                   cross their range's ends).
//   merge_partials() combines partials of the same rows over disjoint key ranges and writes
//                   normalised outputs and the natural-log LSE; an attention sink (gpt-oss)
//                   joins here, once per row after every split: one more key of score
//                   sink and value zero.
//   run_core()      the whole core of one forward (fast_core.cpp): every sequence x stream x
//                   row set x key split as OpenMP work items (omp_get_max_threads() threads),
//                   then the merge.
//
// Scores are in log2 units: queries are multiplied by q_scale = softmax_scale * log2(e) as the
// kernels pack them, so the kernels use 2^x; LSE is converted back to natural log at the end. Keys
// and values are read in the cache's storage type (fp32, bf16, fp16) and widened to fp32; all
// accumulation is fp32. Tested directly by tests/test_cpu_fast.cpp ("fast core" cases: uneven
// splits, long ranges).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/cpu/fast_attention.h"
#include "variants/mask.h"

namespace attnlab::cpu::fast {

// One stream of cached rows (e.g. one KV head's keys of one sequence): row t starts at
// data + t * stride elements of the job's dtype.
struct RowStream {
  const void* data = nullptr;
  int64_t stride = 0;
};

struct RowsJob {
  DType dtype = DType::fp32;
  RowStream keys, values;  // values may alias keys (MLA absorb: V = the latent prefix of K)
  int64_t dk = 0, dv = 0;
  // A second key segment (GTA: the one rope key all KV heads share), or data == nullptr: row t's
  // key is then [keys row t (dk) | keys2 row t (dk2)] and q[i] holds dk + dk2 floats.
  RowStream keys2;
  int64_t dk2 = 0;
  int64_t m = 0;                    // query rows
  const float* const* q = nullptr;  // q[i]: dk floats
  float q_scale = 1.0f;             // applied to q first: softmax scale * log2(e)
  const int64_t* first = nullptr;   // row i sees keys [first[i], limit[i]) (mask_spec's
  const int64_t* limit = nullptr;   // KeyRange lo, hi); first == nullptr: all rows from 0
};

// Online-softmax state of m rows: o [m, dv] unnormalised, max [m] (log2 units, -inf before any
// visible key), sum [m] of 2^(score - max).
struct Partial {
  float* o = nullptr;
  float* max = nullptr;
  float* sum = nullptr;
};
void reset_partial(const Partial& p, int64_t m, int64_t dv);

// Attends every row of `job` over keys [t_begin, t_end) clipped to its [first, limit),
// updating p.
void attend_range(const RowsJob& job, int64_t t_begin, int64_t t_end, const Partial& p);

// Combines n partials of the same m rows (disjoint key ranges) and writes out[i] (dv floats)
// and, when lse is non-null and lse[i] non-null, *lse[i] = natural-log LSE of row i. sink2,
// when non-null, is row i's sink logit in log2 units (sink * log2(e)): the softmax of the row
// gets one more term 2^sink2[i] in its denominator (a key whose value is zero), so out[i] is
// scaled by exp(lse - lse') and the LSE written is lse' = log(exp(lse) + exp(sink)).
void merge_partials(const Partial* parts, int n, int64_t m, int64_t dv, float* const* out,
                    float* const* lse, const float* sink2 = nullptr);

// The two kernels behind attend_range (exposed for tests that force one or the other). The rows
// kernel reads a second key segment itself; the lanes kernel reads keys only (a job with keys2
// goes through attend_range, which assembles its tiles).
void attend_range_rows(const RowsJob& job, int64_t t_begin, int64_t t_end, const Partial& p);
void attend_range_lanes(const RowsJob& job, int64_t t_begin, int64_t t_end, const Partial& p);
constexpr int64_t kMaxRowsKernelRows = 8;  // attend_range uses the rows kernel up to this m

// The attention core of one forward over a cache already holding the new tokens.
struct CoreProblem {
  DType dtype = DType::fp32;
  int64_t batch = 0;
  int64_t streams = 0;  // key/value streams per sequence (KV heads; 1 for MLA absorb)
  int64_t group = 0;    // query heads per stream; query head h = stream * group + j
  int64_t seq = 0;      // new tokens of this forward (the last seq cached slots)
  int64_t length = 0;   // cached tokens including the new ones: new token s (slot
                        // length - seq + s) sees mask.keys_for(its slot)
  MaskSpec mask;        // which keys each query sees: mask_spec(config) (variants/mask.h)
  // Stream (b, k) keys start at keys + (b * streams + k) * key_stream_stride elements.
  const void* keys = nullptr;
  int64_t key_stream_stride = 0, key_row_stride = 0;
  const void* values = nullptr;
  int64_t value_stream_stride = 0, value_row_stride = 0;
  int64_t dk = 0, dv = 0;
  // Optional second key segment (RowsJob::keys2): stream (b, k) at keys2 + b * key2_batch_stride
  // + (b * streams + k) * key2_stream_stride elements (key2_stream_stride 0: one segment shared
  // by all the streams of a sequence, GTA's rope key, the sequences key2_batch_stride apart).
  // q rows then hold dk + dk2 floats.
  const void* keys2 = nullptr;
  int64_t key2_stream_stride = 0, key2_batch_stride = 0, key2_row_stride = 0, dk2 = 0;
  // A ring cache (FastCache::ring()): logical slot t is at row t % ring of each stream, key ranges
  // crossing a multiple of ring run as one range per side, merged like key splits. 0: row t.
  int64_t ring = 0;
  const float* q =
      nullptr;  // [batch, rows_seq, streams * group, dk + dk2], new token s at rows_first + s
  float q_scale = 1.0f;    // softmax scale * log2(e) (see above), applied as q is packed
  float* out = nullptr;    // [batch, rows_seq, streams * group, dv]
  float* lse = nullptr;    // [batch, rows_seq, streams * group] natural log, or nullptr
  int64_t rows_seq = 0;    // tokens per sequence in q, out and lse (0: seq)
  int64_t rows_first = 0;  // where the new tokens start in them (a piece of a longer forward)
  // Attention sinks: [streams * group] per query head, on the scale of the scaled scores
  // (natural log, not multiplied by the softmax scale), or nullptr. Applied once per row by
  // merge_partials after the key splits; out and lse include them.
  const float* sinks = nullptr;
  int forced_splits = 0;  // > 0: split every key range this many ways (tests)
};
void run_core(const CoreProblem& problem);

// How run_core splits one row set's keys over threads: the number of ranges for a set seeing
// `keys` keys when `sets` row sets share `threads` threads (1 = no split).
int choose_splits(int64_t keys, int64_t sets, int threads);

}  // namespace attnlab::cpu::fast
