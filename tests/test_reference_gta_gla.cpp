// Tests of the fp64 reference's GTA and GLA (reference/reference_gta.cpp, reference_gla.cpp):
//   - against a plain loop over the paper's equations written here (its own RoPE, softmax and
//     projections; no cache), on small layers with every bias;
//   - against the reference of the same layer lowered to MLA (variants/latent_lowering.h,
//     lower_to_mla), to ~1e-12 relative, outputs, LSE and cache contents, on tiny-gta, tiny-gla,
//     tiny-gla4 and random shapes (biases, both RoPE layouts and none, windows, latent norms on
//     and off, h_c = 1): the fp64 check of the lowering that the optimised backends run, and of
//     the reference's MLA code for G latent heads and a shared or per-head rope key;
//   - GLA absorb == naive, and the work a WorkCounter sees (multiply-adds, cache elements).
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/presets.h"
#include "core/weights.h"
#include "reference/reference_attention.h"
#include "reference/work_counter.h"
#include "registry/driver.h"
#include "tests/test_support.h"
#include "variants/latent_lowering.h"

using namespace attnlab;
using attnlab::reference::Cache;
using attnlab::reference::Result;

namespace {

void require_close(const Tensor<double>& actual, const Tensor<double>& expected, double tolerance) {
  REQUIRE(actual.shape == expected.shape);
  const test::Comparison c = test::compare(actual, expected);
  INFO("max abs error " << c.max_abs_error << ", max |ref| " << c.max_ref);
  REQUIRE(c.max_abs_error <= tolerance * std::max(1.0, c.max_ref));
}

// ---- the plain loop over the equations -----------------------------------------------------

using Vec = std::vector<double>;

// W x + b of a [out, in] weight.
Vec apply(const Weights& w, const LayerConfig& c, const std::string& name, const Vec& x) {
  const Tensor<double>& m = w.get(name + ".weight");
  Vec y(m.dim(0), 0.0);
  for (int64_t o = 0; o < m.dim(0); ++o) {
    for (int64_t i = 0; i < m.dim(1); ++i) y[o] += m.data[o * m.dim(1) + i] * x[i];
    if (c.has_bias(name)) y[o] += w.get(name + ".bias").data[o];
  }
  return y;
}

Vec rms(const Vec& x, const Tensor<double>& weight, double eps) {
  double mean = 0;
  for (double v : x) mean += v * v / static_cast<double>(x.size());
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] / std::sqrt(mean + eps) * weight.data[i];
  return y;
}

// Half-split RoPE of v[0, n) (n even) at position p, theta without scaling: pair (v[i],
// v[i + n/2]) turns by p * theta^(-2i/n).
void rope_half_split(double* v, int64_t n, int64_t p, double theta) {
  for (int64_t i = 0; i < n / 2; ++i) {
    const double angle = static_cast<double>(p) * std::pow(theta, -2.0 * i / n);
    const double a = v[i], b = v[i + n / 2];
    v[i] = a * std::cos(angle) - b * std::sin(angle);
    v[i + n / 2] = a * std::sin(angle) + b * std::cos(angle);
  }
}

// Causal attention of token s over tokens 0..s given each token's per-head query, key and value
// vectors (heads x tokens); returns y [S, hidden] and lse [S, H] as one prefill would.
struct Plain {
  std::vector<Vec> out;  // [S][hidden]
  std::vector<Vec> lse;  // [S][H]
};
Plain plain_attention(const LayerConfig& c, const Weights& w,
                      const std::vector<std::vector<Vec>>& q,
                      const std::vector<std::vector<Vec>>& k,
                      const std::vector<std::vector<Vec>>& v, double scale) {
  const size_t tokens = q.size(), heads = q[0].size();
  Plain plain;
  for (size_t s = 0; s < tokens; ++s) {
    Vec concat, lse(heads);
    for (size_t h = 0; h < heads; ++h) {
      Vec scores;
      for (size_t t = 0; t <= s; ++t) {
        double dot = 0;
        for (size_t i = 0; i < q[s][h].size(); ++i) dot += q[s][h][i] * k[t][h][i];
        scores.push_back(dot * scale);
      }
      double sum = 0;
      for (double x : scores) sum += std::exp(x);
      Vec o(v[0][h].size(), 0.0);
      for (size_t t = 0; t <= s; ++t)
        for (size_t i = 0; i < o.size(); ++i) o[i] += std::exp(scores[t]) / sum * v[t][h][i];
      concat.insert(concat.end(), o.begin(), o.end());
      lse[h] = std::log(sum);
    }
    plain.out.push_back(apply(w, c, "o_proj", concat));
    plain.lse.push_back(lse);
  }
  return plain;
}

// GTA from the equations, sequence 0 of x: head h's key [tied_g[0, d - r) | k_rope], value tied_g.
Plain plain_gta(const LayerConfig& c, const Weights& w, const Tensor<double>& x,
                const Tensor<int64_t>& pos) {
  const int64_t tokens = x.dim(1), d = c.head_dim, r = c.qk_rope_head_dim;
  const int64_t group = c.n_heads / c.n_kv_heads;
  std::vector<std::vector<Vec>> q(tokens), k(tokens), v(tokens);
  for (int64_t t = 0; t < tokens; ++t) {
    const Vec row(x.ptr() + t * c.hidden_size, x.ptr() + (t + 1) * c.hidden_size);
    const Vec qt = apply(w, c, "q_proj", row), tied = apply(w, c, "kv_proj", row);
    Vec k_rope = apply(w, c, "W_rope_k", row);
    rope_half_split(k_rope.data(), r, pos.data[t], c.rope_theta);
    for (int64_t h = 0; h < c.n_heads; ++h) {
      Vec qh(qt.begin() + h * d, qt.begin() + (h + 1) * d);
      rope_half_split(qh.data() + d - r, r, pos.data[t], c.rope_theta);
      q[t].push_back(qh);
      const auto g = tied.begin() + (h / group) * d;
      Vec kh(g, g + d - r);
      kh.insert(kh.end(), k_rope.begin(), k_rope.end());
      k[t].push_back(kh);
      v[t].push_back(Vec(g, g + d));
    }
  }
  return plain_attention(c, w, q, k, v, 1.0 / std::sqrt(static_cast<double>(d)));
}

// GLA from the equations (the naive form), sequence 0 of x.
Plain plain_gla(const LayerConfig& c, const Weights& w, const Tensor<double>& x,
                const Tensor<int64_t>& pos) {
  const int64_t tokens = x.dim(1), dn = c.qk_nope_head_dim, r = c.qk_rope_head_dim;
  const int64_t dv = c.v_head_dim, d_c = c.kv_lora_rank, group = c.n_heads / c.n_latent_heads;
  std::vector<std::vector<Vec>> q(tokens), k(tokens), v(tokens);
  for (int64_t t = 0; t < tokens; ++t) {
    const Vec row(x.ptr() + t * c.hidden_size, x.ptr() + (t + 1) * c.hidden_size);
    const Vec qt = apply(w, c, "W_uQ_rope",
                         rms(apply(w, c, "W_dQ", row), w.get("q_norm.weight"), c.rms_norm_eps));
    const Vec kv = apply(w, c, "W_dKV", row);
    Vec k_rope(kv.end() - r, kv.end());
    rope_half_split(k_rope.data(), r, pos.data[t], c.rope_theta);
    for (int64_t h = 0; h < c.n_heads; ++h) {
      Vec qh(qt.begin() + h * (dn + r), qt.begin() + (h + 1) * (dn + r));
      rope_half_split(qh.data() + dn, r, pos.data[t], c.rope_theta);
      q[t].push_back(qh);
      const int64_t j = h / group, i = h % group;
      const std::string n = std::to_string(j + 1);
      const Vec c_j = rms(Vec(kv.begin() + j * d_c, kv.begin() + (j + 1) * d_c),
                          w.get("kv_norm_" + n + ".weight"), c.rms_norm_eps);
      const Vec up = apply(w, c, "W_ukv_" + n, c_j);
      Vec kh(up.begin() + i * (dn + dv), up.begin() + i * (dn + dv) + dn);
      kh.insert(kh.end(), k_rope.begin(), k_rope.end());
      k[t].push_back(kh);
      v[t].push_back(Vec(up.begin() + i * (dn + dv) + dn, up.begin() + (i + 1) * (dn + dv)));
    }
  }
  return plain_attention(c, w, q, k, v, 1.0 / std::sqrt(static_cast<double>(dn + r)));
}

void require_matches_plain(const Result& result, const Plain& plain) {
  for (size_t s = 0; s < plain.out.size(); ++s) {
    for (size_t i = 0; i < plain.out[s].size(); ++i)
      CHECK(result.out.data[s * plain.out[s].size() + i] ==
            Approx(plain.out[s][i]).epsilon(1e-12).margin(1e-12));
    for (size_t h = 0; h < plain.lse[s].size(); ++h)
      CHECK(result.lse.data[s * plain.lse[s].size() + h] ==
            Approx(plain.lse[s][h]).epsilon(1e-12).margin(1e-12));
  }
}

LayerConfig small_gta() {
  LayerConfig c;
  c.name = "hand-gta";
  c.attention = AttentionKind::gta;
  c.hidden_size = 6;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 6;
  c.qk_rope_head_dim = 2;
  c.rope_layout = RopeLayout::half_split;
  c.rope_theta = 100;
  c.biases = {"q_proj", "kv_proj", "W_rope_k", "o_proj"};
  validate_layer_config(c, "hand gta");
  return c;
}

LayerConfig small_gla() {
  LayerConfig c;
  c.name = "hand-gla";
  c.attention = AttentionKind::gla;
  c.hidden_size = 8;
  c.n_heads = 4;
  c.n_latent_heads = 2;
  c.q_lora_rank = 5;
  c.kv_lora_rank = 3;
  c.qk_nope_head_dim = 2;
  c.qk_rope_head_dim = 4;
  c.v_head_dim = 3;
  c.rope_layout = RopeLayout::half_split;
  c.rope_theta = 50;
  c.biases = {"W_dQ", "W_uQ_rope", "W_dKV", "W_ukv_1", "W_ukv_2", "o_proj"};
  validate_layer_config(c, "hand gla");
  return c;
}

// ---- against the lowering ------------------------------------------------------------------

// Runs `tokens` of x through one cache: a prefill of `first` tokens, then one token at a time.
struct Run {
  Result result;
  Cache cache;
};
Run prefill_then_decode(const LayerConfig& config, const Weights& w, ImplForm form,
                        const Tensor<double>& x, const Tensor<int64_t>& pos, int64_t first) {
  const int64_t tokens = x.dim(1);
  Run run;
  run.result = {Tensor<double>({x.dim(0), tokens, config.hidden_size}),
                Tensor<double>({x.dim(0), tokens, config.n_heads})};
  for (int64_t begin = 0; begin < tokens;) {
    const int64_t count = begin == 0 ? first : 1;
    const Result step = reference::forward(config, w, form, token_slice(x, begin, count),
                                           token_slice(pos, begin, count), run.cache);
    put_tokens(step.out.ptr(), run.result.out, begin, count);
    put_tokens(step.lse.ptr(), run.result.lse, begin, count);
    begin += count;
  }
  return run;
}

// The reference of `config` in `form` equals the reference of its MLA lowering (outputs, LSE,
// and, for the forms whose cache layouts hold the same numbers, the caches), within `tolerance`.
void require_equals_lowered(const LayerConfig& config, ImplForm form, uint64_t seed,
                            double tolerance = 1e-12) {
  INFO("layer " << layer_config_to_json(config).dump() << ", form " << to_string(form));
  const Weights w = random_weights(config, seed);
  const LoweredLayer lowered = lower_to_mla(config, w, form);
  REQUIRE(lowered.config.is_mla());
  const int64_t batch = 2, tokens = 9;
  const Tensor<double> x = random_activations(batch, tokens, config.hidden_size, seed + 1);
  Tensor<int64_t> pos = sequential_positions(batch, tokens, 5);
  for (int64_t t = 0; t < tokens; ++t) pos.data[tokens + t] = 300 + 7 * t;  // gaps, past 300
  const Run direct = prefill_then_decode(config, w, form, x, pos, 6);
  const Run via_mla = prefill_then_decode(lowered.config, lowered.weights, lowered.form, x, pos, 6);
  require_close(direct.result.out, via_mla.result.out, tolerance);
  require_close(direct.result.lse, via_mla.result.lse, tolerance);
  // GLA's caches are the lowered MLA's in both forms; GTA's "tied" + "rope_key" are the lowered
  // absorb cache's latent + rope key, element for element.
  REQUIRE(direct.cache.parts.size() == via_mla.cache.parts.size());
  for (size_t i = 0; i < direct.cache.parts.size(); ++i) {
    REQUIRE(direct.cache.parts[i].numel() == via_mla.cache.parts[i].numel());
    const test::Comparison c =
        test::compare(direct.cache.parts[i],
                      Tensor<double>(direct.cache.parts[i].shape, via_mla.cache.parts[i].data));
    CHECK(c.max_abs_error <= tolerance * std::max(1.0, c.max_ref));
  }
}

// A random GTA or GLA layer: small shapes, random biases, RoPE layout, window, norms, h_c = 1
// sometimes, an explicit softmax scale sometimes.
LayerConfig random_layer(AttentionKind kind, std::mt19937_64& rng) {
  auto pick = [&rng](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  LayerConfig c;
  c.name = "random";
  c.attention = kind;
  c.hidden_size = pick(4, 24);
  const RopeLayout layouts[] = {RopeLayout::none, RopeLayout::interleaved, RopeLayout::half_split};
  c.rope_layout = layouts[pick(0, 2)];
  c.rope_theta = std::pow(10.0, static_cast<double>(pick(2, 6)));
  if (kind == AttentionKind::gta) {
    c.n_kv_heads = pick(1, 4);
    c.n_heads = c.n_kv_heads * pick(1, 4);
    c.qk_rope_head_dim = 2 * pick(1, 3);
    c.head_dim = c.qk_rope_head_dim + pick(1, 6);
  } else {
    c.n_latent_heads = pick(1, 4);
    c.n_heads = c.n_latent_heads * pick(1, 3);
    c.q_lora_rank = pick(2, 10);
    c.kv_lora_rank = pick(2, 8);
    c.qk_nope_head_dim = pick(1, 6);
    c.qk_rope_head_dim = 2 * pick(0, 3);
    c.v_head_dim = pick(1, 6);
    c.latent_norms = pick(0, 1) == 1;
  }
  if (pick(0, 2) == 0) c.sliding_window = pick(1, 5);
  if (pick(0, 3) == 0) c.softmax_scale = 0.05 * static_cast<double>(pick(1, 20));
  for (const std::string& p : projection_names(c))
    if (pick(0, 1) == 1) c.biases.insert(p);
  validate_layer_config(c, "random layer");
  return c;
}

}  // namespace

TEST_CASE("GTA matches a plain loop over the paper's equations", "[reference][gta]") {
  const LayerConfig c = small_gta();
  const Weights w = random_weights(c, 3);
  const Tensor<double> x = random_activations(1, 5, c.hidden_size, 4);
  const Tensor<int64_t> pos({1, 5}, std::vector<int64_t>{3, 5, 6, 9, 40});
  Cache cache;
  const Result result = reference::forward(c, w, ImplForm::standard, x, pos, cache);
  require_matches_plain(result, plain_gta(c, w, x, pos));
}

TEST_CASE("GLA naive and absorb match a plain loop over the paper's equations",
          "[reference][gla]") {
  const LayerConfig c = small_gla();
  const Weights w = random_weights(c, 5);
  const Tensor<double> x = random_activations(1, 5, c.hidden_size, 6);
  const Tensor<int64_t> pos({1, 5}, std::vector<int64_t>{0, 2, 3, 17, 18});
  const Plain plain = plain_gla(c, w, x, pos);
  for (ImplForm form : {ImplForm::naive, ImplForm::absorb}) {
    INFO("form " << to_string(form));
    Cache cache;
    require_matches_plain(reference::forward(c, w, form, x, pos, cache), plain);
  }
}

TEST_CASE("GTA and GLA equal their MLA lowering on the reference (tiny presets)",
          "[reference][gta][gla][lowering]") {
  uint64_t seed = 10;
  for (const char* name : {"tiny-gta", "tiny-gla", "tiny-gla4"}) {
    const LayerConfig config = resolve_model(name);
    for (ImplForm form : impl_forms_for(config)) require_equals_lowered(config, form, seed++);
    // The same with a sliding window: the lowered layer keeps it.
    LayerConfig windowed = config;
    windowed.sliding_window = 3;
    for (ImplForm form : impl_forms_for(config)) require_equals_lowered(windowed, form, seed++);
  }
}

TEST_CASE("GTA and GLA equal their MLA lowering on the reference (random shapes)",
          "[reference][gta][gla][lowering]") {
  std::mt19937_64 rng(2026);
  for (int i = 0; i < 40; ++i) {
    const LayerConfig config =
        random_layer(i % 2 == 0 ? AttentionKind::gta : AttentionKind::gla, rng);
    for (ImplForm form : impl_forms_for(config)) require_equals_lowered(config, form, 100 + i);
  }
}

TEST_CASE("GLA naive equals GLA lowered to MLA absorb, and absorb equals naive",
          "[reference][gla]") {
  for (const char* name : {"tiny-gla", "tiny-gla4"}) {
    INFO("preset " << name);
    const LayerConfig config = resolve_model(name);
    const Weights w = random_weights(config, 7);
    const Tensor<double> x = random_activations(2, 8, config.hidden_size, 8);
    const Tensor<int64_t> pos = sequential_positions(2, 8, 400);
    const Run naive = prefill_then_decode(config, w, ImplForm::naive, x, pos, 5);
    const Run absorb = prefill_then_decode(config, w, ImplForm::absorb, x, pos, 5);
    require_close(absorb.result.out, naive.result.out, 1e-12);
    require_close(absorb.result.lse, naive.result.lse, 1e-12);
    const LoweredLayer lowered = lower_to_mla(config, w, ImplForm::absorb);
    const Run mla =
        prefill_then_decode(lowered.config, lowered.weights, ImplForm::absorb, x, pos, 5);
    require_close(mla.result.out, naive.result.out, 1e-12);
  }
}

TEST_CASE("a latent group's up-projection bias matters, so the checks above can fail",
          "[reference][gla]") {
  // tiny-gla4 biases W_ukv_3 only: zeroing it changes the outputs of heads 4 and 5 only.
  const LayerConfig config = resolve_model("tiny-gla4");
  const Weights w = random_weights(config, 9);
  Weights zeroed = w;
  for (double& e : zeroed.tensors.at("W_ukv_3.bias").data) e = 0;
  const Tensor<double> x = random_activations(1, 4, config.hidden_size, 10);
  for (ImplForm form : {ImplForm::naive, ImplForm::absorb}) {
    Cache a, b;
    const Result with = reference::forward(config, w, form, x, sequential_positions(1, 4), a);
    const Result without =
        reference::forward(config, zeroed, form, x, sequential_positions(1, 4), b);
    CHECK(test::compare(with.out, without.out).max_abs_error > 1e-3);
    for (int64_t t = 0; t < 4; ++t)
      for (int64_t h = 0; h < config.n_heads; ++h) {
        const double d = std::abs(with.lse.data[t * 8 + h] - without.lse.data[t * 8 + h]);
        if (h == 4 || h == 5)
          CHECK(d > 1e-6);
        else
          CHECK(d == 0);
      }
  }
}

TEST_CASE("GTA and GLA caches hold what cache_layout says, once per token",
          "[reference][gta][gla][work]") {
  // One decode step after `context` tokens: the step writes one slot and reads every visible
  // slot's elements once (GTA: G tied states + one rope key; GLA absorb: h_c latents + h_c rope
  // key copies; GLA naive: H keys and values).
  const int64_t context = 6;
  for (const char* name : {"tiny-gta", "tiny-gla", "tiny-gla4"}) {
    const LayerConfig config = resolve_model(name);
    const Weights w = random_weights(config, 11);
    for (ImplForm form : impl_forms_for(config)) {
      INFO("preset " << name << ", form " << to_string(form));
      const int64_t per_token = kv_elements_per_token_layer(config, form);
      Cache cache;
      reference::forward(config, w, form, random_activations(1, context, config.hidden_size, 12),
                         sequential_positions(1, context), cache);
      reference::WorkCounter counter;
      reference::forward(config, w, form, random_activations(1, 1, config.hidden_size, 13),
                         sequential_positions(1, 1, context), cache);
      CHECK(counter.cache_elements_written() == per_token);
      CHECK(counter.cache_elements_read() == (context + 1) * per_token);
    }
  }
}

TEST_CASE("GTA's multiply-adds: projections and d-wide scores and mixtures per head",
          "[reference][gta][work]") {
  const LayerConfig c = resolve_model("tiny-gta");
  const Weights w = random_weights(c, 14);
  const int64_t context = 5, hidden = c.hidden_size, h = c.n_heads, d = c.head_dim;
  Cache cache;
  reference::forward(c, w, ImplForm::standard, random_activations(1, context, hidden, 15),
                     sequential_positions(1, context), cache);
  reference::WorkCounter counter;
  reference::forward(c, w, ImplForm::standard, random_activations(1, 1, hidden, 16),
                     sequential_positions(1, 1, context), cache);
  const int64_t projections =
      hidden * (h * d + c.n_kv_heads * d + c.qk_rope_head_dim) + h * d * hidden;
  const int64_t attention = h * (context + 1) * (d + d);  // (d - r) + r score, d mixture
  CHECK(counter.multiply_adds() == projections + attention);
}
