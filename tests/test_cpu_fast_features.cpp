// Tests of the fast CPU backend's (registry "cpu") model features against a computation of its
// own: QK-norm (Qwen3, Gemma 3 with its (1 + w) weight), attention sinks (gpt-oss), sliding
// windows, YaRN / llama3 / linear scaling and partial rotary, on the tiny presets that carry them
// (tiny-gpt-oss, tiny-gpt-oss@1, tiny-gemma, tiny-gemma@1, tiny-qwen3, tiny-window). The expected
// outputs, LSEs and cached keys come from a plain fp64 loop written here from the formulas of
// docs/CONFIG.md (projections, per-head RMSNorm, RoPE from RopeSpec's inverse frequencies, the
// window, softmax with the sink as one more denominator term, o_proj), independent of the
// reference and of cpu-plain. Runs: prefill, decode, chunked prefill in every cache dtype;
// a long context whose decode steps split the keys over threads (the sink must join once, after
// the merge); the sliding presets through a ring cache that wraps (variants/variant_spec.h
// cache_slots); run_core with forced splits and sinks.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/presets.h"
#include "core/weights.h"
#include "kernels/cpu/fast_attention.h"
#include "kernels/cpu/fast_kernels.h"
#include "registry/driver.h"
#include "tests/test_support.h"
#include "variants/rope.h"
#include "variants/variant_spec.h"
#include "verify/tolerance.h"

namespace {

using namespace attnlab;

const DType kDtypes[] = {DType::fp32, DType::bf16, DType::fp16};

struct Expected {
  Tensor<double> out;   // [B, S, hidden]
  Tensor<double> lse;   // [B, S, n_heads], natural log, sink included
  Tensor<double> keys;  // [B, S, n_kv_heads, head_dim]: normed and roped, as cached
};

// y = W x (+ b): W [out, in] of weight "<name>.weight".
std::vector<double> project(const LayerConfig& config, const Weights& weights,
                            const std::string& name, const double* x) {
  const Tensor<double>& w = weights.get(name + ".weight");
  const int64_t out = w.dim(0), in = w.dim(1);
  std::vector<double> y(out, 0.0);
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t i = 0; i < in; ++i) y[o] += w.data[o * in + i] * x[i];
    if (config.has_bias(name)) y[o] += weights.get(name + ".bias").data[o];
  }
  return y;
}

// v / sqrt(mean(v^2) + eps) * (w + offset) over one head of d values.
void rms_norm_head(double* v, int64_t d, const std::vector<double>& w, double offset, double eps) {
  double squares = 0;
  for (int64_t i = 0; i < d; ++i) squares += v[i] * v[i];
  const double inv = 1.0 / std::sqrt(squares / static_cast<double>(d) + eps);
  for (int64_t i = 0; i < d; ++i) v[i] = v[i] * inv * (w[i] + offset);
}

// Rotates pair i by position * inv_freq(i), cos and sin times the attention factor.
void rotate_head(double* v, const RopeSpec& spec, int64_t position) {
  const double factor = spec.attention_factor();
  for (int64_t i = 0; i < spec.pairs(); ++i) {
    const auto [a, b] = spec.pair(i);
    const double angle = static_cast<double>(position) * spec.inv_freq(i);
    const double c = std::cos(angle) * factor, s = std::sin(angle) * factor;
    const double x = v[a], y = v[b];
    v[a] = x * c - y * s;
    v[b] = y * c + x * s;
  }
}

// The layer by the formulas, token by token: every query sees the window's keys (or all earlier
// ones), the sink (when configured) adds exp(sinks[h]) to the softmax denominator.
Expected plain_expected(const LayerConfig& c, const Weights& weights, const Tensor<double>& x,
                        const Tensor<int64_t>& positions) {
  const int64_t batch = x.dim(0), seq = x.dim(1), hidden = c.hidden_size;
  const int64_t heads = c.n_heads, kv = c.n_kv_heads, d = c.head_dim, group = heads / kv;
  const RopeSpec spec = rope_spec(c);
  const std::vector<double> q_w =
      c.qk_norm ? weights.get("q_norm.weight").data : std::vector<double>{};
  const std::vector<double> k_w =
      c.qk_norm ? weights.get("k_norm.weight").data : std::vector<double>{};
  const std::vector<double> sinks =
      c.attention_sinks ? weights.get("sinks").data : std::vector<double>{};
  const int64_t window = c.window().value_or(0);
  Expected e{Tensor<double>({batch, seq, hidden}), Tensor<double>({batch, seq, heads}),
             Tensor<double>({batch, seq, kv, d})};
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<std::vector<double>> q(seq), k(seq), v(seq);
    for (int64_t t = 0; t < seq; ++t) {
      const double* xt = x.ptr() + (b * seq + t) * hidden;
      q[t] = project(c, weights, "q_proj", xt);
      k[t] = project(c, weights, "k_proj", xt);
      v[t] = project(c, weights, "v_proj", xt);
      const int64_t pos = positions.data[b * seq + t];
      for (int64_t h = 0; h < heads; ++h) {
        if (c.qk_norm) rms_norm_head(&q[t][h * d], d, q_w, c.qk_norm_weight_offset, c.rms_norm_eps);
        rotate_head(&q[t][h * d], spec, pos);
      }
      for (int64_t h = 0; h < kv; ++h) {
        if (c.qk_norm) rms_norm_head(&k[t][h * d], d, k_w, c.qk_norm_weight_offset, c.rms_norm_eps);
        rotate_head(&k[t][h * d], spec, pos);
      }
      std::copy(k[t].begin(), k[t].end(), e.keys.ptr() + (b * seq + t) * kv * d);
    }
    for (int64_t t = 0; t < seq; ++t) {
      const int64_t lo = window > 0 ? std::max<int64_t>(0, t + 1 - window) : 0;
      std::vector<double> heads_out(heads * d, 0.0);
      for (int64_t h = 0; h < heads; ++h) {
        const int64_t g = h / group;
        std::vector<double> scores;
        double top = -std::numeric_limits<double>::infinity();
        for (int64_t j = lo; j <= t; ++j) {
          double dot = 0;
          for (int64_t i = 0; i < d; ++i) dot += q[t][h * d + i] * k[j][g * d + i];
          scores.push_back(dot * c.scale());
          top = std::max(top, scores.back());
        }
        if (c.attention_sinks) top = std::max(top, sinks[h]);
        double total = c.attention_sinks ? std::exp(sinks[h] - top) : 0.0;
        for (double s : scores) total += std::exp(s - top);
        for (int64_t j = lo; j <= t; ++j) {
          const double p = std::exp(scores[j - lo] - top) / total;
          for (int64_t i = 0; i < d; ++i) heads_out[h * d + i] += p * v[j][g * d + i];
        }
        e.lse.data[(b * seq + t) * heads + h] = top + std::log(total);
      }
      const std::vector<double> o = project(c, weights, "o_proj", heads_out.data());
      std::copy(o.begin(), o.end(), e.out.ptr() + (b * seq + t) * hidden);
    }
  }
  return e;
}

Tensor<double> fp32_rounded(const Tensor<double>& t) {
  return tensor_cast<double>(tensor_cast<float>(t));
}

// fp32 results against fp64 expectations with the dtype's row of the tolerance table.
void check_close(const Tensor<double>& out, const Tensor<double>& lse, const Expected& e,
                 DType dtype, const std::string& what) {
  const Tolerance& tol = tolerance_for(dtype);
  const test::Comparison o = test::compare(out, e.out);
  const test::Comparison l = test::compare(lse, e.lse);
  double worst_excess = -1;
  for (size_t i = 0; i < out.data.size(); ++i) {
    const double err = std::abs(out.data[i] - e.out.data[i]);
    worst_excess = std::max(worst_excess, err - (tol.atol + std::abs(e.out.data[i]) * tol.rtol));
  }
  INFO(what << " [" << to_string(dtype) << "]: out NMSE " << o.nmse << ", max abs "
            << o.max_abs_error << " (max |ref| " << o.max_ref << "), lse max abs "
            << l.max_abs_error);
  CHECK(o.max_ref > 0.01);
  CHECK(o.nmse <= tol.nmse_bound);
  CHECK(worst_excess <= 0);
  CHECK(l.max_abs_error <= tol.lse_atol);
}

std::vector<int64_t> ones(int64_t n) {
  return std::vector<int64_t>(n, 1);
}

}  // namespace

TEST_CASE("fast features: the tiny feature presets match a plain fp64 loop in every run",
          "[fast][features]") {
  const std::vector<std::string> models = {"tiny-gpt-oss", "tiny-gpt-oss@1", "tiny-gemma",
                                           "tiny-gemma@1", "tiny-qwen3",     "tiny-window"};
  for (const std::string& model : models) {
    const LayerConfig config = resolve_model(model);
    const Weights weights = random_weights(config, 21);
    const int64_t batch = 2, seq = 12;  // past every window (3, 4, 5)
    const Tensor<double> x = fp32_rounded(random_activations(batch, seq, config.hidden_size, 22));
    // Positions past YaRN's and llama3's original lengths (16, 32) by the last tokens.
    const Tensor<int64_t> positions = sequential_positions(batch, seq, 27);
    const Expected e = plain_expected(config, weights, x, positions);
    for (DType dtype : kDtypes) {
      const auto attention =
          cpu::fast::make_fast_attention(config, weights, ImplForm::standard, dtype);
      const std::vector<std::pair<std::string, std::vector<int64_t>>> runs = {
          {"prefill", {seq}}, {"decode", ones(seq)}, {"chunked", {3, 1, 5, 3}}};
      for (const auto& [name, chunks] : runs) {
        const RunOutput r = run_through(*attention, config, x, positions, chunks);
        check_close(r.out, r.lse, e, dtype, model + " " + name);
      }
      // The cache holds the normed and roped keys, rounded once to the dtype.
      const auto cache = attention->make_cache(batch, seq);
      std::vector<float> input(x.data.begin(), x.data.end());
      std::vector<float> out(batch * seq * config.hidden_size);
      attention->forward(input.data(), positions.ptr(), batch, seq, *cache, out.data(), nullptr);
      double worst = 0, largest = 0;
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t t = 0; t < seq; ++t)
          for (int64_t h = 0; h < config.n_kv_heads; ++h)
            for (int64_t i = 0; i < config.head_dim; ++i) {
              const double want =
                  e.keys.data[((b * seq + t) * config.n_kv_heads + h) * config.head_dim + i];
              worst =
                  std::max(worst, std::abs(attention->cached_value(*cache, 0, b, h, t, i) - want));
              largest = std::max(largest, std::abs(want));
            }
      INFO(model << " [" << to_string(dtype) << "] cached keys: max abs error " << worst
                 << " of max " << largest);
      CHECK(worst <= largest * (dtype == DType::fp32 ? 1e-5 : 1e-2));
    }
  }
}

TEST_CASE("fast features: sliding feature layers through a wrapped ring cache",
          "[fast][features][ring]") {
  // 600 tokens through caches of 603 slots: the windows of 3 and 5 keep rings of 258 and 260.
  for (const char* model : {"tiny-gpt-oss", "tiny-gemma"}) {
    const LayerConfig config = resolve_model(model);
    const Weights weights = random_weights(config, 41);
    const int64_t tokens = 600;
    REQUIRE(cache_slots(config, tokens + kCacheSlack) < tokens);
    const Tensor<double> x = fp32_rounded(random_activations(1, tokens, config.hidden_size, 42));
    const Tensor<int64_t> positions = sequential_positions(1, tokens, 0);
    const Expected e = plain_expected(config, weights, x, positions);
    for (DType dtype : kDtypes) {
      const auto attention =
          cpu::fast::make_fast_attention(config, weights, ImplForm::standard, dtype);
      const std::vector<std::pair<std::string, std::vector<int64_t>>> runs = {
          {"prefill", {tokens}}, {"decode", ones(tokens)}, {"chunked", {1, 300, 299}}};
      for (const auto& [name, chunks] : runs) {
        const RunOutput r = run_through(*attention, config, x, positions, chunks);
        check_close(r.out, r.lse, e, dtype, std::string(model) + " ring " + name);
      }
    }
  }
}

TEST_CASE("fast features: decode steps split over threads join the sink once, after the merge",
          "[fast][features]") {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(4);
  for (const char* model : {"tiny-gpt-oss@1", "tiny-qwen3"}) {
    const LayerConfig config = resolve_model(model);
    Weights weights = random_weights(config, 31);
    const int64_t batch = 1, prompt = 1100, steps = 3;
    // Sinks near log(1100): the sink takes a share of the softmax comparable to the keys'.
    if (config.attention_sinks)
      for (double& s : weights.tensors.at("sinks").data) s += 7.0;
    // One sequence of n_kv_heads streams at 1100+ keys: each decode step splits its keys.
    CHECK(cpu::fast::choose_splits(prompt, config.n_kv_heads, 4) > 1);
    const Tensor<double> x =
        fp32_rounded(random_activations(batch, prompt + steps, config.hidden_size, 32));
    const Tensor<int64_t> positions = sequential_positions(batch, prompt + steps, 0);
    const Expected e = plain_expected(config, weights, x, positions);
    for (DType dtype : kDtypes) {
      const auto attention =
          cpu::fast::make_fast_attention(config, weights, ImplForm::standard, dtype);
      const RunOutput r = run_through(*attention, config, x, positions, {prompt, 1, 1, 1});
      check_close(r.out, r.lse, e, dtype, std::string(model) + " long decode");
    }
  }
  omp_set_num_threads(saved);
}

TEST_CASE("fast features: run_core with sinks and forced splits equals the formula",
          "[fast][features][core]") {
  // 2 streams x 2 query heads, 3 new tokens at the end of 40 cached fp32 keys, window 0 and 9.
  const int64_t streams = 2, group = 2, heads = 4, seq = 3, length = 40, d = 8;
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> k(streams * length * d), v(k.size()), q(seq * heads * d), sinks(heads);
  for (float& f : k) f = normal(rng);
  for (float& f : v) f = normal(rng);
  for (float& f : q) f = normal(rng);
  for (float& f : sinks) f = 2.0f * normal(rng);
  const float scale = 0.4f;
  for (int64_t window : {0, 9}) {
    // Expected, in fp64.
    std::vector<double> want(seq * heads * d, 0.0), want_lse(seq * heads);
    for (int64_t s = 0; s < seq; ++s)
      for (int64_t h = 0; h < heads; ++h) {
        const int64_t slot = length - seq + s, g = h / group;
        const int64_t lo = window > 0 ? std::max<int64_t>(0, slot + 1 - window) : 0;
        double total = std::exp(static_cast<double>(sinks[h]));
        std::vector<double> w;
        for (int64_t j = lo; j <= slot; ++j) {
          double dot = 0;
          for (int64_t i = 0; i < d; ++i)
            dot += static_cast<double>(q[(s * heads + h) * d + i]) * k[(g * length + j) * d + i];
          w.push_back(std::exp(dot * scale));
          total += w.back();
        }
        for (int64_t j = lo; j <= slot; ++j)
          for (int64_t i = 0; i < d; ++i)
            want[(s * heads + h) * d + i] += w[j - lo] / total * v[(g * length + j) * d + i];
        want_lse[s * heads + h] = std::log(total);
      }
    for (int splits : {1, 3}) {
      std::vector<float> out(want.size()), lse(want_lse.size());
      cpu::fast::CoreProblem p;
      p.batch = 1;
      p.streams = streams;
      p.group = group;
      p.seq = seq;
      p.length = length;
      p.mask = MaskSpec{window};
      p.keys = k.data();
      p.key_stream_stride = length * d;
      p.key_row_stride = d;
      p.values = v.data();
      p.value_stream_stride = length * d;
      p.value_row_stride = d;
      p.dk = p.dv = d;
      p.q = q.data();
      p.q_scale = scale * 1.4426950408889634f;
      p.out = out.data();
      p.lse = lse.data();
      p.sinks = sinks.data();
      p.forced_splits = splits;
      cpu::fast::run_core(p);
      double worst = 0, worst_lse = 0;
      for (size_t i = 0; i < out.size(); ++i) worst = std::max(worst, std::abs(out[i] - want[i]));
      for (size_t i = 0; i < lse.size(); ++i)
        worst_lse = std::max(worst_lse, std::abs(lse[i] - want_lse[i]));
      INFO("window " << window << ", " << splits << " splits: out max abs " << worst
                     << ", lse max abs " << worst_lse);
      CHECK(worst < 1e-5);
      CHECK(worst_lse < 1e-5);
    }
  }
}
