// Tests of GLA and GTA on the fast CPU backend (registry "cpu"), which runs them as MLA with
// grouped latent heads (variants/latent_lowering.h, kernels/cpu/fast_mla.cpp): GLA with one latent
// head is MLA under DeepSeek's weight names; a GLA layer is the sum of h_c MLA layers, one per
// latent head (its heads' query rows, its latent slice of W_dKV with the rope rows, its kv_norm
// and W_ukv, its o_proj columns; the o_proj bias once); GTA equals a plain fp64 loop over the GTA
// equations written here; naive equals absorb; decode token by token equals one prefill, also at a
// context long enough for the core to split keys over threads; cache bytes equal cache_layout's
// analytic size; a form that does not apply names the user's kind. fp32 caches at fp32 accuracy,
// bf16/fp16 caches at their tolerance row (verify/tolerance.h).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/error.h"
#include "core/presets.h"
#include "core/weights.h"
#include "kernels/cpu/fast_attention.h"
#include "kernels/cpu/fast_kernels.h"
#include "variants/rope.h"
#include "variants/variant_spec.h"
#include "verify/tolerance.h"

namespace {

using namespace attnlab;

const DType kDtypes[] = {DType::fp32, DType::bf16, DType::fp16};

LayerConfig gla(const std::string& name, int64_t heads, int64_t latent_heads, int64_t d_c,
                int64_t d_nope, int64_t d_rope, int64_t d_v, RopeLayout layout,
                std::set<std::string> biases, bool norms = true) {
  LayerConfig c;
  c.name = name;
  c.attention = AttentionKind::gla;
  c.hidden_size = 48;
  c.n_heads = heads;
  c.n_latent_heads = latent_heads;
  c.q_lora_rank = 24;
  c.kv_lora_rank = d_c;
  c.qk_nope_head_dim = d_nope;
  c.qk_rope_head_dim = d_rope;
  c.v_head_dim = d_v;
  c.latent_norms = norms;
  c.rope_layout = layout;
  c.biases = std::move(biases);
  validate_layer_config(c, name);
  return c;
}

LayerConfig gta(const std::string& name, int64_t heads, int64_t kv_heads, int64_t d, int64_t r,
                RopeLayout layout, std::set<std::string> biases) {
  LayerConfig c;
  c.name = name;
  c.attention = AttentionKind::gta;
  c.hidden_size = 40;
  c.n_heads = heads;
  c.n_kv_heads = kv_heads;
  c.head_dim = d;
  c.qk_rope_head_dim = r;
  c.rope_layout = layout;
  c.biases = std::move(biases);
  validate_layer_config(c, name);
  return c;
}

// GLA: tiny presets and hand-built shapes (12 heads per latent head: the lanes kernel in decode;
// three latent heads without norms; one latent head's up-projection biased alone).
std::vector<LayerConfig> gla_configs() {
  return {load_preset("tiny-gla"), load_preset("tiny-gla4"),
          gla("gla2-wide", 24, 2, 40, 16, 8, 24, RopeLayout::half_split,
              {"W_dQ", "W_uQ_rope", "W_dKV", "W_ukv_2", "o_proj"}),
          gla("gla3-plain", 6, 3, 20, 8, 4, 12, RopeLayout::interleaved, {}, false)};
}

// GTA: the tiny preset, 12 query heads per tied head, 4 tied heads, one tied head (MQA-like).
std::vector<LayerConfig> gta_configs() {
  return {load_preset("tiny-gta"),
          gta("gta2-wide", 24, 2, 48, 16, RopeLayout::half_split, {"kv_proj", "o_proj"}),
          gta("gta4", 8, 4, 24, 8, RopeLayout::interleaved, {"W_rope_k"}),
          gta("gta1", 4, 1, 16, 8, RopeLayout::half_split, {"q_proj", "W_rope_k"})};
}

struct Run {
  std::vector<float> out, lse;  // [batch, tokens, hidden], [batch, tokens, heads]
};

std::vector<float> inputs(int64_t batch, int64_t tokens, int64_t hidden, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(batch * tokens * hidden);
  for (float& v : x) v = normal(rng);
  return x;
}

// Position of token s of sequence b (sequences at different offsets).
int64_t position_of(int64_t b, int64_t s) {
  return 3 + 5 * b + s;
}

// `tokens` tokens of x [batch, tokens, hidden] through one fresh cache, `steps` tokens per forward
// (the last step takes what is left).
Run run_steps(const std::unique_ptr<cpu::fast::FastAttention>& attention, const LayerConfig& c,
              const std::vector<float>& x, int64_t batch, int64_t tokens,
              const std::vector<int64_t>& steps) {
  const int64_t hidden = c.hidden_size, heads = c.n_heads;
  const auto cache = attention->make_cache(batch, tokens);
  Run r{std::vector<float>(batch * tokens * hidden), std::vector<float>(batch * tokens * heads)};
  int64_t done = 0;
  for (size_t i = 0; done < tokens; ++i) {
    const int64_t n = i + 1 < steps.size() ? std::min(steps[i], tokens - done) : tokens - done;
    std::vector<float> xs(batch * n * hidden), out(batch * n * hidden), lse(batch * n * heads);
    std::vector<int64_t> pos(batch * n);
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t s = 0; s < n; ++s) {
        std::copy_n(x.data() + (b * tokens + done + s) * hidden, hidden,
                    xs.data() + (b * n + s) * hidden);
        pos[b * n + s] = position_of(b, done + s);
      }
    attention->forward(xs.data(), pos.data(), batch, n, *cache, out.data(), lse.data());
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t s = 0; s < n; ++s) {
        std::copy_n(out.data() + (b * n + s) * hidden, hidden,
                    r.out.data() + (b * tokens + done + s) * hidden);
        std::copy_n(lse.data() + (b * n + s) * heads, heads,
                    r.lse.data() + (b * tokens + done + s) * heads);
      }
    done += n;
  }
  return r;
}

Run run_layer(const LayerConfig& c, const Weights& w, ImplForm form, DType dtype,
              const std::vector<float>& x, int64_t batch, int64_t tokens,
              const std::vector<int64_t>& steps) {
  return run_steps(cpu::fast::make_fast_attention(c, w, form, dtype), c, x, batch, tokens, steps);
}

struct Difference {
  double nmse = 0, max_abs = 0, max_ref = 0, lse = 0;
};

Difference difference(const Run& a, const Run& ref) {
  Difference d;
  double err2 = 0, ref2 = 0;
  for (size_t i = 0; i < ref.out.size(); ++i) {
    err2 += std::pow(double(a.out[i]) - ref.out[i], 2);
    ref2 += double(ref.out[i]) * ref.out[i];
    d.max_abs = std::max(d.max_abs, double(std::abs(a.out[i] - ref.out[i])));
    d.max_ref = std::max(d.max_ref, double(std::abs(ref.out[i])));
  }
  d.nmse = err2 / ref2;
  for (size_t i = 0; i < ref.lse.size(); ++i)
    d.lse = std::max(d.lse, double(std::abs(a.lse[i] - ref.lse[i])));
  return d;
}

// Two runs of the same layer that should agree: fp32 caches to fp32 rounding, bf16/fp16 caches
// (which may round a value differently in each) to the dtype's tolerance row.
void check_agree(const Run& a, const Run& b, DType dtype, const std::string& what) {
  const Difference d = difference(a, b);
  const double nmse_bound = dtype == DType::fp32 ? 1e-10 : tolerance_for(dtype).nmse_bound;
  const double lse_bound = dtype == DType::fp32 ? 1e-4 : tolerance_for(dtype).lse_atol;
  INFO(what << " [" << to_string(dtype) << "]: NMSE " << d.nmse << ", max abs " << d.max_abs
            << " (max |ref| " << d.max_ref << "), LSE " << d.lse);
  CHECK(d.max_ref > 0.01);
  CHECK(d.nmse <= nmse_bound);
  CHECK(d.lse <= lse_bound);
}

Tensor<double> row_block(const Tensor<double>& t, int64_t first, int64_t rows) {
  const int64_t cols = t.shape.size() == 2 ? t.shape[1] : 1;
  Tensor<double> out(t.shape.size() == 2 ? Shape{rows, cols} : Shape{rows});
  std::copy_n(t.data.begin() + first * cols, rows * cols, out.data.begin());
  return out;
}

Tensor<double> stack(const Tensor<double>& a, const Tensor<double>& b) {
  Shape shape = a.shape;
  shape[0] += b.shape[0];
  Tensor<double> out(shape);
  std::copy(a.data.begin(), a.data.end(), out.data.begin());
  std::copy(b.data.begin(), b.data.end(), out.data.begin() + a.data.size());
  return out;
}

Tensor<double> column_block(const Tensor<double>& t, int64_t first, int64_t cols) {
  const int64_t rows = t.shape[0], width = t.shape[1];
  Tensor<double> out({rows, cols});
  for (int64_t i = 0; i < rows; ++i)
    std::copy_n(t.data.begin() + i * width + first, cols, out.data.begin() + i * cols);
  return out;
}

// The MLA layer of GLA's latent head j (0-based): its H / h_c query heads, latent j with its own
// kv_norm and W_ukv, the shared rope key, its o_proj columns; o_proj's bias only for j = 0.
std::pair<LayerConfig, Weights> latent_head_as_mla(const LayerConfig& c, const Weights& w,
                                                   int64_t j) {
  const int64_t h_c = c.n_latent_heads, group = c.n_heads / h_c, d_c = c.kv_lora_rank;
  const int64_t qk = c.qk_head_dim(), d_r = c.qk_rope_head_dim, d_v = c.v_head_dim;
  const std::string ukv = "W_ukv_" + std::to_string(j + 1);
  LayerConfig m = c;
  m.name = c.name + "-latent-" + std::to_string(j + 1);
  m.attention = AttentionKind::mla;
  m.n_heads = group;
  m.n_latent_heads = 1;
  m.biases.clear();
  Weights mw;
  auto linear = [&](const std::string& to, const std::string& from, auto&& part) {
    mw.tensors[to + ".weight"] = part(w.get(from + ".weight"));
    if (c.has_bias(from)) {
      m.biases.insert(to);
      mw.tensors[to + ".bias"] = part(w.get(from + ".bias"));
    }
  };
  const auto whole = [](const Tensor<double>& t) { return t; };
  linear("q_a_proj", "W_dQ", whole);
  linear("q_b_proj", "W_uQ_rope",
         [&](const Tensor<double>& t) { return row_block(t, j * group * qk, group * qk); });
  linear("kv_a_proj_with_mqa", "W_dKV", [&](const Tensor<double>& t) {
    return stack(row_block(t, j * d_c, d_c), row_block(t, h_c * d_c, d_r));
  });
  linear("kv_b_proj", ukv, whole);
  mw.tensors["o_proj.weight"] = column_block(w.get("o_proj.weight"), j * group * d_v, group * d_v);
  if (c.has_bias("o_proj") && j == 0) {
    m.biases.insert("o_proj");
    mw.tensors["o_proj.bias"] = w.get("o_proj.bias");
  }
  if (c.latent_norms) {
    mw.tensors["q_a_layernorm.weight"] = w.get("q_norm.weight");
    mw.tensors["kv_a_layernorm.weight"] = w.get("kv_norm_" + std::to_string(j + 1) + ".weight");
  }
  validate_layer_config(m, m.name);
  return {m, mw};
}

// ------------------------------------------------------------------------------------------------
// GTA as a plain fp64 loop over its equations (weights as given, no lowering).

struct Linear64 {
  const Tensor<double>* w;
  const Tensor<double>* b;
  // out[o] = sum_i W[o, i] x[i] + b[o]
  std::vector<double> apply(const std::vector<double>& x) const {
    const int64_t outs = w->shape[0], ins = w->shape[1];
    std::vector<double> y(outs, 0.0);
    for (int64_t o = 0; o < outs; ++o) {
      double s = b != nullptr ? b->data[o] : 0.0;
      for (int64_t i = 0; i < ins; ++i) s += w->data[o * ins + i] * x[i];
      y[o] = s;
    }
    return y;
  }
};

Linear64 linear64(const LayerConfig& c, const Weights& w, const std::string& name) {
  return {&w.get(name + ".weight"), c.has_bias(name) ? &w.get(name + ".bias") : nullptr};
}

// RoPE at `position` on x[0, rotary_dim) (the spec's pairs and inverse frequencies).
void rope64(const RopeSpec& rope, double* x, int64_t position) {
  const std::vector<double> inv = rope.inv_freq_table();
  for (int64_t i = 0; i < rope.pairs(); ++i) {
    const auto [a, b] = rope.pair(i);
    const double angle = position * inv[i];
    const double ca = std::cos(angle) * rope.attention_factor();
    const double sa = std::sin(angle) * rope.attention_factor();
    const double xa = x[a], xb = x[b];
    x[a] = xa * ca - xb * sa;
    x[b] = xb * ca + xa * sa;
  }
}

Run gta_loop(const LayerConfig& c, const Weights& w, const std::vector<float>& x, int64_t batch,
             int64_t tokens) {
  const int64_t H = c.n_heads, G = c.n_kv_heads, d = c.head_dim, r = c.qk_rope_head_dim;
  const int64_t hidden = c.hidden_size, group = H / G;
  const RopeSpec rope = rope_spec(c);
  const double scale = c.scale();
  const Linear64 q_proj = linear64(c, w, "q_proj"), kv_proj = linear64(c, w, "kv_proj");
  const Linear64 rope_k = linear64(c, w, "W_rope_k"), o_proj = linear64(c, w, "o_proj");
  Run run{std::vector<float>(batch * tokens * hidden), std::vector<float>(batch * tokens * H)};
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<std::vector<double>> q(tokens), tied(tokens), k_rope(tokens);
    for (int64_t t = 0; t < tokens; ++t) {
      const std::vector<double> xt(x.begin() + (b * tokens + t) * hidden,
                                   x.begin() + (b * tokens + t + 1) * hidden);
      q[t] = q_proj.apply(xt);
      for (int64_t h = 0; h < H; ++h) rope64(rope, q[t].data() + h * d + d - r, position_of(b, t));
      tied[t] = kv_proj.apply(xt);
      k_rope[t] = rope_k.apply(xt);
      rope64(rope, k_rope[t].data(), position_of(b, t));
    }
    for (int64_t s = 0; s < tokens; ++s) {
      std::vector<double> heads(H * d, 0.0);
      for (int64_t h = 0; h < H; ++h) {
        const int64_t g = h / group;
        std::vector<double> score(s + 1);
        double top = -INFINITY;
        for (int64_t t = 0; t <= s; ++t) {
          double dot = 0;
          for (int64_t i = 0; i < d - r; ++i) dot += q[s][h * d + i] * tied[t][g * d + i];
          for (int64_t i = 0; i < r; ++i) dot += q[s][h * d + d - r + i] * k_rope[t][i];
          score[t] = scale * dot;
          top = std::max(top, score[t]);
        }
        double sum = 0;
        for (int64_t t = 0; t <= s; ++t) sum += std::exp(score[t] - top);
        for (int64_t t = 0; t <= s; ++t)
          for (int64_t i = 0; i < d; ++i)
            heads[h * d + i] += std::exp(score[t] - top) / sum * tied[t][g * d + i];
        run.lse[(b * tokens + s) * H + h] = static_cast<float>(top + std::log(sum));
      }
      const std::vector<double> y = o_proj.apply(heads);
      std::copy(y.begin(), y.end(), run.out.begin() + (b * tokens + s) * hidden);
    }
  }
  return run;
}

// Against an fp64 result with the dtype's tolerance row: NMSE, atol + |ref| rtol per element, LSE.
void check_against_loop(const Run& a, const Run& ref, DType dtype, const std::string& what) {
  const Tolerance& tol = tolerance_for(dtype);
  const Difference d = difference(a, ref);
  double worst_excess = -1;
  for (size_t i = 0; i < ref.out.size(); ++i)
    worst_excess = std::max(worst_excess, std::abs(double(a.out[i]) - ref.out[i]) -
                                              (tol.atol + std::abs(ref.out[i]) * tol.rtol));
  INFO(what << " [" << to_string(dtype) << "]: NMSE " << d.nmse << ", max abs " << d.max_abs
            << " (max |ref| " << d.max_ref << "), LSE " << d.lse);
  CHECK(d.max_ref > 0.01);
  CHECK(d.nmse <= tol.nmse_bound);
  CHECK(worst_excess <= 0);
  CHECK(d.lse <= tol.lse_atol);
}

}  // namespace

TEST_CASE("fast latent groups: GLA with one latent head runs as MLA with DeepSeek's names",
          "[fast][gla]") {
  LayerConfig g1 = load_preset("tiny-gla");
  g1.n_latent_heads = 1;
  g1.biases = {"W_dQ", "W_uQ_rope", "W_dKV", "W_ukv_1", "o_proj"};
  const LayerConfig plain1 =
      gla("gla1-plain", 4, 1, 24, 8, 6, 8, RopeLayout::interleaved, {"W_ukv_1"}, false);
  for (LayerConfig c : {g1, plain1}) {
    validate_layer_config(c, c.name);
    const Weights w = random_weights(c, 21);
    LayerConfig m = c;
    m.attention = AttentionKind::mla;
    m.biases.clear();
    Weights mw;
    for (const auto& [from, to] :
         std::vector<std::pair<std::string, std::string>>{{"W_dQ", "q_a_proj"},
                                                          {"W_uQ_rope", "q_b_proj"},
                                                          {"W_dKV", "kv_a_proj_with_mqa"},
                                                          {"W_ukv_1", "kv_b_proj"},
                                                          {"o_proj", "o_proj"}}) {
      mw.tensors[to + ".weight"] = w.get(from + ".weight");
      if (c.has_bias(from)) {
        m.biases.insert(to);
        mw.tensors[to + ".bias"] = w.get(from + ".bias");
      }
    }
    if (c.latent_norms) {
      mw.tensors["q_a_layernorm.weight"] = w.get("q_norm.weight");
      mw.tensors["kv_a_layernorm.weight"] = w.get("kv_norm_1.weight");
    }
    const std::vector<float> x = inputs(2, 9, c.hidden_size, 5);
    for (DType dtype : kDtypes)
      for (ImplForm form : {ImplForm::naive, ImplForm::absorb}) {
        const Run as_gla = run_layer(c, w, form, dtype, x, 2, 9, {6, 1});
        const Run as_mla = run_layer(m, mw, form, dtype, x, 2, 9, {6, 1});
        const Difference d = difference(as_gla, as_mla);
        INFO(c.name << " " << to_string(form) << " [" << to_string(dtype)
                    << "]: max abs difference " << d.max_abs << " (max |out| " << d.max_ref
                    << "), LSE " << d.lse);
        CHECK(d.max_ref > 0.01);
        CHECK(d.max_abs <= 1e-6 * d.max_ref);
        CHECK(d.lse <= 1e-6);
      }
  }
}

TEST_CASE("fast latent groups: a GLA layer is the sum of h_c MLA layers, one per latent head",
          "[fast][gla]") {
  const int64_t batch = 2, tokens = 10;
  for (const LayerConfig& c : gla_configs()) {
    const Weights w = random_weights(c, 33);
    const std::vector<float> x = inputs(batch, tokens, c.hidden_size, 7);
    const int64_t group = c.n_heads / c.n_latent_heads, hidden = c.hidden_size;
    for (DType dtype : kDtypes)
      for (ImplForm form : {ImplForm::naive, ImplForm::absorb}) {
        const std::vector<int64_t> steps = {7, 1};  // a prefill, then decode steps
        const Run whole = run_layer(c, w, form, dtype, x, batch, tokens, steps);
        Run sum{std::vector<float>(whole.out.size(), 0.0f), std::vector<float>(whole.lse.size())};
        for (int64_t j = 0; j < c.n_latent_heads; ++j) {
          const auto [m, mw] = latent_head_as_mla(c, w, j);
          const Run part = run_layer(m, mw, form, dtype, x, batch, tokens, steps);
          for (size_t i = 0; i < sum.out.size(); ++i) sum.out[i] += part.out[i];
          for (int64_t row = 0; row < batch * tokens; ++row)
            std::copy_n(part.lse.data() + row * group, group,
                        sum.lse.data() + row * c.n_heads + j * group);
        }
        CHECK(static_cast<int64_t>(whole.out.size()) == batch * tokens * hidden);
        check_agree(whole, sum, dtype, c.name + " " + to_string(form) + " vs its latent heads");
      }
  }
}

TEST_CASE("fast latent groups: GTA matches a plain fp64 loop over the GTA equations",
          "[fast][gta]") {
  const int64_t batch = 2, tokens = 9;
  for (const LayerConfig& c : gta_configs()) {
    const Weights w = random_weights(c, 45);
    const std::vector<float> x = inputs(batch, tokens, c.hidden_size, 9);
    const Run truth = gta_loop(c, w, x, batch, tokens);
    for (DType dtype : kDtypes) {
      const Run fast = run_layer(c, w, ImplForm::standard, dtype, x, batch, tokens, {5, 1, 2});
      check_against_loop(fast, truth, dtype, c.name);
    }
  }
}

TEST_CASE("fast latent groups: GLA naive equals absorb", "[fast][gla]") {
  const int64_t batch = 2, tokens = 9;
  for (const LayerConfig& c : gla_configs()) {
    const Weights w = random_weights(c, 57);
    const std::vector<float> x = inputs(batch, tokens, c.hidden_size, 11);
    for (DType dtype : kDtypes) {
      const Run naive = run_layer(c, w, ImplForm::naive, dtype, x, batch, tokens, {4, 1});
      const Run absorb = run_layer(c, w, ImplForm::absorb, dtype, x, batch, tokens, {4, 1});
      check_agree(absorb, naive, dtype, c.name + " absorb vs naive");
    }
  }
}

TEST_CASE("fast latent groups: decode token by token equals one prefill", "[fast][gla][gta]") {
  const int64_t batch = 2, tokens = 11;
  std::vector<std::pair<LayerConfig, ImplForm>> layers;
  for (const char* name : {"tiny-gla", "tiny-gla4"})
    for (ImplForm form : {ImplForm::naive, ImplForm::absorb})
      layers.push_back({load_preset(name), form});
  for (const LayerConfig& c : gta_configs()) layers.push_back({c, ImplForm::standard});
  for (const auto& [c, form] : layers) {
    const Weights w = random_weights(c, 61);
    const std::vector<float> x = inputs(batch, tokens, c.hidden_size, 13);
    for (DType dtype : kDtypes) {
      const Run prefill = run_layer(c, w, form, dtype, x, batch, tokens, {tokens});
      const Run decode = run_layer(c, w, form, dtype, x, batch, tokens, {1});
      check_agree(decode, prefill, dtype, c.name + " " + to_string(form) + " decode vs prefill");
    }
  }
}

TEST_CASE("fast latent groups: decode at a long context, keys split over threads, equals prefill",
          "[fast][gla][gta][long]") {
  // 2 latent heads: 2 core streams in absorb, 8 in GLA naive; 7 threads split each stream's
  // 2400 keys (choose_splits below); the prefill of all tokens at once is the truth.
  const int64_t context = 2400, extra = 4, tokens = context + extra;
  const std::vector<std::pair<LayerConfig, ImplForm>> layers = {
      {gta("gta2-long", 8, 2, 32, 16, RopeLayout::half_split, {"kv_proj"}), ImplForm::standard},
      {gla("gla2-long", 8, 2, 32, 16, 8, 16, RopeLayout::interleaved, {"W_ukv_1"}),
       ImplForm::absorb},
      {gla("gla2-long", 8, 2, 32, 16, 8, 16, RopeLayout::interleaved, {"W_ukv_1"}),
       ImplForm::naive}};
  REQUIRE(cpu::fast::choose_splits(context, 2, 7) > 1);
  REQUIRE(cpu::fast::choose_splits(context, 8, 7) > 1);
  for (const auto& [c, form] : layers) {
    const Weights w = random_weights(c, 71);
    const std::vector<float> x = inputs(1, tokens, c.hidden_size, 17);
    for (DType dtype : {DType::fp32, DType::bf16}) {
      const Run prefill = run_layer(c, w, form, dtype, x, 1, tokens, {tokens});
      const int saved = omp_get_max_threads();
      omp_set_num_threads(7);
      std::vector<int64_t> steps = {context};
      steps.insert(steps.end(), extra, 1);
      const Run decode = run_layer(c, w, form, dtype, x, 1, tokens, steps);
      omp_set_num_threads(saved);
      // The decode steps' tokens only.
      Run last_p, last_d;
      const int64_t hidden = c.hidden_size, heads = c.n_heads;
      last_p.out.assign(prefill.out.begin() + context * hidden, prefill.out.end());
      last_d.out.assign(decode.out.begin() + context * hidden, decode.out.end());
      last_p.lse.assign(prefill.lse.begin() + context * heads, prefill.lse.end());
      last_d.lse.assign(decode.lse.begin() + context * heads, decode.lse.end());
      check_agree(last_d, last_p, dtype, c.name + " " + to_string(form) + " long decode");
    }
  }
}

TEST_CASE(
    "fast latent groups: cache bytes equal cache_layout's and a wrong form names the user's kind",
    "[fast][gla][gta]") {
  std::vector<std::pair<LayerConfig, ImplForm>> layers;
  for (const LayerConfig& c : gla_configs())
    for (ImplForm form : {ImplForm::naive, ImplForm::absorb}) layers.push_back({c, form});
  for (const LayerConfig& c : gta_configs()) layers.push_back({c, ImplForm::standard});
  for (const auto& [c, form] : layers) {
    const Weights w = random_weights(c, 3);
    for (DType dtype : kDtypes) {
      const auto cache = cpu::fast::make_fast_attention(c, w, form, dtype)->make_cache(3, 17);
      INFO(c.name << " " << to_string(form) << " " << to_string(dtype));
      CHECK(cache->bytes_allocated() == static_cast<size_t>(kv_elements_per_token_layer(c, form) *
                                                            3 * 17 * bytes_per_element(dtype)));
    }
  }
  const LayerConfig t = load_preset("tiny-gta"), g = load_preset("tiny-gla");
  const Weights tw = random_weights(t, 1), gw = random_weights(g, 1);
  for (ImplForm form : {ImplForm::naive, ImplForm::absorb})
    CHECK_THROWS_WITH(cpu::fast::make_fast_attention(t, tw, form, DType::fp32),
                      Catch::Contains("'" + std::string(to_string(form)) + "'") &&
                          Catch::Contains("gta layer 'tiny-gta'"));
  CHECK_THROWS_WITH(cpu::fast::make_fast_attention(g, gw, ImplForm::standard, DType::fp32),
                    Catch::Contains("'standard'") && Catch::Contains("gla layer 'tiny-gla'"));
}
