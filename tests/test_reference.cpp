// Tests of the fp64 reference (reference/reference_attention.h): its building blocks against
// values worked out by hand, a one-head layer against a hand-computed softmax mixture, GQA head
// grouping, QK-norm and attention sinks against hand-computed values, MLA absorb == naive with
// biases on, decode-through-the-cache == prefill for every tiny preset and form (windows, sinks,
// QK-norm and scaled RoPE among them), cache shapes, and the errors forward() must raise.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/presets.h"
#include "core/weights.h"
#include "reference/reference_attention.h"
#include "registry/driver.h"
#include "tests/test_support.h"

using namespace attnlab;
using attnlab::reference::Cache;
using attnlab::reference::Result;
using Catch::Detail::Approx;

namespace {

const char* kTinyPresets[] = {"tiny-mha",      "tiny-gqa",     "tiny-mqa",     "tiny-mla",
                              "tiny-mla-lite", "tiny-window",  "tiny-gpt-oss", "tiny-gpt-oss@1",
                              "tiny-gemma",    "tiny-gemma@1", "tiny-qwen3",   "tiny-mla-yarn",
                              "tiny-gta",      "tiny-gla",     "tiny-gla4"};

Tensor<double> matrix(int64_t rows, int64_t cols, std::vector<double> values) {
  return Tensor<double>({rows, cols}, std::move(values));
}

// Relative agreement: max |a - e| <= tolerance * max(1, max |e|).
void require_close(const Tensor<double>& actual, const Tensor<double>& expected, double tolerance) {
  REQUIRE(actual.shape == expected.shape);
  const test::Comparison c = test::compare(actual, expected);
  INFO("max abs error " << c.max_abs_error << ", max |ref| " << c.max_ref);
  REQUIRE(c.max_abs_error <= tolerance * std::max(1.0, c.max_ref));
}

// A hand-built MHA/GQA config without RoPE or biases; validated like a parsed one.
LayerConfig hand_config(AttentionKind kind, int64_t hidden, int64_t heads, int64_t kv_heads,
                        int64_t head_dim) {
  LayerConfig c;
  c.name = "hand";
  c.attention = kind;
  c.hidden_size = hidden;
  c.n_heads = heads;
  c.n_kv_heads = kv_heads;
  c.head_dim = head_dim;
  c.rope_layout = RopeLayout::none;
  validate_layer_config(c, "hand-built config");
  return c;
}

// The one-head layer of the hand-computed mixture tests: q_proj = k_proj = o_proj = identity,
// v_proj = diag(2, 3).
Weights hand_mixture_weights() {
  Weights w;
  w.tensors["q_proj.weight"] = matrix(2, 2, {1, 0, 0, 1});
  w.tensors["k_proj.weight"] = matrix(2, 2, {1, 0, 0, 1});
  w.tensors["v_proj.weight"] = matrix(2, 2, {2, 0, 0, 3});
  w.tensors["o_proj.weight"] = matrix(2, 2, {1, 0, 0, 1});
  return w;
}

}  // namespace

TEST_CASE("rms_norm matches a hand-computed value", "[reference][blocks]") {
  // x = [2, -2, 4, -4]: mean(x^2) = (4 + 4 + 16 + 16) / 4 = 10; with eps = 6 the RMS is
  // sqrt(10 + 6) = 4, so x / rms = [0.5, -0.5, 1, -1]; times weight [1, 2, 0.5, 3] gives
  // [0.5, -1, 0.5, -3].
  const Tensor<double> weight({4}, std::vector<double>{1, 2, 0.5, 3});
  const std::vector<double> y = reference::rms_norm({2, -2, 4, -4}, weight, 6.0);
  REQUIRE(y.size() == 4);
  CHECK(y[0] == Approx(0.5).epsilon(1e-15));
  CHECK(y[1] == Approx(-1.0).epsilon(1e-15));
  CHECK(y[2] == Approx(0.5).epsilon(1e-15));
  CHECK(y[3] == Approx(-3.0).epsilon(1e-15));
  REQUIRE_THROWS_AS(reference::rms_norm({1, 2, 3}, weight, 1e-6), Error);
}

TEST_CASE("linear computes x W^T + b with W as [out, in]", "[reference][blocks]") {
  // W = [[1, 2, 3], [4, 5, 6]], x = [1, 0, -1], b = [10, 20]:
  // y0 = 1 - 3 + 10 = 8, y1 = 4 - 6 + 20 = 18.
  const Tensor<double> w = matrix(2, 3, {1, 2, 3, 4, 5, 6});
  const Tensor<double> b({2}, std::vector<double>{10, 20});
  CHECK(reference::linear({1, 0, -1}, w, &b) == std::vector<double>{8, 18});
  CHECK(reference::linear({1, 0, -1}, w, nullptr) == std::vector<double>{-2, -2});
  REQUIRE_THROWS_AS(reference::linear({1, 0}, w, nullptr), Error);
}

TEST_CASE("apply_rope rotates the right pairs by position * theta^(-2i/d)", "[reference][rope]") {
  // d = 4, theta = 100: inv_freq = [100^0, 100^(-2/4)] = [1, 0.1]. At position p pair 0 turns by
  // p radians and pair 1 by 0.1 p radians; (a, b) -> (a cos - b sin, a sin + b cos).
  const double theta = 100.0;
  for (int64_t p : {1, 2}) {
    const double c0 = std::cos(1.0 * p), s0 = std::sin(1.0 * p);
    const double c1 = std::cos(0.1 * p), s1 = std::sin(0.1 * p);
    SECTION("interleaved at position " + std::to_string(p)) {
      // Pairs (v0, v1) = (1, 2) and (v2, v3) = (3, 4).
      double v[4] = {1, 2, 3, 4};
      reference::apply_rope(v, RopeSpec{RopeLayout::interleaved, theta, 4, {}}, p);
      CHECK(v[0] == Approx(1 * c0 - 2 * s0).epsilon(1e-14));
      CHECK(v[1] == Approx(1 * s0 + 2 * c0).epsilon(1e-14));
      CHECK(v[2] == Approx(3 * c1 - 4 * s1).epsilon(1e-14));
      CHECK(v[3] == Approx(3 * s1 + 4 * c1).epsilon(1e-14));
    }
    SECTION("half_split at position " + std::to_string(p)) {
      // Pairs (v0, v2) = (1, 3) and (v1, v3) = (2, 4).
      double v[4] = {1, 2, 3, 4};
      reference::apply_rope(v, RopeSpec{RopeLayout::half_split, theta, 4, {}}, p);
      CHECK(v[0] == Approx(1 * c0 - 3 * s0).epsilon(1e-14));
      CHECK(v[2] == Approx(1 * s0 + 3 * c0).epsilon(1e-14));
      CHECK(v[1] == Approx(2 * c1 - 4 * s1).epsilon(1e-14));
      CHECK(v[3] == Approx(2 * s1 + 4 * c1).epsilon(1e-14));
    }
  }
  SECTION("interleaved at position 1, as numbers") {
    // cos 1 = 0.5403023058681398, sin 1 = 0.8414709848078965; pair 0 = (1, 2) becomes
    // (0.5403023058681398 - 1.682941969615793, 0.8414709848078965 + 1.0806046117362796).
    double v[4] = {1, 2, 3, 4};
    reference::apply_rope(v, RopeSpec{RopeLayout::interleaved, theta, 4, {}}, 1);
    CHECK(v[0] == Approx(-1.1426396637476532).epsilon(1e-14));
    CHECK(v[1] == Approx(1.922075596544176).epsilon(1e-14));
  }
}

TEST_CASE("apply_rope layouts differ by the pair permutation; norm kept; p=0 identity",
          "[reference][rope]") {
  const int64_t d = 8;
  NormalSampler sampler(7);
  std::vector<double> v(d);
  for (double& e : v) e = sampler.next();
  for (int64_t p : {0, 1, 5, 1000}) {
    // half_split pairs (v[i], v[i + d/2]); gathering them into adjacent slots turns the vector
    // into one that interleaved rotates identically.
    std::vector<double> half = v, gathered(d);
    for (int64_t i = 0; i < d / 2; ++i) {
      gathered[2 * i] = v[i];
      gathered[2 * i + 1] = v[i + d / 2];
    }
    reference::apply_rope(half.data(), RopeSpec{RopeLayout::half_split, 10000.0, d, {}}, p);
    reference::apply_rope(gathered.data(), RopeSpec{RopeLayout::interleaved, 10000.0, d, {}}, p);
    double norm_before = 0, norm_after = 0;
    for (int64_t i = 0; i < d / 2; ++i) {
      CHECK(half[i] == Approx(gathered[2 * i]).margin(1e-14));
      CHECK(half[i + d / 2] == Approx(gathered[2 * i + 1]).margin(1e-14));
    }
    for (int64_t i = 0; i < d; ++i) {
      norm_before += v[i] * v[i];
      norm_after += half[i] * half[i];
    }
    CHECK(norm_after == Approx(norm_before).epsilon(1e-14));
    if (p == 0) CHECK(half == v);
  }
  std::vector<double> unchanged = v;
  reference::apply_rope(unchanged.data(), RopeSpec{RopeLayout::none, 10000.0, d, {}}, 3);
  CHECK(unchanged == v);
}

TEST_CASE("one-head MHA layer matches a hand-computed softmax mixture", "[reference][mha]") {
  // hidden 2, one head of width 2, no RoPE, scale 0.5. q_proj = k_proj = o_proj = identity,
  // v_proj = diag(2, 3). Tokens x0 = [1, 0], x1 = [0, 2].
  LayerConfig config = hand_config(AttentionKind::mha, 2, 1, 1, 2);
  config.softmax_scale = 0.5;
  validate_layer_config(config, "hand-built config");
  Weights w = hand_mixture_weights();
  const Tensor<double> x({1, 2, 2}, std::vector<double>{1, 0, 0, 2});
  Cache cache;
  const Result r =
      reference::forward(config, w, ImplForm::standard, x, sequential_positions(1, 2), cache);
  REQUIRE(r.out.shape == Shape{1, 2, 2});
  REQUIRE(r.lse.shape == Shape{1, 2, 1});
  // Token 0 sees only itself: out = v0 = [2, 0]; lse = score = (x0 . x0) * 0.5 = 0.5.
  CHECK(r.out.data[0] == Approx(2.0).epsilon(1e-15));
  CHECK(r.out.data[1] == Approx(0.0).margin(1e-15));
  CHECK(r.lse.data[0] == Approx(0.5).epsilon(1e-15));
  // Token 1: scores (q1 . k0, q1 . k1) * 0.5 = (0, 4) * 0.5 = (0, 2);
  // p = (1, e^2) / (1 + e^2) = (0.11920292202211757, 0.8807970779778825);
  // out = p0 * v0 + p1 * v1 = p0 * [2, 0] + p1 * [0, 6] = [0.23840584404423515, 5.284782467867295];
  // lse = log(1 + e^2) = 2.1269280110429722.
  CHECK(r.out.data[2] == Approx(0.23840584404423515).epsilon(1e-14));
  CHECK(r.out.data[3] == Approx(5.284782467867295).epsilon(1e-14));
  CHECK(r.lse.data[1] == Approx(2.1269280110429722).epsilon(1e-14));
  CHECK(cache.length == 2);
}

TEST_CASE("QK-norm normalises each query and key head with weight + offset, before RoPE",
          "[reference][qk_norm]") {
  // hidden 2, one head of width 2, identity q/k/v/o projections, scale 0.5, rms_norm_eps 3.5,
  // weight offset 1, q_norm.weight [1, 2] (effective [2, 3]), k_norm.weight [0, 1] (effective
  // [1, 2]); interleaved RoPE with theta 100: pair 0 turns by `position` radians.
  LayerConfig config = hand_config(AttentionKind::mha, 2, 1, 1, 2);
  config.softmax_scale = 0.5;
  config.rope_layout = RopeLayout::interleaved;
  config.rope_theta = 100;
  config.qk_norm = true;
  config.qk_norm_weight_offset = 1;
  config.rms_norm_eps = 3.5;
  validate_layer_config(config, "hand-built config");
  Weights w;
  for (const char* name : {"q_proj", "k_proj", "v_proj", "o_proj"})
    w.tensors[std::string(name) + ".weight"] = matrix(2, 2, {1, 0, 0, 1});
  w.tensors["q_norm.weight"] = Tensor<double>({2}, std::vector<double>{1, 2});
  w.tensors["k_norm.weight"] = Tensor<double>({2}, std::vector<double>{0, 1});
  // x = [3, 4] at position 1: mean(x^2) = 12.5, rms = sqrt(12.5 + 3.5) = 4, x / rms =
  // [0.75, 1]; q = [0.75 * 2, 1 * 3] = [1.5, 3], k = [0.75 * 1, 1 * 2] = [0.75, 2]. Both turn by
  // the same angle, so the score is unrotated: (1.5 * 0.75 + 3 * 2) * 0.5 = 3.5625, the LSE of
  // the single key. The cache holds k rotated by 1 radian: (0.75 cos 1 - 2 sin 1,
  // 0.75 sin 1 + 2 cos 1). (RoPE first, then the norm, would give other values: the weight is
  // not uniform.)
  const Tensor<double> x({1, 1, 2}, std::vector<double>{3, 4});
  Cache cache;
  const Result r =
      reference::forward(config, w, ImplForm::standard, x, sequential_positions(1, 1, 1), cache);
  CHECK(r.lse.data[0] == Approx(3.5625).epsilon(1e-14));
  CHECK(r.out.data[0] == Approx(3.0).epsilon(1e-14));  // v = x, untouched by the norms
  CHECK(r.out.data[1] == Approx(4.0).epsilon(1e-14));
  REQUIRE(cache.parts[0].shape == Shape{1, 1, 1, 2});
  CHECK(cache.parts[0].data[0] == Approx(0.75 * std::cos(1.0) - 2 * std::sin(1.0)).epsilon(1e-14));
  CHECK(cache.parts[0].data[1] == Approx(0.75 * std::sin(1.0) + 2 * std::cos(1.0)).epsilon(1e-14));
}

TEST_CASE("a sink logit joins each head's softmax with a zero value", "[reference][sinks]") {
  // The one-head layer of the hand-computed mixture below, with sinks = [0.5].
  LayerConfig config = hand_config(AttentionKind::mha, 2, 1, 1, 2);
  config.softmax_scale = 0.5;
  config.attention_sinks = true;
  validate_layer_config(config, "hand-built config");
  Weights w = hand_mixture_weights();
  w.tensors["sinks"] = Tensor<double>({1}, std::vector<double>{0.5});
  const Tensor<double> x({1, 2, 2}, std::vector<double>{1, 0, 0, 2});
  Cache cache;
  const Result r =
      reference::forward(config, w, ImplForm::standard, x, sequential_positions(1, 2), cache);
  // Token 0: logits (score 0.5, sink 0.5) -> weights (1/2, 1/2): out = v0 / 2 = [1, 0];
  // lse = log(2 e^0.5) = 0.5 + log 2 = 1.1931471805599454.
  CHECK(r.out.data[0] == Approx(1.0).epsilon(1e-15));
  CHECK(r.out.data[1] == Approx(0.0).margin(1e-15));
  CHECK(r.lse.data[0] == Approx(1.1931471805599454).epsilon(1e-14));
  // Token 1: logits (0, 2, sink 0.5); sum = 1 + e^2 + e^0.5 = 10.037777369630778;
  // out = (1 * [2, 0] + e^2 * [0, 6]) / sum = [0.19924729612463665, 4.416748345875563];
  // lse = log(sum) = 2.3063557122291463.
  const double sum = 1 + std::exp(2.0) + std::exp(0.5);
  CHECK(r.out.data[2] == Approx(2 / sum).epsilon(1e-14));
  CHECK(r.out.data[3] == Approx(6 * std::exp(2.0) / sum).epsilon(1e-14));
  CHECK(r.lse.data[1] == Approx(std::log(sum)).epsilon(1e-14));
  CHECK(r.out.data[2] == Approx(0.19924729612463665).epsilon(1e-14));
  CHECK(r.lse.data[1] == Approx(2.3063557122291463).epsilon(1e-14));
}

TEST_CASE("GQA: query heads 0,1 read kv head 0 and heads 2,3 read kv head 1", "[reference][gqa]") {
  // hidden 2, 4 query heads, 2 kv heads, head_dim 2. v_proj passes x to one kv head and zeros
  // the other; o_proj selects the slice of one query head. A query head's output vanishes
  // exactly when the kv head it reads was zeroed.
  const LayerConfig config = hand_config(AttentionKind::gqa, 2, 4, 2, 2);
  NormalSampler sampler(11);
  auto random_matrix = [&](int64_t rows, int64_t cols) {
    Tensor<double> m({rows, cols});
    for (double& e : m.data) e = sampler.next();
    return m;
  };
  const Tensor<double> x({1, 3, 2}, std::vector<double>{1, 2, 3, 1, 2, 2});  // all positive
  for (int64_t live_kv : {0, 1}) {
    Tensor<double> v_proj({4, 2});  // rows [2 kv, 2 kv + 2) = identity for the live kv head
    v_proj.data[(2 * live_kv) * 2 + 0] = 1;
    v_proj.data[(2 * live_kv + 1) * 2 + 1] = 1;
    for (int64_t head = 0; head < 4; ++head) {
      Tensor<double> o_proj({2, 8});  // out[i] = concat[head * 2 + i]
      o_proj.data[0 * 8 + head * 2 + 0] = 1;
      o_proj.data[1 * 8 + head * 2 + 1] = 1;
      Weights w;
      w.tensors["q_proj.weight"] = random_matrix(8, 2);
      w.tensors["k_proj.weight"] = random_matrix(4, 2);
      w.tensors["v_proj.weight"] = v_proj;
      w.tensors["o_proj.weight"] = o_proj;
      Cache cache;
      const Result r =
          reference::forward(config, w, ImplForm::standard, x, sequential_positions(1, 3), cache);
      const bool reads_live = head / 2 == live_kv;
      INFO("live kv head " << live_kv << ", query head " << head);
      for (double e : r.out.data) {
        if (reads_live)
          CHECK(e > 0.5);  // a convex mix of positive x values >= 1
        else
          CHECK(e == 0.0);
      }
    }
  }
}

TEST_CASE("MLA absorb equals MLA naive with biases on (prefill then decode)", "[reference][mla]") {
  for (const char* name : {"tiny-mla", "tiny-mla-lite"}) {
    INFO("preset " << name);
    const LayerConfig config = resolve_model(name);
    REQUIRE(config.has_bias("kv_b_proj"));  // the case seed 002 gets wrong
    const Weights w = random_weights(config, 42);
    const int64_t batch = 2, prefill = 5, decode = 3;
    const Tensor<double> x = random_activations(batch, prefill + decode, config.hidden_size, 5);
    const Tensor<int64_t> pos = sequential_positions(batch, prefill + decode, 3);
    Cache naive_cache, absorb_cache;
    for (int64_t first = 0; first < prefill + decode; first += first == 0 ? prefill : 1) {
      const int64_t count = first == 0 ? prefill : 1;
      const Tensor<double> xs = token_slice(x, first, count);
      const Tensor<int64_t> ps = token_slice(pos, first, count);
      const Result naive = reference::forward(config, w, ImplForm::naive, xs, ps, naive_cache);
      const Result absorb = reference::forward(config, w, ImplForm::absorb, xs, ps, absorb_cache);
      INFO("tokens " << first << ".." << first + count - 1);
      require_close(absorb.out, naive.out, 1e-10);
      require_close(absorb.lse, naive.lse, 1e-10);
    }
  }
}

TEST_CASE("the kv_b_proj bias matters, so absorb == naive above is a real check",
          "[reference][mla]") {
  const LayerConfig config = load_preset("tiny-mla");
  const Weights w = random_weights(config, 42);
  Weights no_bias = w;
  for (double& e : no_bias.tensors.at("kv_b_proj.bias").data) e = 0;
  const Tensor<double> x = random_activations(1, 4, config.hidden_size, 9);
  Cache with_cache, without_cache;
  const Result with =
      reference::forward(config, w, ImplForm::naive, x, sequential_positions(1, 4), with_cache);
  const Result without = reference::forward(config, no_bias, ImplForm::naive, x,
                                            sequential_positions(1, 4), without_cache);
  CHECK(test::compare(with.out, without.out).max_abs_error > 1e-2);
  CHECK(test::compare(with.lse, without.lse).max_abs_error > 1e-2);
}

TEST_CASE("decoding token by token through the cache equals one prefill", "[reference][cache]") {
  for (const char* name : kTinyPresets) {
    const LayerConfig config = resolve_model(name);
    const Weights w = random_weights(config, 1);
    const int64_t batch = 2, seq = 6;
    const Tensor<double> x = random_activations(batch, seq, config.hidden_size, 2);
    const Tensor<int64_t> pos = sequential_positions(batch, seq, 7);
    for (ImplForm form : impl_forms_for(config)) {
      INFO("preset " << name << ", form " << to_string(form));
      Cache prefill_cache, decode_cache;
      const Result prefill = reference::forward(config, w, form, x, pos, prefill_cache);
      Result stepped{Tensor<double>(prefill.out.shape), Tensor<double>(prefill.lse.shape)};
      for (int64_t s = 0; s < seq; ++s) {
        const Result step = reference::forward(config, w, form, token_slice(x, s, 1),
                                               token_slice(pos, s, 1), decode_cache);
        put_tokens(step.out.ptr(), stepped.out, s, 1);
        put_tokens(step.lse.ptr(), stepped.lse, s, 1);
      }
      require_close(stepped.out, prefill.out, 1e-12);
      require_close(stepped.lse, prefill.lse, 1e-12);
      REQUIRE(decode_cache.length == prefill_cache.length);
      for (size_t i = 0; i < prefill_cache.parts.size(); ++i)
        require_close(decode_cache.parts[i], prefill_cache.parts[i], 1e-12);
    }
  }
}

TEST_CASE("cache parts after prefill have the shapes of cache_layout", "[reference][cache]") {
  for (const char* name : kTinyPresets) {
    const LayerConfig config = resolve_model(name);
    const Weights w = random_weights(config, 3);
    for (ImplForm form : impl_forms_for(config)) {
      INFO("preset " << name << ", form " << to_string(form));
      const std::vector<CachePart> layout = cache_layout(config, form);
      Cache cache;
      reference::forward(config, w, form, random_activations(3, 5, config.hidden_size, 4),
                         sequential_positions(3, 5), cache);
      reference::forward(config, w, form, random_activations(3, 1, config.hidden_size, 5),
                         sequential_positions(3, 1, 5), cache);
      REQUIRE(cache.length == 6);
      REQUIRE(cache.parts.size() == layout.size());
      for (size_t i = 0; i < layout.size(); ++i) {
        Shape expected{3, 6};
        expected.insert(expected.end(), layout[i].per_token_shape.begin(),
                        layout[i].per_token_shape.end());
        CHECK(cache.parts[i].shape == expected);
        CHECK(cache.parts[i].numel() == 3 * 6 * layout[i].elements());
      }
    }
  }
}

TEST_CASE("MLA naive keys carry the same rope key that absorb caches", "[reference][mla]") {
  // Naive "k" [B, T, H, d_nope + d_rope] ends, in every head, with the shared k_rope that
  // absorb stores in "rope_key" [B, T, d_rope].
  const LayerConfig config = load_preset("tiny-mla");
  const Weights w = random_weights(config, 8);
  const Tensor<double> x = random_activations(2, 4, config.hidden_size, 9);
  Cache naive, absorb;
  reference::forward(config, w, ImplForm::naive, x, sequential_positions(2, 4, 2), naive);
  reference::forward(config, w, ImplForm::absorb, x, sequential_positions(2, 4, 2), absorb);
  const int64_t heads = config.n_heads, d_nope = config.qk_nope_head_dim;
  const int64_t d_rope = config.qk_rope_head_dim, d_qk = d_nope + d_rope;
  for (int64_t bt = 0; bt < 2 * 4; ++bt)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t r = 0; r < d_rope; ++r)
        CHECK(naive.parts[0].data[(bt * heads + h) * d_qk + d_nope + r] ==
              absorb.parts[1].data[bt * d_rope + r]);
}

TEST_CASE("forward rejects bad shapes, unsupported forms and batch changes",
          "[reference][errors]") {
  const LayerConfig gqa = load_preset("tiny-gqa");
  const Weights w = random_weights(gqa, 1);
  const Tensor<double> x = random_activations(2, 3, gqa.hidden_size, 1);
  const Tensor<int64_t> pos = sequential_positions(2, 3);

  SECTION("wrong hidden size") {
    Cache cache;
    REQUIRE_THROWS_AS(
        reference::forward(gqa, w, ImplForm::standard,
                           random_activations(2, 3, gqa.hidden_size + 1, 1), pos, cache),
        Error);
    CHECK(cache.parts.empty());
  }
  SECTION("x not 3-D") {
    Cache cache;
    const Tensor<double> flat({6, gqa.hidden_size});
    REQUIRE_THROWS_AS(reference::forward(gqa, w, ImplForm::standard, flat, pos, cache), Error);
  }
  SECTION("positions shape mismatch") {
    Cache cache;
    REQUIRE_THROWS_AS(
        reference::forward(gqa, w, ImplForm::standard, x, sequential_positions(2, 4), cache),
        Error);
    REQUIRE_THROWS_AS(
        reference::forward(gqa, w, ImplForm::standard, x, sequential_positions(1, 3), cache),
        Error);
  }
  SECTION("absorb (and naive) for a GQA config; standard for an MLA config") {
    Cache cache;
    REQUIRE_THROWS_AS(reference::forward(gqa, w, ImplForm::absorb, x, pos, cache), Error);
    REQUIRE_THROWS_AS(reference::forward(gqa, w, ImplForm::naive, x, pos, cache), Error);
    const LayerConfig mla = load_preset("tiny-mla");
    REQUIRE_THROWS_AS(reference::forward(mla, random_weights(mla, 1), ImplForm::standard,
                                         random_activations(2, 3, mla.hidden_size, 1), pos, cache),
                      Error);
  }
  SECTION("batch change between calls leaves the cache as it was") {
    Cache cache;
    reference::forward(gqa, w, ImplForm::standard, x, pos, cache);
    REQUIRE(cache.length == 3);
    REQUIRE_THROWS_AS(
        reference::forward(gqa, w, ImplForm::standard, random_activations(1, 1, gqa.hidden_size, 2),
                           sequential_positions(1, 1, 3), cache),
        Error);
    CHECK(cache.length == 3);
    CHECK(cache.parts[0].shape == Shape{2, 3, gqa.n_kv_heads, gqa.head_dim});
  }
  SECTION("missing or misshapen weight") {
    Cache cache;
    Weights missing = w;
    missing.tensors.erase("k_proj.bias");
    REQUIRE_THROWS_AS(reference::forward(gqa, missing, ImplForm::standard, x, pos, cache), Error);
    Weights misshapen = w;
    misshapen.tensors.at("o_proj.weight") = Tensor<double>({gqa.hidden_size, 3});
    REQUIRE_THROWS_AS(reference::forward(gqa, misshapen, ImplForm::standard, x, pos, cache), Error);
    CHECK(cache.length == 0);
  }
}
