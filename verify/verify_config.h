// Verify configs: the cases `attnlab verify` runs. A config is JSON
//   {"cases": [{"model": "tiny-gqa", "batch": 2, "seq": 9, "seed": 1, "positions": "random"}]}
// (batch, seq, seed and positions optional), read from a file or from the embedded
// configs/verify/ ("default", "ci"). Adversarial numerics, all optional (docs/VERIFICATION.md):
// "activation_scale" (inputs times this: huge or tiny RMSNorm inputs), "score_scale" (the
// softmax scale times this: logits past exp()'s range without the max shift),
// "position_offset" (added to every position id, e.g. near 2^20), "near_ties" (every token of a
// sequence is its first token plus 1e-3 relative noise: near-equal scores), "dtypes" (the
// implementation dtypes the case applies to) and "checks" (the checks it runs, e.g. a long
// context only "decode" and "chunked"); the rows left out are SKIP.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"

namespace attnlab {

struct VerifyCase {
  std::string model;  // preset name or layer-config file
  int64_t batch = 2;
  int64_t seq = 9;
  uint64_t seed = 1;
  bool random_positions = false;  // increasing position ids with gaps and an offset
  double activation_scale = 1;    // every input activation multiplied by this
  double score_scale = 1;         // the layer's softmax scale (so every logit) multiplied by this
  int64_t position_offset = 0;    // added to every position id
  bool near_ties = false;         // tokens of a sequence equal up to kNearTieNoise relative
  std::vector<DType> dtypes{};    // implementation dtypes the case applies to; empty: all
  std::vector<std::string> checks{};  // verify/checks.h names the case runs; empty: all

  // Relative noise between the tokens of a near_ties case: scores then differ by ~1e-3 of their
  // size, far below the spread of random tokens (O(1)) yet far above fp32 rounding (1e-7).
  static constexpr double kNearTieNoise = 1e-3;

  // "tiny-gqa b2 s9 seed1 rpos", plus " x1e+04" (activation scale), " logits x30" (score
  // scale), " pos+1048000", " ties"
  // and " [fp64,fp32]" (dtypes) when those fields are set.
  std::string name() const;
  Tensor<int64_t> positions() const;
  // The case's inputs [batch, seq, hidden]: N(0, 1) from seed + 1, then near ties and the scale.
  Tensor<double> activations(int64_t hidden) const;
  // "" when an implementation of `dtype` runs this case, else why not (a SKIP reason).
  std::string dtype_excluded(DType dtype) const;
  // "" when the case runs the check named `check`, else why not (a SKIP reason).
  std::string check_excluded(const std::string& check) const;
};

// `path_or_name` is a file path, or the name of an embedded verify config. Throws
// attnlab::Error naming the file (or config) and the field on any problem, including a model
// that does not resolve — before anything runs.
std::vector<VerifyCase> load_verify_cases(const std::string& path_or_name);
std::vector<VerifyCase> parse_verify_cases(const std::string& json_text, const std::string& origin);

}  // namespace attnlab
