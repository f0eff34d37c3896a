// Measurements of the machine's limits; see machine_limits.h.
#include "bench/machine_limits.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

namespace attnlab {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Sum of x[0..n) with several independent accumulators so the loop is load-bound.
float streaming_sum(const float* x, size_t n) {
  float acc = 0;
#pragma omp simd reduction(+ : acc)
  for (size_t i = 0; i < n; ++i) acc += x[i];
  return acc;
}

}  // namespace

double measure_dram_read_gbps(int threads, size_t bytes, int trials) {
  const size_t n = bytes / sizeof(float);
  std::unique_ptr<float[]> buffer(new float[n]);
  // Touch every page (in parallel, so each thread's half is local to it).
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < n; ++i) buffer[i] = 1.0f;
  double best = 0;
  volatile float sink = 0;
  for (int t = 0; t < trials; ++t) {
    const auto start = std::chrono::steady_clock::now();
    float total = 0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
      const size_t parts = static_cast<size_t>(omp_get_num_threads());
      const size_t me = static_cast<size_t>(omp_get_thread_num());
      const size_t begin = n * me / parts, end = n * (me + 1) / parts;
      total += streaming_sum(buffer.get() + begin, end - begin);
    }
    const double s = seconds_since(start);
    sink = sink + total;
    best = std::max(best, double(bytes) / s / 1e9);
  }
  return best;
}

double measure_gemm_gflops(int threads, int n, int trials) {
  std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n, 0.0f);
  openblas_set_num_threads(threads);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n,
              0.0f, c.data(), n);  // warm-up
  double best = 0;
  for (int t = 0; t < trials; ++t) {
    const auto start = std::chrono::steady_clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n,
                0.0f, c.data(), n);
    best = std::max(best, 2.0 * n * double(n) * n / seconds_since(start) / 1e9);
  }
  return best;
}

MachineLimits measure_machine_limits(int threads) {
  MachineLimits m;
  m.threads = threads;
  m.dram_read_gbps = measure_dram_read_gbps(threads);
  m.gemm_gflops = measure_gemm_gflops(threads);
  return m;
}

}  // namespace attnlab
