// The variant primitives against values computed here by other means. The fp64 reference and
// every backend share RopeSpec, MaskSpec and core/dtype, so `attnlab verify` cannot see a bug
// in them (both sides would carry it): these tests, the HF fixtures written by
// tests/fixtures/write_hf_layers.py (their own RoPE and causal mask) and the properties are
// what checks the primitives themselves.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "core/dtype.h"
#include "core/error.h"
#include "core/presets.h"
#include "variants/mask.h"
#include "variants/rope.h"

using namespace attnlab;

TEST_CASE("RopeSpec: inverse frequencies, pairs and rotary width from the layer config") {
  const LayerConfig llama = load_preset("llama-3-8b");  // half_split, theta 500000, head_dim 128
  const RopeSpec spec = rope_spec(llama);
  CHECK(spec.layout == RopeLayout::half_split);
  CHECK(spec.rotary_dim == 128);
  CHECK(spec.pairs() == 64);
  CHECK(spec.attention_factor() == 1.0);
  const std::vector<double> table = spec.inv_freq_table();
  REQUIRE(table.size() == 64);
  CHECK(table[0] == 1.0);
  // theta^(-2i/d) written as exp(-(2i/d) ln theta): agrees to a few ulps.
  for (int64_t i : {1, 17, 63})
    CHECK(table[i] == Approx(std::exp(-2.0 * i / 128.0 * std::log(500000.0))).epsilon(1e-14));
  CHECK(table[32] == Approx(1.0 / std::sqrt(500000.0)).epsilon(1e-14));  // i = d/4
  CHECK(spec.pair(3) == std::pair<int64_t, int64_t>{3, 67});

  const LayerConfig v3 = load_preset("deepseek-v3");  // interleaved over qk_rope_head_dim 64
  const RopeSpec mla = rope_spec(v3);
  CHECK(mla.layout == RopeLayout::interleaved);
  CHECK(mla.rotary_dim == 64);
  CHECK(mla.pair(3) == std::pair<int64_t, int64_t>{6, 7});

  LayerConfig plain = llama;
  plain.rope_layout = RopeLayout::none;
  CHECK_FALSE(rope_spec(plain).rotates());
  CHECK(rope_spec(plain).inv_freq_table().empty());
}

TEST_CASE("MaskSpec: causal key ranges, blocks and the pair count") {
  const MaskSpec mask = mask_spec(load_preset("llama-3-8b"));
  CHECK(mask.keys_for(0).lo == 0);
  CHECK(mask.keys_for(0).hi == 1);
  CHECK(mask.keys_for(99).size() == 100);
  CHECK(mask.keys_for(99).contains(0));
  CHECK_FALSE(mask.keys_for(99).contains(100));
  const KeyRange block = mask.keys_for_block(10, 73);
  CHECK(block.lo == 0);
  CHECK(block.hi == 74);
  // Causal prefill of n tokens after c cached: sum over s of (c + s + 1).
  for (int64_t c : {0, 5, 1000})
    for (int64_t n : {1, 2, 64, 333}) CHECK(mask.visible_pairs(c, n) == n * c + n * (n + 1) / 2);
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
