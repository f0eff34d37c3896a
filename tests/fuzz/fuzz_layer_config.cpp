// libFuzzer harness: layer-config JSON (core/layer_config.cpp). An accepted config must
// round-trip through layer_config_to_json, and every size derived from it — weight elements,
// KV-cache elements and bytes at the CLI's largest context and batch, step FLOPs at the
// sweep's largest shapes — must be computable without overflow (UBSan aborts on any).
#include <cstdint>
#include <string>

#include "core/json_fields.h"
#include "core/layer_config.h"
#include "tests/fuzz/fuzz_support.h"
#include "variants/cost_model.h"
#include "variants/variant_spec.h"

using namespace attnlab;

namespace {

void exercise_sizes(const LayerConfig& config) {
  int64_t weights = 0;
  for (const WeightSpec& spec : weight_specs(config)) weights += shape_numel(spec.shape);
  fuzz::require(weights > 0, "a layer has weights");
  for (ImplForm form : impl_forms_for(config)) {
    const KvFigures f = kv_figures(config, form, int64_t{1} << 30, int64_t{1} << 20, 4.0);
    fuzz::require(f.elements_per_token >= f.elements_per_token_layer, "cache per token >= layer");
    const StepCost decode = step_cost(config, form, 4096, int64_t{1} << 24, 1, 4.0);
    const StepCost prefill = step_cost(config, form, 4096, 0, 4096, 4.0);
    fuzz::require(decode.flops() > 0 && prefill.bytes() > 0, "a step does work");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  LayerConfig config;
  if (!fuzz::accepts(
          [&] { config = parse_layer_config(parse_json(text, "fuzz.json"), "fuzz.json"); }))
    return 0;
  exercise_sizes(config);
  const nlohmann::json written = layer_config_to_json(config);
  LayerConfig again;
  fuzz::require(fuzz::accepts([&] { again = parse_layer_config(written, "round trip"); }),
                "a written config parses again");
  fuzz::require(layer_config_to_json(again) == written, "the round trip keeps every field");
  return 0;
}
