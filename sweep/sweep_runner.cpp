// Running a sweep; see sweep_runner.h.
#include "sweep/sweep_runner.h"

#include <benchmark/benchmark.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <regex>

#include "bench/machine_limits.h"
#include "core/build_info.h"
#include "core/error.h"
#include "core/machine_info.h"
#include "sweep/sweep_results.h"
#include "variants/cost_model.h"
#include "verify/checks.h"
#include "verify/conformance.h"

namespace attnlab {

using nlohmann::ordered_json;

namespace {

// Collects the runs Google Benchmark reports for one case.
class CollectingReporter : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      runs_.push_back(run_to_json(run));
      if (run.error_occurred && error_.empty()) error_ = run.error_message;
    }
  }
  ordered_json take_runs() { return std::exchange(runs_, ordered_json::array()); }
  std::string take_error() { return std::exchange(error_, std::string()); }

 private:
  ordered_json runs_ = ordered_json::array();
  std::string error_;
};

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * double(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - double(lo));
}

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) bytes /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", bytes, units[u]);
  return buf;
}

std::string duration(double seconds) {
  char buf[32];
  if (seconds < 90)
    std::snprintf(buf, sizeof buf, "%.0fs", seconds);
  else
    std::snprintf(buf, sizeof buf, "%dm%02ds", int(seconds) / 60, int(seconds) % 60);
  return buf;
}

const Implementation& implementation_of(const SweepCase& c) {
  return find_implementation(c.backend, c.form, c.dtype);
}

// Prefill and decode of a reduced shape (batch 1, 5 tokens) against the fp64 reference.
ordered_json verify_reduced(const SweepCase& c) {
  const CaseData data = prepare_case(c.config, VerifyCase{c.model, 1, 5, 1, false});
  const Implementation& impl = implementation_of(c);
  ordered_json out = {{"status", "PASS"}, {"shape", "batch 1, seq 5"}};
  double nmse = 0, max_abs = 0;
  for (const Check& check : verify_checks()) {
    if (check.name != "prefill" && check.name != "decode") continue;
    CaseResult r;
    r.detail = check.not_applicable(data, impl);
    if (!r.detail.empty()) continue;
    run_and_judge(check, data, impl, r);
    nmse = std::max(nmse, r.nmse);
    max_abs = std::max(max_abs, r.max_abs_error);
    if (r.status == CaseStatus::fail) {
      out["status"] = "FAIL";
      out["detail"] = check.name + ": " + r.detail;
    }
  }
  out["nmse"] = std::isfinite(nmse) ? ordered_json(nmse) : ordered_json(nullptr);
  out["max_abs_error"] = std::isfinite(max_abs) ? ordered_json(max_abs) : ordered_json(nullptr);
  return out;
}

struct Limits {
  double dram_read_gbps;
  double gemm_gflops;
};

// Times one case with Google Benchmark and fills `record`.
void time_case(const SweepCase& c, const SweepSpec& spec, const Limits& limits,
               CollectingReporter& reporter, CaseRecord& record) {
  const Implementation& impl = implementation_of(c);
  omp_set_num_threads(c.threads);
  const Weights weights = random_weights(c.config, 0);
  const std::unique_ptr<Attention> attention = impl.make_attention(c.config, weights);
  const std::unique_ptr<KvCache> cache = attention->make_cache(c.batch, c.context + c.new_tokens);
  cache->fill_synthetic(c.context, 1);
  const int64_t rows = c.batch * c.new_tokens;
  const Tensor<double> x64 = random_activations(c.batch, c.new_tokens, c.config.hidden_size, 2);
  const std::vector<float> x(x64.data.begin(), x64.data.end());
  std::vector<int64_t> positions(rows);
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t s = 0; s < c.new_tokens; ++s) positions[b * c.new_tokens + s] = c.context + s;
  std::vector<float> out(rows * c.config.hidden_size);
  // GPU backends time on the device (CUDA events around the device work, L2 flushed before
  // each iteration: Attention::device_forward_seconds) with Google Benchmark's manual time,
  // after a warm-up; the others run forward() on the host clock.
  const bool device_timed = attention->has_device_timer();
  if (device_timed)
    for (int i = 0; i < 3; ++i) {
      cache->rewind(c.context);
      attention->forward(x.data(), positions.data(), c.batch, c.new_tokens, *cache, out.data(),
                         nullptr);
    }

  const StepCost cost = step_cost(c.config, c.form, c.batch, c.context, c.new_tokens,
                                  double(bytes_per_element(c.dtype)));
  const double compute_s = cost.flops() / (limits.gemm_gflops * 1e9);
  const double memory_s = cost.bytes() / (limits.dram_read_gbps * 1e9);
  const double bound_s = std::max(compute_s, memory_s);
  const int64_t capacity = c.context + c.new_tokens;
  const int64_t slots = impl.ring_cache ? cache_slots(c.config, capacity) : capacity;
  const double analytic_kv = double(kv_elements_per_token_layer(c.config, c.form)) *
                             double(c.batch) * double(slots) * double(bytes_per_element(c.dtype));

  benchmark::internal::Benchmark* bench =
      benchmark::RegisterBenchmark(c.name().c_str(), [&](benchmark::State& state) {
        try {
          for (auto _ : state) {
            cache->rewind(c.context);
            if (device_timed)
              state.SetIterationTime(attention->device_forward_seconds(
                  x.data(), positions.data(), c.batch, c.new_tokens, *cache, out.data()));
            else
              attention->forward(x.data(), positions.data(), c.batch, c.new_tokens, *cache,
                                 out.data(), nullptr);
          }
        } catch (const std::exception& e) {
          state.SkipWithError(e.what());
          return;
        }
        using benchmark::Counter;
        state.counters["tokens_per_s"] = Counter(double(rows), Counter::kIsIterationInvariantRate);
        state.counters["flop_per_s"] = Counter(cost.flops(), Counter::kIsIterationInvariantRate);
        state.counters["bytes_per_s"] = Counter(cost.bytes(), Counter::kIsIterationInvariantRate);
        // bound_s * iterations / elapsed: the fraction of the roofline bound reached.
        state.counters["roofline_fraction"] = Counter(bound_s, Counter::kIsIterationInvariantRate);
        state.counters["kv_bytes_allocated"] = double(cache->bytes_allocated());
        state.counters["kv_bytes_analytic"] = analytic_kv;
      });
  if (device_timed)
    bench->UseManualTime();
  else
    bench->UseRealTime();
  bench->Unit(benchmark::kMillisecond)
      ->Repetitions(spec.repetitions)
      ->MinTime(spec.min_time_s)
      ->ComputeStatistics("p10", [](const std::vector<double>& v) { return percentile(v, 0.1); })
      ->ComputeStatistics("p90", [](const std::vector<double>& v) { return percentile(v, 0.9); });
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::ClearRegisteredBenchmarks();
  record.runs = reporter.take_runs();
  const std::string error = reporter.take_error();
  if (!error.empty()) {
    record.status = "error";
    record.message = error;
  }
  record.info["cost"] = {{"attention_flops", cost.attention_flops},
                         {"projection_flops", cost.projection_flops},
                         {"cache_read_bytes", cost.cache_read_bytes},
                         {"cache_write_bytes", cost.cache_write_bytes},
                         {"weight_bytes", cost.weight_bytes},
                         {"intensity_flop_per_byte", cost.flops() / cost.bytes()}};
  record.info["roofline"] = {{"bound", compute_s >= memory_s ? "compute" : "memory"},
                             {"bound_s", bound_s},
                             {"dram_read_gbps", limits.dram_read_gbps},
                             {"gemm_gflops", limits.gemm_gflops}};
  record.info["kv_bytes_analytic"] = analytic_kv;
  record.info["kv_bytes_allocated"] = cache->bytes_allocated();
  for (const auto& run : record.runs) {
    if (run.value("run_type", "") != "aggregate") continue;
    const std::string name = run.value("aggregate_name", "");
    if (name == "median" || name == "p10" || name == "p90")
      record.info["latency_ms_" + name] = run.value("real_time", 0.0);
    if (name == "median") {
      record.info["tokens_per_s"] = run.value("tokens_per_s", 0.0);
      record.info["gflop_per_s"] = run.value("flop_per_s", 0.0) / 1e9;
      record.info["gbyte_per_s"] = run.value("bytes_per_s", 0.0) / 1e9;
      record.info["roofline_fraction"] = run.value("roofline_fraction", 0.0);
    }
  }
}

ordered_json case_description(const SweepCase& c) {
  return {{"model", c.model},
          {"config", layer_config_to_json(c.config)},
          {"impl", to_string(c.form)},
          {"backend", c.backend},
          {"dtype", to_string(c.dtype)},
          {"phase", to_string(c.phase)},
          {"batch", c.batch},
          {"context", c.context},
          {"new_tokens", c.new_tokens},
          {"threads", c.threads},
          {"attention", to_string(c.config.attention)}};
}

std::vector<const SweepCase*> select_cases(const SweepSpec& spec, const SweepOptions& o) {
  std::regex filter;
  if (!o.filter.empty()) {
    try {
      filter = std::regex(o.filter);
    } catch (const std::regex_error& e) {
      throw Error("--filter '" + o.filter + "' is not a valid regular expression (" + e.what() +
                  ")");
    }
  }
  std::vector<const SweepCase*> selected;
  for (const SweepCase& c : spec.cases) {
    if (c.index % o.shard_count != o.shard_index - 1) continue;
    if (!o.filter.empty() && !std::regex_search(c.name(), filter)) continue;
    selected.push_back(&c);
  }
  return selected;
}

int dry_run(const std::vector<const SweepCase*>& cases, double available) {
  int too_big = 0;
  std::printf("%5s  %-60s  %12s  %12s\n", "case", "name", "memory", "KV cache");
  for (const SweepCase* c : cases) {
    const double memory = modelled_case_memory_bytes(*c);
    const double kv = double(kv_elements_per_token_layer(c->config, c->form)) * double(c->batch) *
                      double(c->context + c->new_tokens) * double(bytes_per_element(c->dtype));
    const bool fits = available <= 0 || memory <= 0.9 * available;
    too_big += !fits;
    std::printf("%5lld  %-60s  %12s  %12s%s\n", static_cast<long long>(c->index), c->name().c_str(),
                human_bytes(memory).c_str(), human_bytes(kv).c_str(), fits ? "" : "  DOES NOT FIT");
  }
  std::printf("\n%zu cases; %d do not fit in the %s of RAM available\n", cases.size(), too_big,
              human_bytes(available).c_str());
  if (too_big)
    throw Error(std::to_string(too_big) +
                " case(s) do not fit in RAM; exclude them or reduce context/batch");
  return 0;
}

}  // namespace

int run_sweep(const SweepSpec& spec, const SweepOptions& o) {
  if (o.shard_count < 1 || o.shard_index < 1 || o.shard_index > o.shard_count)
    throw Error("--shard " + std::to_string(o.shard_index) + "/" + std::to_string(o.shard_count) +
                " must be i/n with 1 <= i <= n");
  const std::vector<const SweepCase*> cases = select_cases(spec, o);
  for (const std::string& combo : spec.unregistered)
    std::cerr << "attnlab: skipping " << combo << ": no such implementation is registered\n";
  if (cases.empty())
    throw Error("no case of sweep '" + spec.name + "' is selected (--shard/--filter)");
  // A backend that cannot run here (the CUDA backend without a device) is refused up front.
  for (const SweepCase* c : cases) {
    const std::string reason = implementation_of(*c).unavailable_reason();
    if (!reason.empty())
      throw Error("sweep '" + spec.name + "': backend " + c->backend +
                  " is unavailable: " + reason);
  }
  const double available = available_memory_bytes();
  if (o.dry_run) return dry_run(cases, available);
  for (const SweepCase* c : cases)
    if (available > 0 && modelled_case_memory_bytes(*c) > 0.9 * available)
      throw Error("case " + c->name() + " needs ~" + human_bytes(modelled_case_memory_bytes(*c)) +
                  " (modelled), only " + human_bytes(available) +
                  " available; exclude it or reduce context/batch (see --dry-run)");

  const std::string shard = std::to_string(o.shard_index) + "/" + std::to_string(o.shard_count);
  const ordered_json header = {{"attnlab_sweep_journal", 1},
                               {"sweep", spec.name},
                               {"fingerprint", spec.fingerprint},
                               {"shard", shard},
                               {"total_cases", spec.cases.size()}};
  SweepJournal journal(o.out_path, header, o.resume);

  // Calibration, in this run, for every thread count still to run.
  std::map<int, Limits> limits;
  for (const SweepCase* c : cases)
    if (!journal.finished().count(c->index) && !limits.count(c->threads)) {
      std::cerr << "attnlab: measuring DRAM read bandwidth and GEMM peak on " << c->threads
                << " thread(s)...\n";
      const bool quick = spec.calibration == "quick";
      limits[c->threads] = {
          measure_dram_read_gbps(c->threads, quick ? size_t{128} << 20 : size_t{1} << 30),
          measure_gemm_gflops(c->threads, quick ? 512 : 2048)};
    }

  int argc = 1;
  char arg0[] = "attnlab";
  char* argv[] = {arg0, nullptr};
  benchmark::Initialize(&argc, argv);
  CollectingReporter reporter;
  std::map<std::string, ordered_json> verified;  // by implementation and layer
  const auto start = std::chrono::steady_clock::now();
  int done = 0, failed = 0;
  const int pending = static_cast<int>(std::count_if(
      cases.begin(), cases.end(), [&](auto* c) { return !journal.finished().count(c->index); }));
  for (const SweepCase* c : cases) {
    if (journal.finished().count(c->index)) continue;
    if (o.progress) {
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const std::string eta = done ? duration(elapsed / done * (pending - done)) : "?";
      std::cerr << "\r\033[K[" << done + 1 << "/" << pending << "] " << c->name() << "  elapsed "
                << duration(elapsed) << "  ETA " << eta << std::flush;
    }
    CaseRecord record;
    record.index = c->index;
    record.name = c->name();
    record.status = "ok";
    record.info = case_description(*c);
    try {
      if (spec.verify) {
        const std::string key = layer_config_to_json(c->config).dump() + implementation_of(*c).id();
        if (!verified.count(key)) verified[key] = verify_reduced(*c);
        record.info["verify"] = verified[key];
        if (verified[key]["status"] == "FAIL") {
          record.status = "failed_verification";
          record.message = verified[key].value("detail", "");
        }
      }
      if (record.status == "ok") time_case(*c, spec, limits.at(c->threads), reporter, record);
    } catch (const std::exception& e) {
      record.status = "error";
      record.message = e.what();
    }
    journal.append(record);
    ++done;
    if (o.progress) std::cerr << "\r\033[K";
    if (record.status != "ok") {
      ++failed;
      std::cerr << "attnlab: case " << record.name << ": " << record.status << ": "
                << record.message << "\n";
    } else {
      std::printf(
          "%-58s %9.3f ms  p10 %8.3f  p90 %8.3f  %8.1f tok/s  %6.1f GFLOP/s  %6.1f GB/s  %4.0f%% "
          "of bound\n",
          record.name.c_str(), record.info.value("latency_ms_median", 0.0),
          record.info.value("latency_ms_p10", 0.0), record.info.value("latency_ms_p90", 0.0),
          record.info.value("tokens_per_s", 0.0), record.info.value("gflop_per_s", 0.0),
          record.info.value("gbyte_per_s", 0.0), 100 * record.info.value("roofline_fraction", 0.0));
      std::fflush(stdout);
    }
  }

  const BuildInfo& build = build_info();
  ordered_json extra = {{"attnlab_version", build.version},
                        {"git_commit", build.git_commit},
                        {"compiler", build.compiler},
                        {"cxx_flags", build.cxx_flags},
                        {"linear_algebra", build.linear_algebra},
                        {"cpu_model", cpu_model()},
                        {"attnlab_sweep", spec.name},
                        {"attnlab_fingerprint", spec.fingerprint},
                        {"attnlab_shard", shard}};
  ordered_json calibration = ordered_json::object();
  for (const auto& [threads, l] : limits) {
    extra["dram_read_gbps_t" + std::to_string(threads)] = l.dram_read_gbps;
    extra["gemm_gflops_t" + std::to_string(threads)] = l.gemm_gflops;
    calibration[std::to_string(threads)] = {{"dram_read_gbps", l.dram_read_gbps},
                                            {"gemm_gflops", l.gemm_gflops}};
  }
  const ordered_json block = {{"sweep", spec.name},
                              {"description", spec.description},
                              {"fingerprint", spec.fingerprint},
                              {"shard", shard},
                              {"total_cases", spec.cases.size()},
                              {"repetitions", spec.repetitions},
                              {"min_time_s", spec.min_time_s},
                              {"calibration_size", spec.calibration},
                              {"tp", spec.tp},
                              {"unregistered", spec.unregistered},
                              {"calibration", calibration}};
  int failed_total = 0;
  for (const auto& [index, r] : journal.finished()) failed_total += r.status != "ok";
  journal.finalize(benchmark_context(extra), block);
  std::cerr << "attnlab: " << journal.finished().size() << " case(s) written to " << o.out_path
            << (failed_total ? " (" + std::to_string(failed_total) + " failed)" : std::string())
            << "\n";
  return failed_total == 0 ? 0 : 1;
}

}  // namespace attnlab
