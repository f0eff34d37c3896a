// Measurements of the machine's limits; see machine_limits.h.
#include "bench/machine_limits.h"

#include <cblas.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <Eigen/Dense>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

extern "C" char* openblas_get_corename(void);

namespace attnlab {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Sum of x[0..n), n a multiple of 128, x 64-byte aligned: 8 independent vector accumulators so
// the loop is bound by loads, not by the add latency.
float streaming_sum(const float* x, size_t n) {
#if defined(__AVX512F__)
  __m512 a[8];
  for (auto& v : a) v = _mm512_setzero_ps();
  for (size_t i = 0; i < n; i += 128)
    for (int j = 0; j < 8; ++j) a[j] = _mm512_add_ps(a[j], _mm512_load_ps(x + i + 16 * j));
  for (int j = 1; j < 8; ++j) a[0] = _mm512_add_ps(a[0], a[j]);
  return _mm512_reduce_add_ps(a[0]);
#elif defined(__AVX2__)
  __m256 a[8];
  for (auto& v : a) v = _mm256_setzero_ps();
  for (size_t i = 0; i < n; i += 64)
    for (int j = 0; j < 8; ++j) a[j] = _mm256_add_ps(a[j], _mm256_load_ps(x + i + 8 * j));
  for (int j = 1; j < 8; ++j) a[0] = _mm256_add_ps(a[0], a[j]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, a[0]);
  float s = 0;
  for (float v : lanes) s += v;
  return s;
#else
  float acc = 0;
#pragma omp simd reduction(+ : acc)
  for (size_t i = 0; i < n; ++i) acc += x[i];
  return acc;
#endif
}

}  // namespace

DramReadProbe::DramReadProbe(int threads, size_t bytes)
    : threads_(std::max(1, threads)),
      per_thread_(bytes / sizeof(float) / threads_ / 128 * 128),
      buffer_(static_cast<float*>(
          ::operator new[](per_thread_* threads_ * sizeof(float), std::align_val_t{64}))) {
  // Each thread touches (and so maps) the part it will read.
#pragma omp parallel num_threads(threads_)
  {
    float* part = buffer_ + per_thread_ * omp_get_thread_num();
    for (size_t i = 0; i < per_thread_; ++i) part[i] = 1.0f;
  }
}

DramReadProbe::~DramReadProbe() {
  ::operator delete[](buffer_, std::align_val_t{64});
}

double DramReadProbe::measure(int trials) const {
  double best = 0;
  volatile float sink = 0;
  for (int t = 0; t < trials; ++t) {
    const auto start = std::chrono::steady_clock::now();
    float total = 0;
#pragma omp parallel num_threads(threads_) reduction(+ : total)
    total += streaming_sum(buffer_ + per_thread_ * omp_get_thread_num(), per_thread_);
    const double s = seconds_since(start);
    sink = sink + total;
    best = std::max(best, double(per_thread_ * threads_ * sizeof(float)) / s / 1e9);
  }
  return best;
}

double measure_dram_read_gbps(int threads, size_t bytes, int trials) {
  return DramReadProbe(threads, bytes).measure(trials);
}

namespace {

// Best GFLOP/s of `trials` products C = A B of n x n matrices (after one warm-up).
double time_sgemm(int threads, int n, int trials, bool openblas, const float* a, const float* b,
                  float* c) {
  using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const int saved = Eigen::nbThreads();
  if (openblas)
    openblas_set_num_threads(threads);
  else
    Eigen::setNbThreads(threads);
  Eigen::Map<const Matrix> ma(a, n, n), mb(b, n, n);
  Eigen::Map<Matrix> mc(c, n, n);
  double best = 0;
  for (int t = 0; t <= trials; ++t) {
    const auto start = std::chrono::steady_clock::now();
    if (openblas)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    else
      mc.noalias() = ma * mb;
    if (t > 0) best = std::max(best, 2.0 * n * double(n) * n / seconds_since(start) / 1e9);
  }
  Eigen::setNbThreads(saved);
  return best;
}

}  // namespace

double measure_openblas_sgemm_gflops(int threads, int n, int trials) {
  std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n, 0.0f);
  return time_sgemm(threads, n, trials, true, a.data(), b.data(), c.data());
}

double measure_eigen_sgemm_gflops(int threads, int n, int trials) {
  std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n, 0.0f);
  return time_sgemm(threads, n, trials, false, a.data(), b.data(), c.data());
}

GemmProbe::GemmProbe(int threads, bool openblas, int n)
    : threads_(threads),
      openblas_(openblas),
      n_(n),
      a_(size_t(n) * n, 0.5f),
      b_(size_t(n) * n, 0.25f),
      c_(size_t(n) * n, 0.0f) {}

double GemmProbe::measure(int trials) {
  return time_sgemm(threads_, n_, trials, openblas_, a_.data(), b_.data(), c_.data());
}

double measure_gemm_gflops(int threads, int n, int trials) {
  return std::max(measure_openblas_sgemm_gflops(threads, n, trials),
                  measure_eigen_sgemm_gflops(threads, n, trials));
}

MachineLimits measure_machine_limits(int threads) {
  MachineLimits m;
  m.threads = threads;
  m.dram_read_gbps = measure_dram_read_gbps(threads);
  m.gemm_openblas_gflops = measure_openblas_sgemm_gflops(threads);
  m.gemm_eigen_gflops = measure_eigen_sgemm_gflops(threads);
  const bool blas = m.gemm_openblas_gflops >= m.gemm_eigen_gflops;
  m.gemm_gflops = std::max(m.gemm_openblas_gflops, m.gemm_eigen_gflops);
  m.gemm_source = blas ? "openblas " + openblas_core() : "eigen";
  return m;
}

std::string openblas_core() {
  const char* name = openblas_get_corename();
  return name != nullptr ? name : "unknown";
}

void reexec_for_benchmarking(char** argv) {
  if (std::getenv("ATTNLAB_BENCH_ENV") != nullptr) return;  // done once already
  std::string changed;
  __builtin_cpu_init();
  // Overrides even a set OPENBLAS_CORETYPE that names kernels without AVX-512 on an AVX-512 CPU.
  const std::string core = openblas_core();
  bool avx512_kernels = false;
  for (const char* name : {"SkylakeX", "Cooperlake", "SapphireRapids"})
    avx512_kernels |= core == name;
  if (__builtin_cpu_supports("avx512f") && !avx512_kernels) {
    setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
    changed += " OPENBLAS_CORETYPE=SkylakeX (was " + core + ")";
  }
  if (std::getenv("OMP_WAIT_POLICY") == nullptr) {
    setenv("OMP_WAIT_POLICY", "passive", 1);
    changed += " OMP_WAIT_POLICY=passive";
  }
  if (std::getenv("OPENBLAS_THREAD_TIMEOUT") == nullptr) {
    setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1);
    changed += " OPENBLAS_THREAD_TIMEOUT=4";
  }
  setenv("ATTNLAB_BENCH_ENV", changed.empty() ? "unchanged" : changed.c_str() + 1, 1);
  if (!changed.empty()) execv("/proc/self/exe", argv);  // returns only on failure: carry on
}

}  // namespace attnlab
