// Reading and checking results files; see results_file.h.
#include "reports/results_file.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/json_fields.h"

namespace attnlab::reports {

using nlohmann::json;

namespace {

// Bounds of a case's description: wider than any sweep produces (sweep/sweep_config.cpp), and
// narrow enough that the sections' sums and products of them stay exact.
constexpr int64_t kMaxBatch = int64_t{1} << 20;
constexpr int64_t kMaxTokens = int64_t{1} << 30;
constexpr int64_t kMaxThreads = int64_t{1} << 16;

double unit_to_ms(const std::string& unit, const std::string& where) {
  if (unit == "ns") return 1e-6;
  if (unit == "us") return 1e-3;
  if (unit == "ms") return 1;
  if (unit == "s") return 1e3;
  throw Error(where + ": unknown time_unit " + single_quoted(unit));
}

json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open results file (" + std::strerror(errno) + ")");
  std::stringstream text;
  text << in.rdbuf();
  return parse_json(text.str(), path, {"not a results file: not valid JSON", false});
}

// A member the sections read, when present, must have the type they read it as.
void optional_string(const json& object, const std::string& origin, const std::string& path,
                     const char* key) {
  if (const json* v = find_member(object, origin, path, key))
    read_string(*v, origin, member_path(path, key));
}

void require_case_fields(const json& record, const std::string& where) {
  if (!record.is_object()) throw Error(where + ": is not a JSON object");
  for (const char* key : {"name", "status"})
    if (!record.contains(key) || !record[key].is_string())
      throw Error(where + ": field '" + key + "' is missing or not a string");
  optional_string(record, where, "", "message");
  if (!record.contains("info") || !record["info"].is_object())
    throw Error(where + ": field 'info' is missing or not an object");
  const json& info = record["info"];
  for (const char* key : {"model", "impl", "backend", "dtype", "phase", "attention"})
    if (!info.contains(key) || !info[key].is_string())
      throw Error(where + ": field 'info." + key + "' is missing or not a string");
  const std::pair<const char*, std::pair<int64_t, int64_t>> counts[] = {
      {"batch", {1, kMaxBatch}},
      {"context", {0, kMaxTokens}},
      {"new_tokens", {1, kMaxTokens}},
      {"threads", {1, kMaxThreads}}};
  for (const auto& [key, range] : counts) {
    if (!info.contains(key) || !info[key].is_number_integer())
      throw Error(where + ": field 'info." + key + "' is missing or not an integer");
    read_int(info[key], where, std::string("info.") + key, range.first, range.second);
  }
  // What the accuracy and roofline sections read as text.
  if (const json* verify = find_member(info, where, "info", "verify");
      verify && verify->is_object())
    for (const char* key : {"status", "shape", "detail"})
      optional_string(*verify, where, "info.verify", key);
  if (const json* roofline = find_member(info, where, "info", "roofline");
      roofline && roofline->is_object())
    optional_string(*roofline, where, "info.roofline", "bound");
}

// What the runs and roofline sections read from the attnlab block.
void check_attnlab_block(const json& a, const std::string& path) {
  optional_string(a, path, "attnlab", "sweep");
  if (const json* t = find_member(a, path, "attnlab", "min_time_s"))
    read_number(*t, path, "attnlab.min_time_s");
  if (const json* cal = find_member(a, path, "attnlab", "calibration")) {
    if (!cal->is_object())
      fail_field(path, "attnlab.calibration", "must be an object, got " + describe_value(*cal));
    for (auto it = cal->begin(); it != cal->end(); ++it) {
      if (!it->is_object()) continue;  // not a per-thread-count entry: the sections skip it
      const std::string where = member_path("attnlab.calibration", it.key());
      for (const char* key : {"dram_read_gbps", "gemm_gflops"})
        if (const json* v = find_member(*it, path, where, key))
          read_number(*v, path, member_path(where, key));
    }
  }
}

// Real times of the iteration runs in "benchmarks", by run_name, in milliseconds.
std::map<std::string, std::vector<double>> repetitions_by_run(const json& benchmarks,
                                                              const std::string& path) {
  std::map<std::string, std::vector<double>> runs;
  for (size_t i = 0; i < benchmarks.size(); ++i) {
    const json& run = benchmarks[i];
    const std::string where = element_path("benchmarks", i);
    if (!run.is_object()) continue;
    const json* type = find_member(run, path, where, "run_type");
    if (!type || read_string(*type, path, member_path(where, "run_type")) != "iteration") continue;
    if (const json* e = find_member(run, path, where, "error_occurred"))
      if (read_bool(*e, path, member_path(where, "error_occurred"))) continue;
    std::string name;
    for (const char* key : {"run_name", "name"})
      if (const json* v = find_member(run, path, where, key); v && name.empty())
        name = read_string(*v, path, member_path(where, key));
    if (name.empty() || !run.contains("real_time") || !run["real_time"].is_number())
      throw Error(path + ": benchmark run " + single_quoted(name) + " has no real_time");
    const double real_time =
        read_number(run["real_time"], path, member_path(where, "real_time"), 0);
    const json* unit = find_member(run, path, where, "time_unit");
    const double scale =
        unit_to_ms(unit ? read_string(*unit, path, member_path(where, "time_unit")) : "ns",
                   path + ": run " + single_quoted(name));
    runs[name].push_back(real_time * scale);
  }
  return runs;
}

}  // namespace

double ResultCase::number(const std::string& pointer) const {
  const json::json_pointer p(pointer);
  if (!info.contains(p)) return NAN;
  const json& v = info[p];
  return v.is_number() ? v.get<double>() : NAN;
}

ResultsFile load_results_file(const std::string& path, const std::string& label) {
  json j = read_json(path);
  const std::string not_results = path + ": not an attnlab results file (";
  if (!j.is_object()) throw Error(not_results + "the top level is not a JSON object)");
  if (!j.contains("attnlab") || !j["attnlab"].is_object())
    throw Error(not_results + "no \"attnlab\" block; results come from `attnlab sweep`)");
  if (!j["attnlab"].contains("cases") || !j["attnlab"]["cases"].is_array())
    throw Error(not_results + "\"attnlab\" has no \"cases\" array)");
  if (!j.contains("benchmarks") || !j["benchmarks"].is_array())
    throw Error(not_results + "no \"benchmarks\" array)");
  ResultsFile file;
  file.path = path;
  file.label = label;
  file.context = j.value("context", json::object());
  if (!file.context.is_object()) throw Error(not_results + "\"context\" is not an object)");
  check_attnlab_block(j["attnlab"], path);
  const auto runs = repetitions_by_run(j["benchmarks"], path);
  const json& cases = j["attnlab"]["cases"];
  for (size_t i = 0; i < cases.size(); ++i) {
    const json& record = cases[i];
    std::string where = path + ": case " + std::to_string(i);
    if (record.is_object() && record.contains("name") && record["name"].is_string())
      where += " (" + printable(record["name"].get<std::string>()) + ")";
    require_case_fields(record, where);
    ResultCase c;
    c.name = record["name"];
    c.status = record["status"];
    c.message = record.value("message", "");
    c.info = record["info"];
    // Google Benchmark's run_name is the case name plus "/min_time:.../repeats:.../real_time".
    for (const auto& [run_name, times] : runs)
      if (run_name == c.name || run_name.rfind(c.name + "/", 0) == 0)
        c.repetitions_ms.insert(c.repetitions_ms.end(), times.begin(), times.end());
    file.cases.push_back(std::move(c));
  }
  file.attnlab = std::move(j["attnlab"]);
  file.attnlab.erase("cases");
  return file;
}

}  // namespace attnlab::reports
