// What this machine can do, measured: DRAM read bandwidth and fp32 GEMM peak, for a given
// number of threads. Every "fraction of the limit" attnlab reports (bench/bench_attention,
// `attnlab sweep`) divides by numbers measured in the same run, side by side, never by a
// datasheet or a constant.
//
//   DRAM read: a streaming sum over a buffer of >= 1 GiB (AVX-512 or AVX2 loads, 8 independent
//              accumulators, so the loop is bound by loads), split evenly over the threads, each
//              thread reading the part it touched itself before timing (an untouched allocation
//              reads the shared zero page and "measures" ~86 GB/s); best of `trials`.
//   GEMM peak: sgemm n^3 (default 2048^3) through every fp32 GEMM linked here — OpenBLAS
//              (cblas_sgemm) and Eigen (compiled for this CPU) — best of `trials` each; the
//              peak is the best of them.
//
// OpenBLAS picks its kernels from the CPU it detects when the library loads. Debian 12's 0.3.21
// does not know AMD Zen 4/5 and falls back to its AVX2 "Haswell" kernels there (about half the
// AVX-512 speed); OPENBLAS_CORETYPE=SkylakeX selects its AVX-512 kernels. It must be set before
// the process starts: programs call reexec_for_benchmarking(argv) first thing in main().
//
// Usage:  MachineLimits m = measure_machine_limits(omp_get_max_threads());
//         double fraction = achieved_gbps / m.dram_read_gbps;
// Cost: about 2-4 s per thread count (1 GiB allocation, 5 passes; 3 + 3 GEMMs of 17 GFLOP).
// Built as attnlab_machine_limits (bench/CMakeLists.txt); used by bench/bench_attention.cpp and
// sweep/.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace attnlab {

struct MachineLimits {
  int threads = 1;
  double dram_read_gbps = 0;  // GB/s (1e9 bytes per second)
  double gemm_gflops = 0;     // GFLOP/s, fp32, the best GEMM below
  double gemm_openblas_gflops = 0;
  double gemm_eigen_gflops = 0;
  std::string gemm_source;  // which one gave gemm_gflops, e.g. "openblas SkylakeX"
};

// Streaming read bandwidth in GB/s over `bytes` (rounded down to a multiple of 64 * threads).
double measure_dram_read_gbps(int threads, size_t bytes = size_t{1} << 30, int trials = 5);
// The best fp32 GEMM rate in GFLOP/s over the libraries linked (max of the two below).
double measure_gemm_gflops(int threads, int n = 2048, int trials = 3);
double measure_openblas_sgemm_gflops(int threads, int n = 2048, int trials = 3);
double measure_eigen_sgemm_gflops(int threads, int n = 2048, int trials = 3);
// Both measurements at full size.
MachineLimits measure_machine_limits(int threads);

// Repeatable probes that keep their buffers between measurements, for re-measuring a limit right
// before each timed repetition (on a shared machine the limits drift: here DRAM read on 2 threads
// measured anywhere from 35 to 77 GB/s within minutes, as other processes came and went).
class DramReadProbe {
 public:
  DramReadProbe(int threads, size_t bytes = size_t{1} << 30);  // allocates and touches
  ~DramReadProbe();
  DramReadProbe(const DramReadProbe&) = delete;
  DramReadProbe& operator=(const DramReadProbe&) = delete;
  double measure(int trials = 3) const;  // GB/s, best of `trials`

 private:
  int threads_;
  size_t per_thread_;
  float* buffer_;
};

class GemmProbe {
 public:
  // openblas: time cblas_sgemm, else Eigen (pick the one measure_machine_limits found faster).
  // Allocates its three n x n matrices once.
  GemmProbe(int threads, bool openblas, int n = 2048);
  double measure(int trials = 2);  // GFLOP/s, best of `trials`

 private:
  int threads_;
  bool openblas_;
  int n_;
  std::vector<float> a_, b_, c_;
};

// The OpenBLAS kernel set in use ("Haswell", "SkylakeX", "Zen", ...).
std::string openblas_core();
// Sets up the environment that benchmarks on this kind of machine need and re-executes the
// program once (/proc/self/exe, same argv) when it changed anything; otherwise returns. It must
// run first thing in main(), before OpenMP or OpenBLAS do any work. Each variable is only set
// when the user has not (ATTNLAB_BENCH_ENV records what was done and stops a second re-exec):
//   OPENBLAS_CORETYPE=SkylakeX  when the CPU has AVX-512F and OpenBLAS loaded a kernel set
//       without it (Debian 12's 0.3.21 does not know Zen 4/5, and some sandboxes force Haswell):
//       its AVX-512 kernels run sgemm about twice as fast, the real GEMM peak.
//   OMP_WAIT_POLICY=passive  on a machine shared with other busy processes (this project's
//       2-core VMs), threads spinning at OpenMP barriers keep the core that a descheduled team
//       mate needs: measured, one 0.85 ms decode step took 16 ms with the default policy and
//       0.86 ms with passive; a quiet machine loses ~1% (futex wake-ups).
//   OPENBLAS_THREAD_TIMEOUT=4  OpenBLAS's own threads otherwise busy-wait for ~2^28 cycles after
//       each call, stealing a core from whatever is timed right after a GEMM measurement.
void reexec_for_benchmarking(char** argv);

}  // namespace attnlab
