// A CPU emulation of the part of CUDA that kernels/cuda uses, for the tests only. With
// ATTNLAB_CUDA_EMULATION the backend's own sources (host code and kernels alike) compile with
// the C++ compiler against this header instead of the CUDA runtime and cuBLAS, and run on the
// CPU launch for launch and GEMM for GEMM — so CI, which has no GPU, runs the backend's index
// math, masks, cache layout and cuBLAS arguments through the conformance suite.
//
// What it models:
//   - device memory: plain host memory, filled with 0xFF bytes (NaN) when allocated so that a
//     read of unwritten scratch poisons results; cudaMalloc fails with
//     cudaErrorMemoryAllocation past an optional limit (set_emulated_memory_limit), as on a full
//     device; the runtime's "last error";
//   - kernel launches: the grid's blocks one after another; a block's threads as fibers
//     (ucontext) that switch at __syncthreads, so that every thread reaches a barrier before
//     any passes it; __shared__ variables are function-local statics, shared by the threads of
//     the running block; launch limits (1024 threads per block, grid y and z below 65536) give
//     cudaErrorInvalidConfiguration;
//   - the schedule: a device promises no order between the threads of a block between two
//     barriers, nor between blocks. Here every barrier interval (the code a thread runs from one
//     __syncthreads to the next) runs the block's threads one after another in a fresh
//     pseudo-random permutation, and the blocks run in a pseudo-random order, all drawn from
//     (seed, launch number, block): deterministic for a given seed and sequence of launches.
//     So a missing barrier between a shared-memory write and another thread's read (or a read
//     and another thread's overwrite) lets the reader run first in some blocks, and the results
//     go wrong. The seed is ATTNLAB_CUDA_EMULATION_SEED (unsigned decimal; default 1; 0 =
//     kSequentialSchedule: threads 0..n-1 and blocks in grid order, the schedule under which
//     a missing barrier after thread 0's write goes unseen) or set_emulated_schedule_seed();
//   - cuBLAS GEMMs: column-major, with cuBLAS's argument checks (leading dimensions), fp32 only;
//   - events: the host clock.
// What it does not: a thread is never interrupted inside a barrier interval, so a race shows
// only as "all of one thread's interval before all of another's" in either order, never as
// interleaved statements; shared memory is not poisoned between blocks (a block sees the last
// block's values, not garbage); concurrency between blocks, warps (no lockstep, no warp
// intrinsics), the device's memory and its limits, the device math library's rounding,
// asynchrony (every call completes before it returns).
#pragma once

#include <cuda_bf16.h>  // __nv_bfloat16 / __half and their host-side conversions (headers only)
#include <cuda_fp16.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>

#include "kernels/cuda/cuda_namespace.h"

// Host compilers see __shared__ as an ignored attribute; here it must make a variable shared by
// the threads (fibers) of a block: a function-local static.
#undef __shared__
#define __shared__ static

ATTNLAB_CUDA_BEGIN

// ---- runtime ---------------------------------------------------------------------------------
// These declarations shadow the CUDA runtime's (which cuda_bf16.h declares in the global
// namespace) for code inside this namespace.

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
};
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};
enum cudaDeviceAttr { cudaDevAttrL2CacheSize = 38 };
struct EmulatedStream;
struct EmulatedEvent;
using cudaStream_t = EmulatedStream*;
using cudaEvent_t = EmulatedEvent*;

cudaError_t cudaMalloc(void** ptr, size_t bytes);
template <class T>
cudaError_t cudaMalloc(T** ptr, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(ptr), bytes);
}
cudaError_t cudaFree(void* ptr);
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t stream = nullptr);
cudaError_t cudaGetLastError();
cudaError_t cudaDeviceSynchronize();
const char* cudaGetErrorName(cudaError_t error);
const char* cudaGetErrorString(cudaError_t error);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attribute, int device);
cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float* milliseconds, cudaEvent_t start, cudaEvent_t end);

// ---- cuBLAS ----------------------------------------------------------------------------------

enum cublasStatus_t {
  CUBLAS_STATUS_SUCCESS = 0,
  CUBLAS_STATUS_NOT_INITIALIZED = 1,
  CUBLAS_STATUS_ALLOC_FAILED = 3,
  CUBLAS_STATUS_INVALID_VALUE = 7,
  CUBLAS_STATUS_NOT_SUPPORTED = 15,
};
enum cublasOperation_t { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 };
enum cudaDataType { CUDA_R_32F = 0 };
enum cublasComputeType_t { CUBLAS_COMPUTE_32F = 68 };
enum cublasGemmAlgo_t { CUBLAS_GEMM_DEFAULT = -1 };
enum cublasMath_t { CUBLAS_DEFAULT_MATH = 0 };
struct EmulatedBlas;
using cublasHandle_t = EmulatedBlas*;

cublasStatus_t cublasCreate(cublasHandle_t* handle);
cublasStatus_t cublasDestroy(cublasHandle_t handle);
cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode);
const char* cublasGetStatusName(cublasStatus_t status);
const char* cublasGetStatusString(cublasStatus_t status);
cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa,
                            cublasOperation_t transb, int m, int n, int k, const void* alpha,
                            const void* a, cudaDataType a_type, int lda, const void* b,
                            cudaDataType b_type, int ldb, const void* beta, void* c,
                            cudaDataType c_type, int ldc, cublasComputeType_t compute,
                            cublasGemmAlgo_t algo);
cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa,
                                          cublasOperation_t transb, int m, int n, int k,
                                          const void* alpha, const void* a, cudaDataType a_type,
                                          int lda, long long stride_a, const void* b,
                                          cudaDataType b_type, int ldb, long long stride_b,
                                          const void* beta, void* c, cudaDataType c_type, int ldc,
                                          long long stride_c, int batch_count,
                                          cublasComputeType_t compute, cublasGemmAlgo_t algo);

// ---- kernels ---------------------------------------------------------------------------------

// The built-in variables of the running thread (set by emulated_launch before it switches to a
// thread's fiber).
inline uint3 threadIdx;
inline uint3 blockIdx;
inline dim3 blockDim;
inline dim3 gridDim;

// Runs `thread` once per thread of every block of the grid (see the header comment). Launch
// errors become the runtime's last error, as a real launch's do.
void emulated_launch(dim3 grid, dim3 block, const std::function<void()>& thread);
void __syncthreads();

// ---- test controls ---------------------------------------------------------------------------

// cudaMalloc fails once the bytes allocated would exceed `bytes` (0: no limit).
void set_emulated_memory_limit(size_t bytes);
size_t emulated_bytes_in_use();

// The schedule's seed (see the header comment); setting it also restarts the launch count, so
// the launches that follow see the same thread orders every time.
constexpr uint64_t kSequentialSchedule = 0;
void set_emulated_schedule_seed(uint64_t seed);
uint64_t emulated_schedule_seed();

ATTNLAB_CUDA_END
