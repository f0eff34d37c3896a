// The error checks of kernels/cuda (cuda_api.h): CUDA runtime and cuBLAS status codes become
// attnlab::Error with the file, line and call that failed.
#include <string>

#include "core/error.h"
#include "kernels/cuda/cuda_api.h"

ATTNLAB_CUDA_BEGIN

namespace {

// "kernels/cuda/cuda_core.cpp" rather than the build machine's absolute path.
std::string short_path(const char* file) {
  const std::string path(file);
  const size_t at = path.rfind("kernels/cuda/");
  return at == std::string::npos ? path : path.substr(at);
}

std::string where(const char* file, int line) {
  return short_path(file) + ":" + std::to_string(line);
}

}  // namespace

void throw_cuda_error(cudaError_t error, const char* call, const char* file, int line) {
  // The runtime also keeps the error as its "last error"; clear it so that the next launch
  // check does not report it again (allocation failures are not sticky: the device stays
  // usable and the next case of a sweep can run).
  (void)cudaGetLastError();
  const std::string detail = std::string(call) + " failed at " + where(file, line) + ": " +
                             cudaGetErrorName(error) + ": " + cudaGetErrorString(error);
  if (error == cudaErrorMemoryAllocation) throw Error("out of device memory: " + detail);
  throw Error("CUDA error: " + detail);
}

void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
  (void)cudaGetLastError();
  const std::string detail = std::string(call) + " failed at " + where(file, line) + ": " +
                             cublasGetStatusName(status) + ": " + cublasGetStatusString(status);
  if (status == CUBLAS_STATUS_ALLOC_FAILED) throw Error("out of device memory: " + detail);
  throw Error("cuBLAS error: " + detail);
}

void check_launch(const char* kernel, const char* file, int line) {
  const cudaError_t launch = cudaGetLastError();
  if (launch != cudaSuccess)
    throw Error(std::string("CUDA error: kernel ") + kernel + " did not launch at " +
                where(file, line) + ": " + cudaGetErrorName(launch) + ": " +
                cudaGetErrorString(launch));
#ifndef NDEBUG
  const cudaError_t run = cudaDeviceSynchronize();
  if (run != cudaSuccess) {
    (void)cudaGetLastError();
    throw Error(std::string("CUDA error: kernel ") + kernel + " failed at " + where(file, line) +
                ": " + cudaGetErrorName(run) + ": " + cudaGetErrorString(run));
  }
#endif
}

ATTNLAB_CUDA_END
