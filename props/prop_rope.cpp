// RoPE properties (props/properties.h): only relative positions matter (shifting every position
// by the same amount leaves outputs and LSE unchanged, on the fp64 reference and on the CPU
// backend), the rotation laws of reference::apply_rope (norm kept, identity at 0, R(q) R(p) =
// R(p + q)), and the two layouts compute the same layer once swap_rope_layout() has permuted
// the q/k rows.
#include <catch2/catch.hpp>

#include "props/generators.h"
#include "props/properties.h"

using namespace attnlab;
using namespace attnlab::props;
namespace gen = rc::gen;

namespace {

// Configs where RoPE actually rotates something: a layout, and MLA with a rope part.
ConfigOptions roped() {
  ConfigOptions options;
  options.rope_layouts = {RopeLayout::interleaved, RopeLayout::half_split};
  options.rope_dim_zero = false;
  return options;
}

}  // namespace

TEST_CASE("RoPE: shifting every position changes nothing (reference)", "[props][rope]") {
  CHECK(check_property("reference outputs invariant under a common position shift", 250, [] {
    const LayerConfig config = *gen_any_config(roped());
    const Case c = *gen_case();
    rope_shift_invariance_reference(config, c, *gen::inRange<int64_t>(1, 10001));
  }));
}

TEST_CASE("RoPE: shifting every position changes nothing (CPU)", "[props][rope][cpu]") {
  CHECK(check_for_each_cpu(
      "cpu outputs invariant under a common position shift", 250, [](const CpuUnderTest& cpu) {
        const LayerConfig config = *gen_any_config(roped());
        const Case c = *gen_case();
        rope_shift_invariance_cpu(config, c, *gen::inRange<int64_t>(1, 10001), cpu);
      }));
}

TEST_CASE("RoPE rotation laws of reference::apply_rope", "[props][rope]") {
  CHECK(check_property("apply_rope keeps norms, is the identity at 0 and composes", 1000, [] {
    const int64_t pairs = *gen::inRange<int64_t>(1, 33);
    const std::vector<int> raw =
        *gen::container<std::vector<int>>(2 * pairs, gen::inRange(-100000, 100001));
    std::vector<double> v(raw.begin(), raw.end());
    for (double& e : v) e /= 1000.0;
    const RopeLayout layout = *gen::element(RopeLayout::interleaved, RopeLayout::half_split);
    const double theta =
        *gen::map(gen::inRange(0, 1001), [](int u) { return 10.0 * std::pow(1e5, u / 1000.0); });
    rope_rotation_laws(v, *gen::inRange<int64_t>(0, 1000001), *gen::inRange<int64_t>(0, 1000001),
                       layout, theta);
  }));
}

TEST_CASE("RoPE layouts agree after swap_rope_layout", "[props][rope][conversions]") {
  CHECK(check_for_each_cpu("interleaved <-> half_split with permuted q/k rows: same layer", 250,
                           [](const CpuUnderTest& cpu) {
                             const LayerConfig config = *gen_any_config(roped());
                             const Case c = *gen_case();
                             rope_layout_swap(config, c, cpu);
                           }));
}
