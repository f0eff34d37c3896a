// The variant primitives against values computed here by other means. The fp64 reference and
// every backend share RopeSpec, MaskSpec and core/dtype, so `attnlab verify` cannot see a bug
// in them (both sides would carry it): these tests, the HF fixtures written by
// tests/fixtures/write_hf_layers.py (their own RoPE and causal mask) and the properties are
// what checks the primitives themselves (core/dtype's conversions: tests/test_dtype.cpp).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "core/presets.h"
#include "variants/mask.h"
#include "variants/rope.h"
#include "variants/variant_spec.h"

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

namespace {

double plain_inv_freq(double theta, int64_t i, int64_t d) {
  return std::exp(-2.0 * static_cast<double>(i) / static_cast<double>(d) * std::log(theta));
}

}  // namespace

TEST_CASE("RopeSpec: YaRN as DeepSeek-V3 configures it (HF _compute_yarn_parameters)") {
  const LayerConfig v3 = load_preset("deepseek-v3");  // factor 40, original 4096, betas 32 / 1
  const RopeSpec spec = rope_spec(v3);
  REQUIRE(spec.scaling.type == RopeScalingType::yarn);
  // Correction range over d = 64, base 1e4: dim(r) = 64 ln(4096 / (2 pi r)) / (2 ln 1e4);
  // beta_fast 32 -> 10.47 -> floor 10, beta_slow 1 -> 22.51 -> ceil 23.
  const auto dim = [](double r) {
    return 64 * std::log(4096 / (r * 2 * M_PI)) / (2 * std::log(1e4));
  };
  REQUIRE(std::floor(dim(32)) == 10);
  REQUIRE(std::ceil(dim(1)) == 23);
  const std::vector<double> table = spec.inv_freq_table();
  for (int64_t i = 0; i <= 10; ++i)  // extrapolated: unchanged
    CHECK(table[i] == Approx(plain_inv_freq(1e4, i, 64)).epsilon(1e-14));
  for (int64_t i = 23; i < 32; ++i)  // interpolated: divided by the factor
    CHECK(table[i] == Approx(plain_inv_freq(1e4, i, 64) / 40).epsilon(1e-14));
  const double w = (16.0 - 10) / (23 - 10);  // linear ramp between
  CHECK(table[16] ==
        Approx(plain_inv_freq(1e4, 16, 64) * (1 - w) + plain_inv_freq(1e4, 16, 64) / 40 * w)
            .epsilon(1e-14));
  // mscale == mscale_all_dim: cos/sin unscaled; the softmax scale takes mscale^2.
  CHECK(spec.attention_factor() == 1.0);
  const double m3 = 0.1 * 1.0 * std::log(40.0) + 1;
  CHECK(v3.scale() == Approx(m3 * m3 / std::sqrt(192.0)).epsilon(1e-14));
  const double m2 = 0.1 * 0.707 * std::log(40.0) + 1;
  CHECK(load_preset("deepseek-v2").scale() == Approx(m2 * m2 / std::sqrt(192.0)).epsilon(1e-14));
  CHECK(load_preset("deepseek-v2-lite").scale() ==
        Approx(m2 * m2 / std::sqrt(192.0)).epsilon(1e-14));
}

TEST_CASE("RopeSpec: YaRN without mscales (gpt-oss): untruncated ramp, cos/sin factor") {
  const LayerConfig oss = load_preset("gpt-oss-20b");  // factor 32, original 4096, truncate false
  const RopeSpec spec = rope_spec(oss);
  CHECK(spec.theta == 150000);
  CHECK(spec.rotary_dim == 64);
  CHECK(spec.attention_factor() == Approx(0.1 * std::log(32.0) + 1).epsilon(1e-15));
  CHECK(oss.scale() == Approx(1.0 / 8));  // no mscale_all_dim: head_dim^-0.5
  const auto dim = [](double r) {
    return 64 * std::log(4096 / (r * 2 * M_PI)) / (2 * std::log(150000.0));
  };
  const double low = dim(32), high = dim(1);  // not floored / ceiled
  const std::vector<double> table = spec.inv_freq_table();
  for (int64_t i : {0, 5, 9, 13, 20, 31}) {
    const double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
    const double base = plain_inv_freq(150000, i, 64);
    CHECK(table[i] == Approx(base * (1 - ramp) + base / 32 * ramp).epsilon(1e-14));
  }
}

TEST_CASE("RopeSpec: Llama 3.1 scaling, linear scaling, partial rotary, local theta") {
  const RopeSpec llama = rope_spec(load_preset("llama-3.1-8b"));
  const std::vector<double> table = llama.inv_freq_table();
  for (int64_t i = 0; i < 64; ++i) {
    const double base = plain_inv_freq(500000, i, 128);
    const double wavelen = 2 * M_PI / base;
    INFO(i);
    if (wavelen < 8192.0 / 4) {
      CHECK(table[i] == Approx(base).epsilon(1e-14));
    } else if (wavelen > 8192.0) {
      CHECK(table[i] == Approx(base / 8).epsilon(1e-14));
    } else {  // smooth: (8192 / wavelen - 1) / (4 - 1)
      const double smooth = (8192.0 / wavelen - 1) / 3;
      CHECK(table[i] == Approx(base * smooth + base / 8 * (1 - smooth)).epsilon(1e-14));
    }
  }
  CHECK(llama.attention_factor() == 1.0);

  // Gemma 3: local layers theta 1e4 unscaled, global layers theta 1e6 / 8 (linear).
  LayerConfig gemma = load_preset("gemma-3-12b");
  CHECK(gemma.layer_type() == LayerType::sliding_attention);
  CHECK(rope_spec(gemma).theta == 1e4);
  CHECK(rope_spec(gemma).inv_freq(7) == Approx(plain_inv_freq(1e4, 7, 256)).epsilon(1e-14));
  gemma.layer_index = 5;
  CHECK(gemma.layer_type() == LayerType::full_attention);
  CHECK(rope_spec(gemma).inv_freq(7) == Approx(plain_inv_freq(1e6, 7, 256) / 8).epsilon(1e-14));

  // Partial rotary: int(head_dim * factor) elements; pairs within them.
  LayerConfig partial = load_preset("tiny-gqa");
  partial.rope_layout = RopeLayout::half_split;
  partial.partial_rotary_factor = 0.25;
  const int64_t rotary = static_cast<int64_t>(static_cast<double>(partial.head_dim) * 0.25);
  const RopeSpec p = rope_spec(partial);
  CHECK(p.rotary_dim == rotary);
  CHECK(p.pair(0) == std::pair<int64_t, int64_t>{0, rotary / 2});
  CHECK(p.inv_freq(1) == Approx(plain_inv_freq(partial.rope_theta, 1, rotary)).epsilon(1e-14));
}

TEST_CASE("MaskSpec: sliding windows and mixed layer types") {
  LayerConfig mistral = load_preset("mistral-7b");  // window 4096 on every layer
  const MaskSpec mask = mask_spec(mistral);
  CHECK(mask.keys_for(0).lo == 0);
  CHECK(mask.keys_for(4095).lo == 0);
  CHECK(mask.keys_for(4096).lo == 1);  // HF: key j visible iff i - W < j <= i
  CHECK(mask.keys_for(10000).lo == 10000 + 1 - 4096);
  CHECK(mask.keys_for(10000).size() == 4096);
  CHECK(mask.keys_for_block(5000, 6000).lo == 5000 + 1 - 4096);
  CHECK(mask.keys_for_block(5000, 6000).hi == 6001);
  for (int64_t c : {0, 100, 5000})
    for (int64_t n : {1, 7, 5000}) {
      int64_t pairs = 0;
      for (int64_t s = c; s < c + n; ++s) pairs += std::min<int64_t>(s + 1, 4096);
      CHECK(mask.visible_pairs(c, n) == pairs);
    }
  LayerConfig oss = load_preset("gpt-oss-20b");  // window 128 on even layers
  CHECK(mask_spec(oss).keys_for(1000).size() == 128);
  oss.layer_index = 1;
  CHECK(mask_spec(oss).keys_for(1000).size() == 1001);
  CHECK(resolve_model("gpt-oss-20b@1").window() == std::nullopt);
  CHECK(resolve_model("gpt-oss-20b@2").window() == 128);
  CHECK(resolve_model("gpt-oss-20b@2").name == "gpt-oss-20b@2");
}

TEST_CASE("KV figures at a context count each sliding layer's window") {
  // gemma-3-12b: 8 KV heads x 256, 40 of 48 layers slide over 1024 tokens; bf16.
  const LayerConfig gemma = load_preset("gemma-3-12b");
  const KvFigures g = kv_figures(gemma, ImplForm::standard, 32768, 2, 2.0);
  const double per_token_layer = 2.0 * 8 * 256 * 2;
  CHECK(g.sliding_layers == 40);
  CHECK(g.bytes_at_context == 2 * per_token_layer * (8 * 32768.0 + 40 * 1024.0));
  CHECK(g.bytes_at_context_without_window == 2 * per_token_layer * 48 * 32768.0);
  // Below the window nothing is saved; mistral-7b slides on every layer.
  const LayerConfig mistral = load_preset("mistral-7b");
  const KvFigures short_context = kv_figures(mistral, ImplForm::standard, 1000, 1, 2.0);
  CHECK(short_context.bytes_at_context == short_context.bytes_at_context_without_window);
  CHECK(kv_figures(mistral, ImplForm::standard, 100000, 1, 2.0).bytes_at_context ==
        32 * 4096.0 * 2048 * 2);
  // No window: unchanged figures.
  const KvFigures llama = kv_figures(load_preset("llama-3.1-8b"), ImplForm::standard, 4096, 1, 2);
  CHECK(llama.sliding_layers == 0);
  CHECK(llama.bytes_at_context == llama.bytes_at_context_without_window);
}
