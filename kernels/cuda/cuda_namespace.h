// The namespace of the CUDA backend's code. kernels/cuda is compiled twice: for the device (nvcc,
// the CUDA runtime and cuBLAS: library attnlab_kernels_cuda) and, for the tests only, against the
// CPU emulation of the CUDA subset it uses (kernels/cuda/emulation/, ATTNLAB_CUDA_EMULATION:
// library attnlab_kernels_cuda_emulated). Each build lives in its own inline namespace so that
// both can be linked into one test program; code names attnlab::cuda::X either way.
#pragma once

#ifdef ATTNLAB_CUDA_EMULATION
#define ATTNLAB_CUDA_BEGIN  \
  namespace attnlab::cuda { \
  inline namespace emulated {
#else
#define ATTNLAB_CUDA_BEGIN  \
  namespace attnlab::cuda { \
  inline namespace device {
#endif
#define ATTNLAB_CUDA_END \
  }                      \
  }
