// fp32 GEMMs of the CUDA backend through cuBLAS, stated in row-major terms. The backend keeps
// every matrix row-major (as the CPU code and the weights do); cuBLAS is column-major, and
// to_column_major() is the one place that translates: a row-major C = A B is the column-major
// C^T = B^T A^T, so cuBLAS gets B as its first operand, A as its second, and m and n swapped,
// with the leading dimensions unchanged. Tested against plain loops in the emulation tests.
#pragma once

#include <cstdint>

#include "kernels/cuda/cuda_api.h"

ATTNLAB_CUDA_BEGIN

// C [m x n] = alpha * op(A) [m x k] * op(B) [k x n] + beta * C, `batch` times. All row-major:
// ld* = elements between the starts of consecutive stored rows; op(A) = A stored [m x k] when
// !trans_a, A^T with A stored [k x m] when trans_a (likewise B). Matrix i of a batch starts
// stride_* elements after matrix i - 1.
struct RowMajorGemm {
  int64_t m = 0, n = 0, k = 0;
  const float* a = nullptr;
  int64_t lda = 0;
  bool trans_a = false;
  int64_t stride_a = 0;
  const float* b = nullptr;
  int64_t ldb = 0;
  bool trans_b = false;
  int64_t stride_b = 0;
  float* c = nullptr;
  int64_t ldc = 0;
  int64_t stride_c = 0;
  int64_t batch = 1;
  float alpha = 1.0f;
  float beta = 0.0f;
};

// The arguments of cublasGemmStridedBatchedEx (column-major) for the same product.
struct ColumnMajorGemm {
  cublasOperation_t trans_a, trans_b;
  int64_t m, n, k;
  const float* a;
  int64_t lda, stride_a;
  const float* b;
  int64_t ldb, stride_b;
  float* c;
  int64_t ldc, stride_c;
  int64_t batch;
  float alpha, beta;
};
ColumnMajorGemm to_column_major(const RowMajorGemm& gemm);

// One cuBLAS handle (current device, legacy default stream, CUBLAS_DEFAULT_MATH: no TF32).
class Blas {
 public:
  Blas();
  ~Blas();
  Blas(const Blas&) = delete;
  Blas& operator=(const Blas&) = delete;

  // cublasGemmEx (batch 1) or cublasGemmStridedBatchedEx, fp32 in and out, CUBLAS_COMPUTE_32F.
  // Throws attnlab::Error on a bad shape (sizes beyond int) or a cuBLAS error.
  void gemm(const RowMajorGemm& gemm) const;

 private:
  cublasHandle_t handle_ = nullptr;
};

ATTNLAB_CUDA_END
