// Journal, results file and merge; see sweep_results.h.
#include "sweep/sweep_results.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/json_fields.h"
#include "io/atomic_file.h"

namespace attnlab {

using nlohmann::json;
using nlohmann::ordered_json;

namespace {

const char* time_unit_name(benchmark::TimeUnit unit) {
  switch (unit) {
    case benchmark::kNanosecond:
      return "ns";
    case benchmark::kMicrosecond:
      return "us";
    case benchmark::kMillisecond:
      return "ms";
    case benchmark::kSecond:
      return "s";
  }
  return "ns";
}

// Case indices and counts: a sweep has at most 100000 cases (sweep_config.cpp); the bound
// leaves room and keeps every loop over indices short.
constexpr int64_t kMaxCaseIndex = int64_t{1} << 31;

ordered_json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open results file");
  std::stringstream text;
  text << in.rdbuf();
  return parse_ordered_json(text.str(), path);
}

// An optional string member of an object (`fallback` when absent).
std::string optional_string(const ordered_json& object, const std::string& origin,
                            const std::string& path, const std::string& key,
                            const std::string& fallback) {
  const ordered_json* v = find_member(object, origin, path, key);
  return v ? read_string(*v, origin, member_path(path, key)) : fallback;
}

const ordered_json& required_member(const ordered_json& object, const std::string& origin,
                                    const std::string& path, const std::string& key) {
  const ordered_json* v = find_member(object, origin, path, key);
  if (!v) throw Error(origin + ": missing field " + single_quoted(member_path(path, key)));
  return *v;
}

}  // namespace

ordered_json CaseRecord::to_json() const {
  return {{"index", index},     {"name", name}, {"status", status},
          {"message", message}, {"runs", runs}, {"info", info}};
}

CaseRecord CaseRecord::from_json(const ordered_json& j, const std::string& origin,
                                 const std::string& path) {
  CaseRecord r;
  r.index = read_int(required_member(j, origin, path, "index"), origin, member_path(path, "index"),
                     0, kMaxCaseIndex);
  r.name = read_string(required_member(j, origin, path, "name"), origin, member_path(path, "name"));
  r.status =
      read_string(required_member(j, origin, path, "status"), origin, member_path(path, "status"));
  r.message = optional_string(j, origin, path, "message", "");
  r.runs = required_member(j, origin, path, "runs");
  if (!r.runs.is_array())
    fail_field(origin, member_path(path, "runs"),
               "must be an array of benchmark runs, got " + describe_value(r.runs));
  r.info = required_member(j, origin, path, "info");
  if (!r.info.is_object())
    fail_field(origin, member_path(path, "info"),
               "must be an object, got " + describe_value(r.info));
  return r;
}

ordered_json run_to_json(const benchmark::BenchmarkReporter::Run& run) {
  ordered_json j;
  j["name"] = run.benchmark_name();
  j["family_index"] = run.family_index;
  j["per_family_instance_index"] = run.per_family_instance_index;
  j["run_name"] = run.run_name.str();
  const bool aggregate = run.run_type == benchmark::BenchmarkReporter::Run::RT_Aggregate;
  j["run_type"] = aggregate ? "aggregate" : "iteration";
  j["repetitions"] = run.repetitions;
  if (!aggregate) j["repetition_index"] = run.repetition_index;
  j["threads"] = run.threads;
  if (aggregate) {
    j["aggregate_name"] = run.aggregate_name;
    j["aggregate_unit"] = run.aggregate_unit == benchmark::kPercentage ? "percentage" : "time";
  }
  if (run.error_occurred) {
    j["error_occurred"] = true;
    j["error_message"] = run.error_message;
  }
  j["iterations"] = run.iterations;
  j["real_time"] = run.GetAdjustedRealTime();
  j["cpu_time"] = run.GetAdjustedCPUTime();
  if (!aggregate || run.aggregate_unit == benchmark::kTime)
    j["time_unit"] = time_unit_name(run.time_unit);
  for (const auto& [name, counter] : run.counters) j[name] = counter.value;
  if (!run.report_label.empty()) j["label"] = run.report_label;
  return j;
}

ordered_json benchmark_context(const ordered_json& extra) {
  const benchmark::CPUInfo& cpu = benchmark::CPUInfo::Get();
  ordered_json c;
  char date[64];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S%z", std::localtime(&now));
  c["date"] = date;
  c["host_name"] = benchmark::SystemInfo::Get().name;
  c["executable"] = "attnlab";
  c["num_cpus"] = cpu.num_cpus;
  c["mhz_per_cpu"] = static_cast<int64_t>(cpu.cycles_per_second / 1e6);
  c["cpu_scaling_enabled"] = cpu.scaling == benchmark::CPUInfo::ENABLED;
  ordered_json caches = ordered_json::array();
  for (const auto& cache : cpu.caches)
    caches.push_back({{"type", cache.type},
                      {"level", cache.level},
                      {"size", cache.size},
                      {"num_sharing", cache.num_sharing}});
  c["caches"] = caches;
  c["load_avg"] = cpu.load_avg;
  c["library_build_type"] = "release";
  for (auto it = extra.begin(); it != extra.end(); ++it) c[it.key()] = it.value();
  return c;
}

SweepJournal::SweepJournal(std::string out_path, const ordered_json& header, bool resume)
    : out_path_(std::move(out_path)), header_(header) {
  const std::string path = journal_path();
  const std::filesystem::path dir = std::filesystem::path(out_path_).parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec)
      throw Error(out_path_ + ": cannot create directory '" + dir.string() + "' (" + ec.message() +
                  ")");
  }
  if (std::filesystem::exists(path)) {
    if (!resume)
      throw Error(path +
                  ": an unfinished run of this output exists; pass --resume to continue it, "
                  "or remove the file to start over");
    std::ifstream in(path);
    std::string line;
    if (!std::getline(in, line)) throw Error(path + ": empty journal");
    const ordered_json stored =
        parse_ordered_json(line, path, {"the journal header is not valid JSON", false});
    if (!stored.is_object()) throw Error(path + ": the journal header is not a JSON object");
    const std::string fingerprint = optional_string(stored, path, "", "fingerprint", "");
    const std::string shard = optional_string(stored, path, "", "shard", "");
    if (fingerprint != header_.value("fingerprint", "") || shard != header_.value("shard", ""))
      throw Error(path + ": the unfinished run belongs to another sweep or shard (fingerprint " +
                  printable(fingerprint) + ", shard " + printable(shard) +
                  "); remove it or use another --out");
    for (int64_t number = 2; std::getline(in, line); ++number) {
      if (line.empty()) continue;
      try {
        const std::string where = "line " + std::to_string(number);
        const CaseRecord r = CaseRecord::from_json(parse_ordered_json(line, path), path, where);
        finished_[r.index] = r;
      } catch (const Error&) {
        break;  // a line cut short by a crash: that case simply runs again
      }
    }
    // Rewrite the journal without a torn last line, so appends start on a clean line.
    AtomicFile rewrite(path);
    rewrite.stream() << header_.dump() << "\n";
    for (const auto& [index, r] : finished_) rewrite.stream() << r.to_json().dump() << "\n";
    rewrite.commit();
    return;
  }
  AtomicFile fresh(path);
  fresh.stream() << header_.dump() << "\n";
  fresh.commit();
}

void SweepJournal::append(const CaseRecord& record) {
  const std::string line = record.to_json().dump() + "\n";
  const int fd = ::open(journal_path().c_str(), O_WRONLY | O_APPEND);
  if (fd < 0) throw Error(journal_path() + ": cannot append to the sweep journal");
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) throw Error(journal_path() + ": write failed (disk full?)");
  finished_[record.index] = record;
}

void SweepJournal::finalize(const ordered_json& context, const ordered_json& attnlab_block) {
  ordered_json out;
  out["context"] = context;
  out["benchmarks"] = ordered_json::array();
  ordered_json cases = ordered_json::array();
  for (const auto& [index, r] : finished_) {
    for (const auto& run : r.runs) out["benchmarks"].push_back(run);
    cases.push_back(r.to_json());
  }
  out["attnlab"] = attnlab_block;
  out["attnlab"]["cases"] = cases;
  AtomicFile file(out_path_);
  file.stream() << out.dump(1) << "\n";
  file.commit();
  std::filesystem::remove(journal_path());
}

void merge_results(const std::vector<std::string>& inputs, const std::string& out_path) {
  if (inputs.empty()) throw Error("merge needs at least one results file");
  ordered_json first;
  std::map<int64_t, std::pair<std::string, ordered_json>> cases;  // index -> (file, record)
  std::set<std::string> shards;
  int64_t total = -1;
  std::string first_sweep, first_fingerprint;
  for (const std::string& path : inputs) {
    const ordered_json j = read_json_file(path);
    if (!j.is_object() || !j.contains("attnlab") || !j["attnlab"].is_object() ||
        !j["attnlab"].contains("fingerprint"))
      throw Error(path + ": not an attnlab sweep results file");
    if (j.contains("context") && !j["context"].is_object())
      fail_field(path, "context", "must be an object, got " + describe_value(j["context"]));
    const ordered_json& a = j["attnlab"];
    const std::string fingerprint = read_string(a["fingerprint"], path, "attnlab.fingerprint");
    const std::string sweep = optional_string(a, path, "attnlab", "sweep", "?");
    if (first.is_null()) {
      first = j;
      first_sweep = sweep;
      first_fingerprint = fingerprint;
      if (const ordered_json* t = find_member(a, path, "attnlab", "total_cases"))
        total = read_int(*t, path, "attnlab.total_cases", 0, kMaxCaseIndex);
    } else if (fingerprint != first_fingerprint) {
      throw Error(path + ": belongs to sweep " + single_quoted(sweep) + " (fingerprint " +
                  printable(fingerprint) + "), not to " + single_quoted(first_sweep) +
                  " (fingerprint " + printable(first_fingerprint) + ")");
    }
    shards.insert(optional_string(a, path, "attnlab", "shard", "?"));
    const ordered_json& records = required_member(a, path, "attnlab", "cases");
    if (!records.is_array())
      fail_field(path, "attnlab.cases", "must be an array, got " + describe_value(records));
    for (size_t i = 0; i < records.size(); ++i) {
      const CaseRecord r =
          CaseRecord::from_json(records[i], path, element_path("attnlab.cases", i));
      if (cases.count(r.index))
        throw Error(path + ": case " + std::to_string(r.index) + " (" + printable(r.name) +
                    ") is also in " + cases[r.index].first);
      cases[r.index] = {path, records[i]};
    }
  }
  if (total >= 0 && static_cast<int64_t>(cases.size()) != total) {
    std::string missing;
    for (int64_t i = 0, shown = 0; i < total && shown < 5; ++i)
      if (!cases.count(i)) missing += (shown++ ? ", " : "") + std::to_string(i);
    throw Error("merge: " + std::to_string(cases.size()) + " of " + std::to_string(total) +
                " cases present (missing e.g. case " + missing + "); is a shard missing?");
  }
  ordered_json out;
  out["context"] = first["context"];
  std::string shard_list;
  for (const std::string& s : shards) shard_list += (shard_list.empty() ? "" : ",") + s;
  out["context"]["attnlab_shard"] = "merged " + shard_list;
  out["benchmarks"] = ordered_json::array();
  ordered_json records = ordered_json::array();
  for (const auto& [index, entry] : cases) {
    for (const auto& run : entry.second.at("runs")) out["benchmarks"].push_back(run);
    records.push_back(entry.second);
  }
  out["attnlab"] = first["attnlab"];
  out["attnlab"]["shard"] = "merged " + shard_list;
  out["attnlab"]["cases"] = records;
  AtomicFile file(out_path);
  file.stream() << out.dump(1) << "\n";
  file.commit();
}

}  // namespace attnlab
