// Element types, defined once for every part of attnlab: safetensors tensors, KV caches of the
// CPU and CUDA backends, `attnlab kv`, sweeps and the tolerance table. Names, sizes, and the
// scalar fp32/fp64 <-> bf16/fp16 conversions with ONE rounding and NaN policy:
//   rounding: to nearest, ties to even; overflow to infinity; gradual underflow to subnormals.
//   NaN: stays NaN with its sign and upper payload bits, quiet bit forced on (so a payload held
//   only in dropped bits cannot turn it into an infinity).
// The float conversions are inline: the fast kernels call them per element.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace attnlab {

enum class DType { fp64, fp32, bf16, fp16, fp8, i64 };

const char* to_string(DType dtype);  // "fp64", "fp32", "bf16", "fp16", "fp8", "i64"
size_t bytes_per_element(DType dtype);
bool is_float(DType dtype);  // every type but i64
// The element types a KV cache can be stored in by a backend: fp32, bf16, fp16.
const std::vector<DType>& cache_dtypes();
bool is_cache_dtype(DType dtype);
// Parses a name of to_string(); `allowed` lists the accepted types (empty: all). Throws
// attnlab::Error("<what>: unknown dtype 'x' (expected fp32, bf16 or fp16)").
DType parse_dtype(const std::string& text, const std::vector<DType>& allowed = {},
                  const std::string& what = "dtype");

// ---------------------------------------------------------------------------------------------
// Scalar conversions. bf16 and fp16 values are carried as their raw 16 bits.

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// bfloat16 is fp32's upper half (8 exponent bits, 7 stored mantissa bits).
inline uint16_t float_to_bf16(float f) {
  const uint32_t u = float_bits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}
inline float bf16_to_float(uint16_t bits) {
  return bits_float(static_cast<uint32_t>(bits) << 16);
}

// IEEE binary16 (5 exponent bits, 10 mantissa bits).
inline uint16_t float_to_fp16(float f) {
  const uint32_t u = float_bits(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u | ((a >> 13) & 0x1FFu));
  if (a >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // rounds past 65504
  if (a < 0x38800000u) {  // below the smallest normal 2^-14: subnormal or zero
    // Units of 2^-24: round(|f| * 2^24), ties to even (exact power-of-two scaling; nearbyint
    // rounds to nearest even in the default rounding mode).
    const float r = std::nearbyint(bits_float(a) * 16777216.0f);
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(r));
  }
  // Normal: rebias the exponent (127 -> 15) and round the 23-bit mantissa to 10 bits.
  const uint32_t rounded = a + 0xFFFu + ((a >> 13) & 1u);
  return static_cast<uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
}
inline float fp16_to_float(uint16_t bits) {
  const uint32_t sign = (static_cast<uint32_t>(bits) & 0x8000u) << 16;
  const uint32_t exp = (bits >> 10) & 0x1Fu, mant = bits & 0x3FFu;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24
    const float v = static_cast<float>(mant) * (1.0f / 16777216.0f);
    return std::copysign(v, sign ? -1.0f : 1.0f);
  }
  if (exp == 31) return bits_float(sign | 0x7F800000u | (mant << 13));
  return bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
}

// From fp64 in one rounding (not through fp32, which would round twice). Same policy.
uint16_t double_to_bf16(double value);
uint16_t double_to_fp16(double value);

}  // namespace attnlab
