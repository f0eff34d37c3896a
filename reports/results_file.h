// Reading attnlab sweep results files (docs/SWEEPS.md) for reports: the Google Benchmark
// "context" block, attnlab's block (sweep, calibration) and one record per case with its
// configuration, measurements, cost model, verification and the real times of its repetitions
// (the "iteration" runs in "benchmarks", as Google Benchmark's compare.py reads them).
// Anything that is not such a file is an attnlab::Error naming the file.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace attnlab::reports {

struct ResultCase {
  std::string name;     // e.g. "decode/llama-3-8b/standard/cpu/fp32/b1/ctx4096/t2"
  std::string status;   // "ok", "failed_verification", "error"
  std::string message;  // why, when not ok
  nlohmann::json info;  // attnlab's per-case fields (config, impl, verify, cost, roofline, ...)
  std::vector<double> repetitions_ms;  // real time of each repetition, milliseconds

  // The case description (always present; checked when the file is read).
  std::string phase() const { return info["phase"]; }
  std::string model() const { return info["model"]; }
  std::string impl() const { return info["impl"]; }
  std::string backend() const { return info["backend"]; }
  std::string dtype() const { return info["dtype"]; }
  std::string attention() const { return info["attention"]; }
  int64_t batch() const { return info["batch"]; }
  int64_t context() const { return info["context"]; }
  int64_t new_tokens() const { return info["new_tokens"]; }
  int64_t threads() const { return info["threads"]; }
  bool ok() const { return status == "ok"; }
  // A numeric field of info at a JSON pointer such as "/latency_ms_median" or
  // "/roofline/gemm_gflops"; NaN when absent or not a number.
  double number(const std::string& pointer) const;
};

struct ResultsFile {
  std::string path;
  std::string label;       // "[1]", "[2]" ... in the order given on the command line
  nlohmann::json context;  // Google Benchmark's context block plus attnlab's build fields
  nlohmann::json attnlab;  // the attnlab block without its cases
  std::vector<ResultCase> cases;

  std::string sweep() const { return attnlab.value("sweep", std::string("?")); }
};

// Reads and checks one results file; `label` names it in tables and legends.
ResultsFile load_results_file(const std::string& path, const std::string& label);

}  // namespace attnlab::reports
