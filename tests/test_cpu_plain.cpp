// Tests of the plain CPU backend (kernels/cpu, make_plain_attention) against the fp64 reference:
// prefill, token-by-token decode, chunked prefill, non-contiguous positions, cache sizes, errors,
// MLA absorb vs naive, and medium shapes that tiny ones would let indexing bugs slip through.
// Inputs are rounded to fp32 before both sides see them, so the errors measured are the
// kernel's own. Set ATTNLAB_PRINT_ERRORS=1 to print the largest errors seen.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/error.h"
#include "core/presets.h"
#include "core/weights.h"
#include "kernels/cpu/cpu_plain_attention.h"
#include "reference/reference_attention.h"
#include "registry/driver.h"
#include "tests/test_support.h"
#include "variants/variant_spec.h"

namespace {

using namespace attnlab;

// With the model features: windows (tiny-window, the sliding layers 0 of tiny-gpt-oss and
// tiny-gemma), sinks (tiny-gpt-oss, both layers), QK-norm (tiny-gemma, tiny-qwen3), scaled and
// partial RoPE.
const std::vector<std::string> kTinyPresets = {"tiny-mha",     "tiny-gqa",       "tiny-mqa",
                                               "tiny-mla",     "tiny-mla-lite",  "tiny-window",
                                               "tiny-gpt-oss", "tiny-gpt-oss@1", "tiny-gemma",
                                               "tiny-gemma@1", "tiny-qwen3",     "tiny-mla-yarn"};

// Bounds from the brief: fp32 compute against fp64 (llama.cpp's NMSE, an llm.c-style abs bound).
constexpr double kMaxNmse = 1e-10;
constexpr double kAbsTolerance = 1e-4;  // times (1 + max |reference|) for outputs; absolute for lse

// The largest errors any comparison in this program saw (printed when ATTNLAB_PRINT_ERRORS is set).
struct ErrorLog {
  double max_out_nmse = 0, max_out_abs = 0, max_lse_abs = 0;
  ~ErrorLog() {
    if (std::getenv("ATTNLAB_PRINT_ERRORS") == nullptr) return;
    std::printf("largest errors vs reference: out NMSE %.3g, out max abs %.3g, lse max abs %.3g\n",
                max_out_nmse, max_out_abs, max_lse_abs);
  }
};
ErrorLog error_log;

// A GQA layer big enough that head, group and token indexing all matter.
LayerConfig medium_gqa() {
  LayerConfig c;
  c.name = "medium-gqa";
  c.attention = AttentionKind::gqa;
  c.hidden_size = 256;
  c.n_heads = 8;
  c.n_kv_heads = 2;
  c.head_dim = 32;
  c.rope_layout = RopeLayout::half_split;
  c.rope_theta = 10000;
  c.biases = {"q_proj", "k_proj", "v_proj"};
  validate_layer_config(c, "medium-gqa");
  return c;
}

// An MLA layer with every width distinct, q_lora on and every bias.
LayerConfig medium_mla() {
  LayerConfig c;
  c.name = "medium-mla";
  c.attention = AttentionKind::mla;
  c.hidden_size = 256;
  c.n_heads = 8;
  c.q_lora_rank = 48;
  c.kv_lora_rank = 64;
  c.qk_nope_head_dim = 32;
  c.qk_rope_head_dim = 16;
  c.v_head_dim = 24;
  c.rope_layout = RopeLayout::interleaved;
  c.rope_theta = 10000;
  c.rms_norm_eps = 1e-6;
  c.biases = {"q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj"};
  validate_layer_config(c, "medium-mla");
  return c;
}

// Values exactly representable in fp32, held in doubles, so both sides see identical inputs.
Tensor<double> fp32_rounded(const Tensor<double>& t) {
  return tensor_cast<double>(tensor_cast<float>(t));
}

Tensor<double> activations(const LayerConfig& config, int64_t batch, int64_t seq, uint64_t seed) {
  return fp32_rounded(random_activations(batch, seq, config.hidden_size, seed));
}

// fp32 outputs of one forward() call.
struct Outputs {
  std::vector<float> out;  // [B, S, hidden]
  std::vector<float> lse;  // [B, S, H]
};

Outputs run_cpu(const Attention& attention, KvCache& cache, const LayerConfig& config,
                const Tensor<double>& x, const Tensor<int64_t>& positions) {
  const int64_t batch = x.dim(0), seq = x.dim(1);
  const std::vector<float> input(x.data.begin(), x.data.end());
  Outputs o{std::vector<float>(batch * seq * config.hidden_size),
            std::vector<float>(batch * seq * config.n_heads)};
  attention.forward(input.data(), positions.ptr(), batch, seq, cache, o.out.data(), o.lse.data());
  return o;
}

Tensor<double> as_tensor(const std::vector<float>& values, Shape shape) {
  return Tensor<double>(std::move(shape), std::vector<double>(values.begin(), values.end()));
}

// The CPU implementation and the reference, each with its own cache, stepped together.
struct Pair {
  LayerConfig config;
  Weights weights;
  ImplForm form;
  std::unique_ptr<Attention> attention;
  std::unique_ptr<KvCache> cache;
  reference::Cache ref_cache;

  Pair(LayerConfig c, uint64_t seed, ImplForm f, int64_t batch, int64_t capacity)
      : config(std::move(c)), weights(random_weights(config, seed)), form(f) {
    attention = cpu::make_plain_attention(config, weights, form);
    cache = attention->make_cache(batch, capacity);
  }

  // Runs both on the same tokens and checks the CPU result against the reference.
  void step_and_check(const Tensor<double>& x, const Tensor<int64_t>& positions) {
    const Outputs cpu = run_cpu(*attention, *cache, config, x, positions);
    const reference::Result ref =
        reference::forward(config, weights, form, x, positions, ref_cache);
    REQUIRE(cache->length() == ref_cache.length);
    const test::Comparison out = test::compare(cpu.out.data(), ref.out);
    const test::Comparison lse = test::compare(cpu.lse.data(), ref.lse);
    INFO(config.name << " " << to_string(form) << ": out NMSE " << out.nmse << ", max abs "
                     << out.max_abs_error << " (max |ref| " << out.max_ref << "), lse max abs "
                     << lse.max_abs_error);
    error_log.max_out_nmse = std::max(error_log.max_out_nmse, out.nmse);
    error_log.max_out_abs = std::max(error_log.max_out_abs, out.max_abs_error);
    error_log.max_lse_abs = std::max(error_log.max_lse_abs, lse.max_abs_error);
    CHECK(out.max_ref > 0.01);  // a zero output would match anything
    CHECK(out.nmse < kMaxNmse);
    CHECK(out.max_abs_error < kAbsTolerance * (1 + out.max_ref));
    CHECK(lse.max_abs_error < kAbsTolerance);
  }
};

// Both fp32 results of the same computation agree to fp32 rounding.
void check_fp32_close(const std::vector<float>& actual, const std::vector<float>& expected,
                      const std::string& what) {
  REQUIRE(actual.size() == expected.size());
  const test::Comparison c =
      test::compare(actual.data(), as_tensor(expected, {static_cast<int64_t>(expected.size())}));
  INFO(what << ": NMSE " << c.nmse << ", max abs " << c.max_abs_error << " (max " << c.max_ref
            << ")");
  CHECK(c.nmse < kMaxNmse);
  CHECK(c.max_abs_error < kAbsTolerance * (1 + c.max_ref));
}

// Every (config, form, seed) the comparison tests run: the tiny presets, then the medium shapes.
struct Case {
  LayerConfig config;
  ImplForm form;
  uint64_t seed;
};

std::vector<Case> tiny_cases() {
  std::vector<Case> cases;
  uint64_t seed = 100;
  for (const std::string& name : kTinyPresets) {
    const LayerConfig config = resolve_model(name);
    for (ImplForm form : impl_forms_for(config)) cases.push_back({config, form, seed});
    ++seed;
  }
  return cases;
}

std::vector<Case> medium_cases() {
  return {{medium_gqa(), ImplForm::standard, 7},
          {medium_mla(), ImplForm::naive, 8},
          {medium_mla(), ImplForm::absorb, 8}};
}

Tensor<int64_t> positions_of(int64_t batch, const std::vector<int64_t>& values) {
  const int64_t seq = static_cast<int64_t>(values.size()) / batch;
  return Tensor<int64_t>({batch, seq}, values);
}

}  // namespace

TEST_CASE("cpu plain: prefill of 7 tokens matches the reference", "[cpu]") {
  for (const Case& c : tiny_cases()) {
    Pair pair(c.config, c.seed, c.form, 2, 16);
    pair.step_and_check(activations(c.config, 2, 7, c.seed + 1), sequential_positions(2, 7));
  }
}

TEST_CASE("cpu plain: token-by-token decode matches the reference", "[cpu]") {
  for (const Case& c : tiny_cases()) {
    Pair pair(c.config, c.seed, c.form, 2, 9);
    const Tensor<double> x = activations(c.config, 2, 9, c.seed + 2);
    // A 2-token prefill, then 7 decode steps at positions 2..8.
    pair.step_and_check(token_slice(x, 0, 2), sequential_positions(2, 2));
    for (int64_t t = 2; t < 9; ++t)
      pair.step_and_check(token_slice(x, t, 1), sequential_positions(2, 1, t));
    REQUIRE(pair.cache->length() == 9);
  }
}

TEST_CASE("cpu plain: chunked prefill (3 + 4 tokens) equals one prefill of 7", "[cpu]") {
  for (const Case& c : tiny_cases()) {
    INFO(c.config.name << " " << to_string(c.form));
    const Weights weights = random_weights(c.config, c.seed);
    const auto attention = cpu::make_plain_attention(c.config, weights, c.form);
    const Tensor<double> x = activations(c.config, 2, 8, c.seed + 3);
    const Tensor<int64_t> positions = sequential_positions(2, 8);

    const auto whole_cache = attention->make_cache(2, 8);
    const Outputs whole = run_cpu(*attention, *whole_cache, c.config, token_slice(x, 0, 7),
                                  token_slice(positions, 0, 7));
    const auto chunk_cache = attention->make_cache(2, 8);
    const Outputs first = run_cpu(*attention, *chunk_cache, c.config, token_slice(x, 0, 3),
                                  token_slice(positions, 0, 3));
    const Outputs second = run_cpu(*attention, *chunk_cache, c.config, token_slice(x, 3, 4),
                                   token_slice(positions, 3, 4));
    // Reassemble [B, 3] + [B, 4] tokens into [B, 7] before comparing.
    std::vector<float> joined_out, joined_lse;
    for (int64_t b = 0; b < 2; ++b) {
      const int64_t w = c.config.hidden_size, h = c.config.n_heads;
      joined_out.insert(joined_out.end(), first.out.begin() + b * 3 * w,
                        first.out.begin() + (b + 1) * 3 * w);
      joined_out.insert(joined_out.end(), second.out.begin() + b * 4 * w,
                        second.out.begin() + (b + 1) * 4 * w);
      joined_lse.insert(joined_lse.end(), first.lse.begin() + b * 3 * h,
                        first.lse.begin() + (b + 1) * 3 * h);
      joined_lse.insert(joined_lse.end(), second.lse.begin() + b * 4 * h,
                        second.lse.begin() + (b + 1) * 4 * h);
    }
    check_fp32_close(joined_out, whole.out, "chunked out");
    check_fp32_close(joined_lse, whole.lse, "chunked lse");

    // Both caches now hold the same 7 tokens: one more decode step must agree too.
    const Outputs next_whole = run_cpu(*attention, *whole_cache, c.config, token_slice(x, 7, 1),
                                       token_slice(positions, 7, 1));
    const Outputs next_chunked = run_cpu(*attention, *chunk_cache, c.config, token_slice(x, 7, 1),
                                         token_slice(positions, 7, 1));
    check_fp32_close(next_chunked.out, next_whole.out, "decode after chunks");
  }
}

TEST_CASE("cpu plain: non-contiguous position ids match the reference", "[cpu]") {
  for (const Case& c : tiny_cases()) {
    Pair pair(c.config, c.seed, c.form, 2, 10);
    const Tensor<double> x = activations(c.config, 2, 8, c.seed + 4);
    pair.step_and_check(token_slice(x, 0, 7),
                        positions_of(2, {3, 9, 10, 20, 21, 40, 41, 0, 5, 6, 7, 100, 101, 1000}));
    pair.step_and_check(token_slice(x, 7, 1), positions_of(2, {57, 4096}));
  }
}

TEST_CASE("cpu plain: lse is optional and does not change the output", "[cpu]") {
  for (const Case& c : tiny_cases()) {
    INFO(c.config.name << " " << to_string(c.form));
    const Weights weights = random_weights(c.config, c.seed);
    const auto attention = cpu::make_plain_attention(c.config, weights, c.form);
    const Tensor<double> x = activations(c.config, 2, 5, c.seed + 5);
    const std::vector<float> input(x.data.begin(), x.data.end());
    const Tensor<int64_t> positions = sequential_positions(2, 5);
    const auto cache_a = attention->make_cache(2, 5);
    const auto cache_b = attention->make_cache(2, 5);
    const Outputs with_lse = run_cpu(*attention, *cache_a, c.config, x, positions);
    std::vector<float> out(with_lse.out.size());
    attention->forward(input.data(), positions.ptr(), 2, 5, *cache_b, out.data(), nullptr);
    REQUIRE(out == with_lse.out);
    REQUIRE(cache_b->length() == 5);
  }
}

// The analytic size for every shape, batch and capacity: tests/test_attention_contract.cpp.
TEST_CASE("cpu plain: allocated cache bytes of three layouts", "[cpu]") {
  // Spot values: tiny-gqa caches 2 * 2 kv heads * 8 = 32 floats per token; tiny-mla absorb
  // 16 + 4 = 20; tiny-mla naive 3 heads * (12 + 6) = 54.
  const LayerConfig gqa = load_preset("tiny-gqa"), mla = load_preset("tiny-mla");
  const Weights gqa_w = random_weights(gqa, 1), mla_w = random_weights(mla, 1);
  CHECK(cpu::make_plain_attention(gqa, gqa_w, ImplForm::standard)
            ->make_cache(2, 10)
            ->bytes_allocated() == 32 * 2 * 10 * 4);
  CHECK(cpu::make_plain_attention(mla, mla_w, ImplForm::absorb)
            ->make_cache(2, 10)
            ->bytes_allocated() == 20 * 2 * 10 * 4);
  CHECK(cpu::make_plain_attention(mla, mla_w, ImplForm::naive)
            ->make_cache(2, 10)
            ->bytes_allocated() == 54 * 2 * 10 * 4);
}

TEST_CASE("cpu plain: misuse throws attnlab::Error", "[cpu][errors]") {
  const LayerConfig gqa = load_preset("tiny-gqa");
  const LayerConfig mha = load_preset("tiny-mha");
  const LayerConfig mla = load_preset("tiny-mla");
  const Weights gqa_w = random_weights(gqa, 3), mha_w = random_weights(mha, 3),
                mla_w = random_weights(mla, 3);

  SECTION("cache full, with the counts in the message, and the cache left usable") {
    Pair pair(gqa, 3, ImplForm::standard, 2, 12);
    const Tensor<double> x = activations(gqa, 2, 14, 31);
    const Tensor<int64_t> positions = sequential_positions(2, 14);
    pair.step_and_check(token_slice(x, 0, 10), token_slice(positions, 0, 10));
    REQUIRE_THROWS_AS(run_cpu(*pair.attention, *pair.cache, gqa, token_slice(x, 10, 4),
                              token_slice(positions, 10, 4)),
                      Error);
    REQUIRE_THROWS_WITH(run_cpu(*pair.attention, *pair.cache, gqa, token_slice(x, 10, 4),
                                token_slice(positions, 10, 4)),
                        "KV cache full: 10 cached + 4 new > capacity 12");
    REQUIRE(pair.cache->length() == 10);
    pair.step_and_check(token_slice(x, 10, 2), token_slice(positions, 10, 2));
    REQUIRE_THROWS_WITH(run_cpu(*pair.attention, *pair.cache, gqa, token_slice(x, 12, 1),
                                token_slice(positions, 12, 1)),
                        "KV cache full: 12 cached + 1 new > capacity 12");
  }

  SECTION("no new tokens") {
    const auto attention = cpu::make_plain_attention(gqa, gqa_w, ImplForm::standard);
    const auto cache = attention->make_cache(1, 8);
    std::vector<float> x(gqa.hidden_size), out(gqa.hidden_size);
    const int64_t position = 0;
    REQUIRE_THROWS_AS(attention->forward(x.data(), &position, 1, 0, *cache, out.data(), nullptr),
                      Error);
  }

  SECTION("a cache made by another attention type or shape") {
    const auto naive = cpu::make_plain_attention(mla, mla_w, ImplForm::naive);
    const auto absorb = cpu::make_plain_attention(mla, mla_w, ImplForm::absorb);
    const auto gqa_attention = cpu::make_plain_attention(gqa, gqa_w, ImplForm::standard);
    const auto mha_attention = cpu::make_plain_attention(mha, mha_w, ImplForm::standard);
    const auto naive_cache = naive->make_cache(1, 4);
    const auto mha_cache = mha_attention->make_cache(1, 4);
    REQUIRE_THROWS_AS(
        run_cpu(*absorb, *naive_cache, mla, activations(mla, 1, 1, 6), sequential_positions(1, 1)),
        Error);
    REQUIRE_THROWS_AS(run_cpu(*gqa_attention, *naive_cache, gqa, activations(gqa, 1, 1, 6),
                              sequential_positions(1, 1)),
                      Error);
    // Same class, different shape (4 kv heads x 8 vs 2 x 8): still not interchangeable.
    REQUIRE_THROWS_AS(run_cpu(*gqa_attention, *mha_cache, gqa, activations(gqa, 1, 1, 6),
                              sequential_positions(1, 1)),
                      Error);
  }

  SECTION("unsupported forms") {
    REQUIRE_THROWS_AS(cpu::make_plain_attention(gqa, gqa_w, ImplForm::absorb), Error);
    REQUIRE_THROWS_AS(cpu::make_plain_attention(gqa, gqa_w, ImplForm::naive), Error);
    REQUIRE_THROWS_AS(cpu::make_plain_attention(mla, mla_w, ImplForm::standard), Error);
  }

  SECTION("bad weights") {  // bad cache requests and another batch: the contract test
    Weights missing = gqa_w;
    missing.tensors.erase("k_proj.bias");
    REQUIRE_THROWS_AS(cpu::make_plain_attention(gqa, missing, ImplForm::standard), Error);
    Weights misshapen = gqa_w;
    misshapen.tensors["o_proj.weight"] = Tensor<double>({gqa.hidden_size, gqa.hidden_size + 1});
    REQUIRE_THROWS_AS(cpu::make_plain_attention(gqa, misshapen, ImplForm::standard), Error);
  }
}

TEST_CASE("cpu plain: MLA absorb equals MLA naive on the CPU", "[cpu][mla]") {
  for (const LayerConfig& config :
       {load_preset("tiny-mla"), load_preset("tiny-mla-lite"), medium_mla()}) {
    INFO(config.name);
    const Weights weights = random_weights(config, 21);
    const auto naive = cpu::make_plain_attention(config, weights, ImplForm::naive);
    const auto absorb = cpu::make_plain_attention(config, weights, ImplForm::absorb);
    const auto naive_cache = naive->make_cache(2, 12);
    const auto absorb_cache = absorb->make_cache(2, 12);
    const Tensor<double> x = activations(config, 2, 12, 22);
    const Tensor<int64_t> positions = sequential_positions(2, 12, 5);
    // A 9-token prefill, then 3 decode steps.
    for (auto [start, count] : {std::pair<int64_t, int64_t>{0, 9}, {9, 1}, {10, 1}, {11, 1}}) {
      const Tensor<double> xs = token_slice(x, start, count);
      const Tensor<int64_t> ps = token_slice(positions, start, count);
      const Outputs a = run_cpu(*absorb, *absorb_cache, config, xs, ps);
      const Outputs n = run_cpu(*naive, *naive_cache, config, xs, ps);
      check_fp32_close(a.out, n.out, "absorb vs naive out");
      check_fp32_close(a.lse, n.lse, "absorb vs naive lse");
    }
  }
}

TEST_CASE("cpu plain: medium shapes at 33 tokens match the reference", "[cpu][medium]") {
  for (const Case& c : medium_cases()) {
    Pair pair(c.config, c.seed, c.form, 2, 36);
    const Tensor<double> x = activations(c.config, 2, 36, c.seed + 9);
    const Tensor<int64_t> positions = sequential_positions(2, 36, 11);
    pair.step_and_check(token_slice(x, 0, 33), token_slice(positions, 0, 33));
    for (int64_t t = 33; t < 36; ++t)
      pair.step_and_check(token_slice(x, t, 1), token_slice(positions, t, 1));
  }
}
