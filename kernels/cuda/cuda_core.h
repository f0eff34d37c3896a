// The attention step shared by every CUDA form: new tokens (already stored in the cache at slots
// length .. length + seq - 1) attend causally over the cache. Decode (seq == 1) runs the
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

ATTNLAB_CUDA_BEGIN

struct AttendRequest {
  const float* q = nullptr;           // [batch * seq, heads, key_dim], dense
  const float* score_bias = nullptr;  // [batch * seq, heads], added to q.k before scaling; or null
  int key_parts[2] = {0, 0};          // cache parts whose concatenation is the key
  int key_part_count = 1;
  int value_part = 1;  // cache part that is the value (width value_dim)
  int64_t heads = 0, kv_heads = 0, key_dim = 0, value_dim = 0;
  float scale = 1.0f;
  float* out = nullptr;  // [batch * seq, heads, value_dim]
  float* lse = nullptr;  // [batch * seq, heads]
};

void attend(const Blas& blas, Workspace& workspace, const CudaCache& cache, int64_t seq,
            const AttendRequest& request);

// Bytes the prefill score matrix of one chunk may take (default 256 MiB); tests lower it to
// exercise the chunking. Not thread-safe; set it before running.
size_t prefill_score_budget();
void set_prefill_score_budget(size_t bytes);

ATTNLAB_CUDA_END
