// The few-rows attention kernel (m <= 8 query rows per key stream: decode of MHA, GQA with
// small groups, MLA naive; see fast_kernels.h). Memory-bound by design: one pass over the keys
// and values serves all m rows, and the next block is prefetched while this one is computed.
//
// Per block of 64 keys: scores of up to 4 rows x 4 keys are accumulated as 16-lane partial dot
// products sharing every key load, then reduced across lanes (reduce4 / combine4) into vectors
// of 16 scores per row; online softmax per row over the 64 (2^x, running max and sum, one
// rescale of the output per block; keys outside a row's [first, limit) masked to -inf, blocks
// before every row's first key skipped); then o_i = o_i * alpha_i + sum_t p_it v_t with up to
// 4 rows x 64 value columns in registers. bf16/fp16 elements are widened as they are loaded:
// each load is shared by all rows, so each element is converted once. A second key segment
// (RowsJob::keys2) adds its dot products to each block's scores (the same score code again).
// Tested by tests/test_cpu_fast.cpp and `attnlab verify`; timed by bench/bench_attention.cpp
// (decode cases).
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernels/cpu/fast_kernels.h"
#include "kernels/cpu/fast_simd.h"

namespace attnlab::cpu::fast {

namespace {

constexpr int kBlock = 64;  // keys per block
constexpr int kSub = 16;    // keys per score vector
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

template <class E>
inline V16 load_full(const E* p) {
  if constexpr (std::is_same_v<E, float>)
    return load(p);
  else
    return load16(p, kAllLanes);
}

// Adds chunk c (16 lanes, masked when Tail) of M rows x 4 keys to the partial dot products.
template <int M, bool Tail, class E>
[[gnu::always_inline]] inline void scores_chunk(const float* const* q, const E* const* k, int64_t c,
                                                Mask mask, V16 (&acc)[M][4]) {
  V16 kv[4];
  for (int r = 0; r < 4; ++r)
    kv[r] = in_register(Tail ? load16(k[r] + 16 * c, mask) : load_full(k[r] + 16 * c));
  for (int i = 0; i < M; ++i) {
    const V16 qv = in_register(Tail ? load(q[i] + 16 * c, mask) : load(q[i] + 16 * c));
    for (int r = 0; r < 4; ++r) acc[i][r] = fma(kv[r], qv, acc[i][r]);
  }
}

// scores[i * 64 + j] = q_i . k_j (Add: += q_i . k_j, a second key segment) for M rows and the
// n <= 64 keys of a block (keys past n repeat key n - 1 and are masked later).
template <int M, bool Add = false, class E>
[[gnu::always_inline]] inline void block_scores(const float* const* q, int64_t dk, const E* keys,
                                                int64_t stride, int n, float* scores,
                                                PrefetchCursor& ahead) {
  const int64_t full = dk / 16;
  const Mask tail = first_lanes(dk - 16 * full);
  for (int sub = 0; sub * kSub < n; ++sub) {
    V16 partial[M][4];
    for (int quad = 0; quad < 4; ++quad) {
      const int first = sub * kSub + quad * 4;
      if (first >= n) {
        for (int i = 0; i < M; ++i) partial[i][quad] = zero();
        continue;
      }
      const E* k[4];
      for (int r = 0; r < 4; ++r) k[r] = keys + std::min(first + r, n - 1) * stride;
      V16 acc[M][4];
      for (int i = 0; i < M; ++i)
        for (int r = 0; r < 4; ++r) acc[i][r] = zero();
      for (int64_t c = 0; c < full; ++c) {
        scores_chunk<M, false>(q, k, c, kAllLanes, acc);
        if ((c & 1) == 0) ahead.step();
      }
      if (tail != 0) scores_chunk<M, true>(q, k, full, tail, acc);
      for (int i = 0; i < M; ++i)
        partial[i][quad] = reduce4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
    }
    for (int i = 0; i < M; ++i) {
      float* s = scores + i * kBlock + sub * kSub;
      const V16 c = combine4(partial[i][0], partial[i][1], partial[i][2], partial[i][3]);
      store(s, Add ? add(load(s), c) : c);
    }
  }
}

// o_i = o_i * alpha_i + sum_{j < n} p[i * 64 + j] * v_j over C <= 4 chunks of 16 columns from
// chunk c0 on, the last one masked by `last` when Tail.
template <int M, int C, bool Tail, class E>
[[gnu::always_inline]] inline void values_chunks(const E* values, int64_t stride, int64_t c0,
                                                 Mask last, int n, const float* p,
                                                 const float* alpha, float* const* o,
                                                 PrefetchCursor& ahead) {
  const auto mask = [&](int c) { return Tail && c == C - 1 ? last : kAllLanes; };
  V16 acc[M][C];
  for (int i = 0; i < M; ++i) {
    const V16 a = set1(alpha[i]);
    for (int c = 0; c < C; ++c) acc[i][c] = mul(load(o[i] + 16 * (c0 + c), mask(c)), a);
  }
  for (int j = 0; j < n; ++j) {
    const E* v = values + j * stride + 16 * c0;
    if ((j & 3) == 0) ahead.step();
    V16 vv[C];
    for (int c = 0; c < C; ++c)
      vv[c] = in_register(Tail && c == C - 1 ? load16(v + 16 * c, last) : load_full(v + 16 * c));
    for (int i = 0; i < M; ++i) {
      const V16 pb = set1(p[i * kBlock + j]);
      for (int c = 0; c < C; ++c) acc[i][c] = fma(pb, vv[c], acc[i][c]);
    }
  }
  for (int i = 0; i < M; ++i)
    for (int c = 0; c < C; ++c) store(o[i] + 16 * (c0 + c), acc[i][c], mask(c));
}

// o_i = o_i * alpha_i + sum_{j < n} p[i * 64 + j] * v_j for M rows, 64 columns at a time.
template <int M, class E>
[[gnu::always_inline]] inline void block_values(const E* values, int64_t stride, int64_t dv, int n,
                                                const float* p, const float* alpha, float* const* o,
                                                PrefetchCursor& ahead) {
  const int64_t chunks = (dv + 15) / 16;
  const Mask last = first_lanes(dv - 16 * (chunks - 1));
  // Whole groups of 4 unmasked chunks, then the rest with the last chunk masked.
  const int64_t plain = last == kAllLanes ? chunks / 4 * 4 : (chunks - 1) / 4 * 4;
  int64_t c0 = 0;
  for (; c0 < plain; c0 += 4)
    values_chunks<M, 4, false>(values, stride, c0, last, n, p, alpha, o, ahead);
  switch (chunks - c0) {
    case 1:
      return values_chunks<M, 1, true>(values, stride, c0, last, n, p, alpha, o, ahead);
    case 2:
      return values_chunks<M, 2, true>(values, stride, c0, last, n, p, alpha, o, ahead);
    case 3:
      return values_chunks<M, 3, true>(values, stride, c0, last, n, p, alpha, o, ahead);
    case 4:
      return values_chunks<M, 4, true>(values, stride, c0, last, n, p, alpha, o, ahead);
    default:
      return;
  }
}

template <class F>
void for_row_quads(int64_t m, F&& f) {
  for (int64_t i0 = 0; i0 < m; i0 += 4) {
    switch (std::min<int64_t>(4, m - i0)) {
      case 1:
        f(i0, std::integral_constant<int, 1>{});
        break;
      case 2:
        f(i0, std::integral_constant<int, 2>{});
        break;
      case 3:
        f(i0, std::integral_constant<int, 3>{});
        break;
      default:
        f(i0, std::integral_constant<int, 4>{});
        break;
    }
  }
}

// The update of a row's running max and sum after a block of masked scores s[u] (log2 units)
// whose largest is `top`; the weights 2^(s - max) go back to scores. Returns the factor the
// row's accumulated output must be scaled by.
[[gnu::always_inline]] inline float softmax_update(float* scores, int subs, const V16* s, V16 top,
                                                   float& row_max, float& row_sum) {
  const float new_max = std::max(row_max, reduce_max(top));
  if (new_max == kNegInf) {  // nothing visible yet
    for (int u = 0; u < subs; ++u) store(scores + u * kSub, zero());
    return 1.0f;
  }
  V16 total = zero();
  for (int u = 0; u < subs; ++u) {  // exp2(-inf) is exactly 0: masked keys weigh nothing
    const V16 p = exp2(sub(s[u], set1(new_max)));
    store(scores + u * kSub, p);
    total = add(total, p);
  }
  const float alpha = row_max == kNegInf ? 0.0f : std::exp2(row_max - new_max);
  row_max = new_max;
  row_sum = row_sum * alpha + reduce_add(total);
  return alpha;
}

// Online softmax of one row over a block of n keys of which the first `visible` count: scores
// (log2 units) in, weights out; updates the row's max and sum and returns the factor its
// accumulated output must be scaled by.
float softmax_block(float* scores, int64_t n, int64_t visible, float& row_max, float& row_sum) {
  const int subs = static_cast<int>((n + kSub - 1) / kSub);
  V16 s[kBlock / kSub];
  V16 top = set1(kNegInf);
  for (int u = 0; u < subs; ++u) {
    s[u] = select(first_lanes(visible - u * kSub), load(scores + u * kSub), set1(kNegInf));
    top = max(top, s[u]);
  }
  return softmax_update(scores, subs, s, top, row_max, row_sum);
}

// softmax_block for the rare block that crosses the row's first key: keys in [hidden, visible)
// count. Kept out of line so that the common block's code is what it was without key ranges.
[[gnu::noinline]] float softmax_block_from(float* scores, int64_t n, int64_t hidden,
                                           int64_t visible, float& row_max, float& row_sum) {
  const int subs = static_cast<int>((n + kSub - 1) / kSub);
  V16 s[kBlock / kSub];
  V16 top = set1(kNegInf);
  for (int u = 0; u < subs; ++u) {
    const Mask seen = first_lanes(visible - u * kSub) & ~first_lanes(hidden - u * kSub);
    s[u] = select(seen, load(scores + u * kSub), set1(kNegInf));
    top = max(top, s[u]);
  }
  return softmax_update(scores, subs, s, top, row_max, row_sum);
}

// Ranged: some row's first key lies past t_begin (a block may cross it). Without, the loop is the
// plain causal one: no per-block test of the first key at all. Two: the job has a second key
// segment (keys2, dk2): each block's scores get q_i[dk:] . keys2 rows added.
template <class E, bool Ranged, bool Two>
void attend_rows(const RowsJob& job, int64_t t_begin, int64_t t_end, const Partial& state) {
  const int64_t m = job.m, dk = job.dk, dv = job.dv, dk2 = Two ? job.dk2 : 0;
  int64_t max_limit = 0, min_first = std::numeric_limits<int64_t>::max();
  for (int64_t i = 0; i < m; ++i) {
    max_limit = std::max(max_limit, job.limit[i]);
    min_first = std::min(min_first, job.first != nullptr ? job.first[i] : 0);
  }
  t_end = std::min(t_end, max_limit);
  // Blocks wholly before every row's first key are skipped (the block grid stays on t_begin).
  if (min_first > t_begin) t_begin += (min_first - t_begin) / kBlock * kBlock;
  float* o[kMaxRowsKernelRows];
  for (int64_t i = 0; i < m; ++i) o[i] = state.o + i * dv;
  // The m query rows times q_scale, once per call (m * dk floats).
  thread_local std::vector<float> scaled;
  const int64_t qw = dk + dk2;
  scaled.resize(m * qw);
  const float* q[kMaxRowsKernelRows];
  const float* q2[kMaxRowsKernelRows];
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t c = 0; c < qw; ++c) scaled[i * qw + c] = job.q[i][c] * job.q_scale;
    q[i] = scaled.data() + i * qw;
    q2[i] = q[i] + dk;
  }
  alignas(64) float scores[kMaxRowsKernelRows * kBlock];
  float alpha[kMaxRowsKernelRows];
  const E* keys = static_cast<const E*>(job.keys.data);
  const E* values = static_cast<const E*>(job.values.data);
  const E* keys2 = static_cast<const E*>(job.keys2.data);
  const int64_t ks = job.keys.stride, vs = job.values.stride, ks2 = job.keys2.stride;
  const int64_t quads = (m + 3) / 4;
  for (int64_t t0 = t_begin; t0 < t_end; t0 += kBlock) {
    const int n = static_cast<int>(std::min<int64_t>(kBlock, t_end - t0));
    // The next block's rows (contiguous: stride = row width in this cache), prefetched a few
    // lines at a time during this block's arithmetic.
    PrefetchCursor k_ahead, v_ahead, k2_ahead;
    const int64_t next = t0 + kBlock;
    if (next < t_end) {
      const int64_t rows = std::min<int64_t>(kBlock, t_end - next);
      const int64_t k_steps = quads * ((n + 15) / 16) * 4 * std::max<int64_t>(1, dk / 32);
      const int64_t v_steps = quads * ((dv + 63) / 64) * ((n + 3) / 4);
      k_ahead = PrefetchCursor(keys + next * ks, rows * ks * int64_t(sizeof(E)), k_steps);
      if constexpr (Two) {
        const int64_t k2_steps = quads * ((n + 15) / 16) * 4 * std::max<int64_t>(1, dk2 / 32);
        k2_ahead = PrefetchCursor(keys2 + next * ks2, rows * ks2 * int64_t(sizeof(E)), k2_steps);
      }
      v_ahead = PrefetchCursor(values + next * vs, rows * vs * int64_t(sizeof(E)), v_steps);
    }
    const E* kb = keys + t0 * ks;
    const E* vb = values + t0 * vs;
    for_row_quads(m, [&](int64_t i0, auto rows) {
      block_scores<decltype(rows)::value>(q + i0, dk, kb, ks, n, scores + i0 * kBlock, k_ahead);
      if constexpr (Two)
        block_scores<decltype(rows)::value, true>(q2 + i0, dk2, keys2 + t0 * ks2, ks2, n,
                                                  scores + i0 * kBlock, k2_ahead);
    });
    for (int64_t i = 0; i < m; ++i) {
      const int64_t visible = std::min<int64_t>(n, job.limit[i] - t0);
      const int64_t hidden = Ranged ? job.first[i] - t0 : 0;
      alpha[i] = !Ranged || hidden <= 0
                     ? softmax_block(scores + i * kBlock, n, visible, state.max[i], state.sum[i])
                     : softmax_block_from(scores + i * kBlock, n, hidden, visible, state.max[i],
                                          state.sum[i]);
    }
    for_row_quads(m, [&](int64_t i0, auto rows) {
      block_values<decltype(rows)::value>(vb, vs, dv, n, scores + i0 * kBlock, alpha + i0, o + i0,
                                          v_ahead);
    });
  }
}

template <class E>
void attend_rows_of(const RowsJob& job, int64_t t_begin, int64_t t_end, const Partial& p) {
  bool ranged = false;
  if (job.first != nullptr)
    for (int64_t i = 0; i < job.m; ++i) ranged |= job.first[i] > t_begin;
  if (job.keys2.data != nullptr)
    return ranged ? attend_rows<E, true, true>(job, t_begin, t_end, p)
                  : attend_rows<E, false, true>(job, t_begin, t_end, p);
  return ranged ? attend_rows<E, true, false>(job, t_begin, t_end, p)
                : attend_rows<E, false, false>(job, t_begin, t_end, p);
}

}  // namespace

void attend_range_rows(const RowsJob& job, int64_t t_begin, int64_t t_end, const Partial& p) {
  switch (job.dtype) {
    case DType::fp32:
      return attend_rows_of<float>(job, t_begin, t_end, p);
    case DType::bf16:
      return attend_rows_of<bf16_t>(job, t_begin, t_end, p);
    case DType::fp16:
      return attend_rows_of<fp16_t>(job, t_begin, t_end, p);
    default:
      return;
  }
}

}  // namespace attnlab::cpu::fast
