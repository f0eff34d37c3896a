// Row-major fp32 GEMMs through cuBLAS; see cuda_gemm.h.
#include "kernels/cuda/cuda_gemm.h"

#include <climits>
#include <string>

#include "core/error.h"

ATTNLAB_CUDA_BEGIN

namespace {

int to_int(int64_t value, const char* what) {
  if (value < 0 || value > INT_MAX)
    throw Error(std::string("GEMM ") + what + " " + std::to_string(value) +
                " is out of cuBLAS's int range");
  return static_cast<int>(value);
}

}  // namespace

ColumnMajorGemm to_column_major(const RowMajorGemm& g) {
  // Row-major X [r x c] with leading dimension ld is, read column-major, X^T [c x r] with the
  // same ld. So the row-major C = op(A) op(B) is the column-major C^T = op(B)^T op(A)^T: cuBLAS
  // computes C^T [n x m] from its first operand B^T-ish [n x k] and second A^T-ish [k x m], and
  // each operand keeps its own transpose flag.
  ColumnMajorGemm c;
  c.trans_a = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  c.trans_b = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  c.m = g.n;
  c.n = g.m;
  c.k = g.k;
  c.a = g.b;
  c.lda = g.ldb;
  c.stride_a = g.stride_b;
  c.b = g.a;
  c.ldb = g.lda;
  c.stride_b = g.stride_a;
  c.c = g.c;
  c.ldc = g.ldc;
  c.stride_c = g.stride_c;
  c.batch = g.batch;
  c.alpha = g.alpha;
  c.beta = g.beta;
  return c;
}

Blas::Blas() {
  CUBLAS_CHECK(cublasCreate(&handle_));
  const cublasStatus_t math = cublasSetMathMode(handle_, CUBLAS_DEFAULT_MATH);
  if (math != CUBLAS_STATUS_SUCCESS) {
    (void)cublasDestroy(handle_);
    check_cublas(math, "cublasSetMathMode", __FILE__, __LINE__);
  }
}

Blas::~Blas() {
  if (handle_ != nullptr) (void)cublasDestroy(handle_);
}

void Blas::gemm(const RowMajorGemm& row_major) const {
  const ColumnMajorGemm g = to_column_major(row_major);
  const int m = to_int(g.m, "m"), n = to_int(g.n, "n"), k = to_int(g.k, "k");
  const int lda = to_int(g.lda, "lda"), ldb = to_int(g.ldb, "ldb"), ldc = to_int(g.ldc, "ldc");
  const int batch = to_int(g.batch, "batch");
  if (batch == 1) {
    CUBLAS_CHECK(cublasGemmEx(handle_, g.trans_a, g.trans_b, m, n, k, &g.alpha, g.a, CUDA_R_32F,
                              lda, g.b, CUDA_R_32F, ldb, &g.beta, g.c, CUDA_R_32F, ldc,
                              CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return;
  }
  CUBLAS_CHECK(cublasGemmStridedBatchedEx(handle_, g.trans_a, g.trans_b, m, n, k, &g.alpha, g.a,
                                          CUDA_R_32F, lda, g.stride_a, g.b, CUDA_R_32F, ldb,
                                          g.stride_b, &g.beta, g.c, CUDA_R_32F, ldc, g.stride_c,
                                          batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

ATTNLAB_CUDA_END
