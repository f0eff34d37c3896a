// Golden files: verify's cases written out so that an implementation in any language can be
// checked against the fp64 truth, and the judging of its output with verify's own judge() and
// tolerance table. Layout (docs/VERIFICATION.md, "Checking an external implementation"):
//   DIR/index.json                      {"format": "attnlab-golden", "version": 1, "cases": [...]}
//   DIR/<NNN-case-phase>/case.json      config, resolved RoPE and scale, form, phase, chunks,
//                                       dtypes, tolerance per dtype
//   DIR/<NNN-case-phase>/config.json    the layer config alone (attnlab run --model accepts it)
//   DIR/<NNN-case-phase>/weights.safetensors   the layer's weights, HF names, F64
//   DIR/<NNN-case-phase>/inputs.safetensors    hidden_states [B,S,hidden] F64, position_ids [B,S]
//   I64 DIR/<NNN-case-phase>/expected.safetensors  attn_output [B,S,hidden] F64, lse [B,S,n_heads]
//   F64
// An ACTUAL output is a safetensors file with attn_output (any float dtype) and optional lse.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/layer_config.h"
#include "verify/conformance.h"
#include "verify/verify_config.h"

namespace attnlab {

constexpr int kGoldenVersion = 1;

struct GoldenRequest {
  std::vector<VerifyCase> cases;
  // When set, every case runs on this layer instead of its own model (duplicates dropped);
  // model_label names it in case names.
  std::optional<LayerConfig> model;
  std::string model_label;
  std::vector<std::string> phases{"prefill", "decode"};  // verify/checks.h phase_names()
};

// Writes every (case, phase) under out_dir: into a temporary sibling directory renamed into place,
// replacing an earlier golden directory (one with index.json) but nothing else. Returns the case
// directory names. Throws attnlab::Error naming the path on any problem.
std::vector<std::string> write_golden(const GoldenRequest& request, const std::string& out_dir);

// One case directory as compare reads it.
struct GoldenCase {
  std::string dir;        // the case directory
  std::string dir_name;   // its last component, e.g. "003-tiny-mla-b2-s9-seed1-decode"
  std::string case_name;  // VerifyCase::name()
  std::string phase;
  std::string variant;
  std::vector<DType> dtypes;   // the implementation dtypes the case applies to
  int64_t cache_elements = 0;  // fewest cached elements any form of the layer keeps
  RunOutput expected;
};
// Throws attnlab::Error naming the file on a missing or malformed case.json / expected file.
GoldenCase read_golden_case(const std::string& dir);
// `path` is a case directory (case.json) or a golden root (index.json): the case directories.
std::vector<std::string> golden_case_dirs(const std::string& path);
bool is_golden_root(const std::string& path);

// Judges the output file `actual_path` against `golden` under tolerance_for(dtype), with verify's
// judge(). A case that excludes `dtype` is SKIP; a missing actual file is FAIL. Throws
// attnlab::Error for an unreadable file or one without attn_output.
CaseResult compare_golden(const GoldenCase& golden, const std::string& actual_path, DType dtype);

}  // namespace attnlab
