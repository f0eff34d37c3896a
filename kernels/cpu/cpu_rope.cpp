// RoPE in fp32 for the CPU backends; see cpu_rope.h.
#include "kernels/cpu/cpu_rope.h"

#include <cmath>

namespace attnlab::cpu {

CpuRope::CpuRope(const RopeSpec& spec)
    : spec_(spec), inv_freq_(spec.inv_freq_table()), factor_(spec.attention_factor()) {}

void CpuRope::rotate_heads(float* x, int64_t heads, int64_t head_stride, int64_t position) const {
  const int64_t pairs = spec_.pairs();
  for (int64_t i = 0; i < pairs; ++i) {
    const double angle = static_cast<double>(position) * inv_freq_[i];
    const float c = static_cast<float>(std::cos(angle) * factor_);
    const float s = static_cast<float>(std::sin(angle) * factor_);
    const auto [ia, ib] = spec_.pair(i);
    for (int64_t h = 0; h < heads; ++h) {
      float* v = x + h * head_stride;
      const float a = v[ia], b = v[ib];
      v[ia] = a * c - b * s;
      v[ib] = a * s + b * c;
    }
  }
}

}  // namespace attnlab::cpu
