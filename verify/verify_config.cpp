// Parsing of verify configs; see verify_config.h.
#include "verify/verify_config.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/embedded_configs.h"
#include "core/error.h"
#include "core/json_fields.h"
#include "core/presets.h"
#include "core/weights.h"
#include "verify/checks.h"

namespace attnlab {

namespace {

// Bounds of the adversarial fields: beyond them fp64 itself (exp of the logits, squares in
// RMSNorm) or int64 position arithmetic would be the thing under test.
constexpr double kMaxActivationScale = 1e6;
constexpr int64_t kMaxPositionOffset = int64_t{1} << 30;

std::string dtype_list(const std::vector<DType>& dtypes) {
  std::string list;
  for (DType d : dtypes) list += (list.empty() ? "" : ",") + std::string(to_string(d));
  return list;
}

std::string name_list(const std::vector<std::string>& names) {
  std::string list;
  for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
  return list;
}

}  // namespace

std::string VerifyCase::name() const {
  std::string name = model + " b" + std::to_string(batch) + " s" + std::to_string(seq) + " seed" +
                     std::to_string(seed) + (random_positions ? " rpos" : "");
  if (activation_scale != 1) {
    char scale[32];
    std::snprintf(scale, sizeof scale, " x%.0e", activation_scale);
    name += scale;
  }
  if (score_scale != 1) {
    char scale[32];
    std::snprintf(scale, sizeof scale, " logits x%g", score_scale);
    name += scale;
  }
  if (position_offset != 0) name += " pos+" + std::to_string(position_offset);
  if (near_ties) name += " ties";
  if (!dtypes.empty()) name += " [" + dtype_list(dtypes) + "]";
  return name;
}

Tensor<double> VerifyCase::activations(int64_t hidden) const {
  Tensor<double> x = random_activations(batch, seq, hidden, seed + 1);
  if (near_ties)
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t s = 1; s < seq; ++s)
        for (int64_t i = 0; i < hidden; ++i) {
          double& v = x.data[(b * seq + s) * hidden + i];
          v = x.data[b * seq * hidden + i] + kNearTieNoise * v;
        }
  for (double& v : x.data) v *= activation_scale;
  return x;
}

std::string VerifyCase::dtype_excluded(DType dtype) const {
  if (dtypes.empty() || std::find(dtypes.begin(), dtypes.end(), dtype) != dtypes.end()) return "";
  return "case runs " + dtype_list(dtypes) + " only";
}

std::string VerifyCase::check_excluded(const std::string& check) const {
  if (checks.empty() || std::find(checks.begin(), checks.end(), check) != checks.end()) return "";
  return "case runs " + name_list(checks) + " only";
}

Tensor<int64_t> VerifyCase::positions() const {
  if (!random_positions) return sequential_positions(batch, seq, position_offset);
  // Increasing, with gaps and an offset: what a shifted or paged cache produces.
  NormalSampler sampler(seed + 7);
  Tensor<int64_t> positions({batch, seq});
  for (int64_t b = 0; b < batch; ++b) {
    int64_t p = 100 * b + static_cast<int64_t>(std::abs(sampler.next(50)));
    for (int64_t s = 0; s < seq; ++s) {
      positions.data[b * seq + s] = position_offset + p;
      p += 1 + static_cast<int64_t>(std::abs(sampler.next(3)));
    }
  }
  return positions;
}

std::vector<VerifyCase> parse_verify_cases(const std::string& json_text,
                                           const std::string& origin) {
  const nlohmann::json j = parse_json(json_text, origin);
  if (!j.is_object() || !j.contains("cases") || !j["cases"].is_array() || j["cases"].empty())
    throw Error(origin + ": expected {\"cases\": [ ... ]} with at least one case");
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "cases" && it.key() != "description")
      throw Error(origin + ": unknown field " + single_quoted(it.key()));
  std::vector<VerifyCase> cases;
  for (size_t i = 0; i < j["cases"].size(); ++i) {
    const nlohmann::json& c = j["cases"][i];
    const std::string where = origin + ": cases[" + std::to_string(i) + "]";
    if (!c.is_object()) throw Error(where + " must be an object");
    VerifyCase v;
    for (auto it = c.begin(); it != c.end(); ++it) {
      const std::string& key = it.key();
      const std::string field = member_path(element_path("cases", i), key);
      if (key == "model" && it->is_string()) {
        v.model = it->get<std::string>();
      } else if (key == "batch" || key == "seq") {
        (key == "batch" ? v.batch : v.seq) = read_int(*it, origin, field, 1, 4096);
      } else if (key == "seed") {
        v.seed = read_uint(*it, origin, field);
      } else if (key == "positions" && it->is_string() &&
                 (*it == "sequential" || *it == "random")) {
        v.random_positions = *it == "random";
      } else if (key == "activation_scale") {
        v.activation_scale =
            read_number(*it, origin, field, 1 / kMaxActivationScale, kMaxActivationScale);
      } else if (key == "score_scale") {
        v.score_scale =
            read_number(*it, origin, field, 1 / kMaxActivationScale, kMaxActivationScale);
      } else if (key == "position_offset") {
        v.position_offset = read_int(*it, origin, field, 0, kMaxPositionOffset);
      } else if (key == "near_ties") {
        v.near_ties = read_bool(*it, origin, field);
      } else if (key == "dtypes" && it->is_array() && !it->empty()) {
        for (const nlohmann::json& d : *it) {
          if (!d.is_string()) throw Error(where + ".dtypes: expected dtype names, got " + d.dump());
          v.dtypes.push_back(parse_dtype(d.get<std::string>(),
                                         {DType::fp64, DType::fp32, DType::bf16, DType::fp16},
                                         where + ".dtypes"));
        }
      } else if (key == "checks" && it->is_array() && !it->empty()) {
        for (const nlohmann::json& check : *it) {
          if (!check.is_string() || !is_check_name(check.get<std::string>()))
            throw Error(where + ".checks: " + check.dump() + " is not a check (" +
                        name_list(check_names()) + ")");
          v.checks.push_back(check.get<std::string>());
        }
      } else {
        throw Error(where + ": field " + single_quoted(key) + " is unknown or has a bad value " +
                    describe_value(*it));
      }
    }
    if (v.model.empty()) throw Error(where + ": missing field 'model'");
    try {
      resolve_model(v.model);
    } catch (const Error& e) {
      throw Error(where + ": " + e.what());
    }
    cases.push_back(v);
  }
  return cases;
}

std::vector<VerifyCase> load_verify_cases(const std::string& path_or_name) {
  if (!std::filesystem::exists(path_or_name)) {
    if (const EmbeddedConfig* c = find_embedded_config("verify", path_or_name))
      return parse_verify_cases(c->json, "verify config '" + path_or_name + "'");
    std::string known;
    for (const std::string& n : embedded_config_names("verify"))
      known += (known.empty() ? "" : ", ") + n;
    throw Error(path_or_name +
                ": no such verify config file or built-in config (built-in: " + known + ")");
  }
  std::ifstream in(path_or_name);
  if (!in) throw Error(path_or_name + ": cannot open verify config");
  std::stringstream text;
  text << in.rdbuf();
  return parse_verify_cases(text.str(), path_or_name);
}

}  // namespace attnlab
