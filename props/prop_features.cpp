// Properties of the model features (docs/CONFIG.md): RoPE scaling, partial rotary, sliding
// windows, sinks and QK-norm. The older properties (decode == prefill, chunking, causality,
// batch independence, position-shift invariance, conformance to the reference) run again on
// layers that carry random features (ConfigOptions::model_features), and each feature has its
// own law (props/feature_properties.h). prop_fault_detection.cpp shows each law catching a
// backend that ignores its feature.
#include <catch2/catch.hpp>

#include "props/feature_properties.h"
#include "props/generators.h"
#include "props/properties.h"
#include "registry/registry.h"

using namespace attnlab;
using namespace attnlab::props;
namespace gen = rc::gen;

namespace {

ConfigOptions with_features() {
  ConfigOptions options;
  options.model_features = true;
  return options;
}

ConfigOptions standard_with_features() {
  ConfigOptions options = with_features();
  options.rope_layouts = {RopeLayout::interleaved, RopeLayout::half_split};
  return options;
}

// A generated layer with its window forced on (1..8 tokens).
LayerConfig windowed(LayerConfig config) {
  if (!config.sliding_window) config.sliding_window = *gen::inRange<int64_t>(1, 9);
  return config;
}

}  // namespace

TEST_CASE("Features: decode and chunked prefill equal one prefill", "[props][features]") {
  CHECK(check_for_each_cpu("decode / chunks == prefill on layers with features", 150,
                           [](const CpuUnderTest& cpu) {
                             const LayerConfig config = *gen_any_config(with_features());
                             const Case c = *gen_case();
                             decode_equals_prefill(config, c, cpu);
                             chunked_equals_prefill(config, c, *gen_chunks(c.tokens()), cpu);
                           }));
}

TEST_CASE("Features: causality and batch independence", "[props][features]") {
  CaseOptions two_tokens;
  two_tokens.min_tokens = 2;
  CHECK(check_for_each_cpu("causality and batch independence with features", 100,
                           [two_tokens](const CpuUnderTest& cpu) {
                             const LayerConfig config = *gen_any_config(with_features());
                             const Case c = *gen_case(two_tokens);
                             causality(config, c, *gen::inRange<int64_t>(1, c.tokens()),
                                       *gen::inRange<int64_t>(0, c.batch), cpu);
                             batch_independence(config, c, cpu);
                           }));
}

TEST_CASE("Features: RoPE relativity holds with scaled and partial tables", "[props][features]") {
  ConfigOptions roped = with_features();
  roped.rope_layouts = {RopeLayout::interleaved, RopeLayout::half_split};
  roped.rope_dim_zero = false;
  CHECK(check_property(
      "reference invariant under a common shift (yarn, llama3, linear)", 200, [roped] {
        const LayerConfig config = *gen_any_config(roped);
        rope_shift_invariance_reference(config, *gen_case(), *gen::inRange<int64_t>(1, 10001));
      }));
  CHECK(check_for_each_cpu("cpu invariant under a common shift (yarn, llama3, linear)", 100,
                           [roped](const CpuUnderTest& cpu) {
                             const LayerConfig config = *gen_any_config(roped);
                             rope_shift_invariance_cpu(config, *gen_case(),
                                                       *gen::inRange<int64_t>(1, 10001), cpu);
                           }));
}

TEST_CASE("Features: a sliding window hides tokens older than it", "[props][features][window]") {
  CaseOptions long_enough;
  long_enough.min_tokens = 3;
  CHECK(check_for_each_cpu("tokens older than the window never change an output", 150,
                           [long_enough](const CpuUnderTest& cpu) {
                             const LayerConfig config = windowed(*gen_any_config(with_features()));
                             const Case c = *gen_case(long_enough);
                             window_hides_old_tokens(config, c,
                                                     *gen::inRange<int64_t>(0, c.tokens() - 1),
                                                     *gen::inRange<int64_t>(0, c.batch), cpu);
                           }));
}

TEST_CASE("Features: a sink is one more key whose value is zero", "[props][features][sinks]") {
  CHECK(check_for_each_cpu("sinks == a zero-value key of logit sinks[h]", 150,
                           [](const CpuUnderTest& cpu) {
                             LayerConfig config = *gen_standard_config(standard_with_features());
                             config.attention_sinks = true;
                             sink_is_a_zero_value_key(config, *gen_case(), cpu);
                           }));
}

TEST_CASE("Features: QK-norm removes per-head scales of q_proj and k_proj", "[props][features]") {
  CHECK(check_for_each_cpu(
      "q/k rows scaled per head change nothing under QK-norm", 150, [](const CpuUnderTest& cpu) {
        LayerConfig config = *gen::suchThat(gen_standard_config(standard_with_features()),
                                            [](const LayerConfig& g) { return g.head_dim >= 4; });
        config.qk_norm = true;
        qk_norm_removes_row_scales(config, *gen_case(), *gen::arbitrary<uint64_t>(), cpu);
      }));
}

TEST_CASE("Features: every implementation conforms on layers with features",
          "[props][features][conformance]") {
  CHECK(check_property("registry implementations vs the fp64 reference, with features", 200, [] {
    const LayerConfig config = *gen_any_config(with_features());
    conformance(implementations(), config, *gen_case());
  }));
}
