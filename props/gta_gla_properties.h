// Properties of GTA and GLA (props/prop_gta_gla.cpp), run on the fp64 reference and on every
// registered implementation (registry/registry.h implementations()) that supports the config and
// whose backend gta_gla_backends() lists:
//   (a) a GLA with h_c = 1 is the MLA it came from (gla_from_mla);
//   (b) GLA absorb == GLA naive;
//   (c) GTA == the GQA that gta_as_gqa builds (both RoPE layouts, biases);
//   (d) a GLA sharded over 2 or 4 ranks (shard_heads) sums to the unsharded layer.
// Each body takes the backend to run (a GtaGlaBackend: the registry's, or one with a deliberate
// bug) and, where a conversion is involved, the conversion (the real one, or a deliberately wrong
// one), so prop_gta_gla.cpp can show that each property fails on the bug it is meant to catch.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "props/generators.h"

namespace attnlab::props {

// The backends whose GTA/GLA implementations the properties run: every built-in one (reference,
// cpu-plain, cpu, cuda). Plugins are not listed: ABI v1 has no GTA/GLA and they are never
// handed one (registry/plugin_loader.cpp).
std::vector<std::string> gta_gla_backends();

// One backend x cache dtype under test, every form of it.
struct GtaGlaBackend {
  std::string name;  // e.g. "reference/fp64", "cpu/bf16", "reference/fp64 swapping latent groups"
  DType dtype = DType::fp64;
  std::function<bool(const LayerConfig&, ImplForm)> supports;
  // x through `layer` in `form`, chunks[i] tokens per forward, one fresh cache.
  std::function<RunOutput(const Layer& layer, ImplForm form, const Tensor<double>& x,
                          const Tensor<int64_t>& positions, const std::vector<int64_t>& chunks)>
      run;
};
// The registry's backends x dtypes whose backend is in gta_gla_backends() (the reference first).
std::vector<GtaGlaBackend> gta_gla_backends_under_test();
// check_property once per backend of gta_gla_backends_under_test(), the description suffixed with
// " [<backend name>]"; true when it held for all.
bool check_for_each_gta_gla_backend(const std::string& description, int cases,
                                    const std::function<void(const GtaGlaBackend&)>& property);

using Conversion = std::function<Layer(const Layer&)>;
using Sharding = std::function<std::vector<Layer>(const Layer&, int64_t)>;

// (a) config: an MLA with q_lora_rank > 0. The backend runs the MLA layer and convert(layer) in
//     each form both support; they must agree within the backend's tolerance.
void gla_equals_mla(const LayerConfig& config, const Case& c, const GtaGlaBackend& backend,
                    const Conversion& convert);
// (b) config: a GLA. Absorb and naive, prefill after context and token-by-token decode.
void gla_absorb_equals_naive(const LayerConfig& config, const Case& c,
                             const GtaGlaBackend& backend);
// (c) config: a GTA. The GTA layer (standard) and convert(layer) (standard), prefill after
//     context and decode.
void gta_equals_gqa(const LayerConfig& config, const Case& c, const GtaGlaBackend& backend,
                    const Conversion& convert);
// (d) config: a GLA whose h_c world_size divides. Every form: the sum of the ranks' outputs
//     (and their LSEs side by side) equals the unsharded run.
void gla_sharded_sum(const LayerConfig& config, const Case& c, int64_t world_size,
                     const GtaGlaBackend& backend, const Sharding& shard);

}  // namespace attnlab::props
