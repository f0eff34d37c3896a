// The step cost model against the formulas of ../shared/FACTS.md ("Work per step").
#include <catch2/catch.hpp>

#include "core/presets.h"
#include "variants/cost_model.h"

using namespace attnlab;

TEST_CASE("decode core of MHA/GQA/MQA: 4 h L d FLOPs, e 2 n_kv L d bytes") {
  const LayerConfig c = load_preset("llama-3-8b");  // h 32, n_kv 8, d 128
  const int64_t cached = 32767;                     // + the new token: L = 32768 keys
  const StepCost cost = step_cost(c, ImplForm::standard, 1, cached, 1, 4.0);
  const double l = 32768, h = 32, d = 128;
  CHECK(cost.attention_flops == Approx(4 * h * l * d));
  CHECK(cost.cache_read_bytes == Approx(4 * 2 * 8 * l * d));
  // Intensity of the core ~ 2g/e with g = 4 query heads per kv head.
  CHECK(cost.attention_flops / cost.cache_read_bytes == Approx(2.0 * 4 / 4));
}

TEST_CASE("MLA absorb decode core: 2hL(d_c + d_r) + 2hL d_c FLOPs over e L (d_c + d_r) bytes") {
  const LayerConfig c = load_preset("deepseek-v2-lite");  // h 16, d_c 512, d_r 64
  const StepCost cost = step_cost(c, ImplForm::absorb, 1, 4095, 1, 4.0);
  const double l = 4096, h = 16;
  CHECK(cost.attention_flops == Approx(2 * h * l * 576 + 2 * h * l * 512));
  CHECK(cost.cache_read_bytes == Approx(4 * l * 576));
}

TEST_CASE("causal prefill core ~ 2 h S^2 (d_qk + d_v) / 2; linear layers 2 tokens in out") {
  const LayerConfig c = load_preset("llama-2-7b");
  const double s = 2048, h = 32, d = 128;
  const StepCost cost = step_cost(c, ImplForm::standard, 1, 0, 2048, 4.0);
  CHECK(cost.attention_flops == Approx(2 * h * s * (s + 1) / 2 * (d + d)));
  CHECK(cost.projection_flops == Approx(2 * s * 4 * 4096.0 * 4096.0));
  CHECK(cost.weight_bytes == Approx(4 * 4 * 4096.0 * 4096.0));
  // Batch multiplies everything but the weights.
  const StepCost twice = step_cost(c, ImplForm::standard, 2, 0, 2048, 4.0);
  CHECK(twice.attention_flops == Approx(2 * cost.attention_flops));
  CHECK(twice.weight_bytes == Approx(cost.weight_bytes));
}
