// Device-side helpers shared by the .cu files of kernels/cuda: the checked launch (ATTN_LAUNCH:
// cudaGetLastError after every launch, cudaDeviceSynchronize too in debug builds), grid sizes
// for grid-stride loops, fp32 <-> storage-type conversions, the dispatch on a cache dtype and
// block-wide reductions through shared memory. Written in the subset of CUDA that the CPU
// emulation (kernels/cuda/emulation/) also runs: no warp intrinsics, no dynamic shared memory.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/cuda/cuda_api.h"
#include "kernels/cuda/cuda_dtype.h"

ATTNLAB_CUDA_BEGIN

constexpr int kElementThreads = 256;  // threads per block of the element-wise kernels
constexpr int kRowThreads = 128;      // threads per block of the one-block-per-row kernels
constexpr int64_t kMaxElementBlocks = 4096;

// Blocks for a grid-stride loop over n elements (at least 1, at most kMaxElementBlocks).
inline dim3 element_grid(int64_t n) {
  int64_t blocks = (n + kElementThreads - 1) / kElementThreads;
  if (blocks < 1) blocks = 1;
  if (blocks > kMaxElementBlocks) blocks = kMaxElementBlocks;
  return dim3(static_cast<unsigned>(blocks));
}

// One block per row: rows must fit the grid's x dimension (2^31 - 1).
dim3 row_grid(int64_t rows);

template <class... Params, class... Args>
void launch_checked(const char* name, const char* file, int line, void (*kernel)(Params...),
                    dim3 grid, dim3 block, Args... args) {
#ifdef ATTNLAB_CUDA_EMULATION
  emulated_launch(grid, block, [&] { kernel(args...); });
#else
  // clang-format off
  kernel<<<grid, block>>>(args...);
  // clang-format on
#endif
  check_launch(name, file, line);
}

#define ATTN_LAUNCH(kernel, grid, block, ...) \
  launch_checked(#kernel, __FILE__, __LINE__, kernel, grid, block, __VA_ARGS__)

// Calls f(T()) with T the element type of `dtype`: float, __nv_bfloat16 or __half; the other
// dtypes are no cache dtype of this backend (its factory rejects them) and throw.
template <class F>
void dispatch_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::fp32:
      f(float());
      return;
    case DType::bf16:
      f(__nv_bfloat16());
      return;
    case DType::fp16:
      f(__half());
      return;
    case DType::fp64:
    case DType::fp8:
    case DType::i64:
      break;
  }
  throw std::logic_error(std::string("CUDA kernels: no ") + to_string(dtype) + " cache parts");
}

// Index of this thread in a 1-D grid, and the number of threads in the grid.
__device__ inline int64_t thread_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ inline int64_t thread_count() {
  return static_cast<int64_t>(gridDim.x) * blockDim.x;
}

// The coordinates of a flat index over [outer, middle, inner]: idx = (outer * middle + middle
// coordinate) * inner + inner coordinate (the element-wise kernels' decomposition).
struct Index3 {
  int64_t outer, middle, inner;
};
__device__ inline Index3 split_index(int64_t idx, int64_t middle, int64_t inner) {
  return {idx / (inner * middle), (idx / inner) % middle, idx % inner};
}

__device__ inline int64_t min64(int64_t a, int64_t b) {
  return a < b ? a : b;
}

__device__ inline float to_float(float v) {
  return v;
}
__device__ inline float to_float(__nv_bfloat16 v) {
  return __bfloat162float(v);
}
__device__ inline float to_float(__half v) {
  return __half2float(v);
}

// Round to nearest even, as the CPU backend's conversions do.
template <class T>
__device__ inline T from_float(float v);
template <>
__device__ inline float from_float<float>(float v) {
  return v;
}
template <>
__device__ inline __nv_bfloat16 from_float<__nv_bfloat16>(float v) {
  return __float2bfloat16(v);
}
template <>
__device__ inline __half from_float<__half>(float v) {
  return __float2half(v);
}

// Block-wide reductions: every thread of the block passes one value and gets the result.
// scratch is a __shared__ float[blockDim.x], result a __shared__ float. Thread 0 combines the
// values in thread order, so the result does not depend on timing. Two barriers; every thread
// of the block must call it.
__device__ inline float block_max(float value, float* scratch, float* result) {
  scratch[threadIdx.x] = value;
  __syncthreads();
  if (threadIdx.x == 0) {
    float r = scratch[0];
    for (unsigned i = 1; i < blockDim.x; ++i) r = fmaxf(r, scratch[i]);
    *result = r;
  }
  __syncthreads();
  return *result;
}

__device__ inline float block_sum(float value, float* scratch, float* result) {
  scratch[threadIdx.x] = value;
  __syncthreads();
  if (threadIdx.x == 0) {
    float r = scratch[0];
    for (unsigned i = 1; i < blockDim.x; ++i) r += scratch[i];
    *result = r;
  }
  __syncthreads();
  return *result;
}

ATTNLAB_CUDA_END
