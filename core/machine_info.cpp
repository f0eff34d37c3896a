// Host machine facts; see machine_info.h.
#include "core/machine_info.h"

#include <fstream>
#include <sstream>
#if defined(__clang__)
#include <cpuid.h>
#endif

namespace attnlab {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

std::vector<std::string> cpu_features() {
  std::vector<std::string> features;
  __builtin_cpu_init();
#define ATTN_FEATURE(name) \
  if (__builtin_cpu_supports(name)) features.push_back(name);
  ATTN_FEATURE("sse4.2")
  ATTN_FEATURE("avx")
  ATTN_FEATURE("avx2")
  ATTN_FEATURE("fma")
#if defined(__clang__)  // clang 14's __builtin_cpu_supports does not know "f16c": ask cpuid
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C)) features.push_back("f16c");
#else
  ATTN_FEATURE("f16c")
#endif
  ATTN_FEATURE("avx512f")
  ATTN_FEATURE("avx512bw")
  ATTN_FEATURE("avx512bf16")
#undef ATTN_FEATURE
  return features;
}

double available_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  double value = 0;
  while (in >> key >> value >> unit)
    if (key == "MemAvailable:") return value * 1024.0;
  return 0;
}

}  // namespace attnlab
