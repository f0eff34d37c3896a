// Parsing of verify configs; see verify_config.h.
#include "verify/verify_config.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/embedded_configs.h"
#include "core/error.h"
#include "core/json_fields.h"
#include "core/presets.h"
#include "core/weights.h"

namespace attnlab {

std::string VerifyCase::name() const {
  return model + " b" + std::to_string(batch) + " s" + std::to_string(seq) + " seed" +
         std::to_string(seed) + (random_positions ? " rpos" : "");
}

Tensor<int64_t> VerifyCase::positions() const {
  if (!random_positions) return sequential_positions(batch, seq);
  // Increasing, with gaps and an offset: what a shifted or paged cache produces.
  NormalSampler sampler(seed + 7);
  Tensor<int64_t> positions({batch, seq});
  for (int64_t b = 0; b < batch; ++b) {
    int64_t p = 100 * b + static_cast<int64_t>(std::abs(sampler.next(50)));
    for (int64_t s = 0; s < seq; ++s) {
      positions.data[b * seq + s] = p;
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
