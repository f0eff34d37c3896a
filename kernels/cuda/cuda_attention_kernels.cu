// The attention kernels of the CUDA backend (declared in cuda_kernels.h): the masked softmax of
// the prefill path (scores come from a cuBLAS GEMM), the split-KV decode kernel with its
// log-sum-exp combine, the attention sinks' rescale of (out, lse), and MLA absorb's key-bias
// score. One block per row (or per row and split); the block reduces through shared memory with
// block_max / block_sum, no warp tricks.
//
// Conventions (cuda_kernels.h, AttendShape): query row-head qh = (b * seq + s) * heads + h;
// query head h reads kv head g = h / group; new token s sees the cache slots [lo, hi) =
// [key_ranges[2s], key_ranges[2s + 1]) (MaskSpec::keys_for(length + s), staged by the host);
// a cache part is [batch, kv_heads, capacity, width], so slot t of kv head g of sequence b
// starts at element ((b * kv_heads + g) * capacity + t) * width; a key part of one head (shared
// by every kv head) is [batch, 1, capacity, width].
#include <cmath>
#include <string>

#include "core/error.h"
#include "kernels/cuda/cuda_device.cuh"
#include "kernels/cuda/cuda_kernels.h"

ATTNLAB_CUDA_BEGIN

namespace {

struct SoftmaxArgs {
  float* scores;  // [batch * kv_heads, rows, tokens]: column t is key first_key + t
  int64_t rows, tokens, s0, first_key;
  const float* score_bias;
  float* lse;
};

// Block = one row of scores: bg = b * kv_heads + g, r = local row of the chunk; the row belongs
// to token s = (s0 * group + r) / group and query head h = g * group + (s0 * group + r) % group.
__global__ void masked_softmax_kernel(AttendShape shape, SoftmaxArgs a) {
  __shared__ float scratch[kRowThreads];
  __shared__ float result;
  const int64_t block = blockIdx.x;
  const int64_t bg = block / a.rows, r = block % a.rows;
  const int64_t b = bg / shape.kv_heads, g = bg % shape.kv_heads;
  const int64_t grouped_row = a.s0 * shape.group + r;
  const int64_t s = grouped_row / shape.group;
  const int64_t h = g * shape.group + grouped_row % shape.group;
  const int64_t qh = (b * shape.seq + s) * shape.heads + h;
  // The row's visible keys [lo, hi) as columns [c0, c1) of the chunk's key block.
  const int64_t c0 = shape.key_ranges[2 * s] - a.first_key;
  const int64_t c1 = shape.key_ranges[2 * s + 1] - a.first_key;
  float* row = a.scores + block * a.tokens;
  const float bias = a.score_bias != nullptr ? a.score_bias[qh] : 0.0f;

  // Each thread owns columns t = c0 + threadIdx.x + i * blockDim.x in every pass.
  float local_max = -INFINITY;
  for (int64_t t = c0 + threadIdx.x; t < c1; t += blockDim.x) {
    const float x = (row[t] + bias) * shape.scale;
    row[t] = x;
    local_max = fmaxf(local_max, x);
  }
  const float m = block_max(local_max, scratch, &result);
  float local_sum = 0.0f;
  for (int64_t t = c0 + threadIdx.x; t < c1; t += blockDim.x) {
    const float e = expf(row[t] - m);
    row[t] = e;
    local_sum += e;
  }
  const float sum = block_sum(local_sum, scratch, &result);
  const float inv_sum = 1.0f / sum;
  for (int64_t t = threadIdx.x; t < a.tokens; t += blockDim.x)
    row[t] = t >= c0 && t < c1 ? row[t] * inv_sum : 0.0f;  // masked keys get exactly 0
  if (threadIdx.x == 0 && a.lse != nullptr) a.lse[qh] = m + logf(sum);
}

struct SplitArgs {
  const float* q;  // [batch * seq * heads, key_dim]
  const float* score_bias;
  const void* key[2];
  int64_t key_width[2];
  int64_t key_heads[2];  // kv_heads, or 1: one head shared by every kv head
  int key_parts;
  const void* value;
  int64_t capacity;
  int64_t splits;
  float* partials;  // [batch * seq * heads, splits, value_dim]
  float* stats;     // [batch * seq * heads, splits, 2]
};

// Block (qh, j) = query row-head qh over keys [lo + j * kSplitKeys, min(lo + (j + 1) *
// kSplitKeys, hi)) of its range [lo, hi). Thread k scores keys t0 + k, t0 + k + blockDim.x, ... (a
// whole dot product each, into shared memory), the block takes max and sum, then thread k
// accumulates output elements k, k + blockDim.x, ... over the split's keys.
template <class T>
__global__ void split_attend_kernel(AttendShape shape, SplitArgs a) {
  __shared__ float p[kSplitKeys];
  __shared__ float scratch[kRowThreads];
  __shared__ float result;
  const int64_t qh = blockIdx.x, split = blockIdx.y;
  const int64_t h = qh % shape.heads;
  const int64_t row = qh / shape.heads;  // b * seq + s
  const int64_t s = row % shape.seq, b = row / shape.seq;
  const int64_t g = h / shape.group;
  const int64_t lo = shape.key_ranges[2 * s], hi = shape.key_ranges[2 * s + 1];
  const int64_t t0 = lo + split * kSplitKeys;
  const int64_t t1 = min64(t0 + kSplitKeys, hi);  // t1 <= t0: an empty split
  const int64_t stream = b * shape.kv_heads + g;  // of the values and of kv_heads-head key parts
  const float* q = a.q + qh * shape.key_dim;
  const float bias = a.score_bias != nullptr ? a.score_bias[qh] : 0.0f;

  float local_max = -INFINITY;
  for (int64_t t = t0 + threadIdx.x; t < t1; t += blockDim.x) {
    float dot = 0.0f;
    int64_t q_offset = 0;  // the key is the concatenation of the parts
    for (int part = 0; part < a.key_parts; ++part) {
      const int64_t width = a.key_width[part];
      const int64_t key_stream = a.key_heads[part] == 1 ? b : stream;
      const T* k = static_cast<const T*>(a.key[part]) + (key_stream * a.capacity + t) * width;
      for (int64_t i = 0; i < width; ++i) dot += q[q_offset + i] * to_float(k[i]);
      q_offset += width;
    }
    const float x = (dot + bias) * shape.scale;
    p[t - t0] = x;
    local_max = fmaxf(local_max, x);
  }
  const float m = block_max(local_max, scratch, &result);
  float local_sum = 0.0f;
  for (int64_t t = t0 + threadIdx.x; t < t1; t += blockDim.x) {
    const float e = expf(p[t - t0] - m);
    p[t - t0] = e;
    local_sum += e;
  }
  const float sum = block_sum(local_sum, scratch, &result);  // its barriers also publish p[]

  const T* v = static_cast<const T*>(a.value) + stream * a.capacity * shape.value_dim;
  float* out = a.partials + (qh * a.splits + split) * shape.value_dim;
  for (int64_t i = threadIdx.x; i < shape.value_dim; i += blockDim.x) {
    float acc = 0.0f;
    for (int64_t t = t0; t < t1; ++t) acc += p[t - t0] * to_float(v[t * shape.value_dim + i]);
    out[i] = acc;
  }
  if (threadIdx.x == 0) {
    a.stats[(qh * a.splits + split) * 2] = m;
    a.stats[(qh * a.splits + split) * 2 + 1] = sum;
  }
}

// Block = query row-head qh: out = sum_j exp(m_j - M) partial_j / sum_j exp(m_j - M) l_j over
// the splits j that hold keys of this query's range (a NaN anywhere stays a NaN).
__global__ void combine_splits_kernel(AttendShape shape, int64_t splits, const float* partials,
                                      const float* stats, float* out, float* lse) {
  const int64_t qh = blockIdx.x;
  const int64_t s = (qh / shape.heads) % shape.seq;
  const int64_t visible = shape.key_ranges[2 * s + 1] - shape.key_ranges[2 * s];
  const int64_t used = (visible + kSplitKeys - 1) / kSplitKeys;  // splits_for(visible)
  const float* st = stats + qh * splits * 2;
  float big_m = -INFINITY;
  for (int64_t j = 0; j < used; ++j) big_m = fmaxf(big_m, st[2 * j]);
  float big_l = 0.0f;
  for (int64_t j = 0; j < used; ++j) big_l += st[2 * j + 1] * expf(st[2 * j] - big_m);
  const float inv_l = 1.0f / big_l;
  for (int64_t i = threadIdx.x; i < shape.value_dim; i += blockDim.x) {
    float acc = 0.0f;
    for (int64_t j = 0; j < used; ++j)
      acc += partials[(qh * splits + j) * shape.value_dim + i] * expf(st[2 * j] - big_m);
    out[qh * shape.value_dim + i] = acc * inv_l;
  }
  if (threadIdx.x == 0 && lse != nullptr) lse[qh] = big_m + logf(big_l);
}

// idx = qh = r * heads + h; one thread per query row-head scales its dim outputs and then
// rewrites its own lse (no other thread reads it). lse' = max + log(exp(lse - max) +
// exp(sink - max)), max = max(lse, sink): finite for any finite lse and sink.
__global__ void apply_sinks_kernel(float* out, float* lse, int64_t rows, int64_t heads, int64_t dim,
                                   const float* sinks) {
  const int64_t n = rows * heads;
  for (int64_t qh = thread_index(); qh < n; qh += thread_count()) {
    const float l = lse[qh], sink = sinks[qh % heads];
    const float m = fmaxf(l, sink);
    const float with_sink = m + logf(expf(l - m) + expf(sink - m));
    const float factor = expf(l - with_sink);
    for (int64_t i = 0; i < dim; ++i) out[qh * dim + i] *= factor;
    lse[qh] = with_sink;
  }
}

// idx = r * heads + h.
__global__ void key_bias_kernel(const float* q, int64_t rows, int64_t heads, int64_t q_stride,
                                int64_t nope, const float* b_uk, float* out) {
  const int64_t n = rows * heads;
  for (int64_t idx = thread_index(); idx < n; idx += thread_count()) {
    const int64_t h = idx % heads;
    const float* qn = q + idx * q_stride;
    float dot = 0.0f;
    for (int64_t i = 0; i < nope; ++i) dot += qn[i] * b_uk[h * nope + i];
    out[idx] = dot;
  }
}

}  // namespace

void masked_softmax(const AttendShape& shape, float* scores, int64_t s0, int64_t s1,
                    int64_t first_key, int64_t tokens, const float* score_bias, float* lse) {
  const int64_t rows = (s1 - s0) * shape.group;
  const SoftmaxArgs args{scores, rows, tokens, s0, first_key, score_bias, lse};
  ATTN_LAUNCH(masked_softmax_kernel, row_grid(shape.batch * shape.kv_heads * rows),
              dim3(kRowThreads), shape, args);
}

void split_attend(const AttendShape& shape, const float* q, const float* score_bias,
                  const KeyValueParts& kv, int64_t splits, float* partials, float* stats) {
  if (kv.key_parts < 1 || kv.key_parts > 2) throw Error("split_attend: 1 or 2 key parts");
  if (splits < 1 || splits > 65535)
    throw Error("CUDA decode: " + std::to_string(splits) +
                " splits of the context exceed the grid (at most 65535 x " +
                std::to_string(kSplitKeys) + " keys)");
  SplitArgs args{};
  args.q = q;
  args.score_bias = score_bias;
  for (int part = 0; part < kv.key_parts; ++part) {
    args.key[part] = kv.key[part].data;
    args.key_width[part] = kv.key[part].width;
    args.key_heads[part] = kv.key[part].heads;
  }
  args.key_parts = kv.key_parts;
  args.value = kv.value.data;
  args.capacity = kv.value.capacity;
  args.splits = splits;
  args.partials = partials;
  args.stats = stats;
  const int64_t query_heads = shape.batch * shape.seq * shape.heads;
  const dim3 grid(row_grid(query_heads).x, static_cast<unsigned>(splits));
  dispatch_dtype(kv.value.dtype, [&](auto tag) {
    using T = decltype(tag);
    ATTN_LAUNCH(split_attend_kernel<T>, grid, dim3(kRowThreads), shape, args);
  });
}

void combine_splits(const AttendShape& shape, int64_t splits, const float* partials,
                    const float* stats, float* out, float* lse) {
  ATTN_LAUNCH(combine_splits_kernel, row_grid(shape.batch * shape.seq * shape.heads),
              dim3(kRowThreads), shape, splits, partials, stats, out, lse);
}

void apply_sinks(float* out, float* lse, int64_t rows, int64_t heads, int64_t dim,
                 const float* sinks) {
  ATTN_LAUNCH(apply_sinks_kernel, element_grid(rows * heads), dim3(kElementThreads), out, lse, rows,
              heads, dim, sinks);
}

void key_bias_scores(const float* q, int64_t rows, int64_t heads, int64_t q_stride, int64_t nope,
                     const float* b_uk, float* out) {
  ATTN_LAUNCH(key_bias_kernel, element_grid(rows * heads), dim3(kElementThreads), q, rows, heads,
              q_stride, nope, b_uk, out);
}

ATTNLAB_CUDA_END
