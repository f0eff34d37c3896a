// libFuzzer harness: verify-config JSON (verify/verify_config.cpp). The cases of an accepted
// config name themselves and, where small enough to be cheap, build their position ids.
#include <cstdint>
#include <string>

#include "tests/fuzz/fuzz_support.h"
#include "verify/verify_config.h"

using namespace attnlab;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<VerifyCase> cases;
  if (!fuzz::accepts([&] { cases = parse_verify_cases(text, "fuzz.json"); })) return 0;
  fuzz::require(!cases.empty(), "a verify config has cases");
  for (const VerifyCase& c : cases) {
    fuzz::require(c.batch >= 1 && c.seq >= 1 && !c.name().empty(), "a case has a shape");
    if (c.batch * c.seq <= 4096) {
      const Tensor<int64_t> positions = c.positions();
      fuzz::require(positions.numel() == c.batch * c.seq, "one position per token");
    }
  }
  return 0;
}
