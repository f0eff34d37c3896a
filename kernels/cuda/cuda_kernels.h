// The CUDA kernels of the backend, as host functions that launch them on the legacy default
// stream and check the launch (kernels/cuda/cuda_kernels.cu: element-wise and per-row kernels;
// kernels/cuda/cuda_attention_kernels.cu: softmax and attention). Every pointer is a device
// pointer; every matrix is row-major and dense unless a stride says otherwise. Internal to
// kernels/cuda; plain C++ so that the host code (compiled by the C++ compiler) can include it.
#pragma once

#include <cstdint>

#include "kernels/cuda/cuda_dtype.h"
#include "kernels/cuda/cuda_namespace.h"

ATTNLAB_CUDA_BEGIN

// One part of a KV cache: [batch, heads, capacity, width] elements of `dtype`, head-major, so
// that one kv head of one sequence is a contiguous [capacity, width] matrix.
struct CachePartView {
  void* data = nullptr;
  DType dtype = DType::fp32;
  int64_t batch = 0, heads = 0, capacity = 0, width = 0;
};

// A per-head block of a row-major activation: element i of head h of row r is at
// ptr[r * row_stride + h * head_stride + offset + i]. head_stride 0 repeats one vector for
// every head (the MLA rope key, shared by all heads).
struct HeadsView {
  float* ptr = nullptr;
  int64_t row_stride = 0, head_stride = 0, offset = 0;
};

// ---- cuda_kernels.cu ------------------------------------------------------------------------

// y[r, c] += bias[c], r < rows, c < cols (y dense).
void add_bias(float* y, int64_t rows, int64_t cols, const float* bias);
// RMSNorm in place on `rows` rows of `dim` floats, `stride` floats apart:
// x / sqrt(mean(x^2) + eps) * weight.
void rms_norm(float* x, int64_t rows, int64_t dim, int64_t stride, const float* weight, float eps);
// A layer's RoPE as the kernels take it (built from variants/rope.h's RopeSpec by DeviceRope,
// cuda_layer.h): inv_freq = RopeSpec::inv_freq_table() as a device array of `pairs` doubles,
// so the frequency formula (and any frequency scaling) lives in variants/rope.cpp only.
struct RopeTable {
  const double* inv_freq = nullptr;  // device [pairs]
  int64_t pairs = 0;                 // rotary_dim / 2; 0 rotates nothing
  bool interleaved = false;          // RopeLayout::interleaved, else half_split
  double attention_factor = 1.0;     // RopeSpec::attention_factor()
};

// RoPE in place on the first 2 * table.pairs elements of every head of `heads` heads of every
// row, at position positions[row]: pair i rotated by angle = position * inv_freq[i] (in double),
// cos and sin times attention_factor; the pairs are RopeSpec::pair(i): (x[2i], x[2i+1]) when
// interleaved, else (x[i], x[i + pairs]).
void rope(const HeadsView& x, int64_t rows, int64_t heads, const int64_t* positions,
          const RopeTable& table);
// dst head h of row r [0, count) = src head h of row r [0, count), r < rows, h < heads.
void copy_heads(const HeadsView& dst, const HeadsView& src, int64_t rows, int64_t heads,
                int64_t count);
// Appends `seq` new tokens per sequence (rows = batch * seq, row = b * seq + s) to the cache
// part: elements [dst_offset, dst_offset + count) of slot length + s of head h of sequence b
// get src head h of row (b, s) [0, count), converted to the part's dtype. src.head_stride 0
// writes the same vector to every head.
void store_tokens(const CachePartView& part, int64_t length, int64_t seq, const HeadsView& src,
                  int64_t dst_offset, int64_t count);
// Slots [first, first + tokens) of every (sequence, head) of the part, converted to fp32, slot
// first + t into dst[((b * dst_heads + h) * tokens + t) * dst_width + dst_offset + i]. dst_heads
// 0 means part.heads; a part of one head may fill dst_heads > 1 heads (a key part shared by
// every kv head: GTA's rope key), each a copy of it.
void gather_tokens(const CachePartView& part, int64_t first, int64_t tokens, float* dst,
                   int64_t dst_width, int64_t dst_offset, int64_t dst_heads = 0);
// Every element of the part set to `value` (the cache's NaN poison).
void fill_part(const CachePartView& part, float value);
// Slots [0, tokens) of every (sequence, head) set to deterministic values in [-sqrt 3, sqrt 3)
// (mean 0, variance 1) from a hash of (seed, element index).
void fill_part_synthetic(const CachePartView& part, int64_t tokens, uint64_t seed);
// q [batch, seq, heads, dim] -> grouped [batch, kv_heads, seq * group, dim]: row s * group + j of
// kv head g is query head g * group + j of token s (heads = kv_heads * group).
void group_queries(const float* q, int64_t batch, int64_t seq, int64_t kv_heads, int64_t group,
                   int64_t dim, float* grouped);
// The inverse for outputs: grouped [batch, kv_heads, seq * group, dim] -> out [batch, seq, heads,
// dim].
void ungroup_outputs(const float* grouped, int64_t batch, int64_t seq, int64_t kv_heads,
                     int64_t group, int64_t dim, float* out);

// ---- cuda_attention_kernels.cu --------------------------------------------------------------

// What every attention kernel needs to know about one forward: new token s < seq of each of
// `batch` sequences (stored at cache slot length + s before attention runs) attends over the
// cache slots [key_ranges[2s], key_ranges[2s + 1]): MaskSpec::keys_for(length + s)
// (variants/mask.h), computed on the host per step and staged on the device (StepKeys,
// cuda_core.h). Passing the ranges, not a rule, keeps the kernels mask-agnostic: a new mask
// (a sliding window) changes MaskSpec only. Ranges are the same for every sequence of the batch
// (they share the cache length). Query head h reads kv head h / group.
struct AttendShape {
  int64_t batch = 0, seq = 0, heads = 0, kv_heads = 0, group = 0;
  int64_t length = 0;
  int64_t key_dim = 0, value_dim = 0;
  float scale = 1.0f;
  const int64_t* key_ranges = nullptr;  // device [seq, 2]: lo, hi of new token s
};

// Keys are the concatenation of up to two cache parts (MLA absorb: latent | rope key), each
// [batch, kv_heads, capacity, width] of one dtype, or [batch, 1, capacity, width]: one head that
// every kv head reads (the rope key shared by all latent heads, GTA); values are one part of
// width value_dim and kv_heads heads.
struct KeyValueParts {
  CachePartView key[2];
  int key_parts = 0;
  CachePartView value;
};

// Keys per split of the decode kernel (and per block: the scores of a split live in shared
// memory).
constexpr int64_t kSplitKeys = 256;
inline int64_t splits_for(int64_t visible_keys) {
  return (visible_keys + kSplitKeys - 1) / kSplitKeys;
}

// Prefill softmax over one chunk of query rows, in place: scores [batch * kv_heads, rows, tokens]
// hold q.k for the grouped queries of tokens s0 .. s1 - 1 (rows = (s1 - s0) * group) against
// keys first_key .. first_key + tokens - 1 (column t is key first_key + t; the chunk's
// MaskSpec::keys_for_block covers every row's range). Each row becomes
// softmax((score + bias) * scale) over its visible keys [lo, hi) and 0 elsewhere;
// lse[(b * seq + s) * heads + h] gets max + log(sum). score_bias [batch * seq * heads] or null.
void masked_softmax(const AttendShape& shape, float* scores, int64_t s0, int64_t s1,
                    int64_t first_key, int64_t tokens, const float* score_bias, float* lse);

// Decode (split-KV): query row-head qh = (b * seq + s) * heads + h of q [batch * seq * heads,
// key_dim] against split j (keys lo + j * kSplitKeys .. of its visible keys [lo, hi)); writes the
// split's unnormalised output sum_t exp(x_t - m_j) v_t to partials[(qh * splits + j) * value_dim
// ..] and (m_j, sum_t exp(x_t - m_j)) to stats[(qh * splits + j) * 2 ..], x_t = (q.k_t + bias) *
// scale. Splits past a query's visible keys are not read back: `splits` is the most any query
// needs (splits_for of the largest range size).
void split_attend(const AttendShape& shape, const float* q, const float* score_bias,
                  const KeyValueParts& kv, int64_t splits, float* partials, float* stats);
// The log-sum-exp combine of the splits_for(hi - lo) splits of each query: out [batch * seq *
// heads, value_dim], lse [.. heads].
void combine_splits(const AttendShape& shape, int64_t splits, const float* partials,
                    const float* stats, float* out, float* lse);

// Attention sinks (gpt-oss), after the attention of every query row-head qh = r * heads + h,
// r < rows: one more logit sinks[h] whose value is zero joins the softmax, so
// lse'[qh] = log(exp(lse[qh]) + exp(sinks[h])) and out[qh * dim ..] *= exp(lse[qh] - lse'[qh]);
// lse[qh] becomes lse'[qh]. sinks [heads] is on the scale of the scaled scores.
void apply_sinks(float* out, float* lse, int64_t rows, int64_t heads, int64_t dim,
                 const float* sinks);

// MLA absorb's key-bias score: out[r * heads + h] = q[(r * heads + h) * q_stride + i] .
// b_uk[h * nope + i] summed over i < nope.
void key_bias_scores(const float* q, int64_t rows, int64_t heads, int64_t q_stride, int64_t nope,
                     const float* b_uk, float* out);

ATTNLAB_CUDA_END
