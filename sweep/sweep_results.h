// Sweep results on disk. While a sweep runs, every finished case is appended to a journal
// "<out>.partial" (one JSON line per case, flushed and fsync'd), so a crash, kill or Ctrl-C loses
// no finished case and `--resume` continues where it stopped. At the end the results file is
// written atomically in Google Benchmark's JSON format ({"context", "benchmarks"}, so
// tools/compare.py reads it) plus an "attnlab" block: the sweep, its fingerprint, the shard,
// the calibration, and one record per case. `attnlab merge` joins shard files of one sweep.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace attnlab {

struct CaseRecord {
  int64_t index = 0;
  std::string name;
  std::string status;  // "ok", "failed_verification", "error"
  std::string message;
  nlohmann::ordered_json runs = nlohmann::ordered_json::array();   // Google Benchmark run objects
  nlohmann::ordered_json info = nlohmann::ordered_json::object();  // attnlab's per-case fields

  nlohmann::ordered_json to_json() const;
  // Checks every field; throws attnlab::Error("<origin>: <path>.<field> ...") on a bad one.
  static CaseRecord from_json(const nlohmann::ordered_json& j, const std::string& origin,
                              const std::string& path);
};

// Google Benchmark's JSON form of one run (the fields its JSONReporter writes).
nlohmann::ordered_json run_to_json(const benchmark::BenchmarkReporter::Run& run);
// Google Benchmark's context fields (host, CPUs, caches, load) plus the given extra ones.
nlohmann::ordered_json benchmark_context(const nlohmann::ordered_json& extra);

class SweepJournal {
 public:
  // Opens "<out_path>.partial". Without `resume`, an existing journal is an error (it holds
  // finished work); with it, the journal must belong to the same sweep and shard (`header`'s
  // "fingerprint" and "shard"), and its finished cases are loaded.
  SweepJournal(std::string out_path, const nlohmann::ordered_json& header, bool resume);
  const std::map<int64_t, CaseRecord>& finished() const { return finished_; }
  void append(const CaseRecord& record);  // one line, flushed and fsync'd
  // Writes the results file atomically and removes the journal.
  void finalize(const nlohmann::ordered_json& context, const nlohmann::ordered_json& attnlab_block);
  std::string journal_path() const { return out_path_ + ".partial"; }

 private:
  std::string out_path_;
  nlohmann::ordered_json header_;
  std::map<int64_t, CaseRecord> finished_;
};

// Joins shard results of one sweep into one file (cases in sweep order). Throws attnlab::Error
// when the files belong to different sweeps, repeat a case, or miss one.
void merge_results(const std::vector<std::string>& inputs, const std::string& out_path);

}  // namespace attnlab
