// The model-feature property bodies; see feature_properties.h.
#include "props/feature_properties.h"

#include <cmath>
#include <string>

#include "registry/driver.h"

namespace attnlab::props {

namespace {

void assert_same(const char* what, const RunOutput& actual, const RunOutput& expected,
                 const CpuUnderTest* cpu) {
  if (cpu == nullptr || cpu->row_exact)
    assert_identical(what, actual, expected);
  else
    assert_conforms(what, actual, expected, cpu->dtype);
}

}  // namespace

// ---- 11 ---------------------------------------------------------------------------------------

void window_hides_old_tokens(const LayerConfig& config, const Case& c, int64_t j, int64_t b,
                             const CpuUnderTest& cpu) {
  const int64_t window = config.window().value();
  const int64_t first_unseen = j + window;  // the first token whose window excludes j
  if (first_unseen >= c.tokens()) return;
  const Layer layer = make_layer(config, c);
  const Tensor<double> x = case_inputs(c, config);
  const Tensor<int64_t> positions = case_positions(c);
  Tensor<double> changed = x;
  const int64_t hidden = config.hidden_size;
  for (int64_t i = 0; i < hidden; ++i)
    changed.data[(b * c.tokens() + j) * hidden + i] += 3.0 + 0.5 * static_cast<double>(i % 5);
  const int64_t later = c.tokens() - first_unseen;
  for (const std::vector<int64_t>& chunks : {one_chunk(c.tokens()), context_then_query(c)})
    for (ImplForm form : impl_forms_for(config)) {
      assert_same(
          "reference, outputs whose window excludes the changed token",
          token_slice(run_reference(config, layer.weights, form, changed, positions, chunks),
                      first_unseen, later),
          token_slice(run_reference(config, layer.weights, form, x, positions, chunks),
                      first_unseen, later),
          nullptr);
      assert_same(
          "cpu, outputs whose window excludes the changed token",
          token_slice(run_cpu(cpu, layer, form, changed, positions, chunks), first_unseen, later),
          token_slice(run_cpu(cpu, layer, form, x, positions, chunks), first_unseen, later), &cpu);
    }
}

// ---- 12 ---------------------------------------------------------------------------------------

void sink_is_a_zero_value_key(const LayerConfig& generated, const Case& c,
                              const CpuUnderTest& cpu) {
  // o_proj the identity: the layer's output is the concatenated head outputs.
  LayerConfig config = generated;
  config.hidden_size = config.n_heads * config.head_dim;
  config.biases.erase("o_proj");
  validate_layer_config(config, "sink property");
  Layer with = make_layer(config, c);
  Tensor<double> identity({config.hidden_size, config.hidden_size});
  for (int64_t i = 0; i < config.hidden_size; ++i) identity.data[i * config.hidden_size + i] = 1;
  with.weights.tensors["o_proj.weight"] = identity;
  Layer without = with;
  without.config.attention_sinks = false;
  without.weights.tensors.erase("sinks");
  const std::vector<double>& sinks = with.weights.get("sinks").data;

  const Tensor<double> x = case_inputs(c, config);
  const Tensor<int64_t> positions = case_positions(c);
  const int64_t heads = config.n_heads, d = config.head_dim;
  // The sink-free run with one more zero-value key of logit sinks[h] in every softmax.
  const auto with_sink_key = [&](RunOutput r) {
    for (int64_t row = 0; row < c.batch * c.tokens(); ++row)
      for (int64_t h = 0; h < heads; ++h) {
        double& lse = r.lse.data[row * heads + h];
        const double joined =
            std::max(lse, sinks[h]) + std::log1p(std::exp(-std::abs(lse - sinks[h])));
        const double keep = std::exp(lse - joined);
        for (int64_t i = 0; i < d; ++i) r.out.data[(row * heads + h) * d + i] *= keep;
        lse = joined;
      }
    return r;
  };
  const std::vector<int64_t> chunks = context_then_query(c);
  const ImplForm form = ImplForm::standard;
  assert_conforms(
      "reference with sinks vs its sink-free run plus a zero-value key",
      run_reference(config, with.weights, form, x, positions, chunks),
      with_sink_key(run_reference(without.config, without.weights, form, x, positions, chunks)),
      DType::fp64);
  assert_conforms("cpu with sinks vs its sink-free run plus a zero-value key",
                  run_cpu(cpu, with, form, x, positions, chunks),
                  with_sink_key(run_cpu(cpu, without, form, x, positions, chunks)), cpu.dtype);
}

// ---- 13 ---------------------------------------------------------------------------------------

void qk_norm_removes_row_scales(const LayerConfig& generated, const Case& c, uint64_t factor_seed,
                                const CpuUnderTest& cpu) {
  LayerConfig config = generated;
  config.rms_norm_eps = 1e-30;  // far below any mean square here: the norm is scale-free
  const Layer layer = make_layer(config, c);
  Layer scaled = layer;
  NormalSampler sampler(factor_seed);
  const int64_t d = config.head_dim;
  for (const auto& [projection, heads] :
       {std::pair{"q_proj", config.n_heads}, std::pair{"k_proj", config.n_kv_heads}}) {
    Tensor<double>& w = scaled.weights.tensors.at(std::string(projection) + ".weight");
    Tensor<double>* bias = config.has_bias(projection)
                               ? &scaled.weights.tensors.at(std::string(projection) + ".bias")
                               : nullptr;
    const int64_t in = w.dim(1);
    for (int64_t h = 0; h < heads; ++h) {
      const double factor = std::exp(sampler.next(1.0));  // log-normal: ~0.1 .. 10
      for (int64_t row = h * d; row < (h + 1) * d; ++row) {
        for (int64_t col = 0; col < in; ++col) w.data[row * in + col] *= factor;
        if (bias) bias->data[row] *= factor;
      }
    }
  }
  const Tensor<double> x = case_inputs(c, config);
  const Tensor<int64_t> positions = case_positions(c);
  const std::vector<int64_t> chunks = context_then_query(c);
  const ImplForm form = ImplForm::standard;
  assert_conforms("reference, q/k rows scaled per head",
                  run_reference(config, scaled.weights, form, x, positions, chunks),
                  run_reference(config, layer.weights, form, x, positions, chunks), DType::fp64);
  assert_conforms("cpu, q/k rows scaled per head", run_cpu(cpu, scaled, form, x, positions, chunks),
                  run_cpu(cpu, layer, form, x, positions, chunks), cpu.dtype);
}

}  // namespace attnlab::props
