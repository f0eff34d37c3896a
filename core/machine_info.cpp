// Host machine facts; see machine_info.h.
#include "core/machine_info.h"

#include <fstream>
#include <sstream>

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
  ATTN_FEATURE("f16c")
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
