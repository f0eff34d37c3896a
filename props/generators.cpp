// Generators, drivers, assertions and the property runner of the props suite; see generators.h.
#include "props/generators.h"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "reference/reference_attention.h"
#include "verify/conformance.h"
#include "verify/tolerance.h"

namespace attnlab {

void showValue(const LayerConfig& config, std::ostream& os) {
  nlohmann::json j = layer_config_to_json(config);
  j.erase("name");
  j.erase("n_layers");
  if (!config.has_latent() && !config.qk_norm) j.erase("rms_norm_eps");
  os << j.dump();
}

}  // namespace attnlab

namespace attnlab::props {

namespace gen = rc::gen;

namespace {

// Conditioning limits, found by the properties themselves (prop_regressions.cpp). The fp32
// comparisons use the gate's policy (verify's judge: NMSE relative, no absolute floor), so a layer
// whose whole output hangs on one or two scalars that can cancel to ~1e-3 of their size (one kv
// head of width 1, a rank-1 latent, H * d_v == 1) fails NMSE on rounding alone; and RMSNorm of a
// 1-element latent is x / sqrt(x^2 + eps), a smoothed sign(x) that amplifies fp32 rounding ~1e3x
// near |x| ~ sqrt(eps). At least 4 such scalars (n_kv * head_dim, kv_lora_rank, normalised
// q_lora_rank, n_heads * v_head_dim) make either event improbable (~1e-9 per case).
constexpr int64_t kMinValueScalars = 4;

// Query heads: awkward values (1, odd, 12) as often as a uniform draw from 1..12.
rc::Gen<int64_t> gen_heads() {
  return gen::oneOf(gen::element<int64_t>(1, 3, 5, 7, 12), gen::inRange<int64_t>(1, 13));
}

// log-uniform in [10, 1e6]; shrinks toward 10.
rc::Gen<double> gen_theta() {
  return gen::map(gen::inRange(0, 1001),
                  [](int u) { return 10.0 * std::pow(1e5, static_cast<double>(u) / 1000.0); });
}

// The parts every kind shares: hidden size, RoPE layout and theta, softmax scale.
void draw_common(const ConfigOptions& options, LayerConfig& c) {
  // At least 4: the gate's NMSE bound is relative with no absolute floor, so an output of one
  // element that cancels to ~1e-4 fails the fp32 NMSE bound on rounding alone (regression case
  // "fp32 NMSE of a one-element output" in prop_regressions.cpp). Over >= 4 elements per token
  // such a cancellation is too improbable to matter.
  c.hidden_size = *gen::inRange<int64_t>(4, 49);
  c.rope_layout = *gen::elementOf(options.rope_layouts);
  c.rope_theta = *gen_theta();
  if (options.random_softmax_scale && *gen::weightedElement<bool>({{5, false}, {1, true}}))
    c.softmax_scale = *gen::inRange(5, 101) / 100.0;
}

void draw_biases(const ConfigOptions& options, LayerConfig& c) {
  c.biases.clear();
  for (const std::string& projection : projection_names(c)) {
    if (options.required_biases.count(projection) ||
        (options.random_biases && *gen::arbitrary<bool>()))
      c.biases.insert(projection);
  }
}

// MHA, GQA or MQA: the kinds with partial rotary, sinks and QK-norm.
bool standard_kind(const LayerConfig& c) {
  return !c.has_latent() && !c.is_gta();
}

// The model features of ConfigOptions::model_features; call after the shape is drawn.
void draw_model_features(LayerConfig& c) {
  if (c.rope_layout != RopeLayout::none && c.rope_dim() > 0) {
    RopeScaling& r = c.rope_scaling;
    r.type = *gen::element(RopeScalingType::none, RopeScalingType::linear, RopeScalingType::yarn,
                           RopeScalingType::llama3);
    r.factor = *gen::element(1.0, 2.0, 8.0, 40.0);
    r.original_max_position_embeddings = *gen::inRange<int64_t>(4, 65);
    r.truncate = *gen::arbitrary<bool>();
    if (r.type == RopeScalingType::yarn && *gen::arbitrary<bool>()) {
      r.mscale = *gen::element(0.707, 1.0);
      r.mscale_all_dim = *gen::element(0.0, 0.707, 1.0);
    }
    if (standard_kind(c)) {
      // Keep the rotary width even and >= 2: head_dim * factor truncated.
      const double factor = *gen::element(1.0, 0.5, 0.25);
      const int64_t width = static_cast<int64_t>(static_cast<double>(c.head_dim) * factor);
      if (width >= 2 && width % 2 == 0) c.partial_rotary_factor = factor;
    }
  }
  if (*gen::arbitrary<bool>()) c.sliding_window = *gen::inRange<int64_t>(1, 9);
  if (standard_kind(c)) {
    c.attention_sinks = *gen::arbitrary<bool>();
    c.qk_norm = c.head_dim >= kMinValueScalars && *gen::arbitrary<bool>();
    if (c.qk_norm) c.qk_norm_weight_offset = *gen::element(0.0, 1.0);
  }
}

}  // namespace

rc::Gen<LayerConfig> gen_standard_config(const ConfigOptions& options) {
  return gen::exec([options] {
    LayerConfig c;
    c.name = "prop";
    c.attention = *gen::elementOf(options.kinds);
    switch (c.attention) {
      case AttentionKind::mha:
        c.n_heads = c.n_kv_heads = *gen_heads();
        break;
      case AttentionKind::mqa:
        c.n_heads = *gen_heads();
        c.n_kv_heads = 1;
        break;
      default:
        if (*gen::weightedElement<bool>({{2, false}, {1, true}})) {
          // The awkward group ratios of real models, scaled down.
          using Shape2 = std::pair<int64_t, int64_t>;
          const auto [heads, kv] = *gen::element(Shape2{12, 1}, Shape2{8, 2}, Shape2{12, 4},
                                                 Shape2{9, 3}, Shape2{12, 6}, Shape2{6, 6});
          c.n_heads = heads;
          c.n_kv_heads = kv;
        } else {
          c.n_kv_heads = *gen::inRange<int64_t>(1, 7);
          c.n_heads = c.n_kv_heads * *gen::inRange<int64_t>(1, 12 / c.n_kv_heads + 1);
        }
        break;
    }
    draw_common(options, c);
    // n_kv * head_dim >= 4: see kMinValueScalars.
    const int64_t min_d = (kMinValueScalars + c.n_kv_heads - 1) / c.n_kv_heads;
    c.head_dim = c.rope_layout == RopeLayout::none ? *gen::inRange<int64_t>(min_d, 17)
                                                   : 2 * *gen::inRange<int64_t>((min_d + 1) / 2, 9);
    draw_biases(options, c);
    if (options.model_features) draw_model_features(c);
    validate_layer_config(c, "generated config");
    return c;
  });
}

rc::Gen<LayerConfig> gen_mla_config(const ConfigOptions& options) {
  return gen::exec([options] {
    LayerConfig c;
    c.name = "prop";
    c.attention = AttentionKind::mla;
    c.n_heads = *gen_heads();
    draw_common(options, c);
    // Latent ranks >= 4 where RMSNorm applies, kv latent always, n_heads * v_head_dim >= 4: see
    // kMinValueScalars.
    c.latent_norms = options.latent_norms ? *options.latent_norms : *gen::arbitrary<bool>();
    const bool q_lora = options.q_lora ? *options.q_lora : *gen::arbitrary<bool>();
    c.q_lora_rank = q_lora ? *gen::inRange<int64_t>(c.latent_norms ? kMinValueScalars : 1, 17) : 0;
    c.kv_lora_rank = *gen::inRange<int64_t>(kMinValueScalars, 17);
    const int64_t min_v = (kMinValueScalars + c.n_heads - 1) / c.n_heads;
    c.qk_nope_head_dim = *gen::inRange<int64_t>(options.nope_equals_v ? min_v : 1, 17);
    c.v_head_dim = options.nope_equals_v ? c.qk_nope_head_dim : *gen::inRange<int64_t>(min_v, 17);
    const bool rope_zero = options.rope_dim_zero
                               ? *options.rope_dim_zero
                               : *gen::weightedElement<bool>({{3, false}, {1, true}});
    if (rope_zero)
      c.qk_rope_head_dim = 0;
    else
      c.qk_rope_head_dim = c.rope_layout == RopeLayout::none ? *gen::inRange<int64_t>(1, 17)
                                                             : 2 * *gen::inRange<int64_t>(1, 9);
    draw_biases(options, c);
    if (options.model_features) draw_model_features(c);
    validate_layer_config(c, "generated config");
    return c;
  });
}

rc::Gen<LayerConfig> gen_gta_config(const ConfigOptions& options) {
  return gen::exec([options] {
    ConfigOptions gqa = options;
    gqa.kinds = {AttentionKind::gqa};
    gqa.random_biases = false;
    gqa.required_biases.clear();
    gqa.model_features = false;
    LayerConfig c = *gen_standard_config(gqa);
    c.attention = AttentionKind::gta;
    // The key is [tied[0, d - r) | k_rope]: both parts non-empty, so head_dim >= 2 (>= 3 roped).
    const bool roped = c.rope_layout != RopeLayout::none;
    c.head_dim = std::max<int64_t>(c.head_dim, roped ? 3 : 2);
    c.qk_rope_head_dim = roped ? 2 * *gen::inRange<int64_t>(1, (c.head_dim - 1) / 2 + 1)
                               : *gen::inRange<int64_t>(1, c.head_dim);
    draw_biases(options, c);
    if (options.model_features) draw_model_features(c);
    validate_layer_config(c, "generated config");
    return c;
  });
}

rc::Gen<LayerConfig> gen_gla_config(const ConfigOptions& options) {
  return gen::exec([options] {
    ConfigOptions mla = options;
    mla.q_lora = true;
    mla.random_biases = false;
    mla.required_biases.clear();
    mla.model_features = false;
    LayerConfig c = *gen_mla_config(mla);
    c.attention = AttentionKind::gla;
    c.n_latent_heads = options.latent_heads.empty()
                           ? *gen::weightedElement<int64_t>({{3, 1}, {1, 2}, {1, 3}, {1, 4}})
                           : *gen::elementOf(options.latent_heads);
    // n_heads a multiple of h_c: 1..3 query heads per latent head (12 heads at most).
    c.n_heads = c.n_latent_heads * *gen::inRange<int64_t>(1, 12 / c.n_latent_heads / 2 + 2);
    const int64_t min_v = (kMinValueScalars + c.n_heads - 1) / c.n_heads;
    c.v_head_dim = std::max(c.v_head_dim, min_v);
    draw_biases(options, c);
    if (options.model_features) draw_model_features(c);
    validate_layer_config(c, "generated config");
    return c;
  });
}

rc::Gen<LayerConfig> gen_any_config(const ConfigOptions& options) {
  return gen::oneOf(gen_standard_config(options), gen_mla_config(options));
}

void showValue(const Case& c, std::ostream& os) {
  os << "batch " << c.batch << ", context " << c.context << ", seq " << c.seq << ", weight_seed "
     << c.weight_seed << ", input_seed " << c.input_seed;
  if (c.input_scale != 1) os << ", input_scale " << c.input_scale;
  os << ", positions [";
  for (int64_t b = 0; b < c.batch; ++b) {
    os << (b ? "], [" : "[");
    for (int64_t t = 0; t < c.tokens(); ++t)
      os << (t ? ", " : "") << c.positions[b * c.tokens() + t];
  }
  os << "]]";
}

rc::Gen<Case> gen_case(const CaseOptions& options) {
  return gen::exec([options] {
    Case c;
    c.batch = *gen::inRange<int64_t>(1, options.max_batch + 1);
    c.context = *gen::inRange<int64_t>(options.min_context, options.max_context + 1);
    c.seq = *gen::inRange<int64_t>(std::max<int64_t>(1, options.min_tokens - c.context),
                                   options.max_seq + 1);
    for (int64_t b = 0; b < c.batch; ++b) {
      int64_t p = *gen::inRange<int64_t>(options.min_offset, options.max_offset + 1);
      const auto gaps =
          *gen::container<std::vector<int64_t>>(c.tokens(), gen::inRange<int64_t>(1, 20));
      for (int64_t t = 0; t < c.tokens(); ++t) {
        c.positions.push_back(p);
        p += gaps[t];
      }
    }
    c.weight_seed = *gen::inRange<uint64_t>(0, uint64_t{1} << 40);
    c.input_seed = *gen::inRange<uint64_t>(0, uint64_t{1} << 40);
    c.input_scale = *gen::elementOf(options.input_scales);
    return c;
  });
}

rc::Gen<std::vector<int64_t>> gen_chunks(int64_t tokens) {
  return gen::map(
      gen::container<std::vector<bool>>(static_cast<size_t>(tokens - 1), gen::arbitrary<bool>()),
      [](const std::vector<bool>& split_after) {
        std::vector<int64_t> chunks{1};
        for (bool split : split_after) {
          if (split)
            chunks.push_back(1);
          else
            ++chunks.back();
        }
        return chunks;
      });
}

Layer make_layer(const LayerConfig& config, const Case& c) {
  return {config, random_weights(config, c.weight_seed)};
}

Tensor<double> case_inputs(const Case& c, const LayerConfig& config) {
  Tensor<double> x = random_activations(c.batch, c.tokens(), config.hidden_size, c.input_seed);
  for (double& v : x.data) v *= c.input_scale;
  return x;
}

Tensor<int64_t> case_positions(const Case& c) {
  return Tensor<int64_t>({c.batch, c.tokens()}, c.positions);
}

std::vector<int64_t> one_chunk(int64_t tokens) {
  return {tokens};
}

std::vector<int64_t> decode_chunks(int64_t tokens) {
  return std::vector<int64_t>(tokens, 1);
}

std::vector<int64_t> context_then_query(const Case& c) {
  if (c.context == 0) return {c.seq};
  return {c.context, c.seq};
}

RunOutput run_reference(const LayerConfig& config, const Weights& weights, ImplForm form,
                        const Tensor<double>& x, const Tensor<int64_t>& positions,
                        const std::vector<int64_t>& chunks) {
  return run_reference_through(config, weights, form, x, positions, chunks);
}

RunOutput run_attention(const Attention& attention, const LayerConfig& config,
                        const Tensor<double>& x, const Tensor<int64_t>& positions,
                        const std::vector<int64_t>& chunks) {
  return run_through(attention, config, x, positions, chunks);
}

CpuUnderTest plain_cpu(cpu::Fault fault) {
  CpuUnderTest cpu;
  cpu.name = "cpu-plain/fp32";
  if (fault != cpu::Fault::none) cpu.name += std::string(" with fault ") + cpu::to_string(fault);
  cpu.dtype = DType::fp32;
  cpu.row_exact = true;
  cpu.make = [fault](const LayerConfig& config, const Weights& weights, ImplForm form) {
    return cpu::make_plain_attention(config, weights, form, fault);
  };
  return cpu;
}

std::vector<CpuUnderTest> registered_cpus() {
  std::vector<CpuUnderTest> cpus;
  for (const Implementation& impl : implementations()) {
    if (impl.backend == "reference" || !impl.make_attention) continue;
    const std::string name = impl.backend + "/" + to_string(impl.dtype);
    bool known = false;
    for (const CpuUnderTest& cpu : cpus) known = known || cpu.name == name;
    if (known) continue;
    CpuUnderTest cpu;
    cpu.name = name;
    cpu.dtype = impl.dtype;
    cpu.row_exact = impl.backend == "cpu-plain";
    cpu.make = [backend = impl.backend, dtype = impl.dtype](const LayerConfig& config,
                                                            const Weights& weights, ImplForm form) {
      return find_implementation(backend, form, dtype).make_attention(config, weights);
    };
    cpus.push_back(std::move(cpu));
  }
  return cpus;
}

RunOutput run_cpu(const CpuUnderTest& cpu, const Layer& layer, ImplForm form,
                  const Tensor<double>& x, const Tensor<int64_t>& positions,
                  const std::vector<int64_t>& chunks) {
  const std::unique_ptr<Attention> attention = cpu.make(layer.config, layer.weights, form);
  return run_attention(*attention, layer.config, x, positions, chunks);
}

void assert_conforms(const char* what, const RunOutput& actual, const RunOutput& expected,
                     DType dtype) {
  RC_ASSERT(actual.out.shape == expected.out.shape);
  RC_ASSERT(actual.lse.shape == expected.lse.shape);
  CaseResult r;
  judge(actual, expected, tolerance_for(dtype), r);
  if (r.status != CaseStatus::pass) {
    std::ostringstream os;
    os << what << " (" << to_string(dtype) << " tolerance): " << r.detail << "; max abs error "
       << r.max_abs_error << ", NMSE " << r.nmse << ", LSE max abs error " << r.lse_max_abs_error;
    RC_FAIL(os.str());
  }
}

namespace {

// max |a - e| / max(1, max |e|); infinite when a value of `actual` is not finite.
double scaled_error(const Tensor<double>& actual, const Tensor<double>& expected) {
  double worst = 0, largest = 1;
  for (int64_t i = 0; i < expected.numel(); ++i) {
    if (!std::isfinite(actual.data[i])) return INFINITY;
    worst = std::max(worst, std::abs(actual.data[i] - expected.data[i]));
    largest = std::max(largest, std::abs(expected.data[i]));
  }
  return worst / largest;
}

}  // namespace

void assert_close(const char* what, const RunOutput& actual, const RunOutput& expected,
                  double bound) {
  RC_ASSERT(actual.out.shape == expected.out.shape);
  const double out_error = scaled_error(actual.out, expected.out);
  if (!(out_error <= bound))
    RC_FAIL(std::string(what) + ": output error " + std::to_string(out_error) + " (scaled) > " +
            std::to_string(bound));
  if (actual.lse.numel() == 0 || expected.lse.numel() == 0) return;
  RC_ASSERT(actual.lse.shape == expected.lse.shape);
  const double lse_error = scaled_error(actual.lse, expected.lse);
  if (!(lse_error <= bound))
    RC_FAIL(std::string(what) + ": LSE error " + std::to_string(lse_error) + " (scaled) > " +
            std::to_string(bound));
}

void assert_identical(const char* what, const RunOutput& actual, const RunOutput& expected) {
  RC_ASSERT(actual.out.shape == expected.out.shape);
  for (int64_t i = 0; i < expected.out.numel(); ++i)
    if (!(actual.out.data[i] == expected.out.data[i]))
      RC_FAIL(std::string(what) + ": output element " + std::to_string(i) + " differs: " +
              std::to_string(actual.out.data[i]) + " vs " + std::to_string(expected.out.data[i]));
  for (int64_t i = 0; i < expected.lse.numel(); ++i)
    if (!(actual.lse.data[i] == expected.lse.data[i]))
      RC_FAIL(std::string(what) + ": LSE element " + std::to_string(i) + " differs");
}

Tensor<double> first_tokens(const Tensor<double>& t, int64_t count) {
  return token_slice(t, 0, count);
}

RunOutput first_tokens(const RunOutput& r, int64_t count) {
  return token_slice(r, 0, count);
}

template <class T>
Tensor<T> one_sequence(const Tensor<T>& t, int64_t b) {
  return sequence_slice(t, b, 1);
}
template Tensor<double> one_sequence(const Tensor<double>&, int64_t);
template Tensor<int64_t> one_sequence(const Tensor<int64_t>&, int64_t);

namespace {

// Reports nothing while the property runs; the result is printed once at the end.
class QuietListener final : public rc::detail::TestListener {
 public:
  void onTestCaseFinished(const rc::detail::CaseDescription&) override {}
  void onShrinkTried(const rc::detail::CaseDescription&, bool) override {}
  void onTestFinished(const rc::detail::TestMetadata&, const rc::detail::TestResult&) override {}
};

}  // namespace

namespace {

bool run_checked(const std::string& description, const rc::detail::TestParams& params,
                 const std::function<void()>& property,
                 const std::unordered_map<std::string, rc::detail::Reproduce>& reproduce) {
  using namespace rc::detail;
  TestMetadata metadata;
  metadata.id = description;
  metadata.description = description;
  QuietListener listener;
  const TestResult result =
      checkProperty(toProperty(property), metadata, params, listener, reproduce);
  if (result.template is<SuccessResult>()) return true;
  std::cerr << "\n- " << description << "\n";
  printResultMessage(result, std::cerr);
  std::cerr << std::endl;
  return false;
}

}  // namespace

bool check_property(const std::string& description, int cases,
                    const std::function<void()>& property) {
  const rc::detail::Configuration& config = rc::detail::configuration();
  rc::detail::TestParams params = config.testParams;
  // RC_PARAMS max_success (default 100) scales every property's own count.
  params.maxSuccess = std::max(1, cases * config.testParams.maxSuccess / 100);
  return run_checked(description, params, property, config.reproduce);
}

bool check_example(const std::string& description, const std::function<void()>& example) {
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  params.maxSuccess = 1;
  params.disableShrinking = true;
  return run_checked(description, params, example, {});
}

bool check_for_each_cpu(const std::string& description, int cases,
                        const std::function<void(const CpuUnderTest&)>& property) {
  bool all_hold = true;
  for (const CpuUnderTest& cpu : registered_cpus())
    all_hold = check_property(description + " [" + cpu.name + "]", cases,
                              [&property, &cpu] { property(cpu); }) &&
               all_hold;
  return all_hold;
}

}  // namespace attnlab::props
