// "Runs": the machine, build and sweep behind each results file, its calibration (the roofline's
// ceilings) and the cases that did not run. See sections.h.
#include <map>

#include "reports/format.h"
#include "reports/sections.h"

namespace attnlab::reports {

namespace {

using nlohmann::json;

std::string text_of(const json& block, const char* key) {
  if (!block.contains(key)) return "-";
  const json& v = block[key];
  if (v.is_string()) return v.get<std::string>().empty() ? "-" : v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  if (v.is_number()) return sig3(v.get<double>());
  if (v.is_array()) {
    std::string out;
    for (const json& e : v)
      out += (out.empty() ? "" : ", ") + (e.is_number() ? sig3(e.get<double>()) : e.dump());
    return out;
  }
  return v.dump();
}

std::string cpus(const json& context) {
  std::string out = text_of(context, "num_cpus") + " CPUs";
  if (context.contains("mhz_per_cpu")) out += " at " + text_of(context, "mhz_per_cpu") + " MHz";
  return out;
}

std::string case_counts(const ResultsFile& f) {
  std::map<std::string, int> by_status;
  for (const ResultCase& c : f.cases) ++by_status[c.status];
  std::string out = std::to_string(f.cases.size()) + " (";
  bool first = true;
  for (const auto& [status, n] : by_status) {
    out += (first ? "" : ", ") + std::to_string(n) + " " + status;
    first = false;
  }
  return out + ")";
}

std::string calibration(const ResultsFile& f) {
  const json cal = f.attnlab.value("calibration", json::object());
  std::string out;
  for (auto it = cal.begin(); it != cal.end(); ++it) {
    if (!it->is_object()) continue;
    out += (out.empty() ? "" : "; ") + it.key() + (it.key() == "1" ? " thread: " : " threads: ") +
           sig3(it->value("dram_read_gbps", 0.0)) + " GB/s DRAM read, " +
           sig3(it->value("gemm_gflops", 0.0)) + " GFLOP/s fp32 GEMM";
  }
  return out.empty() ? "-" : out;
}

}  // namespace

Section runs_section(const std::vector<ResultsFile>& files) {
  Section s{"runs", "Runs: machine and build", {}};
  s.paragraph(
      "Where each results file comes from. The calibration is measured by the sweep itself on "
      "the same machine, before its cases: the DRAM read bandwidth and fp32 GEMM (OpenBLAS "
      "sgemm) peak that the roofline below uses as ceilings.");
  Table t;
  t.header = {""};
  t.align = "l";
  for (const ResultsFile& f : files) {
    t.header.push_back(f.label + " " + f.path);
    t.align += 'l';
  }
  const auto row = [&](const std::string& name, auto value_of) {
    std::vector<std::string> r = {name};
    for (const ResultsFile& f : files) r.push_back(value_of(f));
    t.rows.push_back(r);
  };
  row("sweep", [](const ResultsFile& f) { return f.sweep(); });
  row("description", [](const ResultsFile& f) { return text_of(f.attnlab, "description"); });
  row("shard", [](const ResultsFile& f) { return text_of(f.attnlab, "shard"); });
  row("date", [](const ResultsFile& f) { return text_of(f.context, "date"); });
  row("host", [](const ResultsFile& f) { return text_of(f.context, "host_name"); });
  row("CPU", [](const ResultsFile& f) { return text_of(f.context, "cpu_model"); });
  row("CPUs", [](const ResultsFile& f) { return cpus(f.context); });
  row("CPU frequency scaling",
      [](const ResultsFile& f) { return text_of(f.context, "cpu_scaling_enabled"); });
  row("load average (1, 5, 15 min)",
      [](const ResultsFile& f) { return text_of(f.context, "load_avg"); });
  row("attnlab version",
      [](const ResultsFile& f) { return text_of(f.context, "attnlab_version"); });
  row("git commit", [](const ResultsFile& f) { return text_of(f.context, "git_commit"); });
  row("compiler", [](const ResultsFile& f) { return text_of(f.context, "compiler"); });
  row("compiler flags", [](const ResultsFile& f) { return text_of(f.context, "cxx_flags"); });
  row("linear algebra", [](const ResultsFile& f) { return text_of(f.context, "linear_algebra"); });
  row("repetitions x min time", [](const ResultsFile& f) {
    return text_of(f.attnlab, "repetitions") + " x " +
           format("%g", f.attnlab.value("min_time_s", 0.0)) + " s";
  });
  row("calibration", calibration);
  row("cases", case_counts);
  s.table(std::move(t));

  Table failed{{"results", "case", "status", "message"}, "llll", {}};
  for (const ResultsFile& f : files)
    for (const ResultCase& c : f.cases)
      if (!c.ok()) failed.rows.push_back({f.label, c.name, c.status, c.message});
  if (!failed.rows.empty()) {
    s.note(std::to_string(failed.rows.size()) +
           " case(s) did not run to the end and appear in no chart below:");
    s.table(std::move(failed));
  }
  return s;
}

}  // namespace attnlab::reports
