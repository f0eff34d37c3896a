// KV-cache figures against the DeepSeek-V2 paper's Table 1 and the numbers in FACTS.md.
#include <catch2/catch.hpp>

#include "core/presets.h"
#include "variants/variant_spec.h"

using namespace attnlab;

TEST_CASE("DeepSeek-V3: 576 elements per token per layer, 70,272 bytes per token at bf16") {
  const LayerConfig c = load_preset("deepseek-v3");
  const KvFigures f = kv_figures(c, ImplForm::absorb, 1, 1, 2.0);
  CHECK(f.elements_per_token_layer == 576);
  CHECK(f.elements_per_token == 35136);
  CHECK(f.bytes_per_token == 70272);
  // The naive form caches full per-head K and V: 128 * (192 + 128).
  CHECK(kv_elements_per_token_layer(c, ImplForm::naive) == 40960);
}

TEST_CASE("Table 1 formulas for the other presets") {
  // MLA: (d_c + d_h^R) * l.
  CHECK(kv_figures(load_preset("deepseek-v2"), ImplForm::absorb, 1, 1, 2).elements_per_token ==
        34560);
  // MHA: 2 n_h d_h l; GQA: 2 n_g d_h l; MQA: 2 d_h l.
  CHECK(kv_figures(load_preset("llama-2-7b"), ImplForm::standard, 1, 1, 2).elements_per_token ==
        262144);
  const KvFigures llama3 = kv_figures(load_preset("llama-3-8b"), ImplForm::standard, 1, 1, 2);
  CHECK(llama3.elements_per_token == 65536);
  CHECK(llama3.bytes_per_token == 128 * 1024);
  CHECK(kv_figures(load_preset("llama-3-70b"), ImplForm::standard, 1, 1, 2).elements_per_token ==
        163840);
  CHECK(kv_elements_per_token_layer(load_preset("falcon-7b"), ImplForm::standard) == 2 * 64);
}

TEST_CASE("context, batch and the MHA baseline scale as stated") {
  const LayerConfig c = load_preset("llama-3-8b");
  const KvFigures f = kv_figures(c, ImplForm::standard, 32768, 4, 2.0);
  CHECK(f.bytes_at_context == Approx(128.0 * 1024 * 32768 * 4));
  CHECK(f.mha_elements_per_token_layer == 2 * 32 * 128);
  CHECK(f.fraction_of_mha == Approx(0.25));
  // MLA vs the paper's MHA with the same heads (d_h = 128): 576 / 32768.
  CHECK(kv_figures(load_preset("deepseek-v3"), ImplForm::absorb, 1, 1, 2).fraction_of_mha ==
        Approx(576.0 / 32768.0));
}
