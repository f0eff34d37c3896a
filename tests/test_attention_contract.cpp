// The Attention / KvCache contract (tests/attention_contract.h) for every registry entry that
// builds an Attention: each CPU backend and cache dtype, and the CUDA backend when built and a
// device is present. The CUDA emulation runs the same checks in cuda_emulation_tests.
#include "tests/attention_contract.h"

using namespace attnlab;

TEST_CASE("contract: every registered Attention keeps the KvCache contract", "[contract]") {
  const int checked = contract::check_contract(implementations());
  // cpu x 3 dtypes + cpu-plain, over the standard presets (3) and both MLA forms of 2 presets.
  CHECK(checked >= 4 * (3 + 2 * 2));
}
