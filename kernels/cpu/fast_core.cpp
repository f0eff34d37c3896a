// The driver of the fast backend's attention core (see fast_kernels.h): turns one forward's
// core problem into OpenMP work items (sequence x KV stream x row set x key split), runs them on
// omp_get_max_threads() threads with dynamic scheduling, and merges split partials by
// log-sum-exp. Row sets: all rows of a stream when there are at most 256 (decode: one pass over
// the keys serves every query head of the stream), else sets of 64 consecutive rows (prefill:
// each set runs only the key tiles of its rows' key ranges, mask_spec(config).keys_for). Key
// ranges and split boundaries come from CoreProblem::mask. Attention sinks (CoreProblem::sinks)
// join each row's softmax in the final merge only, never in a split's partial. Key splits
// (flash-decoding) only when there are too few sets to keep every thread busy, and never below 512
// keys per split. A second key segment (CoreProblem::keys2, GTA's shared rope key) reaches each
// job through make_job; attend_range reads it with the rows kernel (fp32) or assembles [keys |
// keys2] tiles for the kernels (attend_joined; tests/test_cpu_fast_key_segments.cpp).
// Scratch is per thread and per call; nothing grows with the context length. Tested
// by tests/test_cpu_fast.cpp (merge, uneven splits, thread counts, long contexts),
// tests/test_cpu_fast_features.cpp (sinks) and tests/test_cpu_fast_ring.cpp (ring ranges).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/cpu/fast_kernels.h"
#include "kernels/cpu/fast_simd.h"

namespace attnlab::cpu::fast {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kLn2 = 0.69314718055994531f;
constexpr float kLog2e = 1.44269504088896341f;
constexpr int64_t kMinSplitKeys = 512;
constexpr int64_t kWholeStreamRows = 256;  // up to this many rows per stream: one row set
constexpr int64_t kSetRows = 64;           // else sets of this many rows

// The rows of one set, addressed into the problem's q / out / lse.
struct RowSet {
  int64_t b = 0, stream = 0, r0 = 0, rows = 0;
};

struct SetRows {
  std::vector<const float*> q;
  std::vector<float*> out, lse;
  std::vector<int64_t> first, limit;
  std::vector<float> sink2;  // per row, log2 units; empty without sinks
};

void describe(const CoreProblem& p, const RowSet& set, SetRows& rows) {
  const int64_t heads = p.streams * p.group;
  rows.q.resize(set.rows);
  rows.out.resize(set.rows);
  rows.lse.resize(set.rows);
  rows.first.resize(set.rows);
  rows.limit.resize(set.rows);
  rows.sink2.resize(p.sinks != nullptr ? set.rows : 0);
  for (int64_t i = 0; i < set.rows; ++i) {
    const int64_t r = set.r0 + i, s = r / p.group, j = r % p.group;
    const int64_t rows_seq = p.rows_seq > 0 ? p.rows_seq : p.seq;
    const int64_t row_head =
        (set.b * rows_seq + p.rows_first + s) * heads + set.stream * p.group + j;
    rows.q[i] = p.q + row_head * (p.dk + p.dk2);
    rows.out[i] = p.out + row_head * p.dv;
    rows.lse[i] = p.lse != nullptr ? p.lse + row_head : nullptr;
    const KeyRange keys = p.mask.keys_for(p.length - p.seq + s);
    rows.first[i] = keys.lo;
    rows.limit[i] = keys.hi;
    if (p.sinks != nullptr) rows.sink2[i] = p.sinks[set.stream * p.group + j] * kLog2e;
  }
}

const float* sink_rows(const SetRows& rows) {
  return rows.sink2.empty() ? nullptr : rows.sink2.data();
}

RowsJob make_job(const CoreProblem& p, const RowSet& set, const SetRows& rows) {
  RowsJob job;
  job.dtype = p.dtype;
  const size_t e = bytes_per_element(p.dtype);
  const int64_t stream = set.b * p.streams + set.stream;
  job.keys = {static_cast<const char*>(p.keys) + stream * p.key_stream_stride * e,
              p.key_row_stride};
  job.values = {static_cast<const char*>(p.values) + stream * p.value_stream_stride * e,
                p.value_row_stride};
  job.dk = p.dk;
  job.dv = p.dv;
  if (p.keys2 != nullptr) {
    job.keys2 = {static_cast<const char*>(p.keys2) +
                     (set.b * p.key2_batch_stride + stream * p.key2_stream_stride) * e,
                 p.key2_row_stride};
    job.dk2 = p.dk2;
  }
  job.m = set.rows;
  job.q = rows.q.data();
  job.q_scale = p.q_scale;
  job.first = rows.first.data();
  job.limit = rows.limit.data();
  return job;
}

// Partial storage for `m` rows of width dv at `base`.
Partial partial_at(float* base, int64_t m, int64_t dv) {
  return {base, base + m * dv, base + m * dv + m};
}
int64_t partial_floats(int64_t m, int64_t dv) {
  return m * (dv + 2);
}

}  // namespace

void reset_partial(const Partial& p, int64_t m, int64_t dv) {
  std::fill(p.o, p.o + m * dv, 0.0f);
  std::fill(p.max, p.max + m, kNegInf);
  std::fill(p.sum, p.sum + m, 0.0f);
}

namespace {

using RangeKernel = void (*)(const RowsJob&, int64_t, int64_t, const Partial&);

constexpr int64_t kJoinedTileBytes = 32 * 1024;  // an assembled key tile: about L1

// A job with a second key segment: its keys [t_begin, t_end) in tiles of whole [keys | keys2]
// rows assembled in thread-local scratch (the cache's element type, so nothing is converted and
// each cached byte is read from memory once), each tile run by `kernel` as a job of its own with
// key indices relative to the tile. Values that alias the keys (MLA absorb: the latent prefix)
// are read from the tile too.
void attend_joined(const RowsJob& job, int64_t t_begin, int64_t t_end, const Partial& p,
                   RangeKernel kernel) {
  int64_t max_limit = 0, min_first = std::numeric_limits<int64_t>::max();
  for (int64_t i = 0; i < job.m; ++i) {
    max_limit = std::max(max_limit, job.limit[i]);
    min_first = std::min(min_first, job.first != nullptr ? job.first[i] : 0);
  }
  t_begin = std::max(t_begin, min_first);  // keys no row sees are not assembled
  t_end = std::min(t_end, max_limit);
  if (t_begin >= t_end) return;
  const int64_t e = static_cast<int64_t>(bytes_per_element(job.dtype));
  const int64_t width = job.dk + job.dk2;
  const int64_t tile = std::max<int64_t>(64, kJoinedTileBytes / (width * e) / 64 * 64);
  const bool values_in_keys =
      job.values.data == job.keys.data && job.values.stride == job.keys.stride && job.dv <= job.dk;
  thread_local std::vector<std::byte> buffer;
  thread_local std::vector<int64_t> first, limit;
  buffer.resize(tile * width * e);
  first.resize(job.m);
  limit.resize(job.m);
  const auto* keys = static_cast<const std::byte*>(job.keys.data);
  const auto* keys2 = static_cast<const std::byte*>(job.keys2.data);
  const auto* values = static_cast<const std::byte*>(job.values.data);
  RowsJob sub = job;
  sub.keys2 = {};
  sub.dk = width;
  sub.dk2 = 0;
  sub.keys = {buffer.data(), width};
  sub.first = first.data();
  sub.limit = limit.data();
  for (int64_t a = t_begin; a < t_end; a += tile) {
    const int64_t n = std::min(tile, t_end - a);
    for (int64_t t = 0; t < n; ++t) {
      std::byte* row = buffer.data() + t * width * e;
      std::memcpy(row, keys + (a + t) * job.keys.stride * e, job.dk * e);
      std::memcpy(row + job.dk * e, keys2 + (a + t) * job.keys2.stride * e, job.dk2 * e);
    }
    sub.values = values_in_keys ? RowStream{buffer.data(), width}
                                : RowStream{values + a * job.values.stride * e, job.values.stride};
    for (int64_t i = 0; i < job.m; ++i) {
      first[i] = std::clamp<int64_t>((job.first != nullptr ? job.first[i] : 0) - a, 0, n);
      limit[i] = std::clamp<int64_t>(job.limit[i] - a, 0, n);
    }
    kernel(sub, 0, n, p);
  }
}

}  // namespace

void attend_range(const RowsJob& job, int64_t t_begin, int64_t t_end, const Partial& p) {
  // Wide keys (GLA-2's latent rows, 256 + 64) from an fp32 cache: the rows kernel's up to 8
  // rows take two passes over each 64-key block, which then no longer fits in L1; the lanes
  // kernel measured 2.4x faster there (width2048-gla2 decode at 8192 tokens, 2 threads, Zen 3:
  // 26.7 -> 10.9 ms), while from bf16 the rows kernel stayed ahead (9.1 vs 11.2 ms).
  const bool wide_fp32 = job.dtype == DType::fp32 && job.m > 4 && job.dk + job.dk2 > 256;
  const bool few_rows = job.m <= kMaxRowsKernelRows && !wide_fp32;
  const RangeKernel kernel = few_rows ? &attend_range_rows : &attend_range_lanes;
  // A second key segment: the rows kernel reads it itself from an fp32 cache (GTA-4 decode at
  // 4096 tokens: 2-3x faster than tiles); from bf16/fp16 the same code measured 2x slower than
  // tiles (not understood yet), so those, and the lanes kernel, go through assembled tiles.
  if (job.keys2.data != nullptr && (kernel == &attend_range_lanes || job.dtype != DType::fp32))
    attend_joined(job, t_begin, t_end, p, kernel);
  else
    kernel(job, t_begin, t_end, p);
}

void merge_partials(const Partial* parts, int n, int64_t m, int64_t dv, float* const* out,
                    float* const* lse, const float* sink2) {
  std::vector<float> weight(n);
  const int64_t chunks = (dv + 15) / 16;
  for (int64_t i = 0; i < m; ++i) {
    float top = kNegInf;
    for (int s = 0; s < n; ++s) top = std::max(top, parts[s].max[i]);
    if (sink2 != nullptr) top = std::max(top, sink2[i]);
    // The sink: one more key of score sink2[i] and value zero (adds to the denominator only).
    float total = sink2 != nullptr ? std::exp2(sink2[i] - top) : 0.0f;
    for (int s = 0; s < n; ++s) {
      weight[s] = parts[s].max[i] == kNegInf ? 0.0f : std::exp2(parts[s].max[i] - top);
      total += weight[s] * parts[s].sum[i];
    }
    const float inv = total > 0 ? 1.0f / total : 0.0f;
    for (int64_t c = 0; c < chunks; ++c) {
      const Mask mask = first_lanes(dv - 16 * c);
      V16 acc = zero();
      for (int s = 0; s < n; ++s)
        acc = fma(load(parts[s].o + i * dv + 16 * c, mask), set1(weight[s] * inv), acc);
      store(out[i] + 16 * c, acc, mask);
    }
    if (lse != nullptr && lse[i] != nullptr)
      *lse[i] = total > 0 ? (top + std::log2(total)) * kLn2 : kNegInf;
  }
}

int choose_splits(int64_t keys, int64_t sets, int threads) {
  if (threads <= 1 || sets >= 2 * threads) return 1;
  const int64_t wanted = (2 * threads + sets - 1) / sets;
  return static_cast<int>(std::max<int64_t>(1, std::min(wanted, keys / kMinSplitKeys)));
}

void run_core(const CoreProblem& p) {
  const int64_t stream_rows = p.seq * p.group;
  const int64_t set_rows = stream_rows <= kWholeStreamRows ? stream_rows : kSetRows;
  const int64_t sets_per_stream = (stream_rows + set_rows - 1) / set_rows;
  const int64_t n_sets = p.batch * p.streams * sets_per_stream;
  const int threads = omp_get_max_threads();

  // One key range of one set: logical slots [t_begin, t_end), at rows [t_begin - base,
  // t_end - base) of the streams (base: a multiple of the ring, 0 without one).
  struct Item {
    int64_t set, split, t_begin, t_end, base;
  };
  std::vector<RowSet> sets(n_sets);
  std::vector<int> splits(n_sets);
  std::vector<int64_t> partial_offset(n_sets, -1);  // >= 0: split set, its partials' storage
  std::vector<Item> items;
  int64_t partial_total = 0;
  for (int64_t i = 0; i < n_sets; ++i) {
    const int64_t local = i % sets_per_stream, stream_index = i / sets_per_stream;
    RowSet& set = sets[i];
    set.b = stream_index / p.streams;
    set.stream = stream_index % p.streams;
    set.r0 = local * set_rows;
    set.rows = std::min(set_rows, stream_rows - set.r0);
    // The union of the set's key ranges (mask_spec keeps them monotone in the slot).
    const int64_t first_slot = p.length - p.seq + set.r0 / p.group;
    const int64_t last_slot = p.length - p.seq + (set.r0 + set.rows - 1) / p.group;
    const KeyRange range = p.mask.keys_for_block(first_slot, last_slot);
    const int64_t keys = range.size();
    const int n = p.forced_splits > 0 ? p.forced_splits : choose_splits(keys, n_sets, threads);
    const size_t first_item = items.size();
    for (int s = 0; s < n; ++s) {
      // Split boundaries range.lo + multiples of 16 keys; the last split ends at range.hi.
      int64_t begin = range.lo + (s == 0 ? 0 : (keys * s / n) / 16 * 16);
      const int64_t end = s == n - 1 ? range.hi : range.lo + (keys * (s + 1) / n) / 16 * 16;
      // A ring: one item per side of each multiple of p.ring the split crosses.
      do {
        const int64_t base = p.ring > 0 ? begin / p.ring * p.ring : 0;
        const int64_t piece_end = p.ring > 0 ? std::min(end, base + p.ring) : end;
        items.push_back(
            {i, static_cast<int64_t>(items.size() - first_item), begin, piece_end, base});
        begin = piece_end;
      } while (begin < end);
    }
    splits[i] = static_cast<int>(items.size() - first_item);
    if (splits[i] > 1) {
      partial_offset[i] = partial_total;
      partial_total += splits[i] * partial_floats(set.rows, p.dv);
    }
  }
  std::vector<float> partials(partial_total);

#pragma omp parallel
  {
    SetRows rows;
    std::vector<float> own;
#pragma omp for schedule(dynamic, 1)
    for (size_t k = 0; k < items.size(); ++k) {
      const Item& item = items[k];
      const RowSet& set = sets[item.set];
      describe(p, set, rows);
      for (int64_t r = 0; r < set.rows && item.base != 0; ++r) {  // ring rows of this item
        rows.first[r] -= item.base;
        rows.limit[r] -= item.base;
      }
      const RowsJob job = make_job(p, set, rows);
      const int64_t floats = partial_floats(set.rows, p.dv);
      Partial part;
      if (splits[item.set] > 1) {
        part = partial_at(partials.data() + partial_offset[item.set] + item.split * floats,
                          set.rows, p.dv);
      } else {
        own.resize(floats);
        part = partial_at(own.data(), set.rows, p.dv);
      }
      reset_partial(part, set.rows, p.dv);
      attend_range(job, item.t_begin - item.base, item.t_end - item.base, part);
      if (splits[item.set] == 1)
        merge_partials(&part, 1, set.rows, p.dv, rows.out.data(), rows.lse.data(), sink_rows(rows));
    }
#pragma omp for schedule(dynamic, 1)
    for (int64_t i = 0; i < n_sets; ++i) {
      if (splits[i] == 1) continue;
      describe(p, sets[i], rows);
      const int64_t floats = partial_floats(sets[i].rows, p.dv);
      std::vector<Partial> parts(splits[i]);
      for (int s = 0; s < splits[i]; ++s)
        parts[s] = partial_at(partials.data() + partial_offset[i] + s * floats, sets[i].rows, p.dv);
      merge_partials(parts.data(), splits[i], sets[i].rows, p.dv, rows.out.data(), rows.lse.data(),
                     sink_rows(rows));
    }
  }
}

}  // namespace attnlab::cpu::fast
