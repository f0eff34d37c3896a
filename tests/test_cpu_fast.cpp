// Tests of the fast CPU backend (kernels/cpu/fast_*, registry backend "cpu") for what
// `attnlab verify` cannot see: the bf16/fp16 conversions (exhaustively against the scalar
// definitions), the NaN fill of never-written slots read through the backend, cached values
// rounding exactly once, medium shapes and a 3000-token context against the fp64 reference at
// the dtype's tolerance (verify/tolerance.cpp), forced key splits through run_core, and results
// that do not depend on the thread count. The kernels' split merge and key ranges:
// tests/test_cpu_fast_core.cpp. Cache size,
// misuse errors, rewind and fill_synthetic: tests/test_attention_contract.cpp.
// Set ATTNLAB_PRINT_ERRORS=1 to print the largest errors seen per dtype (the figures quoted in
// verify/tolerance.cpp).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/error.h"
#include "core/presets.h"
#include "core/weights.h"
#include "kernels/cpu/fast_attention.h"
#include "kernels/cpu/fast_kernels.h"
#include "kernels/cpu/fast_simd.h"
#include "reference/reference_attention.h"
#include "registry/driver.h"
#include "registry/registry.h"
#include "tests/test_support.h"
#include "variants/variant_spec.h"
#include "verify/tolerance.h"

namespace {

using namespace attnlab;

const DType kDtypes[] = {DType::fp32, DType::bf16, DType::fp16};
const std::vector<std::string> kTinyPresets = {"tiny-mha", "tiny-gqa", "tiny-mqa", "tiny-mla",
                                               "tiny-mla-lite"};

struct ErrorLog {
  std::map<std::string, std::vector<double>> worst;  // dtype -> {nmse, abs, lse}
  void add(const std::string& dtype, double nmse, double abs, double lse) {
    auto& w = worst[dtype];
    w.resize(3);
    w[0] = std::max(w[0], nmse);
    w[1] = std::max(w[1], abs);
    w[2] = std::max(w[2], lse);
  }
  ~ErrorLog() {
    if (std::getenv("ATTNLAB_PRINT_ERRORS") == nullptr) return;
    for (const auto& [dtype, w] : worst)
      std::printf("fast %s: largest out NMSE %.3g, out max abs %.3g, lse max abs %.3g\n",
                  dtype.c_str(), w[0], w[1], w[2]);
  }
};
ErrorLog error_log;

LayerConfig medium_gqa() {
  LayerConfig c;
  c.name = "medium-gqa";
  c.attention = AttentionKind::gqa;
  c.hidden_size = 256;
  c.n_heads = 8;
  c.n_kv_heads = 2;
  c.head_dim = 40;  // not a multiple of 16: vector tails everywhere
  c.rope_layout = RopeLayout::half_split;
  c.biases = {"q_proj", "k_proj", "v_proj"};
  validate_layer_config(c, "medium-gqa");
  return c;
}

LayerConfig medium_mqa() {  // 24 query heads on one stream: the lanes kernel in decode
  LayerConfig c;
  c.name = "medium-mqa";
  c.attention = AttentionKind::mqa;
  c.hidden_size = 192;
  c.n_heads = 24;
  c.n_kv_heads = 1;
  c.head_dim = 32;
  c.rope_layout = RopeLayout::interleaved;
  validate_layer_config(c, "medium-mqa");
  return c;
}

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
  c.biases = {"q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj"};
  validate_layer_config(c, "medium-mla");
  return c;
}

// Small widths for long contexts: GQA with 2 KV heads of 3 query heads, and MLA.
LayerConfig narrow_gqa() {
  LayerConfig c;
  c.name = "narrow-gqa";
  c.attention = AttentionKind::gqa;
  c.hidden_size = 64;
  c.n_heads = 6;
  c.n_kv_heads = 2;
  c.head_dim = 16;
  c.rope_layout = RopeLayout::half_split;
  c.rope_theta = 500000;
  validate_layer_config(c, "narrow-gqa");
  return c;
}

LayerConfig narrow_mla() {
  LayerConfig c;
  c.name = "narrow-mla";
  c.attention = AttentionKind::mla;
  c.hidden_size = 64;
  c.n_heads = 4;
  c.kv_lora_rank = 32;
  c.qk_nope_head_dim = 16;
  c.qk_rope_head_dim = 8;
  c.v_head_dim = 16;
  c.rope_layout = RopeLayout::interleaved;
  c.biases = {"kv_b_proj"};
  validate_layer_config(c, "narrow-mla");
  return c;
}

Tensor<double> fp32_rounded(const Tensor<double>& t) {
  return tensor_cast<double>(tensor_cast<float>(t));
}

struct Outputs {
  std::vector<float> out, lse;
};

Outputs forward(const Attention& attention, KvCache& cache, const LayerConfig& config,
                const Tensor<double>& x, const Tensor<int64_t>& positions) {
  const int64_t batch = x.dim(0), seq = x.dim(1);
  const std::vector<float> input(x.data.begin(), x.data.end());
  Outputs o{std::vector<float>(batch * seq * config.hidden_size),
            std::vector<float>(batch * seq * config.n_heads)};
  attention.forward(input.data(), positions.ptr(), batch, seq, cache, o.out.data(), o.lse.data());
  return o;
}

// Checks fp32 results against fp64 ones with the dtype's row of the tolerance table.
void check_against(const std::vector<float>& out, const std::vector<float>& lse,
                   const Tensor<double>& ref_out, const Tensor<double>& ref_lse, DType dtype,
                   const std::string& what) {
  const Tolerance& tol = tolerance_for(dtype);
  const test::Comparison o = test::compare(out.data(), ref_out);
  const test::Comparison l = test::compare(lse.data(), ref_lse);
  double worst_excess = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    const double e = std::abs(out[i] - ref_out.data[i]);
    worst_excess = std::max(worst_excess, e - (tol.atol + std::abs(ref_out.data[i]) * tol.rtol));
  }
  INFO(what << " [" << to_string(dtype) << "]: out NMSE " << o.nmse << ", max abs "
            << o.max_abs_error << " (max |ref| " << o.max_ref << "), lse max abs "
            << l.max_abs_error);
  error_log.add(to_string(dtype), o.nmse, o.max_abs_error, l.max_abs_error);
  CHECK(o.max_ref > 0.01);
  CHECK(o.nmse <= tol.nmse_bound);
  CHECK(worst_excess <= 0);
  CHECK(l.max_abs_error <= tol.lse_atol);
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// numeric

TEST_CASE("fast numeric: every bf16 and fp16 bit pattern widens like the scalar definition",
          "[fast]") {
  using namespace cpu::fast;
  std::vector<bf16_t> b(65536);
  std::vector<fp16_t> h(65536);
  for (uint32_t i = 0; i < 65536; ++i) {
    b[i] = {static_cast<uint16_t>(i)};
    h[i] = {static_cast<uint16_t>(i)};
  }
  std::vector<float> wb(65536), wh(65536);
  widen(b.data(), wb.data(), 65536);
  widen(h.data(), wh.data(), 65536);
  int mismatches = 0;
  for (uint32_t i = 0; i < 65536; ++i) {
    const float sb = to_float(b[i]), sh = to_float(h[i]);
    mismatches += !(float_bits(sb) == float_bits(wb[i]) || (std::isnan(sb) && std::isnan(wb[i])));
    mismatches += !(float_bits(sh) == float_bits(wh[i]) || (std::isnan(sh) && std::isnan(wh[i])));
  }
  CHECK(mismatches == 0);
  // Known values.
  CHECK(to_float(fp16_t{0x3C00}) == 1.0f);
  CHECK(to_float(fp16_t{0x7BFF}) == 65504.0f);
  CHECK(to_float(fp16_t{0x0001}) == std::ldexp(1.0f, -24));
  CHECK(to_float(bf16_t{0x3F80}) == 1.0f);
  CHECK(std::isinf(to_float(fp16_t{0xFC00})));
}

TEST_CASE("fast numeric: fp32 -> bf16/fp16 rounds to nearest even and round-trips", "[fast]") {
  using namespace cpu::fast;
  // Every bf16 / finite fp16 value converts back to itself.
  for (uint32_t i = 0; i < 65536; ++i) {
    const bf16_t b{static_cast<uint16_t>(i)};
    if (!std::isnan(to_float(b))) CHECK(to_bf16(to_float(b)).bits == b.bits);
    const fp16_t h{static_cast<uint16_t>(i)};
    if (!std::isnan(to_float(h))) CHECK(to_fp16(to_float(h)).bits == h.bits);
  }
  // Ties go to even; just past a tie rounds up.
  CHECK(to_bf16(bits_float(0x3F808000u)).bits == 0x3F80);  // 1 + 2^-8: tie, even is down
  CHECK(to_bf16(bits_float(0x3F818000u)).bits == 0x3F82);  // tie, even is up
  CHECK(to_bf16(bits_float(0x3F808001u)).bits == 0x3F81);
  CHECK(to_fp16(1.0f + std::ldexp(1.0f, -11)).bits == 0x3C00);
  CHECK(to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)).bits == 0x3C02);
  CHECK(to_fp16(65519.0f).bits == 0x7BFF);
  CHECK(to_fp16(65520.0f).bits == 0x7C00);  // rounds past the largest finite value
  CHECK(to_fp16(-1e9f).bits == 0xFC00);
  CHECK(to_fp16(std::ldexp(1.0f, -25)).bits == 0x0000);  // tie between 0 and 2^-24: even
  CHECK(to_fp16(std::ldexp(3.0f, -26)).bits == 0x0001);
  CHECK(std::isnan(to_float(to_bf16(NAN))));
  CHECK(std::isnan(to_float(to_fp16(NAN))));
  CHECK(std::isnan(to_float(nan_value<bf16_t>())));
  CHECK(std::isnan(to_float(nan_value<fp16_t>())));
  // Relative rounding error of normal values: <= 2^-8 (bf16, 8-bit significand) and
  // <= 2^-11 (fp16, 11-bit significand).
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  double worst_b = 0, worst_h = 0;
  for (int i = 0; i < 100000; ++i) {
    const float x = normal(rng);
    if (std::abs(x) < 1e-4f) continue;
    worst_b = std::max(worst_b, std::abs(to_float(to_bf16(x)) - x) / std::abs(double(x)));
    worst_h = std::max(worst_h, std::abs(to_float(to_fp16(x)) - x) / std::abs(double(x)));
  }
  CHECK(worst_b <= std::ldexp(1.0, -8));
  CHECK(worst_b > std::ldexp(1.0, -9));
  CHECK(worst_h <= std::ldexp(1.0, -11));
}

// ------------------------------------------------------------------------------------------------
// cache

// Cache size, misuse errors, rewind and fill_synthetic: tests/test_attention_contract.cpp (every
// registry entry). The spot value: tiny-mla absorb caches 16 + 4 = 20 elements per token.
TEST_CASE("fast cache: tiny-mla absorb in bf16 takes 2 * 10 * 20 * 2 bytes", "[fast]") {
  const LayerConfig mla = load_preset("tiny-mla");
  CHECK(cpu::fast::make_fast_attention(mla, random_weights(mla, 1), ImplForm::absorb, DType::bf16)
            ->make_cache(2, 10)
            ->bytes_allocated() == 800);
}

TEST_CASE("fast cache: never-written slots hold NaN, written ones the rounded values", "[fast]") {
  for (const std::string& name : {std::string("tiny-gqa"), std::string("tiny-mla")}) {
    const LayerConfig config = load_preset(name);
    const Weights weights = random_weights(config, 3);
    const Tensor<double> x = fp32_rounded(random_activations(2, 3, config.hidden_size, 4));
    for (ImplForm form : impl_forms_for(config)) {
      // The fp32 cache holds the exact fp32 keys/values; bf16/fp16 must hold them rounded once.
      const auto exact = cpu::fast::make_fast_attention(config, weights, form, DType::fp32);
      const auto exact_cache = exact->make_cache(2, 5);
      forward(*exact, *exact_cache, config, x, sequential_positions(2, 3));
      for (DType dtype : kDtypes) {
        INFO(name << " " << to_string(form) << " " << to_string(dtype));
        const auto attention = cpu::fast::make_fast_attention(config, weights, form, dtype);
        const auto cache = attention->make_cache(2, 5);
        const int parts = form == ImplForm::absorb ? 1 : 2;
        const auto part_shape = [&](int part) -> std::pair<int64_t, int64_t> {
          if (form == ImplForm::absorb) return {1, config.kv_lora_rank + config.qk_rope_head_dim};
          if (form == ImplForm::naive)
            return {config.n_heads, part == 0 ? config.qk_head_dim() : config.v_head_dim};
          return {config.n_kv_heads, config.head_dim};
        };
        for (int part = 0; part < parts; ++part)
          CHECK(std::isnan(attention->cached_value(*cache, part, 1, part_shape(part).first - 1, 4,
                                                   part_shape(part).second - 1)));
        forward(*attention, *cache, config, x, sequential_positions(2, 3));
        int bad = 0;
        for (int part = 0; part < parts; ++part) {
          const auto [heads, width] = part_shape(part);
          for (int64_t b = 0; b < 2; ++b)
            for (int64_t h = 0; h < heads; ++h)
              for (int64_t t = 0; t < 5; ++t)
                for (int64_t i = 0; i < width; ++i) {
                  const float v = attention->cached_value(*cache, part, b, h, t, i);
                  if (t >= 3) {
                    bad += !std::isnan(v);
                    continue;
                  }
                  const float e = exact->cached_value(*exact_cache, part, b, h, t, i);
                  float rounded = e;
                  if (dtype == DType::bf16) rounded = cpu::fast::to_float(cpu::fast::to_bf16(e));
                  if (dtype == DType::fp16) rounded = cpu::fast::to_float(cpu::fast::to_fp16(e));
                  bad += !(v == rounded);
                }
        }
        CHECK(bad == 0);
      }
    }
  }
}

TEST_CASE("fast: a form that does not apply and a non-cache dtype throw attnlab::Error",
          "[fast][errors]") {
  const LayerConfig gqa = load_preset("tiny-gqa");
  CHECK_THROWS_AS(
      cpu::fast::make_fast_attention(gqa, random_weights(gqa, 3), ImplForm::absorb, DType::fp32),
      Error);
  CHECK_THROWS_AS(parse_dtype("fp8", cache_dtypes(), "cache dtype"), Error);
}

// ------------------------------------------------------------------------------------------------
// against the reference

TEST_CASE("fast: medium shapes (prefill, chunks, decode) match the reference in every dtype",
          "[fast][medium]") {
  struct Case {
    LayerConfig config;
    ImplForm form;
  };
  const std::vector<Case> cases = {{medium_gqa(), ImplForm::standard},
                                   {medium_mqa(), ImplForm::standard},
                                   {medium_mla(), ImplForm::naive},
                                   {medium_mla(), ImplForm::absorb}};
  for (const Case& c : cases) {
    const Weights weights = random_weights(c.config, 11);
    const int64_t batch = 2, seq = 70;  // > one 64-key tile and > one 64-row set
    const Tensor<double> x = fp32_rounded(random_activations(batch, seq, c.config.hidden_size, 12));
    const Tensor<int64_t> positions = sequential_positions(batch, seq, 5);
    reference::Cache ref_cache;
    const reference::Result truth =
        reference::forward(c.config, weights, defining_form(c.config), x, positions, ref_cache);
    for (DType dtype : kDtypes) {
      const auto attention = cpu::fast::make_fast_attention(c.config, weights, c.form, dtype);
      const std::string what = c.config.name + " " + to_string(c.form);
      {
        const auto cache = attention->make_cache(batch, seq + 2);
        const Outputs o = forward(*attention, *cache, c.config, x, positions);
        check_against(o.out, o.lse, truth.out, truth.lse, dtype, what + " prefill");
      }
      // Chunks of 33, 1 and 36 tokens through a cache without slack, then compare everything.
      const RunOutput chunked = run_through(*attention, c.config, x, positions, {33, 1, 36}, 0);
      const Outputs all{std::vector<float>(chunked.out.data.begin(), chunked.out.data.end()),
                        std::vector<float>(chunked.lse.data.begin(), chunked.lse.data.end())};
      check_against(all.out, all.lse, truth.out, truth.lse, dtype, what + " chunked");
    }
  }
}

TEST_CASE("fast: decode at a 3000-token context matches the reference", "[fast][long]") {
  for (const LayerConfig& config : {narrow_gqa(), narrow_mla()}) {
    const Weights weights = random_weights(config, 21);
    const int64_t seq = 3000, tail = 6;
    const Tensor<double> x = fp32_rounded(random_activations(1, seq, config.hidden_size, 22));
    const Tensor<int64_t> positions = sequential_positions(1, seq);
    reference::Cache ref_cache;
    const reference::Result truth =
        reference::forward(config, weights, defining_form(config), x, positions, ref_cache);
    const Tensor<double> ref_out = token_slice(truth.out, seq - tail, tail);
    const Tensor<double> ref_lse = token_slice(truth.lse, seq - tail, tail);
    for (ImplForm form : impl_forms_for(config))
      for (DType dtype : kDtypes) {
        const auto attention = cpu::fast::make_fast_attention(config, weights, form, dtype);
        const auto cache = attention->make_cache(1, seq + 1);
        forward(*attention, *cache, config, token_slice(x, 0, seq - tail),
                token_slice(positions, 0, seq - tail));
        Outputs decoded;
        for (int64_t t = seq - tail; t < seq; ++t) {
          const Outputs o = forward(*attention, *cache, config, token_slice(x, t, 1),
                                    token_slice(positions, t, 1));
          decoded.out.insert(decoded.out.end(), o.out.begin(), o.out.end());
          decoded.lse.insert(decoded.lse.end(), o.lse.begin(), o.lse.end());
        }
        check_against(decoded.out, decoded.lse, ref_out, ref_lse, dtype,
                      config.name + " " + to_string(form) + " decode at 3000");
      }
  }
}

TEST_CASE("fast: results do not depend on the thread count beyond fp32 rounding", "[fast]") {
  const int saved = omp_get_max_threads();
  for (const LayerConfig& config : {narrow_gqa(), narrow_mla(), medium_mqa()}) {
    const Weights weights = random_weights(config, 31);
    const Tensor<double> x = fp32_rounded(random_activations(2, 1300, config.hidden_size, 32));
    const Tensor<int64_t> positions = sequential_positions(2, 1300);
    for (ImplForm form : impl_forms_for(config)) {
      std::vector<Outputs> runs;
      for (int threads : {1, 2, 3, 5}) {
        omp_set_num_threads(threads);
        const auto attention = cpu::fast::make_fast_attention(config, weights, form, DType::bf16);
        const auto cache = attention->make_cache(2, 1300);
        Outputs o = forward(*attention, *cache, config, token_slice(x, 0, 1299),
                            token_slice(positions, 0, 1299));
        runs.push_back(forward(*attention, *cache, config, token_slice(x, 1299, 1),
                               token_slice(positions, 1299, 1)));
        runs.back().out.insert(runs.back().out.end(), o.out.begin(), o.out.end());
      }
      for (size_t r = 1; r < runs.size(); ++r) {
        const test::Comparison c = test::compare(
            runs[r].out.data(),
            Tensor<double>({static_cast<int64_t>(runs[0].out.size())},
                           std::vector<double>(runs[0].out.begin(), runs[0].out.end())));
        INFO(config.name << " " << to_string(form) << " run " << r << ": NMSE " << c.nmse);
        CHECK(c.nmse < 1e-12);
        CHECK(c.max_abs_error < 1e-5 * (1 + c.max_ref));
      }
    }
  }
  omp_set_num_threads(saved);
}

// ------------------------------------------------------------------------------------------------
// the core: split-KV merge

TEST_CASE("fast core: forced key splits through run_core agree with none", "[fast][core]") {
  for (DType dtype : kDtypes) {
    const LayerConfig config = narrow_gqa();
    const Weights weights = random_weights(config, 41);
    const auto attention =
        cpu::fast::make_fast_attention(config, weights, ImplForm::standard, dtype);
    const auto cache = attention->make_cache(2, 2000);
    cache->fill_synthetic(2000, 3);
    // 5 new tokens at the end of the cache, 6 heads each.
    std::vector<float> q(2 * 5 * config.n_heads * config.head_dim);
    std::mt19937 rng(4);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& v : q) v = normal(rng);
    std::vector<float> a(q.size()), b(q.size()), lse_a(2 * 5 * config.n_heads), lse_b(lse_a.size());
    attention->attend_core(q.data(), 5, *cache, a.data(), lse_a.data());
    const int saved = omp_get_max_threads();
    omp_set_num_threads(7);  // 2 x 2 streams < 2 x 7 threads: splits
    CHECK(cpu::fast::choose_splits(2000, 4, 7) > 1);
    attention->attend_core(q.data(), 5, *cache, b.data(), lse_b.data());
    omp_set_num_threads(saved);
    const test::Comparison c = test::compare(
        b.data(),
        Tensor<double>({static_cast<int64_t>(a.size())}, std::vector<double>(a.begin(), a.end())));
    INFO(to_string(dtype) << ": NMSE " << c.nmse);
    CHECK(c.nmse < 1e-12);
    for (size_t i = 0; i < lse_a.size(); ++i) CHECK(std::abs(lse_a[i] - lse_b[i]) < 1e-5);
  }
}

// ------------------------------------------------------------------------------------------------
// the core: key ranges that do not start at 0 (MaskSpec's lo; every layer is causal today, so
// only these direct kernel calls reach the lo paths: block/tile skipping and lane masking below lo)
