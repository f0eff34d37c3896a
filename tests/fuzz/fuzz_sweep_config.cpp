// libFuzzer harness: sweep-config JSON (sweep/sweep_config.cpp), from the text to the expanded
// case list. For every case of an accepted sweep the sizes the runner derives — modelled memory,
// step cost, KV figures — must be computable without overflow (UBSan aborts on any).
#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "sweep/sweep_config.h"
#include "tests/fuzz/fuzz_support.h"
#include "variants/cost_model.h"
#include "variants/variant_spec.h"

using namespace attnlab;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  SweepSpec spec;
  if (!fuzz::accepts([&] { spec = parse_sweep(text, "fuzz.json"); })) return 0;
  fuzz::require(!spec.cases.empty() && spec.fingerprint.size() == 16, "a sweep has cases");
  for (const SweepCase& c : spec.cases) {
    fuzz::require(!c.name().empty(), "a case has a name");
    const double memory = modelled_case_memory_bytes(c);
    const StepCost cost = step_cost(c.config, c.form, c.batch, c.context, c.new_tokens,
                                    double(bytes_per_element(c.dtype)));
    const KvFigures kv = kv_figures(c.config, c.form, c.context + c.new_tokens, c.batch,
                                    double(bytes_per_element(c.dtype)));
    fuzz::require(memory > 0 && cost.flops() > 0 && kv.bytes_at_context > 0, "a case has a size");
  }
  return 0;
}
