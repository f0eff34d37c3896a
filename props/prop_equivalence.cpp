// Equivalences between variants (props/properties.h): GQA with n_kv = n_heads is MHA and with
// n_kv = 1 is MQA, gqa_as_mha() computes the GQA layer, every GQA/MHA/MQA layer without RoPE
// equals its TransMLA form gqa_as_mla() (naive and absorb), and head-sharded tensor parallelism
// sums to the unsharded layer for every world size in {1, 2, 3, 4} that divides the heads.
#include <catch2/catch.hpp>

#include "props/generators.h"
#include "props/properties.h"

using namespace attnlab;
using namespace attnlab::props;
namespace gen = rc::gen;

TEST_CASE("GQA special cases: n_kv = n_heads is MHA, n_kv = 1 is MQA, gqa_as_mha",
          "[props][equivalence]") {
  CHECK(check_for_each_cpu("gqa relabellings run identically; gqa_as_mha computes the layer", 250,
                           [](const CpuUnderTest& cpu) {
                             const LayerConfig config = *gen_standard_config();
                             const Case c = *gen_case();
                             gqa_special_cases(config, c, cpu);
                           }));
}

TEST_CASE("Every GQA layer without RoPE equals its TransMLA form", "[props][equivalence][mla]") {
  ConfigOptions options;
  options.rope_layouts = {RopeLayout::none};
  CHECK(check_for_each_cpu(
      "gqa == gqa_as_mla, naive and absorb (reference fp64, cpu at its tolerance)", 250,
      [options](const CpuUnderTest& cpu) {
        const LayerConfig config = *gen_standard_config(options);
        const Case c = *gen_case();
        gqa_as_mla_equivalence(config, c, cpu);
      }));
}

TEST_CASE("Head-sharded tensor parallelism sums to the layer", "[props][equivalence][shard]") {
  CHECK(check_for_each_cpu("sum over ranks of shard_heads outputs == unsharded output", 250,
                           [](const CpuUnderTest& cpu) {
                             const LayerConfig config = *gen_any_config();
                             const int64_t world = *gen::elementOf(valid_world_sizes(config));
                             const Case c = *gen_case();
                             sharded_sum(config, c, world, cpu);
                           }));
}
