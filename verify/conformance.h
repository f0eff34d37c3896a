// The conformance matrix behind `attnlab verify`: every implementation × every case × every
// check (verify/checks.h), each judged against the fp64 reference of the variant's defining form
// (standard for MHA/GQA/MQA, naive for MLA — so MLA absorb is checked against the up-projected
// math, not against itself) under the tolerance of the implementation's dtype. Pairs that do
// not apply are reported as SKIP with the reason, never as PASS; an implementation that throws
// is a FAIL.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "registry/registry.h"
#include "verify/checks.h"
#include "verify/tolerance.h"
#include "verify/verify_config.h"

namespace attnlab {

enum class CaseStatus { pass, fail, skip };
const char* to_string(CaseStatus status);

struct CaseResult {
  std::string case_name;  // VerifyCase::name()
  std::string check;      // "prefill", "decode", ... (verify/checks.h)
  std::string variant;    // "gqa", "mla", ...
  std::string impl;       // Implementation::id()
  std::string form;
  std::string backend;
  std::string dtype;
  CaseStatus status = CaseStatus::skip;
  double max_abs_error = 0;
  double max_rel_error = 0;
  double nmse = 0;
  double nmse_bound = 0;
  double cosine = 0;
  double lse_max_abs_error = 0;
  double lse_bound = 0;  // lse_atol + lse_rtol * |lse| at the LSE element nearest its bound
  // Signed error along the reference, sum (a - r) r / sum r^2: 0 for rounding to nearest, about
  // minus half an ulp of the storage type for a store that rounds toward zero (tolerance.h).
  double bias = 0;
  double bias_bound = 0;     // max(bias_floor, bias_coeff / sqrt(n)); infinite: not judged
  int64_t worst_index = -1;  // flat index of the worst element (largest bound violation)
  std::string detail;        // why it failed or was skipped
};

std::vector<CaseResult> run_conformance(const std::vector<VerifyCase>& cases,
                                        const std::vector<Implementation>& impls);

// Compares `actual` with `expected` under `tol`; fills the error fields and status of `result`.
// The checks, in the order a failure is reported: NMSE, every element, every LSE, the bias.
void judge(const RunOutput& actual, const RunOutput& expected, const Tolerance& tol,
           CaseResult& result);
// Runs `check` on (data, impl) and judges it with tolerance_for(impl.dtype) into r; an exception
// is a FAIL "threw: <what>". `attnlab verify` and the sweeps' verify step both use it.
void run_and_judge(const Check& check, const CaseData& data, const Implementation& impl,
                   CaseResult& r);

}  // namespace attnlab
