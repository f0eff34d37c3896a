// Implementation of the conformance matrix; see conformance.h.
#include "verify/conformance.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/presets.h"

namespace attnlab {

const char* to_string(CaseStatus status) {
  switch (status) {
    case CaseStatus::pass:
      return "PASS";
    case CaseStatus::fail:
      return "FAIL";
    case CaseStatus::skip:
      return "SKIP";
  }
  return "?";
}

std::vector<VerifyCase> load_verify_cases(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open verify config");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(path + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object() || !j.contains("cases") || !j["cases"].is_array() || j["cases"].empty())
    throw Error(path + ": expected {\"cases\": [ ... ]} with at least one case");
  std::vector<VerifyCase> cases;
  for (size_t i = 0; i < j["cases"].size(); ++i) {
    const nlohmann::json& c = j["cases"][i];
    const std::string where = path + ": cases[" + std::to_string(i) + "]";
    if (!c.is_object()) throw Error(where + " must be an object");
    VerifyCase v;
    for (auto it = c.begin(); it != c.end(); ++it) {
      const std::string& key = it.key();
      if (key == "model" && it->is_string()) {
        v.model = it->get<std::string>();
      } else if ((key == "batch" || key == "seq") && it->is_number_integer()) {
        const int64_t value = it->get<int64_t>();
        if (value < 1 || value > 4096)
          throw Error(where + "." + key + " (" + std::to_string(value) + ") must be in [1, 4096]");
        (key == "batch" ? v.batch : v.seq) = value;
      } else if (key == "seed" && it->is_number_unsigned()) {
        v.seed = it->get<uint64_t>();
      } else if (key == "positions" && it->is_string() &&
                 (*it == "sequential" || *it == "random")) {
        v.random_positions = *it == "random";
      } else {
        throw Error(where + ": field '" + key + "' is unknown or has a bad value " + it->dump());
      }
    }
    if (v.model.empty()) throw Error(where + ": missing field 'model'");
    resolve_model(v.model);  // fail before running anything if the model is bad
    cases.push_back(v);
  }
  return cases;
}

namespace {

Tensor<int64_t> case_positions(const VerifyCase& c) {
  if (!c.random_positions) return sequential_positions(c.batch, c.seq);
  // Increasing, with gaps and a large offset: what a paged or shifted cache produces.
  NormalSampler sampler(c.seed + 7);
  Tensor<int64_t> positions({c.batch, c.seq});
  for (int64_t b = 0; b < c.batch; ++b) {
    int64_t p = 100 * b + static_cast<int64_t>(std::abs(sampler.next(50)));
    for (int64_t s = 0; s < c.seq; ++s) {
      positions.data[b * c.seq + s] = p;
      p += 1 + static_cast<int64_t>(std::abs(sampler.next(3)));
    }
  }
  return positions;
}

std::string case_name(const VerifyCase& c) {
  return c.model + " b" + std::to_string(c.batch) + " s" + std::to_string(c.seq) + " seed" +
         std::to_string(c.seed) + (c.random_positions ? " rpos" : "");
}

}  // namespace

void judge(const RunOutput& actual, const RunOutput& reference, const Tolerance& tol,
           CaseResult& r) {
  const std::vector<double>& a = actual.out.data;
  const std::vector<double>& ref = reference.out.data;
  double err2 = 0, ref2 = 0, act2 = 0, dot = 0, worst_excess = -INFINITY;
  bool finite = true;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(a[i])) {
      finite = false;
      if (r.worst_index < 0) r.worst_index = static_cast<int64_t>(i);
      continue;
    }
    const double e = std::abs(a[i] - ref[i]);
    r.max_abs_error = std::max(r.max_abs_error, e);
    r.max_rel_error = std::max(r.max_rel_error, e / std::max(std::abs(ref[i]), 1e-30));
    err2 += e * e;
    ref2 += ref[i] * ref[i];
    act2 += a[i] * a[i];
    dot += a[i] * ref[i];
    const double excess = e - (tol.atol + std::abs(ref[i]) * tol.rtol);
    if (excess > worst_excess && finite) {
      worst_excess = excess;
      r.worst_index = static_cast<int64_t>(i);
    }
  }
  r.nmse = ref2 > 0 ? err2 / ref2 : err2;
  r.cosine = (act2 > 0 && ref2 > 0) ? dot / std::sqrt(act2 * ref2) : 0;
  for (size_t i = 0; i < reference.lse.data.size(); ++i)
    r.lse_max_abs_error =
        std::max(r.lse_max_abs_error, std::isfinite(actual.lse.data[i])
                                          ? std::abs(actual.lse.data[i] - reference.lse.data[i])
                                          : INFINITY);
  r.status = CaseStatus::fail;
  if (!finite) {
    r.detail = "non-finite output at flat index " + std::to_string(r.worst_index);
  } else if (r.nmse > tol.nmse_bound) {
    r.detail = "NMSE above bound";
  } else if (worst_excess > 0) {
    r.detail = "element " + std::to_string(r.worst_index) + " off by " +
               std::to_string(std::abs(a[r.worst_index] - ref[r.worst_index])) + " (ref " +
               std::to_string(ref[r.worst_index]) + ")";
  } else if (!(r.lse_max_abs_error <= tol.lse_atol)) {
    r.detail = "log-sum-exp off by " + std::to_string(r.lse_max_abs_error);
  } else {
    r.status = CaseStatus::pass;
  }
}

std::vector<CaseResult> run_conformance(const std::vector<VerifyCase>& cases,
                                        const std::vector<Implementation>& impls) {
  std::vector<CaseResult> results;
  for (const VerifyCase& c : cases) {
    const LayerConfig config = resolve_model(c.model);
    const Weights weights = random_weights(config, c.seed);
    const Tensor<double> x = random_activations(c.batch, c.seq, config.hidden_size, c.seed + 1);
    const Tensor<int64_t> positions = case_positions(c);
    const ImplForm defining_form = config.is_mla() ? ImplForm::naive : ImplForm::standard;
    const RunOutput truth = find_implementation("reference", defining_form, "fp64")
                                .run(config, weights, x, positions, Phase::prefill);
    for (const Implementation& impl : impls) {
      for (Phase phase : {Phase::prefill, Phase::decode}) {
        CaseResult r;
        r.case_name = case_name(c);
        r.model = config.name;
        r.impl = impl.id();
        r.phase = phase;
        r.status = CaseStatus::skip;
        if (!impl.supports(config)) {
          r.detail = std::string("form ") + to_string(impl.form) + " does not apply to " +
                     to_string(config.attention);
          results.push_back(r);
          continue;
        }
        judge(impl.run(config, weights, x, positions, phase), truth, tolerance_for(impl.dtype), r);
        results.push_back(r);
      }
    }
  }
  return results;
}

}  // namespace attnlab
