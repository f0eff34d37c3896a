// The conformance matrix behind `attnlab verify`: every registered implementation, on every
// case of a verify config, in both phases, against the fp64 reference of the variant's defining
// form (standard for MHA/GQA/MQA, naive for MLA — so MLA absorb is checked against the
// up-projected math, not against itself). Unsupported (implementation, config) pairs are
// reported as SKIP, never as PASS.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "registry/registry.h"
#include "verify/tolerance.h"

namespace attnlab {

struct VerifyCase {
  std::string model;  // preset name or layer-config file
  int64_t batch = 2;
  int64_t seq = 9;
  uint64_t seed = 1;
  bool random_positions = false;  // arbitrary increasing position ids instead of 0..S-1
};

// Parses {"cases": [{"model": ..., "batch": ..., "seq": ..., "seed": ..., "positions":
// "sequential" | "random"}]}; throws attnlab::Error naming the file and the field.
std::vector<VerifyCase> load_verify_cases(const std::string& path);

enum class CaseStatus { pass, fail, skip };
const char* to_string(CaseStatus status);

struct CaseResult {
  std::string case_name;  // "tiny-gqa b2 s9 seed1"
  std::string model;
  std::string impl;  // Implementation::id()
  Phase phase = Phase::prefill;
  CaseStatus status = CaseStatus::skip;
  double max_abs_error = 0;
  double max_rel_error = 0;
  double nmse = 0;
  double cosine = 0;
  double lse_max_abs_error = 0;
  int64_t worst_index = -1;  // flat index of the element with the largest bound violation
  std::string detail;        // why it failed or was skipped
};

std::vector<CaseResult> run_conformance(const std::vector<VerifyCase>& cases,
                                        const std::vector<Implementation>& impls);

// Compares `actual` with `reference` under `tol`; fills the error fields and status of `result`.
void judge(const RunOutput& actual, const RunOutput& reference, const Tolerance& tol,
           CaseResult& result);

}  // namespace attnlab
