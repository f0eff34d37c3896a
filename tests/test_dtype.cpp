// Tests of core/dtype: names, sizes and parsing, and the one scalar BF16/FP16 conversion policy
// (known bit patterns, ties to even, agreement with integer rounding, every bit pattern decoded
// and encoded back to itself).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "core/dtype.h"
#include "core/error.h"

using namespace attnlab;
using Catch::Matchers::Contains;

namespace {

// Independent BF16 rounding by integer arithmetic on the fp32 bits (finite inputs).
uint16_t bf16_reference(float f) {
  const uint32_t b = float_bits(f);
  return static_cast<uint16_t>((b + 0x7FFF + ((b >> 16) & 1)) >> 16);
}

}  // namespace

TEST_CASE("bf16 known bit patterns and ties to even") {
  CHECK(float_to_bf16(1.0f) == 0x3F80);
  CHECK(float_to_bf16(-2.0f) == 0xC000);
  CHECK(float_to_bf16(0.0f) == 0x0000);
  CHECK(float_to_bf16(-0.0f) == 0x8000);
  CHECK(bf16_to_float(0x3F80) == 1.0f);
  CHECK(bf16_to_float(0xC049) == bits_float(0xC0490000));
  // 1 + 2^-8 lies halfway between 0x3F80 (even) and 0x3F81: ties go to even.
  CHECK(float_to_bf16(1.0f + 0x1p-8f) == 0x3F80);
  // 1 + 3 * 2^-8 lies halfway between 0x3F81 and 0x3F82 (even).
  CHECK(float_to_bf16(1.0f + 3 * 0x1p-8f) == 0x3F82);
  // Just above the halfway point rounds up.
  CHECK(float_to_bf16(1.0f + 0x1p-8f + 0x1p-20f) == 0x3F81);
  CHECK(float_to_bf16(std::numeric_limits<float>::infinity()) == 0x7F80);
  CHECK(float_to_bf16(-std::numeric_limits<float>::infinity()) == 0xFF80);
  // FLT_MAX rounds past the largest bf16 to infinity.
  CHECK(float_to_bf16(std::numeric_limits<float>::max()) == 0x7F80);
  // NaN stays NaN, even with its payload only in the low 16 bits.
  CHECK(std::isnan(bf16_to_float(float_to_bf16(std::nanf("")))));
  CHECK(std::isnan(bf16_to_float(float_to_bf16(bits_float(0x7F800001)))));
  CHECK(std::isnan(bf16_to_float(float_to_bf16(bits_float(0xFF800001)))));
  // Subnormals: the smallest fp32 subnormal rounds to zero, a bf16 subnormal is kept.
  CHECK(float_to_bf16(bits_float(0x00000001)) == 0x0000);
  CHECK(float_to_bf16(bits_float(0x00010000)) == 0x0001);
  CHECK(float_to_bf16(bits_float(0x00018000)) == 0x0002);  // tie 1.5 -> 2
}

TEST_CASE("bf16 rounding agrees with integer rounding on many floats") {
  std::mt19937 rng(7);
  int checked = 0;
  for (int i = 0; i < 200000; ++i) {
    const float f = bits_float(rng());
    if (!std::isfinite(f)) continue;
    ++checked;
    const uint16_t expected = bf16_reference(f);
    if (float_to_bf16(f) != expected) {
      INFO("float bits " << float_bits(f));
      REQUIRE(float_to_bf16(f) == expected);
    }
  }
  CHECK(checked > 190000);
}

TEST_CASE("bf16 and f16 decode/encode every bit pattern back to itself") {
  for (uint32_t b = 0; b <= 0xFFFF; ++b) {
    const uint16_t bits = static_cast<uint16_t>(b);
    const float bf = bf16_to_float(bits);
    const float hf = fp16_to_float(bits);
    if (std::isnan(bf)) {
      REQUIRE(std::isnan(bf16_to_float(float_to_bf16(bf))));
    } else if (float_to_bf16(bf) != bits) {
      INFO("bf16 bits " << b);
      REQUIRE(float_to_bf16(bf) == bits);
    }
    if (std::isnan(hf)) {
      REQUIRE(std::isnan(fp16_to_float(float_to_fp16(hf))));
    } else if (float_to_fp16(hf) != bits) {
      INFO("f16 bits " << b);
      REQUIRE(float_to_fp16(hf) == bits);
    }
  }
}

TEST_CASE("f16 known bit patterns") {
  CHECK(float_to_fp16(1.0f) == 0x3C00);
  CHECK(float_to_fp16(-1.0f) == 0xBC00);
  CHECK(float_to_fp16(0.5f) == 0x3800);
  CHECK(float_to_fp16(-0.0f) == 0x8000);
  CHECK(fp16_to_float(0x3C00) == 1.0f);
  CHECK(fp16_to_float(0xC000) == -2.0f);
  // Largest finite f16.
  CHECK(float_to_fp16(65504.0f) == 0x7BFF);
  CHECK(fp16_to_float(0x7BFF) == 65504.0f);
  CHECK(float_to_fp16(65519.0f) == 0x7BFF);  // below the halfway point to 65536
  CHECK(float_to_fp16(65520.0f) == 0x7C00);  // the tie goes to the even code: infinity
  CHECK(float_to_fp16(1e6f) == 0x7C00);
  CHECK(float_to_fp16(-1e6f) == 0xFC00);
  CHECK(std::isinf(fp16_to_float(0x7C00)));
  // Subnormals: unit 2^-24 = 5.96e-8; 1e-7 is 1.68 units and rounds to 2.
  CHECK(fp16_to_float(0x0001) == 0x1p-24f);
  CHECK(float_to_fp16(1e-7f) == 0x0002);
  CHECK(float_to_fp16(0x1p-25f) == 0x0000);      // half a unit: tie to even (zero)
  CHECK(float_to_fp16(3 * 0x1p-25f) == 0x0002);  // 1.5 units: tie to even (two)
  CHECK(float_to_fp16(0x1p-26f) == 0x0000);
  CHECK(float_to_fp16(1023.5f * 0x1p-24f) == 0x0400);  // largest subnormal + 0.5: smallest normal
  CHECK(float_to_fp16(0x1p-14f) == 0x0400);
  // Normal ties: 1 + 2^-11 is halfway between 0x3C00 and 0x3C01.
  CHECK(float_to_fp16(1.0f + 0x1p-11f) == 0x3C00);
  CHECK(float_to_fp16(1.0f + 3 * 0x1p-11f) == 0x3C02);
  CHECK(float_to_fp16(1.0f + 0x1p-11f + 0x1p-20f) == 0x3C01);
  CHECK(std::isnan(fp16_to_float(float_to_fp16(std::nanf("")))));
  CHECK(std::isnan(fp16_to_float(float_to_fp16(bits_float(0x7F800001)))));
}

TEST_CASE("f16 rounding picks the nearest code, ties to even") {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> exponent(-26.0f, 16.0f);
  for (int i = 0; i < 100000; ++i) {
    const float x = std::exp2(exponent(rng)) * ((rng() & 1) ? -1.0f : 1.0f);
    const uint16_t code = float_to_fp16(x);
    const float r = fp16_to_float(code);
    if (std::isinf(r)) {
      REQUIRE(std::fabs(x) >= 65520.0f);
      continue;
    }
    const double err = std::fabs(static_cast<double>(x) - r);
    // Neighbouring codes of the same sign (magnitude one up and one down).
    for (int delta : {-1, 1}) {
      const int mag = (code & 0x7FFF) + delta;
      if (mag < 0 || mag >= 0x7C00) continue;
      const float other = fp16_to_float(static_cast<uint16_t>((code & 0x8000) | mag));
      const double other_err = std::fabs(static_cast<double>(x) - other);
      INFO("x = " << x << " code " << code << " neighbour " << mag);
      REQUIRE(err <= other_err);
      if (err == other_err) REQUIRE((code & 1) == 0);
    }
  }
}

TEST_CASE("core/dtype: names, sizes and parse errors that name the input") {
  for (DType d : {DType::fp64, DType::fp32, DType::bf16, DType::fp16, DType::fp8, DType::i64})
    CHECK(parse_dtype(to_string(d)) == d);
  CHECK(bytes_per_element(DType::fp64) == 8);
  CHECK(bytes_per_element(DType::bf16) == 2);
  CHECK(bytes_per_element(DType::fp8) == 1);
  CHECK(cache_dtypes().size() == 3);
  CHECK_FALSE(is_cache_dtype(DType::fp64));
  CHECK_THROWS_WITH(parse_dtype("fp8", cache_dtypes(), "--dtype"),
                    "--dtype: unknown dtype 'fp8' (expected fp32, bf16 or fp16)");
}

namespace {

double to_double_bits16(uint16_t bits, bool bf16) {
  return bf16 ? bf16_to_float(bits) : fp16_to_float(bits);
}

}  // namespace

TEST_CASE("core/dtype: the fp32 and fp64 roundings agree and round to nearest even") {
  // Independent definition: the nearest representable value (ties to the even encoding),
  // found by search over the two neighbours of the truncated encoding.
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> any;
  for (int n = 0; n < 200000; ++n) {
    const float f = bits_float(any(rng));
    for (bool bf16 : {true, false}) {
      const uint16_t got = bf16 ? float_to_bf16(f) : float_to_fp16(f);
      const uint16_t from_double = bf16 ? double_to_bf16(f) : double_to_fp16(f);
      INFO("bits " << float_bits(f) << (bf16 ? " bf16" : " fp16"));
      if (std::isnan(f)) {
        REQUIRE(std::isnan(to_double_bits16(got, bf16)));
        REQUIRE(std::signbit(to_double_bits16(got, bf16)) == std::signbit(f));
        REQUIRE(got == from_double);  // one NaN policy
        continue;
      }
      REQUIRE(got == from_double);
      const double back = to_double_bits16(got, bf16);
      if (std::isinf(back)) continue;  // overflow: checked at the edge below
      // No representable value is nearer: the neighbours one encoding up and down are not.
      const uint16_t up = got + 1, down = got - 1;
      const double err = std::fabs(back - f);
      for (uint16_t other : {up, down}) {
        const double v = to_double_bits16(other, bf16);
        if (std::isnan(v) || std::isinf(v) || std::signbit(v) != std::signbit(back)) continue;
        REQUIRE((std::fabs(v - f) > err || (std::fabs(v - f) == err && (got & 1) == 0)));
      }
    }
  }
  CHECK(float_to_fp16(65504.0f) == 0x7BFF);
  CHECK(float_to_fp16(65520.0f) == 0x7C00);  // the tie past max finite rounds to inf
  CHECK(float_to_bf16(std::numeric_limits<float>::infinity()) == 0x7F80);
  CHECK(float_to_fp16(5.9604645e-08f) == 0x0001);  // smallest subnormal
  CHECK(float_to_fp16(2.9802322e-08f) == 0x0000);  // half of it: tie to even (zero)
}
