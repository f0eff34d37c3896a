// RoPE for both CPU backends (cpu-plain and the fast "cpu"), in fp32 on a RopeSpec
// (variants/rope.h). CpuRope takes the spec's inv_freq_table() once, at the Attention object's
// construction; rotating a token at position p uses the angle p * inv_freq[i] in double, cos
// and sin scaled by attention_factor() and rounded to fp32, pairs from spec.pair(i), and only
// the first rotary_dim elements of a head. Internal to kernels/cpu.
#pragma once

#include <cstdint>
#include <vector>

#include "variants/rope.h"

namespace attnlab::cpu {

class CpuRope {
 public:
  CpuRope() = default;
  explicit CpuRope(const RopeSpec& spec);

  bool rotates() const { return spec_.rotates(); }
  const RopeSpec& spec() const { return spec_; }

  // Rotates `heads` head vectors at position `position`, head h starting at x + h * head_stride.
  void rotate_heads(float* x, int64_t heads, int64_t head_stride, int64_t position) const;

 private:
  RopeSpec spec_;
  std::vector<double> inv_freq_;
  double factor_ = 1.0;
};

}  // namespace attnlab::cpu
