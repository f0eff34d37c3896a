// The attention step shared by every CUDA form: new tokens (already stored in the cache at slots
// length .. length + seq - 1) attend over the cache slots their mask lets them see (StepKeys:
// variants/mask.h's MaskSpec::keys_for, one [lo, hi) per new token). Decode (seq == 1) runs the
// split-KV kernel and its log-sum-exp combine; prefill (seq > 1) converts the visible keys and
// values to fp32, groups the queries by kv head and runs two strided-batched cuBLAS GEMMs per
// chunk of queries around the masked softmax kernel (scores = Q K^T, out = P V), chunked so that
// the score matrix stays under a memory budget. Internal to kernels/cuda.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cuda/cuda_cache.h"
#include "kernels/cuda/cuda_gemm.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/cuda_memory.h"
#include "variants/mask.h"

ATTNLAB_CUDA_BEGIN

// The visible keys of one step's new tokens s < seq: mask.keys_for(length + s). The host reads
// them through of() (launch sizes: decode splits, prefill chunk key blocks); the kernels read the
// same ranges from `device` ([seq, 2] int64 lo, hi; AttendShape::key_ranges), staged by
// stage_step_keys() before the device step so that a timed step copies nothing. Everything
// downstream takes ranges, so a new mask (a sliding window) is a change of MaskSpec only.
struct StepKeys {
  MaskSpec mask;
  int64_t length = 0, seq = 0;
  const int64_t* device = nullptr;

  KeyRange of(int64_t s) const { return mask.keys_for(length + s); }
  // The union of the ranges of new tokens s0 .. s1 - 1 (MaskSpec::keys_for_block).
  KeyRange of_block(int64_t s0, int64_t s1) const {
    return mask.keys_for_block(length + s0, length + s1 - 1);
  }
};

// Computes the ranges of new tokens 0 .. seq - 1 after `length` cached tokens and copies them to
// the workspace (Slot::key_ranges).
StepKeys stage_step_keys(Workspace& workspace, const MaskSpec& mask, int64_t length, int64_t seq);

struct AttendRequest {
  const float* q = nullptr;           // [batch * seq, heads, key_dim], dense
  const float* score_bias = nullptr;  // [batch * seq, heads], added to q.k before scaling; or null
  int key_parts[2] = {0, 0};  // cache parts whose concatenation is the key (kv_heads or 1 head)
  int key_part_count = 1;
  int value_part = 1;  // cache part that is the value (width value_dim)
  int64_t heads = 0, kv_heads = 0, key_dim = 0, value_dim = 0;
  float scale = 1.0f;
  float* out = nullptr;  // [batch * seq, heads, value_dim]
  float* lse = nullptr;  // [batch * seq, heads]
};

// keys.length must be the cache's length (tokens before this step); keys.seq new tokens.
void attend(const Blas& blas, Workspace& workspace, const CudaCache& cache, const StepKeys& keys,
            const AttendRequest& request);

// Bytes the prefill score matrix of one chunk may take (default 256 MiB); tests lower it to
// exercise the chunking. Not thread-safe; set it before running.
size_t prefill_score_budget();
void set_prefill_score_budget(size_t bytes);

ATTNLAB_CUDA_END
