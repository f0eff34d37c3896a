// What this machine can do, measured: DRAM read bandwidth and fp32 GEMM peak, for a given
// number of threads. Every "fraction of the limit" attnlab reports (sweeps, bench/) divides by
// numbers measured in the same run, side by side, never by a datasheet or a constant.
//   DRAM read: a vectorised sum over a 1 GiB buffer (touched before timing: an untouched
//              allocation reads the shared zero page and "measures" ~86 GB/s), split over the
//              threads, best of 5.
//   GEMM peak: OpenBLAS sgemm on 2048^3 (Debian's libopenblas, the fastest fp32 GEMM here),
//              best of 3.
#pragma once

#include <cstddef>

namespace attnlab {

struct MachineLimits {
  int threads = 1;
  double dram_read_gbps = 0;  // GB/s (1e9 bytes per second)
  double gemm_gflops = 0;     // GFLOP/s, fp32
};

double measure_dram_read_gbps(int threads, size_t bytes = size_t{1} << 30, int trials = 5);
double measure_gemm_gflops(int threads, int n = 2048, int trials = 3);
MachineLimits measure_machine_limits(int threads);

}  // namespace attnlab
