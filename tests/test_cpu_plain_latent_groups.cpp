// Tests of the plain CPU backend's grouped latent heads: GLA and GTA, which make_plain_attention
// lowers to MLA with n_latent_heads G (variants/latent_lowering.h). Each is checked against
// something that does not go through the grouping code: GLA with one latent head against the
// same weights run as DeepSeek MLA; a GLA layer against the sum of h_c one-latent MLA layers, one
// per group; GTA against a plain fp64 loop over its equations written here. Also GLA naive ==
// absorb, token-by-token decode == prefill, the width2048 GLA-2 / GTA-4 shapes at 1/8 width over 33
// tokens and 3 decode steps, the cache sizes, the wrong-form errors, and
// Fault::latent_group_swapped breaking GLA and GTA (and leaving MLA alone).
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "core/error.h"
#include "core/presets.h"
#include "core/weights.h"
#include "kernels/cpu/cpu_plain_attention.h"
#include "registry/driver.h"
#include "tests/test_support.h"
#include "variants/rope.h"
#include "variants/variant_spec.h"

namespace {

using namespace attnlab;
using cpu::Fault;

// fp32 against fp32 or fp64, as tests/test_cpu_plain.cpp.
constexpr double kMaxNmse = 1e-10;
constexpr double kAbsTolerance = 1e-4;  // times (1 + max |expected|)
// A broken grouping is far outside the tolerances (latent_group_swapped: measured NMSE >= 0.99).
constexpr double kBrokenNmse = 1e-4;

// ---------------------------------------------------------------------------------------------
// Shapes

LayerConfig gla(const std::string& name, int64_t heads, int64_t latent_heads, bool norms,
                RopeLayout layout, std::set<std::string> biases) {
  LayerConfig c;
  c.name = name;
  c.attention = AttentionKind::gla;
  c.hidden_size = 48;
  c.n_heads = heads;
  c.n_latent_heads = latent_heads;
  c.q_lora_rank = 20;
  c.kv_lora_rank = 10;
  c.qk_nope_head_dim = 6;
  c.qk_rope_head_dim = 4;
  c.v_head_dim = 5;
  c.latent_norms = norms;
  c.rope_layout = layout;
  c.rope_theta = 10000;
  c.biases = std::move(biases);
  validate_layer_config(c, name);
  return c;
}

LayerConfig gta(const std::string& name, int64_t heads, int64_t kv_heads, int64_t head_dim,
                int64_t rope_dim, RopeLayout layout, std::set<std::string> biases) {
  LayerConfig c;
  c.name = name;
  c.attention = AttentionKind::gta;
  c.hidden_size = 40;
  c.n_heads = heads;
  c.n_kv_heads = kv_heads;
  c.head_dim = head_dim;
  c.qk_rope_head_dim = rope_dim;
  c.rope_layout = layout;
  c.rope_theta = 10000;
  c.biases = std::move(biases);
  validate_layer_config(c, name);
  return c;
}

// GLA with one latent head (tiny-gla's widths), every bias: DeepSeek MLA under other names.
LayerConfig gla_one_latent() {
  return gla("gla-1", 4, 1, true, RopeLayout::half_split,
             {"W_dQ", "W_uQ_rope", "W_dKV", "W_ukv_1", "o_proj"});
}

std::vector<LayerConfig> gla_shapes() {
  return {load_preset("tiny-gla"), load_preset("tiny-gla4"),
          // three groups of three heads, no latent norms, a bias on one group's up-projection
          gla("gla-3x3", 9, 3, false, RopeLayout::interleaved, {"W_dKV", "W_ukv_2", "o_proj"}),
          // one query head per latent head (H = h_c)
          gla("gla-4x1", 4, 4, true, RopeLayout::half_split, {"W_uQ_rope", "W_ukv_4"})};
}

std::vector<LayerConfig> gta_shapes() {
  return {load_preset("tiny-gta"),
          // four groups of two, interleaved RoPE, no biases
          gta("gta-4x2", 8, 4, 12, 4, RopeLayout::interleaved, {}),
          // one tied head for all (G = 1) and one per query head (G = H), rope key 6 of 10
          gta("gta-1x5", 5, 1, 10, 6, RopeLayout::half_split, {"kv_proj", "W_rope_k"}),
          gta("gta-3x1", 3, 3, 10, 6, RopeLayout::half_split, {"q_proj", "o_proj"})};
}

// width2048-gla2 and width2048-gta4 (configs/models) at 1/8 of every width, 16 query heads kept:
// big enough that head, group and token indexing all matter.
LayerConfig eighth_width(const std::string& preset) {
  LayerConfig c = load_preset(preset);
  c.name = preset + "/8";
  for (int64_t* width : {&c.hidden_size, &c.head_dim, &c.q_lora_rank, &c.kv_lora_rank,
                         &c.qk_nope_head_dim, &c.qk_rope_head_dim, &c.v_head_dim})
    *width /= 8;
  validate_layer_config(c, c.name);
  return c;
}

// ---------------------------------------------------------------------------------------------
// Running and comparing

Tensor<double> activations(const LayerConfig& config, int64_t batch, int64_t seq, uint64_t seed) {
  return tensor_cast<double>(tensor_cast<float>(random_activations(batch, seq, config.hidden_size,
                                                                   seed)));  // exact in fp32
}

struct Outputs {
  std::vector<float> out;  // [B, S, hidden]
  std::vector<float> lse;  // [B, S, H]
};

Outputs run_step(const Attention& attention, KvCache& cache, const LayerConfig& config,
                 const Tensor<double>& x, const Tensor<int64_t>& positions) {
  const int64_t batch = x.dim(0), seq = x.dim(1);
  const std::vector<float> input(x.data.begin(), x.data.end());
  Outputs o{std::vector<float>(batch * seq * config.hidden_size),
            std::vector<float>(batch * seq * config.n_heads)};
  attention.forward(input.data(), positions.ptr(), batch, seq, cache, o.out.data(), o.lse.data());
  return o;
}

// One prefill of all of x's tokens.
Outputs prefill(const LayerConfig& config, const Weights& weights, ImplForm form,
                const Tensor<double>& x, const Tensor<int64_t>& positions,
                Fault fault = Fault::none) {
  const auto attention = cpu::make_plain_attention(config, weights, form, fault);
  const auto cache = attention->make_cache(x.dim(0), x.dim(1));
  return run_step(*attention, *cache, config, x, positions);
}

// x's tokens in forward() calls of `chunks` tokens each (summing to S), the outputs reassembled
// as [B, S, ...].
Outputs run_in_chunks(const LayerConfig& config, const Weights& weights, ImplForm form,
                      const Tensor<double>& x, const Tensor<int64_t>& positions,
                      const std::vector<int64_t>& chunks) {
  const int64_t batch = x.dim(0), seq = x.dim(1), w = config.hidden_size, h = config.n_heads;
  const auto attention = cpu::make_plain_attention(config, weights, form);
  const auto cache = attention->make_cache(batch, seq);
  Outputs all{std::vector<float>(batch * seq * w), std::vector<float>(batch * seq * h)};
  int64_t start = 0;
  for (int64_t count : chunks) {
    const Outputs step = run_step(*attention, *cache, config, token_slice(x, start, count),
                                  token_slice(positions, start, count));
    for (int64_t b = 0; b < batch; ++b) {
      std::copy_n(step.out.begin() + b * count * w, count * w,
                  all.out.begin() + (b * seq + start) * w);
      std::copy_n(step.lse.begin() + b * count * h, count * h,
                  all.lse.begin() + (b * seq + start) * h);
    }
    start += count;
  }
  REQUIRE(start == seq);
  return all;
}

Outputs decode(const LayerConfig& config, const Weights& weights, ImplForm form,
               const Tensor<double>& x, const Tensor<int64_t>& positions) {
  return run_in_chunks(config, weights, form, x, positions, std::vector<int64_t>(x.dim(1), 1));
}

test::Comparison compare(const std::vector<float>& actual, const std::vector<double>& expected) {
  REQUIRE(actual.size() == expected.size());
  return test::compare(actual.data(),
                       Tensor<double>({static_cast<int64_t>(expected.size())}, expected));
}

test::Comparison compare(const std::vector<float>& actual, const std::vector<float>& expected) {
  return compare(actual, std::vector<double>(expected.begin(), expected.end()));
}

bool agrees(const test::Comparison& c) {
  return c.nmse < kMaxNmse && c.max_abs_error < kAbsTolerance * (1 + c.max_ref);
}

#define CHECK_AGREES(comparison, what)                                                             \
  do {                                                                                             \
    const test::Comparison c_ = (comparison);                                                      \
    INFO((what) << ": NMSE " << c_.nmse << ", max abs " << c_.max_abs_error << " (max |expected| " \
                << c_.max_ref << ")");                                                             \
    CHECK(c_.max_ref > 0.01); /* a zero output would match anything */                             \
    CHECK(agrees(c_));                                                                             \
  } while (false)

// ---------------------------------------------------------------------------------------------
// Weights under other names and in pieces

// Rows [begin, begin + count) of a [rows, cols] or [rows] tensor.
Tensor<double> rows_of(const Tensor<double>& t, int64_t begin, int64_t count) {
  const int64_t width = t.shape.size() == 2 ? t.dim(1) : 1;
  Shape shape = t.shape;
  shape[0] = count;
  return Tensor<double>(shape, std::vector<double>(t.data.begin() + begin * width,
                                                   t.data.begin() + (begin + count) * width));
}

// Columns [begin, begin + count) of a [rows, cols] tensor.
Tensor<double> cols_of(const Tensor<double>& t, int64_t begin, int64_t count) {
  Tensor<double> out({t.dim(0), count});
  for (int64_t r = 0; r < t.dim(0); ++r)
    for (int64_t c = 0; c < count; ++c) out.data[r * count + c] = t.data[r * t.dim(1) + begin + c];
  return out;
}

// a's rows, then b's.
Tensor<double> stacked(const Tensor<double>& a, const Tensor<double>& b) {
  Shape shape = a.shape;
  shape[0] += b.dim(0);
  std::vector<double> values = a.data;
  values.insert(values.end(), b.data.begin(), b.data.end());
  return Tensor<double>(shape, values);
}

// An MLA config with a GLA config's widths and `heads` query heads (no biases yet).
LayerConfig mla_like(const LayerConfig& gla, const std::string& name, int64_t heads) {
  LayerConfig m = gla;
  m.name = name;
  m.attention = AttentionKind::mla;
  m.n_heads = heads;
  m.n_latent_heads = 1;
  m.biases.clear();
  return m;
}

// A GLA layer with h_c = 1 as DeepSeek MLA: the renaming the paper states (W_dQ = q_a_proj, ...).
std::pair<LayerConfig, Weights> renamed_as_mla(const LayerConfig& c, const Weights& w) {
  REQUIRE(c.n_latent_heads == 1);
  LayerConfig m = mla_like(c, c.name + " as mla", c.n_heads);
  Weights mw;
  const std::map<std::string, std::string> linears = {{"W_dQ", "q_a_proj"},
                                                      {"W_uQ_rope", "q_b_proj"},
                                                      {"W_dKV", "kv_a_proj_with_mqa"},
                                                      {"W_ukv_1", "kv_b_proj"},
                                                      {"o_proj", "o_proj"}};
  for (const auto& [from, to] : linears) {
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
  validate_layer_config(m, m.name);
  return {m, mw};
}

// Latent head j's share of a GLA layer as an MLA layer of its H / h_c query heads: the whole
// query down-projection and norm, its heads' rows of W_uQ_rope, its slice of W_dKV plus the rope
// key's rows, kv_norm_(j+1) and W_ukv_(j+1), its heads' columns of o_proj (o_proj's bias in group
// 0 only). The GLA layer's output is the sum of these layers' outputs.
std::pair<LayerConfig, Weights> group_as_mla(const LayerConfig& c, const Weights& w, int64_t j) {
  const int64_t group_heads = c.n_heads / c.n_latent_heads, d_c = c.kv_lora_rank;
  const int64_t rope_row = c.n_latent_heads * d_c, d_r = c.qk_rope_head_dim;
  const std::string n = std::to_string(j + 1);
  LayerConfig m = mla_like(c, c.name + " group " + n, group_heads);
  Weights mw;
  auto take = [&](const std::string& gla_name, const std::string& mla_name, auto part) {
    mw.tensors[mla_name + ".weight"] = part(w.get(gla_name + ".weight"));
    if (c.has_bias(gla_name) && (mla_name != "o_proj" || j == 0)) {
      m.biases.insert(mla_name);
      mw.tensors[mla_name + ".bias"] =
          mla_name == "o_proj" ? w.get("o_proj.bias") : part(w.get(gla_name + ".bias"));
    }
  };
  const auto whole = [](const Tensor<double>& t) { return t; };
  const int64_t q_rows = group_heads * c.qk_head_dim();
  take("W_dQ", "q_a_proj", whole);
  take("W_uQ_rope", "q_b_proj",
       [&](const Tensor<double>& t) { return rows_of(t, j * q_rows, q_rows); });
  take("W_dKV", "kv_a_proj_with_mqa", [&](const Tensor<double>& t) {
    return stacked(rows_of(t, j * d_c, d_c), rows_of(t, rope_row, d_r));
  });
  take("W_ukv_" + n, "kv_b_proj", whole);
  const int64_t v_cols = group_heads * c.v_head_dim;
  take("o_proj", "o_proj", [&](const Tensor<double>& t) { return cols_of(t, j * v_cols, v_cols); });
  if (c.latent_norms) {
    mw.tensors["q_a_layernorm.weight"] = w.get("q_norm.weight");
    mw.tensors["kv_a_layernorm.weight"] = w.get("kv_norm_" + n + ".weight");
  }
  validate_layer_config(m, m.name);
  return {m, mw};
}

// The GLA layer's outputs rebuilt from its groups run as MLA: outputs summed, LSEs side by side.
struct Expected {
  std::vector<double> out, lse;
};

Expected sum_of_group_mlas(const LayerConfig& c, const Weights& w, ImplForm form,
                           const Tensor<double>& x, const Tensor<int64_t>& positions) {
  const int64_t rows = x.dim(0) * x.dim(1), group_heads = c.n_heads / c.n_latent_heads;
  Expected e{std::vector<double>(rows * c.hidden_size, 0.0),
             std::vector<double>(rows * c.n_heads, 0.0)};
  for (int64_t j = 0; j < c.n_latent_heads; ++j) {
    const auto [m, mw] = group_as_mla(c, w, j);
    const Outputs o = prefill(m, mw, form, x, positions);
    for (size_t i = 0; i < e.out.size(); ++i) e.out[i] += o.out[i];
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < group_heads; ++i)
        e.lse[r * c.n_heads + j * group_heads + i] = o.lse[r * group_heads + i];
  }
  return e;
}

// ---------------------------------------------------------------------------------------------
// GTA from its equations (Zadouri, Strauss, Dao 2025), fp64, causal over the given tokens

// y = W x + b over `in` inputs.
std::vector<double> linear(const LayerConfig& c, const Weights& w, const std::string& name,
                           const double* x) {
  const Tensor<double>& weight = w.get(name + ".weight");
  const int64_t out = weight.dim(0), in = weight.dim(1);
  std::vector<double> y(out, 0.0);
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t i = 0; i < in; ++i) y[o] += weight.data[o * in + i] * x[i];
    if (c.has_bias(name)) y[o] += w.get(name + ".bias").data[o];
  }
  return y;
}

// RoPE at position p over the rope_spec(c).rotary_dim elements at v.
void rotate(const RopeSpec& rope, double* v, int64_t p) {
  for (int64_t i = 0; i < rope.pairs(); ++i) {
    const auto [a, b] = rope.pair(i);
    const double angle = static_cast<double>(p) * rope.inv_freq(i);
    const double cos = std::cos(angle) * rope.attention_factor();
    const double sin = std::sin(angle) * rope.attention_factor();
    const double va = v[a], vb = v[b];
    v[a] = va * cos - vb * sin;
    v[b] = va * sin + vb * cos;
  }
}

Expected gta_by_the_equations(const LayerConfig& c, const Weights& w, const Tensor<double>& x,
                              const Tensor<int64_t>& positions) {
  const int64_t batch = x.dim(0), seq = x.dim(1), hidden = c.hidden_size;
  const int64_t heads = c.n_heads, groups = c.n_kv_heads, d = c.head_dim;
  const int64_t r = c.qk_rope_head_dim, nope = d - r;
  const RopeSpec rope = rope_spec(c);
  Expected e{std::vector<double>(batch * seq * hidden), std::vector<double>(batch * seq * heads)};
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<std::vector<double>> q(seq), tied(seq), k_rope(seq);
    for (int64_t t = 0; t < seq; ++t) {
      const double* x_t = x.ptr() + (b * seq + t) * hidden;
      const int64_t p = positions.data[b * seq + t];
      q[t] = linear(c, w, "q_proj", x_t);  // per head [q_nope (d - r) | q_rope (r)]
      for (int64_t h = 0; h < heads; ++h) rotate(rope, q[t].data() + h * d + nope, p);
      tied[t] = linear(c, w, "kv_proj", x_t);  // per tied head: d
      k_rope[t] = linear(c, w, "W_rope_k", x_t);
      rotate(rope, k_rope[t].data(), p);
    }
    for (int64_t s = 0; s < seq; ++s) {
      std::vector<double> heads_out(heads * d, 0.0);
      for (int64_t h = 0; h < heads; ++h) {
        const int64_t g = h / (heads / groups);
        const double* q_h = q[s].data() + h * d;
        std::vector<double> scores(s + 1);
        double max = -INFINITY;
        for (int64_t t = 0; t <= s; ++t) {  // key of head h: [tied_g[0, d - r) | k_rope]
          double dot = 0;
          for (int64_t i = 0; i < nope; ++i) dot += q_h[i] * tied[t][g * d + i];
          for (int64_t i = 0; i < r; ++i) dot += q_h[nope + i] * k_rope[t][i];
          scores[t] = c.scale() * dot;
          max = std::max(max, scores[t]);
        }
        double sum = 0;
        for (int64_t t = 0; t <= s; ++t) sum += std::exp(scores[t] - max);
        for (int64_t t = 0; t <= s; ++t)  // value of head h: tied_g, all d
          for (int64_t i = 0; i < d; ++i)
            heads_out[h * d + i] += std::exp(scores[t] - max) / sum * tied[t][g * d + i];
        e.lse[(b * seq + s) * heads + h] = max + std::log(sum);
      }
      const std::vector<double> y = linear(c, w, "o_proj", heads_out.data());
      std::copy(y.begin(), y.end(), e.out.begin() + (b * seq + s) * hidden);
    }
  }
  return e;
}

}  // namespace

TEST_CASE("cpu plain GLA: one latent head equals the same weights run as DeepSeek MLA",
          "[cpu][gla]") {
  for (LayerConfig c : {gla_one_latent(), [] {
                          LayerConfig plain = gla_one_latent();
                          plain.name = "gla-1 without norms";
                          plain.latent_norms = false;
                          return plain;
                        }()}) {
    const Weights w = random_weights(c, 41);
    const auto [m, mw] = renamed_as_mla(c, w);
    const Tensor<double> x = activations(c, 2, 7, 42);
    const Tensor<int64_t> positions = sequential_positions(2, 7, 3);
    for (ImplForm form : {ImplForm::naive, ImplForm::absorb}) {
      INFO(c.name << " " << to_string(form));
      const Outputs as_gla = prefill(c, w, form, x, positions);
      const Outputs as_mla = prefill(m, mw, form, x, positions);
      CHECK_AGREES(compare(as_gla.out, as_mla.out), "out");
      CHECK_AGREES(compare(as_gla.lse, as_mla.lse), "lse");
    }
  }
}

TEST_CASE("cpu plain GLA: a layer equals the sum of its h_c groups run as MLA layers",
          "[cpu][gla]") {
  uint64_t seed = 50;
  for (const LayerConfig& c : gla_shapes()) {
    const Weights w = random_weights(c, ++seed);
    const Tensor<double> x = activations(c, 2, 7, seed + 100);
    const Tensor<int64_t> positions = sequential_positions(2, 7, 5);
    for (ImplForm form : {ImplForm::naive, ImplForm::absorb}) {
      INFO(c.name << " " << to_string(form));
      const Outputs got = prefill(c, w, form, x, positions);
      const Expected expected = sum_of_group_mlas(c, w, form, x, positions);
      CHECK_AGREES(compare(got.out, expected.out), "out");
      CHECK_AGREES(compare(got.lse, expected.lse), "lse");
    }
  }
}

TEST_CASE("cpu plain GTA: equals a plain fp64 loop over the GTA equations", "[cpu][gta]") {
  uint64_t seed = 70;
  for (const LayerConfig& c : gta_shapes()) {
    INFO(c.name);
    const Weights w = random_weights(c, ++seed);
    const Tensor<double> x = activations(c, 2, 7, seed + 100);
    const Tensor<int64_t> positions = sequential_positions(2, 7, 9);
    const Outputs got = prefill(c, w, ImplForm::standard, x, positions);
    const Expected expected = gta_by_the_equations(c, w, x, positions);
    CHECK_AGREES(compare(got.out, expected.out), "out");
    CHECK_AGREES(compare(got.lse, expected.lse), "lse");
  }
}

TEST_CASE("cpu plain GLA and GTA: width2048 shapes at 1/8 width, 33 tokens then 3 decode steps",
          "[cpu][gla][gta][medium]") {
  const Tensor<int64_t> positions = sequential_positions(2, 36, 11);
  const std::vector<int64_t> chunks = {33, 1, 1, 1};
  SECTION("GLA-2 against the sum of its groups") {
    const LayerConfig c = eighth_width("width2048-gla2");
    const Weights w = random_weights(c, 61);
    const Tensor<double> x = activations(c, 2, 36, 62);
    for (ImplForm form : {ImplForm::naive, ImplForm::absorb}) {
      INFO(c.name << " " << to_string(form));
      const Outputs got = run_in_chunks(c, w, form, x, positions, chunks);
      const Expected expected = sum_of_group_mlas(c, w, form, x, positions);
      CHECK_AGREES(compare(got.out, expected.out), "out");
      CHECK_AGREES(compare(got.lse, expected.lse), "lse");
    }
  }
  SECTION("GTA-4 against its equations") {
    const LayerConfig c = eighth_width("width2048-gta4");
    const Weights w = random_weights(c, 63);
    const Tensor<double> x = activations(c, 2, 36, 64);
    const Outputs got = run_in_chunks(c, w, ImplForm::standard, x, positions, chunks);
    const Expected expected = gta_by_the_equations(c, w, x, positions);
    CHECK_AGREES(compare(got.out, expected.out), "out");
    CHECK_AGREES(compare(got.lse, expected.lse), "lse");
  }
}

TEST_CASE("cpu plain GLA: absorb equals naive, prefill then decode", "[cpu][gla]") {
  uint64_t seed = 90;
  for (const LayerConfig& c : gla_shapes()) {
    INFO(c.name);
    const Weights w = random_weights(c, ++seed);
    const auto naive = cpu::make_plain_attention(c, w, ImplForm::naive);
    const auto absorb = cpu::make_plain_attention(c, w, ImplForm::absorb);
    const auto naive_cache = naive->make_cache(2, 10);
    const auto absorb_cache = absorb->make_cache(2, 10);
    const Tensor<double> x = activations(c, 2, 10, seed + 100);
    const Tensor<int64_t> positions = sequential_positions(2, 10, 2);
    for (auto [start, count] : {std::pair<int64_t, int64_t>{0, 7}, {7, 1}, {8, 1}, {9, 1}}) {
      const Tensor<double> xs = token_slice(x, start, count);
      const Tensor<int64_t> ps = token_slice(positions, start, count);
      const Outputs a = run_step(*absorb, *absorb_cache, c, xs, ps);
      const Outputs n = run_step(*naive, *naive_cache, c, xs, ps);
      CHECK_AGREES(compare(a.out, n.out), "absorb vs naive out");
      CHECK_AGREES(compare(a.lse, n.lse), "absorb vs naive lse");
    }
  }
}

TEST_CASE("cpu plain GLA and GTA: token-by-token decode equals prefill", "[cpu][gla][gta]") {
  std::vector<LayerConfig> configs = gla_shapes();
  for (const LayerConfig& c : gta_shapes()) configs.push_back(c);
  uint64_t seed = 110;
  for (const LayerConfig& c : configs) {
    const Weights w = random_weights(c, ++seed);
    const Tensor<double> x = activations(c, 2, 8, seed + 100);
    const Tensor<int64_t> positions = sequential_positions(2, 8, 1);
    for (ImplForm form : impl_forms_for(c)) {
      INFO(c.name << " " << to_string(form));
      const Outputs whole = prefill(c, w, form, x, positions);
      const Outputs stepped = decode(c, w, form, x, positions);
      CHECK_AGREES(compare(stepped.out, whole.out), "decode vs prefill out");
      CHECK_AGREES(compare(stepped.lse, whole.lse), "decode vs prefill lse");
    }
  }
}

TEST_CASE("cpu plain GLA and GTA: allocated cache bytes are cache_layout's", "[cpu][gla][gta]") {
  // Spot values per token: tiny-gla absorb 2 latents x 12 + 2 rope copies x 4 = 32, naive
  // 4 heads x (12 + 6) = 72; tiny-gta 2 tied x 8 + one rope key of 4 = 20; tiny-gla4 absorb
  // 4 x 8 + 4 x 4 = 48.
  const std::vector<std::tuple<std::string, ImplForm, int64_t>> spots = {
      {"tiny-gla", ImplForm::absorb, 32},
      {"tiny-gla", ImplForm::naive, 72},
      {"tiny-gta", ImplForm::standard, 20},
      {"tiny-gla4", ImplForm::absorb, 48}};
  for (const auto& [name, form, elements] : spots) {
    INFO(name << " " << to_string(form));
    const LayerConfig c = load_preset(name);
    CHECK(kv_elements_per_token_layer(c, form) == elements);
    const auto attention = cpu::make_plain_attention(c, random_weights(c, 1), form);
    CHECK(attention->make_cache(3, 5)->bytes_allocated() ==
          static_cast<size_t>(elements * 3 * 5 * 4));
  }
}

TEST_CASE("cpu plain GLA and GTA: a wrong form names the user's kind and form",
          "[cpu][gla][gta][errors]") {
  const LayerConfig gta_config = load_preset("tiny-gta"), gla_config = load_preset("tiny-gla");
  const Weights gta_w = random_weights(gta_config, 2), gla_w = random_weights(gla_config, 2);
  for (ImplForm form : {ImplForm::naive, ImplForm::absorb})
    REQUIRE_THROWS_WITH(
        cpu::make_plain_attention(gta_config, gta_w, form),
        std::string("impl '") + to_string(form) + "' does not apply to gta layer 'tiny-gta'");
  REQUIRE_THROWS_WITH(cpu::make_plain_attention(gla_config, gla_w, ImplForm::standard),
                      "impl 'standard' does not apply to gla layer 'tiny-gla'");
  Weights missing = gla_w;
  missing.tensors.erase("W_ukv_2.bias");
  REQUIRE_THROWS_AS(cpu::make_plain_attention(gla_config, missing, ImplForm::absorb), Error);
}

TEST_CASE("cpu plain: latent_group_swapped breaks GLA and GTA and leaves MLA alone",
          "[cpu][gla][gta][faults]") {
  const Tensor<int64_t> positions = sequential_positions(2, 7, 4);
  SECTION("GLA: no longer the sum of its groups") {
    for (const LayerConfig& c : gla_shapes()) {
      const Weights w = random_weights(c, 7);
      const Tensor<double> x = activations(c, 2, 7, 8);
      for (ImplForm form : {ImplForm::naive, ImplForm::absorb}) {
        INFO(c.name << " " << to_string(form));
        const Outputs got = prefill(c, w, form, x, positions, Fault::latent_group_swapped);
        const Expected expected = sum_of_group_mlas(c, w, form, x, positions);
        const test::Comparison out = compare(got.out, expected.out);
        INFO("NMSE " << out.nmse);
        CHECK(out.nmse > kBrokenNmse);
      }
    }
  }
  SECTION("GTA: no longer its equations") {
    for (const LayerConfig& c : gta_shapes()) {
      if (c.n_kv_heads == 1) continue;  // one tied head: nothing to swap
      INFO(c.name);
      const Weights w = random_weights(c, 7);
      const Tensor<double> x = activations(c, 2, 7, 8);
      const Outputs got =
          prefill(c, w, ImplForm::standard, x, positions, Fault::latent_group_swapped);
      const test::Comparison out = compare(got.out, gta_by_the_equations(c, w, x, positions).out);
      INFO("NMSE " << out.nmse);
      CHECK(out.nmse > kBrokenNmse);
    }
  }
  SECTION("MLA (one latent head): unchanged") {
    for (const char* name : {"tiny-mla", "tiny-mla-lite"}) {
      const LayerConfig c = load_preset(name);
      const Weights w = random_weights(c, 7);
      const Tensor<double> x = activations(c, 2, 7, 8);
      for (ImplForm form : {ImplForm::naive, ImplForm::absorb}) {
        INFO(name << " " << to_string(form));
        CHECK(prefill(c, w, form, x, positions, Fault::latent_group_swapped).out ==
              prefill(c, w, form, x, positions).out);
      }
    }
  }
}
