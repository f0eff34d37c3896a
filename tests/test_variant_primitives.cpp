// The variant primitives against values computed here by other means. The fp64 reference and
// every backend share RopeSpec, MaskSpec and core/dtype, so `attnlab verify` cannot see a bug
// in them (both sides would carry it): these tests, the HF fixtures written by
// tests/fixtures/write_hf_layers.py (their own RoPE and causal mask) and the properties are
// what checks the primitives themselves (core/dtype's conversions: tests/test_dtype.cpp).
#include <catch2/catch.hpp>

#include <cmath>

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
