// Element-wise and one-block-per-row kernels of the CUDA backend (declared in cuda_kernels.h):
// bias, RMSNorm, RoPE, head copies, KV-cache stores, gathers and fills, and the grouping of
// queries by kv head for the prefill GEMMs. Each element-wise kernel is a grid-stride loop over
// a flat index that is decomposed into (row, head, element) in the comments' order; all index
// arithmetic is int64.
#include <climits>
#include <cmath>
#include <string>

#include "core/error.h"
#include "kernels/cuda/cuda_device.cuh"
#include "kernels/cuda/cuda_kernels.h"

ATTNLAB_CUDA_BEGIN

dim3 row_grid(int64_t rows) {
  if (rows < 1 || rows > INT_MAX)
    throw Error("CUDA kernel grid of " + std::to_string(rows) + " rows is out of range");
  return dim3(static_cast<unsigned>(rows));
}

namespace {

__global__ void add_bias_kernel(float* y, int64_t rows, int64_t cols, const float* bias) {
  const int64_t n = rows * cols;
  for (int64_t idx = thread_index(); idx < n; idx += thread_count()) y[idx] += bias[idx % cols];
}

// One block per row: the block sums the squares, then every thread scales its elements.
__global__ void rms_norm_kernel(float* x, int64_t dim, int64_t stride, const float* weight,
                                float eps) {
  __shared__ float scratch[kRowThreads];
  __shared__ float result;
  float* row = x + static_cast<int64_t>(blockIdx.x) * stride;
  float squares = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) squares += row[i] * row[i];
  const float sum = block_sum(squares, scratch, &result);
  const float inv_rms = 1.0f / sqrtf(sum / static_cast<float>(dim) + eps);
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) row[i] = row[i] * inv_rms * weight[i];
}

// idx = (row * heads + head) * pairs + i; each thread rotates one pair.
__global__ void rope_kernel(HeadsView x, int64_t rows, int64_t heads, const int64_t* positions,
                            RopeTable table) {
  const int64_t pairs = table.pairs;
  const int64_t n = rows * heads * pairs;
  for (int64_t idx = thread_index(); idx < n; idx += thread_count()) {
    const auto [row, head, i] = split_index(idx, heads, pairs);
    float* v = x.ptr + row * x.row_stride + head * x.head_stride + x.offset;
    // The angle in double, as the CPU backends compute it: position * inv_freq[i].
    const double angle = static_cast<double>(positions[row]) * table.inv_freq[i];
    const float c = static_cast<float>(cos(angle) * table.attention_factor);
    const float s = static_cast<float>(sin(angle) * table.attention_factor);
    const int64_t ia = table.interleaved ? 2 * i : i;  // RopeSpec::pair(i)
    const int64_t ib = table.interleaved ? 2 * i + 1 : i + pairs;
    const float a = v[ia], b = v[ib];
    v[ia] = a * c - b * s;
    v[ib] = a * s + b * c;
  }
}

// idx = (row * heads + head) * count + i.
__global__ void copy_heads_kernel(HeadsView dst, HeadsView src, int64_t rows, int64_t heads,
                                  int64_t count) {
  const int64_t n = rows * heads * count;
  for (int64_t idx = thread_index(); idx < n; idx += thread_count()) {
    const auto [row, head, i] = split_index(idx, heads, count);
    dst.ptr[row * dst.row_stride + head * dst.head_stride + dst.offset + i] =
        src.ptr[row * src.row_stride + head * src.head_stride + src.offset + i];
  }
}

// idx = (row * heads + head) * count + i, row = b * seq + s; written to cache slot length + s.
template <class T>
__global__ void store_tokens_kernel(T* part, int64_t heads, int64_t capacity, int64_t width,
                                    int64_t length, int64_t rows, int64_t seq, HeadsView src,
                                    int64_t dst_offset, int64_t count) {
  const int64_t n = rows * heads * count;
  for (int64_t idx = thread_index(); idx < n; idx += thread_count()) {
    const auto [row, head, i] = split_index(idx, heads, count);
    const int64_t b = row / seq, s = row % seq;
    const int64_t slot = length + s;
    const int64_t dst = ((b * heads + head) * capacity + slot) * width + dst_offset + i;
    part[dst] =
        from_float<T>(src.ptr[row * src.row_stride + head * src.head_stride + src.offset + i]);
  }
}

// idx = (stream * tokens + t) * width + i, stream = b * dst_heads + head; reads slot first + t
// of the part's head `head`, or of its one head when it has one (part_heads 1: broadcast).
template <class T>
__global__ void gather_tokens_kernel(const T* part, int64_t part_heads, int64_t streams,
                                     int64_t dst_heads, int64_t capacity, int64_t width,
                                     int64_t first, int64_t tokens, float* dst, int64_t dst_width,
                                     int64_t dst_offset) {
  const int64_t n = streams * tokens * width;
  for (int64_t idx = thread_index(); idx < n; idx += thread_count()) {
    const auto [stream, t, i] = split_index(idx, tokens, width);
    const int64_t b = stream / dst_heads, head = part_heads == 1 ? 0 : stream % dst_heads;
    dst[(stream * tokens + t) * dst_width + dst_offset + i] =
        to_float(part[((b * part_heads + head) * capacity + first + t) * width + i]);
  }
}

template <class T>
__global__ void fill_kernel(T* part, int64_t n, float value) {
  for (int64_t idx = thread_index(); idx < n; idx += thread_count())
    part[idx] = from_float<T>(value);
}

// A value in [-sqrt(3), sqrt(3)) from a 64-bit mix of (seed, index) (splitmix64 finaliser).
__device__ inline float synthetic_value(uint64_t seed, uint64_t index) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + index;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  const float unit = static_cast<float>(z >> 40) * (1.0f / 16777216.0f);  // [0, 1)
  return (unit * 2.0f - 1.0f) * 1.7320508f;
}

// idx = (stream * tokens + t) * width + i over the filled slots only.
template <class T>
__global__ void fill_synthetic_kernel(T* part, int64_t streams, int64_t capacity, int64_t width,
                                      int64_t tokens, uint64_t seed) {
  const int64_t n = streams * tokens * width;
  for (int64_t idx = thread_index(); idx < n; idx += thread_count()) {
    const auto [stream, t, i] = split_index(idx, tokens, width);
    const int64_t element = (stream * capacity + t) * width + i;
    part[element] = from_float<T>(synthetic_value(seed, static_cast<uint64_t>(element)));
  }
}

// The one permutation behind group_queries and ungroup_outputs: idx over the token layout
// [batch, seq, heads, dim] (heads = kv_heads * group); head h = g * group + j of token s is row
// r = s * group + j of kv head g in the grouped layout [batch, kv_heads, seq * group, dim].
// to_grouped copies tokens -> grouped, else grouped -> tokens.
__global__ void regroup_kernel(const float* src, int64_t batch, int64_t seq, int64_t kv_heads,
                               int64_t group, int64_t dim, bool to_grouped, float* dst) {
  const int64_t heads = kv_heads * group;
  const int64_t n = batch * seq * heads * dim;
  for (int64_t idx = thread_index(); idx < n; idx += thread_count()) {
    const int64_t i = idx % dim;
    const int64_t h = (idx / dim) % heads;
    const int64_t s = (idx / (dim * heads)) % seq;
    const int64_t b = idx / (dim * heads * seq);
    const int64_t g = h / group, r = s * group + h % group;
    const int64_t grouped = ((b * kv_heads + g) * seq * group + r) * dim + i;
    if (to_grouped)
      dst[grouped] = src[idx];
    else
      dst[idx] = src[grouped];
  }
}

int64_t part_elements(const CachePartView& part) {
  return part.batch * part.heads * part.capacity * part.width;
}

}  // namespace

void add_bias(float* y, int64_t rows, int64_t cols, const float* bias) {
  ATTN_LAUNCH(add_bias_kernel, element_grid(rows * cols), dim3(kElementThreads), y, rows, cols,
              bias);
}

void rms_norm(float* x, int64_t rows, int64_t dim, int64_t stride, const float* weight, float eps) {
  ATTN_LAUNCH(rms_norm_kernel, row_grid(rows), dim3(kRowThreads), x, dim, stride, weight, eps);
}

void rope(const HeadsView& x, int64_t rows, int64_t heads, const int64_t* positions,
          const RopeTable& table) {
  if (table.pairs == 0) return;
  ATTN_LAUNCH(rope_kernel, element_grid(rows * heads * table.pairs), dim3(kElementThreads), x, rows,
              heads, positions, table);
}

void copy_heads(const HeadsView& dst, const HeadsView& src, int64_t rows, int64_t heads,
                int64_t count) {
  ATTN_LAUNCH(copy_heads_kernel, element_grid(rows * heads * count), dim3(kElementThreads), dst,
              src, rows, heads, count);
}

void store_tokens(const CachePartView& part, int64_t length, int64_t seq, const HeadsView& src,
                  int64_t dst_offset, int64_t count) {
  const int64_t rows = part.batch * seq;
  dispatch_dtype(part.dtype, [&](auto tag) {
    using T = decltype(tag);
    ATTN_LAUNCH(store_tokens_kernel<T>, element_grid(rows * part.heads * count),
                dim3(kElementThreads), static_cast<T*>(part.data), part.heads, part.capacity,
                part.width, length, rows, seq, src, dst_offset, count);
  });
}

void gather_tokens(const CachePartView& part, int64_t first, int64_t tokens, float* dst,
                   int64_t dst_width, int64_t dst_offset, int64_t dst_heads) {
  if (first < 0 || tokens < 0 || first + tokens > part.capacity)
    throw Error("gather_tokens: slots [" + std::to_string(first) + ", " +
                std::to_string(first + tokens) + ") outside the cache capacity " +
                std::to_string(part.capacity));
  if (dst_heads == 0) dst_heads = part.heads;
  if (part.heads != dst_heads && part.heads != 1)
    throw Error("gather_tokens: a part of " + std::to_string(part.heads) + " heads into " +
                std::to_string(dst_heads));
  const int64_t streams = part.batch * dst_heads;
  dispatch_dtype(part.dtype, [&](auto tag) {
    using T = decltype(tag);
    ATTN_LAUNCH(gather_tokens_kernel<T>, element_grid(streams * tokens * part.width),
                dim3(kElementThreads), static_cast<const T*>(part.data), part.heads, streams,
                dst_heads, part.capacity, part.width, first, tokens, dst, dst_width, dst_offset);
  });
}

void fill_part(const CachePartView& part, float value) {
  const int64_t n = part_elements(part);
  dispatch_dtype(part.dtype, [&](auto tag) {
    using T = decltype(tag);
    ATTN_LAUNCH(fill_kernel<T>, element_grid(n), dim3(kElementThreads), static_cast<T*>(part.data),
                n, value);
  });
}

void fill_part_synthetic(const CachePartView& part, int64_t tokens, uint64_t seed) {
  const int64_t streams = part.batch * part.heads;
  if (tokens == 0) return;
  dispatch_dtype(part.dtype, [&](auto tag) {
    using T = decltype(tag);
    ATTN_LAUNCH(fill_synthetic_kernel<T>, element_grid(streams * tokens * part.width),
                dim3(kElementThreads), static_cast<T*>(part.data), streams, part.capacity,
                part.width, tokens, seed);
  });
}

void group_queries(const float* q, int64_t batch, int64_t seq, int64_t kv_heads, int64_t group,
                   int64_t dim, float* grouped) {
  ATTN_LAUNCH(regroup_kernel, element_grid(batch * seq * kv_heads * group * dim),
              dim3(kElementThreads), q, batch, seq, kv_heads, group, dim, true, grouped);
}

void ungroup_outputs(const float* grouped, int64_t batch, int64_t seq, int64_t kv_heads,
                     int64_t group, int64_t dim, float* out) {
  ATTN_LAUNCH(regroup_kernel, element_grid(batch * seq * kv_heads * group * dim),
              dim3(kElementThreads), grouped, batch, seq, kv_heads, group, dim, false, out);
}

ATTNLAB_CUDA_END
