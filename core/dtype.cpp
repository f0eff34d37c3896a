// Element types: names, sizes, parsing, and the fp64 -> bf16/fp16 roundings (core/dtype.h).
#include "core/dtype.h"

#include <algorithm>

#include "core/error.h"

namespace attnlab {

const char* to_string(DType dtype) {
  switch (dtype) {
    case DType::fp64:
      return "fp64";
    case DType::fp32:
      return "fp32";
    case DType::bf16:
      return "bf16";
    case DType::fp16:
      return "fp16";
    case DType::fp8:
      return "fp8";
    case DType::i64:
      return "i64";
  }
  return "?";
}

size_t bytes_per_element(DType dtype) {
  switch (dtype) {
    case DType::fp64:
    case DType::i64:
      return 8;
    case DType::fp32:
      return 4;
    case DType::bf16:
    case DType::fp16:
      return 2;
    case DType::fp8:
      return 1;
  }
  return 0;
}

bool is_float(DType dtype) {
  return dtype != DType::i64;
}

const std::vector<DType>& cache_dtypes() {
  static const std::vector<DType> types{DType::fp32, DType::bf16, DType::fp16};
  return types;
}

bool is_cache_dtype(DType dtype) {
  const auto& types = cache_dtypes();
  return std::find(types.begin(), types.end(), dtype) != types.end();
}

DType parse_dtype(const std::string& text, const std::vector<DType>& allowed,
                  const std::string& what) {
  static const DType all[] = {DType::fp64, DType::fp32, DType::bf16,
                              DType::fp16, DType::fp8,  DType::i64};
  std::vector<DType> accepted(allowed);
  if (accepted.empty()) accepted.assign(std::begin(all), std::end(all));
  for (DType d : accepted)
    if (text == to_string(d)) return d;
  std::string expected;
  for (size_t i = 0; i < accepted.size(); ++i) {
    if (i > 0) expected += i + 1 == accepted.size() ? " or " : ", ";
    expected += to_string(accepted[i]);
  }
  throw Error(what + ": unknown dtype '" + text + "' (expected " + expected + ")");
}

namespace {

// Rounds |value| (finite or inf, not NaN) to a binary format with `exp_bits` exponent bits and
// `man_bits` stored mantissa bits. Returns the bits without the sign.
uint32_t round_to_small_float(double magnitude, int exp_bits, int man_bits) {
  const int bias = (1 << (exp_bits - 1)) - 1;
  const int emin = 1 - bias;  // exponent of the smallest normal
  const uint32_t inf_bits = ((uint32_t{1} << exp_bits) - 1) << man_bits;
  if (std::isinf(magnitude)) return inf_bits;
  if (magnitude == 0) return 0;
  int e = 0;
  std::frexp(magnitude, &e);  // magnitude = m * 2^e, m in [0.5, 1)
  int exponent = e - 1;       // magnitude = (2m) * 2^exponent, 2m in [1, 2)
  if (exponent > bias) return inf_bits;
  if (exponent < emin) {
    // Subnormal range: units of 2^(emin - man_bits); a result of 2^man_bits is the smallest
    // normal, whose encoding is the same integer.
    return static_cast<uint32_t>(std::nearbyint(std::ldexp(magnitude, man_bits - emin)));
  }
  double q = std::nearbyint(std::ldexp(magnitude, man_bits - exponent));  // [2^m, 2^(m+1)]
  if (q == std::ldexp(1.0, man_bits + 1)) {
    q /= 2;
    ++exponent;
    if (exponent > bias) return inf_bits;
  }
  const uint32_t mantissa = static_cast<uint32_t>(q) - (uint32_t{1} << man_bits);
  return (static_cast<uint32_t>(exponent + bias) << man_bits) | mantissa;
}

}  // namespace

uint16_t double_to_bf16(double value) {
  // A NaN's payload: the same bits an fp32 NaN would keep (NaN policy of core/dtype.h).
  if (std::isnan(value)) return float_to_bf16(static_cast<float>(value));
  const uint16_t sign = std::signbit(value) ? 0x8000 : 0;
  return sign | static_cast<uint16_t>(round_to_small_float(std::fabs(value), 8, 7));
}

uint16_t double_to_fp16(double value) {
  if (std::isnan(value)) return float_to_fp16(static_cast<float>(value));
  const uint16_t sign = std::signbit(value) ? 0x8000 : 0;
  return sign | static_cast<uint16_t>(round_to_small_float(std::fabs(value), 5, 10));
}

}  // namespace attnlab
