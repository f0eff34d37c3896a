// Conformance as a property: every registered implementation (registry implementations(),
// skipping those whose supports() is false), in both phases, against the fp64 reference of the
// variant's defining form (standard, or naive for MLA), judged by verify's judge() with
// tolerance_for(impl.dtype) — the policy `attnlab verify` applies — on random configs, shapes,
// positions and seeds instead of the fixed verify cases.
#include <catch2/catch.hpp>

#include "props/generators.h"
#include "props/properties.h"
#include "registry/registry.h"

using namespace attnlab;
using namespace attnlab::props;

TEST_CASE("Every registered implementation conforms on random layers", "[props][conformance]") {
  CHECK(check_property("registry implementations vs the fp64 reference (verify's judge)", 400, [] {
    const LayerConfig config = *gen_any_config();
    const Case c = *gen_case();
    conformance(implementations(), config, c);
  }));
}
