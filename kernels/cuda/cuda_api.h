// The one place kernels/cuda includes the CUDA runtime, cuBLAS and the bf16/fp16 types — or, with
// ATTNLAB_CUDA_EMULATION (tests only), the CPU emulation of the same subset
// (kernels/cuda/emulation/cuda_emulation.h). Also the error checks every call goes through:
//   CUDA_CHECK(cudaMemcpy(...));      // throws attnlab::Error "file:line: call: name: text"
//   CUBLAS_CHECK(cublasGemmEx(...));
// A failed allocation (cudaErrorMemoryAllocation, CUBLAS_STATUS_ALLOC_FAILED) gives a message
// that starts with "out of device memory", which sweeps record per case.
#pragma once

#ifdef ATTNLAB_CUDA_EMULATION
#include "kernels/cuda/emulation/cuda_emulation.h"
#else
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#endif

#include "kernels/cuda/cuda_namespace.h"

ATTNLAB_CUDA_BEGIN

[[noreturn]] void throw_cuda_error(cudaError_t error, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* call, const char* file,
                                     int line);

inline void check_cuda(cudaError_t error, const char* call, const char* file, int line) {
  if (error != cudaSuccess) throw_cuda_error(error, call, file, line);
}

inline void check_cublas(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) throw_cublas_error(status, call, file, line);
}

// After every kernel launch: cudaGetLastError (a bad launch configuration, a missing kernel
// image for this GPU), and in debug builds (NDEBUG not defined) also cudaDeviceSynchronize, so
// that a fault inside the kernel is reported at the kernel that caused it.
void check_launch(const char* kernel, const char* file, int line);

ATTNLAB_CUDA_END

#define CUDA_CHECK(call) ::attnlab::cuda::check_cuda((call), #call, __FILE__, __LINE__)
#define CUBLAS_CHECK(call) ::attnlab::cuda::check_cublas((call), #call, __FILE__, __LINE__)
