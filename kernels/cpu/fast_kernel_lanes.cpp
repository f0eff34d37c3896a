// The lanes attention kernel (m > 8 query rows per key stream: prefill, chunked prefill, MQA
// and large-group GQA decode, MLA absorb decode with all heads over the shared latent; see
// fast_kernels.h). Compute-bound by design: the queries sit in vector lanes, so every key and
// value element read from the cache feeds 16 * NQ lanes at once.
//
// Rows are cut into groups of up to 64 (NQ = 1..4 vectors of 16 lanes). Per group: Q^T packed
// once [dk, 16 NQ] (16 x 16 register transposes, times q_scale); the output kept transposed,
// O^T [dv, 16 NQ] (16-lane groups: O [16, dv], see micro_values_by_lane). Keys run in tiles of 64
// rows, widened to fp32 once per tile when the cache is bf16/fp16 and shared by every group, the
// next tile prefetched during this one:
//   S^T[t, lanes] = sum_k K[t, k] Q^T[k, lanes]      micro-kernel R keys x NQ vectors
//   online softmax per lane (vertical max / sum over the tile, 2^x, mask per lane only on
//   tiles that cross a row's first key or limit; tiles outside every row's [first, limit) are
//   skipped)
//   O^T[j, lanes] = alpha * O^T[j, lanes] + sum_t V[t, j] P^T[t, lanes]   R columns x NQ vectors
// Both micro-kernels broadcast one cache element per FMA row against NQ vectors of lanes, with
// R * NQ accumulators in registers (16..24), no horizontal reductions.
// Tested by tests/test_cpu_fast.cpp and `attnlab verify`; timed by bench/bench_attention.cpp
// (prefill, MLA absorb decode).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/fast_kernels.h"
#include "kernels/cpu/fast_simd.h"

namespace attnlab::cpu::fast {

namespace {

constexpr int kTile = 64;          // keys per tile
constexpr int kMaxGroupRows = 64;  // rows (lanes) per group: NQ <= 4
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Rows of the register block per NQ: R * NQ = 16..24 accumulators (tuned on Zen 5: 64 lanes
// with R = 6 run at ~93% of one core's FMA peak, 16 lanes with R = 16 at ~75%).
template <int NQ>
constexpr int block_rows() {
  return NQ == 1 ? 16 : NQ == 2 ? 12 : NQ == 3 ? 8 : 6;
}

struct Group {
  int64_t r0 = 0;
  int nr = 0, nq = 0;
  float *qt = nullptr, *ot = nullptr, *max = nullptr, *sum = nullptr;
  int32_t *first = nullptr, *limit = nullptr;  // per lane: key range [first, limit)
  int64_t lo = 0, hi = 0;                      // smallest and largest limit of its rows
  int64_t first_lo = 0, first_hi = 0;          // smallest and largest first key of its rows
};

struct LanesScratch {
  std::vector<float> qt, ot, state, s, keys, values;
  std::vector<int32_t> first, limit;
  std::vector<Group> groups;
};
LanesScratch& scratch() {
  thread_local LanesScratch s;
  return s;
}

// Work on the next tile spread over this tile's micro-kernel calls (one step() after each): the
// prefetch of its cache rows and, for bf16/fp16 caches, widening rows of the tile after this one
// into the other half of a double buffer, so that the conversion overlaps the FMA-bound
// micro-kernels instead of running as a separate pass (measured ~10% of an MLA absorb step).
struct WidenCursor {
  void (*widen_row)(const void* src, float* dst, int64_t width) = nullptr;
  const char* src = nullptr;
  int64_t src_stride = 0;  // bytes
  float* dst = nullptr;
  int64_t dst_stride = 0, width = 0, row = 0, rows = 0, per_step = 0;
  void step() {
    for (int64_t i = 0; i < per_step && row < rows; ++i, ++row)
      widen_row(src + row * src_stride, dst + row * dst_stride, width);
  }
  void finish() {
    for (; row < rows; ++row) widen_row(src + row * src_stride, dst + row * dst_stride, width);
  }
};

struct TileAhead {
  PrefetchCursor prefetch[2];
  WidenCursor widen[2];
  void step() {
    prefetch[0].step();
    prefetch[1].step();
    widen[0].step();
    widen[1].step();
  }
};

template <class E>
void widen_row(const void* src, float* dst, int64_t width) {
  widen(static_cast<const E*>(src), dst, width);
}

// S^T[r, lanes] = K[r, :] . Q^T[:, lanes] for R rows.
template <int R, int NQ>
void micro_scores(const float* k, int64_t ks, int64_t dk, const float* qt, float* s) {
  constexpr int W = 16 * NQ;
  V16 acc[R][NQ];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < NQ; ++c) acc[r][c] = zero();
  for (int64_t kk = 0; kk < dk; ++kk) {
    V16 qv[NQ];
    for (int c = 0; c < NQ; ++c) qv[c] = in_register(load(qt + kk * W + 16 * c));
    for (int r = 0; r < R; ++r) {
      const V16 b = set1(k[r * ks + kk]);
      for (int c = 0; c < NQ; ++c) acc[r][c] = fma(b, qv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < NQ; ++c) store(s + r * W + 16 * c, acc[r][c]);
}

// O^T[j0 + r, lanes] = alpha * O^T[j0 + r, lanes] + sum_t V[t, j0 + r] P^T[t, lanes].
template <int R, int NQ>
void micro_values(const float* v, int64_t vs, int64_t n, int64_t j0, const float* p, float* ot,
                  const V16* alpha) {
  constexpr int W = 16 * NQ;
  V16 acc[R][NQ];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < NQ; ++c) acc[r][c] = mul(load(ot + (j0 + r) * W + 16 * c), alpha[c]);
  for (int64_t t = 0; t < n; ++t) {
    V16 pv[NQ];
    for (int c = 0; c < NQ; ++c) pv[c] = in_register(load(p + t * W + 16 * c));
    const float* vt = v + t * vs + j0;
    for (int r = 0; r < R; ++r) {
      const V16 b = set1(vt[r]);
      for (int c = 0; c < NQ; ++c) acc[r][c] = fma(b, pv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < NQ; ++c) store(ot + (j0 + r) * W + 16 * c, acc[r][c]);
}

// 16-lane groups (NQ = 1: e.g. MLA absorb decode with 16 heads) keep their output row-major,
// O[lane, dv], and add P V with value columns in the vector lanes instead:
//   O[h0 + r, cols] = alpha[h0 + r] * O[h0 + r, cols] + sum_t P^T[t, h0 + r] V[t, cols]
// for 4 rows x 4 vectors of columns (4 loads and 4 broadcasts per 16 FMAs, where the lanes
// form would need 16 broadcasts); C vectors of 16 columns from column j0, the last masked by
// `last` when Tail.
template <int C, bool Tail>
void micro_values_by_lane(const float* v, int64_t vs, int64_t n, int64_t j0, int h0, const float* p,
                          float* o, int64_t dv, const float* alpha, Mask last) {
  constexpr int R = 4;
  const auto mask = [&](int c) { return Tail && c == C - 1 ? last : kAllLanes; };
  V16 acc[R][C];
  for (int r = 0; r < R; ++r) {
    const V16 a = set1(alpha[h0 + r]);
    for (int c = 0; c < C; ++c) acc[r][c] = mul(load(o + (h0 + r) * dv + j0 + 16 * c, mask(c)), a);
  }
  for (int64_t t = 0; t < n; ++t) {
    const float* vt = v + t * vs + j0;
    V16 vv[C];
    for (int c = 0; c < C; ++c)
      vv[c] = in_register(Tail && c == C - 1 ? load(vt + 16 * c, last) : load(vt + 16 * c));
    for (int r = 0; r < R; ++r) {
      const V16 b = set1(p[t * 16 + h0 + r]);
      for (int c = 0; c < C; ++c) acc[r][c] = fma(b, vv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) store(o + (h0 + r) * dv + j0 + 16 * c, acc[r][c], mask(c));
}

// Online softmax over the n rows of a score tile, in place; alpha[c] gets the rescale factor
// of the lanes' accumulated outputs. `masked`: the tile crosses some lane's limit (keys at or
// past it masked); `masked_below`: it crosses some lane's first key (keys before it masked).
// Tiles inside every lane's range take neither.
template <int NQ>
void tile_softmax(float* s, int64_t n, int64_t t0, const Group& g, bool masked, bool masked_below,
                  V16* alpha) {
  constexpr int W = 16 * NQ;
  for (int c = 0; c < NQ; ++c) {
    V16 tile_max = set1(kNegInf);
    for (int64_t j = 0; j < n; ++j) {
      V16 x = load(s + j * W + 16 * c);
      if (masked) {
        x = select(lanes_above(g.limit + 16 * c, t0 + j), x, set1(kNegInf));
        store(s + j * W + 16 * c, x);
      }
      if (masked_below) {  // lanes whose first key is past t0 + j
        x = select(static_cast<Mask>(~lanes_above(g.first + 16 * c, t0 + j)), x, set1(kNegInf));
        store(s + j * W + 16 * c, x);
      }
      tile_max = max(tile_max, x);
    }
    const V16 old_max = load(g.max + 16 * c);
    const V16 new_max = max(old_max, tile_max);
    // Lanes with no visible key yet keep max -inf; subtract 0 there so that no -inf - -inf.
    const V16 ref = select(equal(new_max, set1(kNegInf)), zero(), new_max);
    alpha[c] = exp2(sub(old_max, ref));
    V16 tile_sum = zero();
    for (int64_t j = 0; j < n; ++j) {
      const V16 p = exp2(sub(load(s + j * W + 16 * c), ref));
      store(s + j * W + 16 * c, p);
      tile_sum = add(tile_sum, p);
    }
    store(g.max + 16 * c, new_max);
    store(g.sum + 16 * c, fma(load(g.sum + 16 * c), alpha[c], tile_sum));
  }
}

// One key tile (rows t0 .. t0 + n - 1, fp32, already clipped to the group's limit) for one group.
// Rows [r, n) of a score tile with blocks of R, R/2, ..., 1 rows; returns n.
template <int R, int NQ>
int64_t score_rows_tail(const float* k, int64_t ks, int64_t dk, const float* qt, float* s,
                        int64_t r, int64_t n) {
  for (; r + R <= n; r += R) micro_scores<R, NQ>(k + r * ks, ks, dk, qt, s + r * 16 * NQ);
  if constexpr (R > 1) r = score_rows_tail<R / 2, NQ>(k, ks, dk, qt, s, r, n);
  return r;
}

// Value columns [j, dv) with blocks of R, R/2, ..., 1 columns.
template <int R, int NQ>
void value_columns_tail(const float* v, int64_t vs, int64_t n, const float* p, float* ot,
                        const V16* alpha, int64_t j, int64_t dv) {
  for (; j + R <= dv; j += R) micro_values<R, NQ>(v, vs, n, j, p, ot, alpha);
  if constexpr (R > 1) value_columns_tail<R / 2, NQ>(v, vs, n, p, ot, alpha, j, dv);
}

// The micro-kernel calls group_tile makes for a tile of n rows (how often it steps `ahead`).
int64_t tile_calls(int nq, int64_t n, int64_t dv) {
  const int64_t r = nq == 1   ? block_rows<1>()
                    : nq == 2 ? block_rows<2>()
                    : nq == 3 ? block_rows<3>()
                              : block_rows<4>();
  const int64_t value_calls = nq == 1 ? 4 * (dv / 64) : dv / r;
  return n / r + value_calls + 1;
}

// `ahead` prefetches the next tile's rows, a few lines per micro-kernel call.
template <int NQ>
void group_tile(const Group& g, const float* k, int64_t ks, int64_t dk, const float* v, int64_t vs,
                int64_t dv, int64_t n, int64_t t0, float* s, TileAhead& ahead) {
  constexpr int R = block_rows<NQ>();
  int64_t r = 0;
  for (; r + R <= n; r += R) {
    micro_scores<R, NQ>(k + r * ks, ks, dk, g.qt, s + r * 16 * NQ);
    ahead.step();
  }
  r = score_rows_tail<R / 2, NQ>(k, ks, dk, g.qt, s, r, n);
  V16 alpha[NQ];
  tile_softmax<NQ>(s, n, t0, g, t0 + n > g.lo, t0 < g.first_hi, alpha);
  if constexpr (NQ == 1) {
    alignas(64) float lane_alpha[16];
    store(lane_alpha, alpha[0]);
    const int64_t full = dv / 64, rest = (dv - 64 * full + 15) / 16;
    const Mask last = first_lanes(dv - 16 * (dv / 16));
    // Column blocks outer: a block's 64 rows x 64 columns of V stay in L1 for the 4 row blocks.
    for (int64_t b = 0; b < full; ++b) {
      for (int h0 = 0; h0 < 16; h0 += 4) {
        micro_values_by_lane<4, false>(v, vs, n, 64 * b, h0, s, g.ot, dv, lane_alpha, kAllLanes);
        ahead.step();
      }
    }
    const int64_t j0 = 64 * full;
    const Mask tail = last == 0 ? kAllLanes : last;  // dv a multiple of 16: last chunk full
    for (int h0 = 0; h0 < 16; h0 += 4) {
      switch (rest) {
        case 1:
          micro_values_by_lane<1, true>(v, vs, n, j0, h0, s, g.ot, dv, lane_alpha, tail);
          break;
        case 2:
          micro_values_by_lane<2, true>(v, vs, n, j0, h0, s, g.ot, dv, lane_alpha, tail);
          break;
        case 3:
          micro_values_by_lane<3, true>(v, vs, n, j0, h0, s, g.ot, dv, lane_alpha, tail);
          break;
        case 4:
          micro_values_by_lane<4, true>(v, vs, n, j0, h0, s, g.ot, dv, lane_alpha, tail);
          break;
        default:
          break;
      }
    }
    return;
  }
  int64_t j = 0;
  for (; j + R <= dv; j += R) {
    micro_values<R, NQ>(v, vs, n, j, s, g.ot, alpha);
    ahead.step();
  }
  value_columns_tail<R / 2, NQ>(v, vs, n, s, g.ot, alpha, j, dv);
}

void dispatch_group_tile(const Group& g, const float* k, int64_t ks, int64_t dk, const float* v,
                         int64_t vs, int64_t dv, int64_t n, int64_t t0, float* s,
                         TileAhead& ahead) {
  switch (g.nq) {
    case 1:
      return group_tile<1>(g, k, ks, dk, v, vs, dv, n, t0, s, ahead);
    case 2:
      return group_tile<2>(g, k, ks, dk, v, vs, dv, n, t0, s, ahead);
    case 3:
      return group_tile<3>(g, k, ks, dk, v, vs, dv, n, t0, s, ahead);
    default:
      return group_tile<4>(g, k, ks, dk, v, vs, dv, n, t0, s, ahead);
  }
}

// Cuts the rows into groups and loads each group's Q^T and state (transposed) from the partial.
void load_groups(const RowsJob& job, const Partial& state, LanesScratch& sc) {
  const int64_t m = job.m, dk = job.dk, dv = job.dv;
  sc.groups.clear();
  int64_t lanes = 0;
  for (int64_t r0 = 0; r0 < m;) {
    Group g;
    g.r0 = r0;
    g.nr = static_cast<int>(std::min<int64_t>(kMaxGroupRows, m - r0));
    g.nq = (g.nr + 15) / 16;
    r0 += g.nr;
    lanes += 16 * g.nq;
    sc.groups.push_back(g);
  }
  sc.qt.resize(lanes * dk);
  sc.ot.resize(lanes * dv);
  sc.state.resize(lanes * 2);
  sc.first.resize(lanes);
  sc.limit.resize(lanes);
  int64_t offset = 0;
  for (Group& g : sc.groups) {
    const int64_t w = 16 * g.nq;
    g.qt = sc.qt.data() + offset * dk;
    g.ot = sc.ot.data() + offset * dv;
    g.max = sc.state.data() + offset * 2;
    g.sum = g.max + w;
    g.first = sc.first.data() + offset;
    g.limit = sc.limit.data() + offset;
    offset += w;
    std::fill(g.ot, g.ot + w * dv, 0.0f);  // Q^T is written whole below
    g.lo = g.first_lo = std::numeric_limits<int64_t>::max();
    g.hi = g.first_hi = 0;
    // Per lane: limit and softmax state; padding lanes: zero queries, never masked, never written
    // back.
    bool fresh = true;
    for (int64_t lane = 0; lane < w; ++lane) {
      if (lane >= g.nr) {
        g.max[lane] = kNegInf;
        g.sum[lane] = 0;
        g.first[lane] = 0;
        g.limit[lane] = std::numeric_limits<int32_t>::max();
        continue;
      }
      const int64_t row = g.r0 + lane, limit = job.limit[row];
      const int64_t first = job.first != nullptr ? job.first[row] : 0;
      g.max[lane] = state.max[row];
      g.sum[lane] = state.sum[row];
      fresh = fresh && state.max[row] == kNegInf;
      g.limit[lane] = static_cast<int32_t>(std::min<int64_t>(limit, INT32_MAX));
      g.first[lane] = static_cast<int32_t>(std::min<int64_t>(first, INT32_MAX));
      g.lo = std::min(g.lo, limit);
      g.hi = std::max(g.hi, limit);
      g.first_lo = std::min(g.first_lo, first);
      g.first_hi = std::max(g.first_hi, first);
    }
    // Q^T and (unless the state is fresh, all zero) O^T, 16 x 16 blocks through registers.
    for (int64_t l0 = 0; l0 < g.nr; l0 += 16) {
      const int rows = static_cast<int>(std::min<int64_t>(16, g.nr - l0));
      const float* q[16];
      const float* o[16];
      for (int i = 0; i < rows; ++i) {
        q[i] = job.q[g.r0 + l0 + i];
        o[i] = state.o + (g.r0 + l0 + i) * dv;
      }
      for (int64_t c0 = 0; c0 < dk; c0 += 16)
        transpose_block(q, rows, c0, static_cast<int>(std::min<int64_t>(16, dk - c0)),
                        g.qt + c0 * w + l0, w, job.q_scale);
      if (fresh) continue;
      if (g.nq == 1) {  // row-major per lane, see micro_values_by_lane
        for (int i = 0; i < rows; ++i) std::copy_n(o[i], dv, g.ot + (l0 + i) * dv);
      } else {
        for (int64_t c0 = 0; c0 < dv; c0 += 16)
          transpose_block(o, rows, c0, static_cast<int>(std::min<int64_t>(16, dv - c0)),
                          g.ot + c0 * w + l0, w);
      }
    }
  }
}

void store_groups(const RowsJob& job, const Partial& state, const LanesScratch& sc) {
  const int64_t dv = job.dv;
  for (const Group& g : sc.groups) {
    const int64_t w = 16 * g.nq;
    for (int lane = 0; lane < g.nr; ++lane) {
      state.max[g.r0 + lane] = g.max[lane];
      state.sum[g.r0 + lane] = g.sum[lane];
    }
    if (g.nq == 1) {
      for (int lane = 0; lane < g.nr; ++lane)
        std::copy_n(g.ot + lane * dv, dv, state.o + (g.r0 + lane) * dv);
      continue;
    }
    // O^T [dv, w] back to rows: 16 x 16 blocks (16 value columns of 16 lanes at a time).
    for (int64_t l0 = 0; l0 < g.nr; l0 += 16) {
      const int lanes = static_cast<int>(std::min<int64_t>(16, g.nr - l0));
      for (int64_t j0 = 0; j0 < dv; j0 += 16) {
        const int cols = static_cast<int>(std::min<int64_t>(16, dv - j0));
        const float* src[16];
        for (int c = 0; c < cols; ++c) src[c] = g.ot + (j0 + c) * w + l0;
        alignas(64) float block[16 * 16];
        transpose_block(src, cols, 0, lanes, block, 16);
        for (int i = 0; i < lanes; ++i)
          std::copy_n(block + i * 16, cols, state.o + (g.r0 + l0 + i) * dv + j0);
      }
    }
  }
}

template <class E>
void attend_lanes(const RowsJob& job, int64_t t_begin, int64_t t_end, const Partial& state) {
  LanesScratch& sc = scratch();
  load_groups(job, state, sc);
  int64_t max_limit = 0, min_first = std::numeric_limits<int64_t>::max();
  for (const Group& g : sc.groups) {
    max_limit = std::max(max_limit, g.hi);
    min_first = std::min(min_first, g.first_lo);
  }
  t_end = std::min(t_end, max_limit);
  // Tiles wholly before every row's first key are skipped (the tile grid stays on t_begin).
  if (min_first > t_begin) t_begin += (min_first - t_begin) / kTile * kTile;
  const int64_t dk = job.dk, dv = job.dv;
  const E* keys = static_cast<const E*>(job.keys.data);
  const E* values = static_cast<const E*>(job.values.data);
  // MLA absorb: the values are the first dv elements of each key row; widen them once.
  const bool values_in_keys =
      job.values.data == job.keys.data && job.values.stride == job.keys.stride && dv <= dk;
  constexpr bool widen_tiles = !std::is_same_v<E, float>;
  int64_t max_lanes = 0;
  for (const Group& g : sc.groups) max_lanes = std::max<int64_t>(max_lanes, 16 * g.nq);
  sc.s.resize(kTile * max_lanes);
  // bf16/fp16: fp32 tiles, double-buffered (this tile's and the next one's).
  if (widen_tiles) {
    sc.keys.resize(2 * kTile * dk);
    sc.values.resize(values_in_keys ? 0 : 2 * kTile * dv);
  }
  const auto widen_cursor = [&](const E* rows_src, int64_t stride, float* dst, int64_t width,
                                int64_t rows) {
    WidenCursor w;
    w.widen_row = &widen_row<E>;
    w.src = reinterpret_cast<const char*>(rows_src);
    w.src_stride = stride * int64_t(sizeof(E));
    w.dst = dst;
    w.dst_stride = w.width = width;
    w.rows = rows;
    return w;
  };
  int buffer = 0;
  if constexpr (widen_tiles) {  // the first tile up front
    const int64_t n = std::min<int64_t>(kTile, t_end - t_begin);
    widen_cursor(keys + t_begin * job.keys.stride, job.keys.stride, sc.keys.data(), dk, n).finish();
    if (!values_in_keys)
      widen_cursor(values + t_begin * job.values.stride, job.values.stride, sc.values.data(), dv, n)
          .finish();
  }
  for (int64_t t0 = t_begin; t0 < t_end; t0 += kTile) {
    const int64_t n = std::min<int64_t>(kTile, t_end - t0);
    const float* k;
    const float* v;
    int64_t ks, vs;
    if constexpr (widen_tiles) {
      k = sc.keys.data() + buffer * kTile * dk;
      ks = dk;
      v = values_in_keys ? k : sc.values.data() + buffer * kTile * dv;
      vs = values_in_keys ? dk : dv;
    } else {
      k = keys + t0 * job.keys.stride;
      ks = job.keys.stride;
      v = values + t0 * job.values.stride;
      vs = job.values.stride;
    }
    // Spread over this tile's micro-kernel calls: widening the next tile (bf16/fp16) and
    // prefetching the cache rows that will be read next (the tile after the one being widened).
    TileAhead ahead;
    int64_t calls = 1;
    for (const Group& g : sc.groups)
      if (g.hi > t0 && g.first_lo < t0 + n) calls += tile_calls(g.nq, std::min(n, g.hi - t0), dv);
    const int64_t next = t0 + kTile, next_rows = std::min<int64_t>(kTile, t_end - next);
    if (widen_tiles && next_rows > 0) {
      // Interleaved where it pays: with few lanes (<= 32) the conversion is a large share of the
      // step; with 64 lanes it is small and a separate pass after the tile measured faster.
      const int64_t widen_step = max_lanes <= 32 ? next_rows / calls + 1 : 0;
      const int other = 1 - buffer;
      ahead.widen[0] = widen_cursor(keys + next * job.keys.stride, job.keys.stride,
                                    sc.keys.data() + other * kTile * dk, dk, next_rows);
      ahead.widen[0].per_step = widen_step;
      if (!values_in_keys) {
        ahead.widen[1] = widen_cursor(values + next * job.values.stride, job.values.stride,
                                      sc.values.data() + other * kTile * dv, dv, next_rows);
        ahead.widen[1].per_step = widen_step;
      }
    }
    const int64_t fetch = widen_tiles ? next + kTile : next;
    const int64_t fetch_rows = std::min<int64_t>(kTile, t_end - fetch);
    if (fetch_rows > 0) {
      ahead.prefetch[0] = PrefetchCursor(keys + fetch * job.keys.stride,
                                         fetch_rows * job.keys.stride * int64_t(sizeof(E)), calls);
      if (!values_in_keys)
        ahead.prefetch[1] =
            PrefetchCursor(values + fetch * job.values.stride,
                           fetch_rows * job.values.stride * int64_t(sizeof(E)), calls);
    }
    for (const Group& g : sc.groups) {
      const int64_t rows = std::min(n, g.hi - t0);      // keys past every row's limit: not read
      if (rows <= 0 || g.first_lo >= t0 + n) continue;  // the tile is before every row's range
      dispatch_group_tile(g, k, ks, dk, v, vs, dv, rows, t0, sc.s.data(), ahead);
    }
    ahead.widen[0].finish();
    ahead.widen[1].finish();
    buffer = 1 - buffer;
  }
  store_groups(job, state, sc);
}

}  // namespace

void attend_range_lanes(const RowsJob& job, int64_t t_begin, int64_t t_end, const Partial& p) {
  switch (job.dtype) {
    case DType::fp32:
      return attend_lanes<float>(job, t_begin, t_end, p);
    case DType::bf16:
      return attend_lanes<bf16_t>(job, t_begin, t_end, p);
    case DType::fp16:
      return attend_lanes<fp16_t>(job, t_begin, t_end, p);
  }
}

}  // namespace attnlab::cpu::fast
