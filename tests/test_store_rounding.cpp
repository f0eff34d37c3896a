// The store-rounding contract (tests/store_rounding_contract.h) for every registry entry that
// builds an Attention: each CPU backend and cache dtype, and the CUDA backend when built and a
// device is present. The CUDA emulation runs the same contract in cuda_emulation_tests.
#include "tests/store_rounding_contract.h"

using namespace attnlab;

TEST_CASE("store rounding: every registered cache stores fp32 values as core/dtype.h rounds them",
          "[contract]") {
  const int checked = store_rounding::check_store_rounding(implementations());
  // cpu x 3 dtypes + cpu-plain, each in its three forms.
  CHECK(checked >= 4 * 3);
}
