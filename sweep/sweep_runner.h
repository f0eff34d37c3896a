// Runs a sweep: selects the cases of this shard and filter, refuses cases that cannot fit in
// RAM, measures the machine's limits (DRAM read bandwidth, fp32 GEMM peak) in the same run,
// verifies each implementation against the fp64 reference on a reduced shape before timing it,
// then times every case with Google Benchmark (real time, repetitions, median/p10/p90), writing
// each finished case to the journal at once (sweep_results.h).
#pragma once

#include <string>

#include "sweep/sweep_config.h"

namespace attnlab {

struct SweepOptions {
  std::string out_path;  // results file; "<out>.partial" is the journal
  int shard_index = 1;   // 1-based: --shard 2/4 runs cases with index % 4 == 1
  int shard_count = 1;
  bool resume = false;
  std::string filter;  // ECMAScript regex on case names; "" = all
  bool dry_run = false;
  bool progress = false;  // a progress line on stderr (when it is a terminal)
};

// Returns the exit code: 0 when every selected case ran and verified, 1 when any failed
// verification or errored (everything finished is still written). Throws attnlab::Error for
// bad options or input found before anything runs.
int run_sweep(const SweepSpec& spec, const SweepOptions& options);

}  // namespace attnlab
