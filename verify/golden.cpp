// Writing golden case directories and judging external outputs against them; see golden.h.
#include "verify/golden.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/json_fields.h"
#include "io/atomic_file.h"
#include "io/layer_weights.h"
#include "io/safetensors.h"
#include "variants/rope.h"
#include "verify/checks.h"
#include "verify/tolerance.h"

namespace attnlab {

namespace fs = std::filesystem;

namespace {

const char* const kFormat = "attnlab-golden";
const std::vector<DType> kJudgedDtypes{DType::fp64, DType::fp32, DType::bf16, DType::fp16};

// "tiny-mla b2 s9 seed1 x1e+04" -> "tiny-mla-b2-s9-seed1-x1e-04": a portable directory name.
std::string slug(const std::string& text) {
  std::string out;
  for (char ch : text) {
    const bool keep = std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_';
    if (keep)
      out += ch;
    else if (!out.empty() && out.back() != '-')
      out += '-';
  }
  while (!out.empty() && (out.back() == '-' || out.back() == '.')) out.pop_back();
  return out;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_json(const std::string& path, const nlohmann::ordered_json& j) {
  AtomicFile file(path);
  file.stream() << j.dump(2) << "\n";
  file.commit();
}

nlohmann::ordered_json tolerance_json(const Tolerance& t) {
  return {{"nmse_bound", t.nmse_bound},
          {"atol", t.atol},
          {"rtol", t.rtol},
          {"lse_atol", t.lse_atol},
          {"lse_rtol", t.lse_rtol},
          {"bias_floor", t.bias_floor},
          {"bias_coeff", t.bias_coeff},
          {"bias_min_samples", t.bias_min_samples},
          {"why", t.reason}};
}

// The values an implementation needs that the config only implies: the softmax scale (YaRN's
// mscale^2 included), the RoPE pairs' inverse frequencies and cos/sin factor, the window.
nlohmann::ordered_json resolved_json(const LayerConfig& config) {
  const RopeSpec rope = rope_spec(config);
  nlohmann::ordered_json j;
  j["softmax_scale"] = config.scale();
  j["qk_head_dim"] = config.qk_head_dim();
  j["value_head_dim"] = config.value_head_dim();
  j["rope_layout"] = to_string(rope.layout);
  j["rotary_dim"] = rope.rotates() ? rope.rotary_dim : 0;
  j["rope_inv_freq"] = rope.inv_freq_table();
  j["rope_attention_factor"] = rope.attention_factor();
  if (const auto window = config.window())
    j["window"] = *window;
  else
    j["window"] = nullptr;
  return j;
}

int64_t fewest_cache_elements(const LayerConfig& config, int64_t tokens) {
  int64_t fewest = -1;
  for (ImplForm form : impl_forms_for(config)) {
    const int64_t n = kv_elements_per_token_layer(config, form) * tokens;
    if (fewest < 0 || n < fewest) fewest = n;
  }
  return fewest;
}

void write_case(const CaseData& data, const std::string& phase, const std::string& dir) {
  fs::create_directories(dir);
  const VerifyCase& spec = data.spec;
  save_layer_weights(data.config, data.weights, dir + "/weights.safetensors", "", DType::fp64);
  SafetensorsWriter inputs;
  inputs.add("hidden_states", data.x, DType::fp64);
  inputs.add("position_ids", data.positions);
  inputs.write(dir + "/inputs.safetensors");
  SafetensorsWriter expected;
  expected.add("attn_output", data.truth.out, DType::fp64);
  expected.add("lse", data.truth.lse, DType::fp64);
  expected.set_metadata("attnlab.case", spec.name());
  expected.write(dir + "/expected.safetensors");

  nlohmann::ordered_json j;
  j["format"] = kFormat;
  j["version"] = kGoldenVersion;
  j["case"] = spec.name();
  j["phase"] = phase;
  j["chunks"] = phase_chunks(phase, spec.seq);
  j["variant"] = to_string(data.config.attention);
  j["truth_form"] = to_string(defining_form(data.config));
  nlohmann::ordered_json forms = nlohmann::ordered_json::array();
  for (ImplForm f : impl_forms_for(data.config)) forms.push_back(to_string(f));
  j["forms"] = forms;
  j["batch"] = spec.batch;
  j["seq"] = spec.seq;
  j["config"] = layer_config_to_json(data.config);
  j["resolved"] = resolved_json(data.config);
  j["files"] = {{"config", "config.json"},
                {"weights", "weights.safetensors"},
                {"inputs", "inputs.safetensors"},
                {"expected", "expected.safetensors"}};
  j["cache_elements"] = fewest_cache_elements(data.config, spec.batch * spec.seq);
  nlohmann::ordered_json dtypes = nlohmann::ordered_json::array(), tolerance;
  for (DType d : kJudgedDtypes) {
    if (!spec.dtype_excluded(d).empty()) continue;
    dtypes.push_back(to_string(d));
    tolerance[to_string(d)] = tolerance_json(tolerance_for(d));
  }
  j["dtypes"] = dtypes;
  j["tolerance"] = tolerance;
  write_json(dir + "/case.json", j);
  // The layer config alone, so that `attnlab run --model DIR/config.json` runs this very layer.
  write_json(dir + "/config.json", layer_config_to_json(data.config));
}

// Replaces `out_dir` by `staged` when out_dir is absent, empty or an earlier golden directory.
void move_into_place(const fs::path& staged, const fs::path& out_dir) {
  if (fs::exists(out_dir)) {
    const bool replaceable =
        fs::is_directory(out_dir) && (fs::is_empty(out_dir) || fs::exists(out_dir / "index.json"));
    if (!replaceable)
      throw Error(out_dir.string() +
                  ": exists and is not a golden directory (no index.json); not replacing it");
    fs::remove_all(out_dir);
  }
  fs::rename(staged, out_dir);
}

}  // namespace

std::vector<std::string> write_golden(const GoldenRequest& request, const std::string& out_dir) {
  for (const std::string& phase : request.phases)
    phase_chunks(phase, 1);  // throws naming a phase that does not exist
  fs::path out = fs::path(out_dir).lexically_normal();
  if (out.filename().empty()) out = out.parent_path();
  const fs::path staged = out.string() + ".tmp-" + std::to_string(getpid());
  std::vector<std::string> names, seen;
  try {
    fs::remove_all(staged);
    fs::create_directories(staged);
    nlohmann::ordered_json index;
    index["format"] = kFormat;
    index["version"] = kGoldenVersion;
    index["cases"] = nlohmann::ordered_json::array();
    for (VerifyCase spec : request.cases) {
      if (request.model) spec.model = request.model_label;
      if (std::find(seen.begin(), seen.end(), spec.name()) != seen.end()) continue;
      seen.push_back(spec.name());
      const CaseData data = request.model ? prepare_case(*request.model, spec) : prepare_case(spec);
      for (const std::string& phase : request.phases) {
        if (!spec.check_excluded(phase).empty() || !phase_excluded(phase, spec.seq).empty())
          continue;
        char number[16];
        std::snprintf(number, sizeof number, "%03zu-", names.size());
        const std::string name = number + slug(spec.name()) + "-" + phase;
        write_case(data, phase, (staged / name).string());
        names.push_back(name);
        index["cases"].push_back({{"dir", name}, {"case", spec.name()}, {"phase", phase}});
      }
    }
    if (names.empty()) throw Error(out_dir + ": no case applies to the phases asked for");
    write_json((staged / "index.json").string(), index);
    move_into_place(staged, out);
  } catch (const fs::filesystem_error& e) {
    std::error_code ignored;
    fs::remove_all(staged, ignored);
    throw Error(out_dir + ": " + e.code().message());
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(staged, ignored);
    throw;
  }
  return names;
}

bool is_golden_root(const std::string& path) {
  return fs::is_directory(path) && fs::exists(fs::path(path) / "index.json");
}

std::vector<std::string> golden_case_dirs(const std::string& path) {
  if (fs::is_directory(path) && fs::exists(fs::path(path) / "case.json")) return {path};
  if (!is_golden_root(path))
    throw Error(path + ": not a golden case directory (case.json) nor a golden root (index.json)");
  const std::string index_path = (fs::path(path) / "index.json").string();
  const nlohmann::json index = parse_json(read_text(index_path), index_path);
  if (!index.is_object() || index.value("format", "") != kFormat || !index.contains("cases") ||
      !index["cases"].is_array())
    throw Error(index_path + ": not an attnlab-golden index");
  std::vector<std::string> dirs;
  for (const nlohmann::json& c : index["cases"]) {
    if (!c.is_object() || !c.contains("dir") || !c["dir"].is_string())
      throw Error(index_path + ": a case without a 'dir'");
    dirs.push_back((fs::path(path) / c["dir"].get<std::string>()).string());
  }
  return dirs;
}

GoldenCase read_golden_case(const std::string& dir) {
  const std::string case_path = (fs::path(dir) / "case.json").string();
  if (!fs::exists(case_path)) throw Error(case_path + ": missing");
  const nlohmann::json j = parse_json(read_text(case_path), case_path);
  if (!j.is_object() || j.value("format", "") != kFormat)
    throw Error(case_path + ": not an attnlab-golden case (format)");
  if (j.value("version", 0) != kGoldenVersion)
    throw Error(case_path + ": golden version " + j.value("version", nlohmann::json()).dump() +
                ", this attnlab reads version " + std::to_string(kGoldenVersion));
  GoldenCase g;
  g.dir = dir;
  g.dir_name = fs::path(dir).lexically_normal().filename().string();
  if (g.dir_name.empty())
    g.dir_name = fs::path(dir).lexically_normal().parent_path().filename().string();
  try {
    g.case_name = j.at("case").get<std::string>();
    g.phase = j.at("phase").get<std::string>();
    g.variant = j.at("variant").get<std::string>();
    g.cache_elements = j.at("cache_elements").get<int64_t>();
    for (const nlohmann::json& d : j.at("dtypes"))
      g.dtypes.push_back(parse_dtype(d.get<std::string>(), kJudgedDtypes, case_path + ": dtypes"));
  } catch (const nlohmann::json::exception& e) {
    throw Error(case_path + ": malformed (" + std::string(e.what()) + ")");
  }
  const std::string expected_path = (fs::path(dir) / "expected.safetensors").string();
  const SafetensorsFile expected = SafetensorsFile::read(expected_path);
  if (!expected.has("attn_output") || !expected.has("lse"))
    throw Error(expected_path + ": needs attn_output and lse");
  g.expected.out = expected.to_double("attn_output");
  g.expected.lse = expected.to_double("lse");
  return g;
}

CaseResult compare_golden(const GoldenCase& golden, const std::string& actual_path, DType dtype) {
  CaseResult r;
  r.case_name = golden.case_name;
  r.check = golden.phase;
  r.variant = golden.variant;
  r.impl = actual_path;
  r.form = "-";
  r.backend = "external";
  r.dtype = to_string(dtype);
  if (std::find(golden.dtypes.begin(), golden.dtypes.end(), dtype) == golden.dtypes.end()) {
    std::string list;
    for (DType d : golden.dtypes) list += (list.empty() ? "" : ",") + std::string(to_string(d));
    r.detail = "case runs " + list + " only";
    return r;
  }
  if (!fs::exists(actual_path)) {
    r.status = CaseStatus::fail;
    r.detail = "no output file " + actual_path;
    return r;
  }
  const SafetensorsFile file = SafetensorsFile::read(actual_path);
  for (const std::string& name : file.names())
    if (name != "attn_output" && name != "lse")
      throw Error(actual_path + ": unexpected tensor '" + name +
                  "' (an output holds attn_output and optional lse)");
  if (!file.has("attn_output")) throw Error(actual_path + ": missing tensor 'attn_output'");
  for (const std::string& name : file.names())
    if (!is_float(file.get(name).dtype))
      throw Error(actual_path + ": " + name + " has dtype " + dtype_name(file.get(name).dtype) +
                  ", expected a float type");
  RunOutput actual, expected = golden.expected;
  actual.out = file.to_double("attn_output");
  // The bias bound counts independent errors: at most one per cached element of the layer.
  actual.cache_bytes = size_t(golden.cache_elements) * bytes_per_element(dtype);
  const bool has_lse = file.has("lse");
  if (has_lse) {
    actual.lse = file.to_double("lse");
  } else {
    expected.lse = Tensor<double>();  // not given: not judged
  }
  if (has_lse && actual.lse.shape != expected.lse.shape) {
    r.status = CaseStatus::fail;
    r.detail = "lse shape " + shape_to_string(actual.lse.shape) + ", expected " +
               shape_to_string(expected.lse.shape);
    return r;
  }
  judge(actual, expected, tolerance_for(dtype), r);
  if (!has_lse && r.status == CaseStatus::pass) r.detail = "lse not given: not judged";
  return r;
}

}  // namespace attnlab
