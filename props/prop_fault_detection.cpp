// The properties bite: each TEST_CASE runs a property body of props/properties.h against the
// plain CPU backend built with one deliberate cpu::Fault (kernels/cpu/cpu_plain_attention.h) and
// requires rapidcheck to find (and shrink) a counterexample. The shrunk counterexample is printed
// to stderr. Generators are aimed where the fault can show (e.g. RoPE faults need a rotated
// dimension), so each search ends within a few cases.
#include <catch2/catch.hpp>

#include "props/feature_properties.h"
#include "props/generators.h"
#include "props/properties.h"

using namespace attnlab;
using namespace attnlab::props;
using cpu::Fault;
namespace gen = rc::gen;

namespace {

constexpr int kCases = 200;  // the search stops at the first counterexample

ConfigOptions roped() {
  ConfigOptions options;
  options.rope_layouts = {RopeLayout::interleaved, RopeLayout::half_split};
  options.rope_dim_zero = false;
  return options;
}

std::vector<Implementation> faulty_implementations(Fault fault) {
  // The registry's faulty entries (the ones `attnlab verify --inject-fault` runs).
  std::vector<Implementation> impls;
  for (ImplForm form : {ImplForm::standard, ImplForm::naive, ImplForm::absorb})
    impls.push_back(faulty_cpu_implementation(form, cpu::to_string(fault)));
  return impls;
}

// The conformance property (10) over the faulty CPU backend instead of the registry.
bool conformance_holds(Fault fault, const ConfigOptions& options) {
  return check_property(std::string("conformance, cpu with fault ") + cpu::to_string(fault), kCases,
                        [fault, options] {
                          const LayerConfig config = *gen_any_config(options);
                          const Case c = *gen_case();
                          conformance(faulty_implementations(fault), config, c);
                        });
}

}  // namespace

TEST_CASE("cache_offset_ignored breaks decode == prefill", "[props][faults]") {
  CHECK_FALSE(check_property("decode == prefill, cpu with fault cache_offset_ignored", kCases, [] {
    const LayerConfig config = *gen_any_config();
    const Case c = *gen_case();
    decode_equals_prefill(config, c, plain_cpu(Fault::cache_offset_ignored));
  }));
}

TEST_CASE("value_bias_unfolded breaks MLA absorb == naive", "[props][faults]") {
  ConfigOptions options;
  options.required_biases = {"kv_b_proj"};
  CHECK_FALSE(
      check_property("absorb == naive, cpu with fault value_bias_unfolded", kCases, [options] {
        const LayerConfig config = *gen_mla_config(options);
        const Case c = *gen_case();
        absorb_equals_naive_cpu(config, c, plain_cpu(Fault::value_bias_unfolded));
      }));
}

TEST_CASE("causal_off_by_one breaks causality and conformance", "[props][faults]") {
  CaseOptions two_tokens;
  two_tokens.min_tokens = 2;
  CHECK_FALSE(check_property("causality, cpu with fault causal_off_by_one", kCases, [two_tokens] {
    const LayerConfig config = *gen_any_config();
    const Case c = *gen_case(two_tokens);
    const int64_t j = *gen::inRange<int64_t>(1, c.tokens());
    const int64_t b = *gen::inRange<int64_t>(0, c.batch);
    causality(config, c, j, b, plain_cpu(Fault::causal_off_by_one));
  }));
  CHECK_FALSE(conformance_holds(Fault::causal_off_by_one, {}));
}

TEST_CASE("rope_query_only breaks RoPE shift invariance", "[props][faults]") {
  CHECK_FALSE(check_property("position shift, cpu with fault rope_query_only", kCases, [] {
    const LayerConfig config = *gen_any_config(roped());
    const Case c = *gen_case();
    rope_shift_invariance_cpu(config, c, *gen::inRange<int64_t>(1, 10001),
                              plain_cpu(Fault::rope_query_only));
  }));
}

TEST_CASE("rope_pairs breaks conformance", "[props][faults]") {
  CHECK_FALSE(conformance_holds(Fault::rope_pairs, roped()));
}

TEST_CASE("softmax_scale breaks conformance", "[props][faults]") {
  CHECK_FALSE(conformance_holds(Fault::softmax_scale, {}));
}

TEST_CASE("heads_permuted breaks conformance", "[props][faults]") {
  CHECK_FALSE(conformance_holds(Fault::heads_permuted, {}));
}

// ---- the model features (props/feature_properties.h) -------------------------------------------

TEST_CASE("window_ignored breaks the window law", "[props][faults][features]") {
  CaseOptions long_enough;
  long_enough.min_tokens = 3;
  CHECK_FALSE(check_property(
      "window hides old tokens, cpu with fault window_ignored", kCases, [long_enough] {
        ConfigOptions options;
        options.model_features = true;
        LayerConfig config = *gen_any_config(options);
        if (!config.sliding_window) config.sliding_window = *gen::inRange<int64_t>(1, 9);
        const Case c = *gen_case(long_enough);
        window_hides_old_tokens(config, c, *gen::inRange<int64_t>(0, c.tokens() - 1),
                                *gen::inRange<int64_t>(0, c.batch),
                                plain_cpu(Fault::window_ignored));
      }));
}

TEST_CASE("sink_ignored breaks the sink law", "[props][faults][features]") {
  CHECK_FALSE(check_property("sink == zero-value key, cpu with fault sink_ignored", kCases, [] {
    ConfigOptions options;
    options.model_features = true;
    LayerConfig config = *gen_standard_config(options);
    config.attention_sinks = true;
    sink_is_a_zero_value_key(config, *gen_case(), plain_cpu(Fault::sink_ignored));
  }));
}

TEST_CASE("qk_norm_skipped breaks QK-norm's scale invariance", "[props][faults][features]") {
  CHECK_FALSE(check_property("q/k row scales, cpu with fault qk_norm_skipped", kCases, [] {
    ConfigOptions options;
    options.model_features = true;
    LayerConfig config = *gen::suchThat(gen_standard_config(options),
                                        [](const LayerConfig& g) { return g.head_dim >= 4; });
    config.qk_norm = true;
    qk_norm_removes_row_scales(config, *gen_case(), *gen::arbitrary<uint64_t>(),
                               plain_cpu(Fault::qk_norm_skipped));
  }));
}
