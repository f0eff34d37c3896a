// Conformance under adversarial numerics: the regimes the ordinary generators never reach, where
// a kernel can be wrong while every well-scaled case passes.
//   - logits 10 times those of the default softmax scale, which overflow exp() in a softmax or a
//     log-sum-exp merge that forgets to subtract the running maximum (fp32 and fp64 only);
//   - inputs scaled down to 1e-4: latents whose RMSNorm is dominated by eps (its placement
//     shows); (inputs scaled up make fp32 itself ill-conditioned: a score of 1e4 carries an
//     absolute error of ~1e-3, which no fp32 tolerance for O(1) outputs can absorb);
//   - positions near 2^20 (RoPE angles of ~1e6 rad: an angle computed in fp32 loses ~0.06 rad);
//   - a cached context of 1025..1100 tokens before a short query chunk: past the fast CPU
//     backend's 512-key splits (merged by log-sum-exp) and its 64-key tiles, at lengths that are
//     multiples of neither.
// Each against the fp64 reference of the defining form through verify's judge(). 16-bit caches
// are left out of the large-logit cases: their scores carry a 2^-8 relative error, ~1 absolute
// at logits of 100, which reorders the softmax (no tolerance can be both sound and useful there).
#include <catch2/catch.hpp>

#include "props/generators.h"
#include "props/properties.h"
#include "registry/registry.h"

using namespace attnlab;
using namespace attnlab::props;

namespace {

// Logits this many times those of the default softmax scale: past exp()'s range (88.7) for some
// layers drawn here, while fp32's score error (~1e-7 |score|) still moves the outputs by less
// than the fp32 tolerance (verify's ci and default cases use 60 on the tiny presets; at 120 fp32
// fails there on conditioning alone).
constexpr double kLogitFactor = 10;

std::vector<Implementation> fp32_and_fp64() {
  std::vector<Implementation> kept;
  for (const Implementation& impl : implementations())
    if (impl.dtype == DType::fp64 || impl.dtype == DType::fp32) kept.push_back(impl);
  return kept;
}

}  // namespace

TEST_CASE("Every implementation conforms on inputs scaled down to 1e-4", "[props][numerics]") {
  CaseOptions options;
  options.input_scales = {1.0, 1e-4, 1e-3, 1e-2};
  CHECK(check_property("registry implementations vs the reference, inputs scaled", 150, [options] {
    const LayerConfig config = *gen_any_config();
    const Case c = *gen_case(options);
    conformance(implementations(), config, c);
  }));
}

TEST_CASE("fp32 and fp64 implementations conform with logits 10x the default scale's",
          "[props][numerics]") {
  CHECK(check_property("fp32/fp64 implementations vs the reference, softmax scale x10", 150, [] {
    ConfigOptions options;
    options.random_softmax_scale = false;
    LayerConfig config = *gen_any_config(options);
    config.softmax_scale = kLogitFactor * config.scale();
    const Case c = *gen_case();
    conformance(fp32_and_fp64(), config, c);
  }));
}

TEST_CASE("Every implementation conforms at positions near 2^20", "[props][numerics]") {
  CaseOptions options;
  options.min_offset = (int64_t{1} << 20) - 256;
  options.max_offset = (int64_t{1} << 20) + 16;
  CHECK(
      check_property("registry implementations vs the reference, positions ~2^20", 100, [options] {
        const LayerConfig config = *gen_any_config();
        const Case c = *gen_case(options);
        conformance(implementations(), config, c);
      }));
}

TEST_CASE("Every CPU backend conforms after a context past its key splits and tiles",
          "[props][numerics]") {
  CaseOptions options;
  options.max_batch = 1;
  options.min_context = 1025;
  options.max_context = 1100;
  options.max_seq = 3;
  CHECK(check_for_each_cpu(
      "context of 1025..1100 tokens, then a short chunk", 4, [options](const CpuUnderTest& cpu) {
        const LayerConfig config = *gen_any_config();
        const Case c = *gen_case(options);
        const Layer layer = make_layer(config, c);
        const Tensor<double> x = case_inputs(c, config);
        const Tensor<int64_t> positions = case_positions(c);
        const RunOutput truth = run_reference(config, layer.weights, defining_form(config), x,
                                              positions, one_chunk(c.tokens()));
        for (ImplForm form : impl_forms_for(config))
          assert_conforms(to_string(form),
                          run_cpu(cpu, layer, form, x, positions, context_then_query(c)), truth,
                          cpu.dtype);
      }));
}
