// What the host machine is: CPU model and SIMD features (for `attnlab info` and the context
// block of results files), and the memory available now (to refuse sweeps that cannot fit).
#pragma once

#include <string>
#include <vector>

namespace attnlab {

std::string cpu_model();                  // /proc/cpuinfo "model name", or "unknown"
std::vector<std::string> cpu_features();  // of sse4.2 avx avx2 fma f16c avx512f avx512bw avx512bf16
double available_memory_bytes();          // /proc/meminfo MemAvailable; 0 if unknown

}  // namespace attnlab
