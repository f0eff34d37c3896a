// Verify configs: the cases `attnlab verify` runs. A config is JSON
//   {"cases": [{"model": "tiny-gqa", "batch": 2, "seq": 9, "seed": 1, "positions": "random"}]}
// (batch, seq, seed and positions optional), read from a file or from the embedded
// configs/verify/ ("default", "ci").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace attnlab {

struct VerifyCase {
  std::string model;  // preset name or layer-config file
  int64_t batch = 2;
  int64_t seq = 9;
  uint64_t seed = 1;
  bool random_positions = false;  // increasing position ids with gaps and an offset

  std::string name() const;  // "tiny-gqa b2 s9 seed1 rpos"
  Tensor<int64_t> positions() const;
};

// `path_or_name` is a file path, or the name of an embedded verify config. Throws
// attnlab::Error naming the file (or config) and the field on any problem, including a model
// that does not resolve — before anything runs.
std::vector<VerifyCase> load_verify_cases(const std::string& path_or_name);
std::vector<VerifyCase> parse_verify_cases(const std::string& json_text, const std::string& origin);

}  // namespace attnlab
