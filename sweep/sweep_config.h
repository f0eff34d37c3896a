// Sweep configs: a JSON description of a benchmark sweep — models, implementation forms,
// backends, cache dtypes, phases, batch sizes, contexts (decode) and sequence lengths (prefill),
// thread counts, repetitions — whose product, minus exclusions and unsupported combinations, is
// the list of cases `attnlab sweep` runs. Schema: docs/SWEEPS.md. Every problem is reported
// before anything runs, naming the file and the field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/layer_config.h"
#include "registry/registry.h"

namespace attnlab {

struct SweepCase {
  int64_t index = 0;  // position in the full (unsharded, unfiltered) case list
  std::string model;  // as written in the config (preset name, file path or inline name)
  LayerConfig config;
  ImplForm form = ImplForm::standard;
  std::string backend;
  DType dtype = DType::fp32;  // the KV cache's; results files write to_string(dtype)
  Phase phase = Phase::decode;
  int64_t batch = 1;
  int64_t context = 0;     // decode: cached tokens before the step; prefill: 0
  int64_t new_tokens = 1;  // decode: 1; prefill: the sequence length
  int threads = 1;

  // "decode/llama-3-8b/standard/cpu/fp32/b1/ctx4096/t2", "prefill/.../seq512/t2"
  std::string name() const;
};

struct SweepSpec {
  std::string name;
  std::string description;
  int repetitions = 3;
  double min_time_s = 0.1;
  bool verify = true;
  // "full": 1 GiB read, 2048^3 GEMM (seconds); "quick": 128 MiB, 512^3 (for CI-sized sweeps).
  std::string calibration = "full";
  // Tensor-parallel degree at which the report also shows the KV cache per rank
  // (variants/kv_tensor_parallel.h); nothing runs in parallel. 1: no per-rank figures.
  int64_t tp = 1;
  std::vector<SweepCase> cases;
  // Combinations the lists name that no registered implementation provides (reported, not run).
  std::vector<std::string> unregistered;  // in a fixed order: the product order of the lists
  std::string fingerprint;                // hash of the resolved case list and settings
};

// `path_or_name`: a file, or the name of a built-in sweep (configs/sweeps/*.json).
SweepSpec load_sweep(const std::string& path_or_name);
SweepSpec parse_sweep(const std::string& json_text, const std::string& origin);

// Bytes a case needs in RAM while it runs: fp64 master + fp32 working weights, KV cache at full
// length, activations. Used by --dry-run and to refuse cases that cannot fit.
double modelled_case_memory_bytes(const SweepCase& c);

}  // namespace attnlab
