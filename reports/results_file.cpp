// Reading and checking results files; see results_file.h.
#include "reports/results_file.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>

#include "core/error.h"

namespace attnlab::reports {

using nlohmann::json;

namespace {

double unit_to_ms(const std::string& unit, const std::string& where) {
  if (unit == "ns") return 1e-6;
  if (unit == "us") return 1e-3;
  if (unit == "ms") return 1;
  if (unit == "s") return 1e3;
  throw Error(where + ": unknown time_unit '" + unit + "'");
}

// nlohmann's messages start with "[json.exception.parse_error.101] "; the rest is the useful part.
std::string without_exception_tag(const std::string& what) {
  const size_t end = what.find("] ");
  return what.rfind("[json.exception", 0) == 0 && end != std::string::npos ? what.substr(end + 2)
                                                                           : what;
}

json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open results file (" + std::strerror(errno) + ")");
  try {
    return json::parse(in);
  } catch (const json::parse_error& e) {
    throw Error(path + ": not a results file: not valid JSON (" + without_exception_tag(e.what()) +
                ")");
  }
}

void require_case_fields(const json& record, const std::string& where) {
  if (!record.is_object()) throw Error(where + ": is not a JSON object");
  for (const char* key : {"name", "status"})
    if (!record.contains(key) || !record[key].is_string())
      throw Error(where + ": field '" + key + "' is missing or not a string");
  if (!record.contains("info") || !record["info"].is_object())
    throw Error(where + ": field 'info' is missing or not an object");
  const json& info = record["info"];
  for (const char* key : {"model", "impl", "backend", "dtype", "phase", "attention"})
    if (!info.contains(key) || !info[key].is_string())
      throw Error(where + ": field 'info." + key + "' is missing or not a string");
  for (const char* key : {"batch", "context", "new_tokens", "threads"})
    if (!info.contains(key) || !info[key].is_number_integer())
      throw Error(where + ": field 'info." + key + "' is missing or not an integer");
}

// Real times of the iteration runs in "benchmarks", by run_name, in milliseconds.
std::map<std::string, std::vector<double>> repetitions_by_run(const json& benchmarks,
                                                              const std::string& path) {
  std::map<std::string, std::vector<double>> runs;
  for (const json& run : benchmarks) {
    if (!run.is_object() || run.value("run_type", "") != "iteration") continue;
    if (run.value("error_occurred", false)) continue;
    const std::string name = run.value("run_name", run.value("name", ""));
    if (name.empty() || !run.contains("real_time") || !run["real_time"].is_number())
      throw Error(path + ": benchmark run '" + name + "' has no real_time");
    const double scale = unit_to_ms(run.value("time_unit", "ns"), path + ": run '" + name + "'");
    runs[name].push_back(run["real_time"].get<double>() * scale);
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
  const auto runs = repetitions_by_run(j["benchmarks"], path);
  const json& cases = j["attnlab"]["cases"];
  for (size_t i = 0; i < cases.size(); ++i) {
    const json& record = cases[i];
    std::string where = path + ": case " + std::to_string(i);
    if (record.is_object() && record.contains("name") && record["name"].is_string())
      where += " (" + record["name"].get<std::string>() + ")";
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
