// The verify gate bites: every deliberate bug of cpu::Fault, injected into a copy of the CPU
// implementation through the registry, makes `attnlab verify` report FAIL on the checks that
// should see it (naming the case), while the real implementations pass everything; the faults of
// the model features (sinks, QK-norm, windows) fail exactly the presets that have the feature.
// Also: the bias statistic of judge() sees a bf16 store that rounds toward zero (which every other
// bound lets through) and passes one that rounds to nearest, and the adversarial fields of verify
// cases (activation_scale, position_offset, near_ties, dtypes) do what they say; the checks apply
// to GTA and GLA as they should (tp_shards over tied or latent heads, as_mha / as_mla skipped).
#include <sys/wait.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/dtype.h"
#include "core/error.h"
#include "core/presets.h"
#include "reference/reference_attention.h"
#include "tests/test_support.h"
#include "verify/conformance.h"
#include "verify/verify_report.h"

using namespace attnlab;
using Catch::Detail::Approx;

namespace {

std::vector<Implementation> faulty_cpu(const std::string& fault) {
  std::vector<Implementation> impls;
  for (ImplForm form : {ImplForm::standard, ImplForm::naive, ImplForm::absorb})
    impls.push_back(faulty_cpu_implementation(form, fault));
  return impls;
}

// status of (model, check, form) rows, e.g. {"tiny-gqa", "prefill", "standard"} -> FAIL, from
// the first case of each model (ci's adversarial cases come after one plain case per preset).
using Key = std::tuple<std::string, std::string, std::string>;
std::map<Key, CaseResult> by_key(const std::vector<CaseResult>& results) {
  std::map<Key, CaseResult> map;
  for (const CaseResult& r : results) {
    const std::string model = r.case_name.substr(0, r.case_name.find(' '));
    map.emplace(Key{model, r.check, r.form}, r);  // a model's first case: the plain one
  }
  return map;
}

CaseStatus status(const std::map<Key, CaseResult>& rows, const std::string& model,
                  const std::string& check, const std::string& form) {
  auto it = rows.find({model, check, form});
  REQUIRE(it != rows.end());
  return it->second.status;
}

const std::vector<VerifyCase>& ci_cases() {
  static const std::vector<VerifyCase> cases = load_verify_cases("ci");
  return cases;
}

const char* kRoped[] = {"tiny-mha", "tiny-gqa", "tiny-mla", "tiny-mla-lite"};
struct ModelForm {
  const char* model;
  const char* form;
};
const ModelForm kAll[] = {{"tiny-mha", "standard"},   {"tiny-gqa", "standard"},
                          {"tiny-mqa", "standard"},   {"tiny-mla", "naive"},
                          {"tiny-mla", "absorb"},     {"tiny-mla-lite", "naive"},
                          {"tiny-mla-lite", "absorb"}};

// The backends that run GTA and GLA: every built-in one (props/gta_gla_properties.h's
// gta_gla_backends()); a plugin never claims them (ABI v1 has no GTA/GLA).
const std::vector<std::string> kGtaGlaBackends = {"reference", "cpu-plain", "cpu", "cuda"};

bool runs_gta_gla(const std::string& backend) {
  return std::find(kGtaGlaBackends.begin(), kGtaGlaBackends.end(), backend) !=
         kGtaGlaBackends.end();
}

// A GTA/GLA row of a backend that does not run them (none built in): not judged here.
bool gta_gla_pending(const CaseResult& r) {
  return (r.variant == "gta" || r.variant == "gla") && !runs_gta_gla(r.backend);
}

// Every available backend runs GTA and GLA: `attnlab verify ci` must then pass whole.
bool every_backend_runs_gta_gla() {
  for (const Implementation& impl : implementations())
    if (impl.unavailable_reason().empty() && !runs_gta_gla(impl.backend)) return false;
  return true;
}

std::string form_of(const char* model) {
  return std::string(model).find("mla") != std::string::npos ? "absorb" : "standard";
}

}  // namespace

TEST_CASE("every registered implementation passes every applicable check on the default cases") {
  const std::vector<CaseResult> results =
      run_conformance(load_verify_cases("default"), implementations());
  int passed = 0;
  for (const CaseResult& r : results) {
    if (gta_gla_pending(r)) continue;
    INFO(r.case_name << " " << r.check << " " << r.impl << ": " << r.detail);
    CHECK(r.status != CaseStatus::fail);
    passed += r.status == CaseStatus::pass;
  }
  CHECK(passed >= 200);
  // No implementation is only ever skipped.
  for (const Implementation& impl : implementations()) {
    if (!impl.unavailable_reason().empty()) continue;  // e.g. cuda without a device: all SKIP
    int ran = 0;
    for (const CaseResult& r : results) ran += r.impl == impl.id() && r.status == CaseStatus::pass;
    INFO(impl.id());
    CHECK(ran > 10);
  }
}

TEST_CASE("a wrong softmax scale fails prefill and decode of every case") {
  const auto rows = by_key(run_conformance(ci_cases(), faulty_cpu("softmax_scale")));
  for (const ModelForm& mf : kAll) {
    INFO(mf.model << " " << mf.form);
    CHECK(status(rows, mf.model, "prefill", mf.form) == CaseStatus::fail);
    CHECK(status(rows, mf.model, "decode", mf.form) == CaseStatus::fail);
  }
}

TEST_CASE("mismatched RoPE pairs and an unrotated key fail every case with RoPE") {
  for (const char* fault : {"rope_pairs", "rope_query_only"}) {
    const auto rows = by_key(run_conformance(ci_cases(), faulty_cpu(fault)));
    for (const char* model : kRoped) {
      INFO(fault << " " << model);
      CHECK(status(rows, model, "prefill", form_of(model)) == CaseStatus::fail);
    }
    // tiny-mqa has no RoPE: nothing to get wrong.
    CHECK(status(rows, "tiny-mqa", "prefill", "standard") == CaseStatus::pass);
  }
}

TEST_CASE("a causal mask off by one fails prefill; decode cannot see the future") {
  const auto rows = by_key(run_conformance(ci_cases(), faulty_cpu("causal_off_by_one")));
  for (const ModelForm& mf : kAll) {
    INFO(mf.model << " " << mf.form);
    CHECK(status(rows, mf.model, "prefill", mf.form) == CaseStatus::fail);
    CHECK(status(rows, mf.model, "decode", mf.form) == CaseStatus::pass);
  }
}

TEST_CASE("an unfolded value bias fails absorb only, on the layers with a kv_b_proj bias") {
  const auto rows = by_key(run_conformance(ci_cases(), faulty_cpu("value_bias_unfolded")));
  for (const char* model : {"tiny-mla", "tiny-mla-lite"}) {
    INFO(model);
    CHECK(status(rows, model, "prefill", "absorb") == CaseStatus::fail);
    CHECK(status(rows, model, "decode", "absorb") == CaseStatus::fail);
    CHECK(status(rows, model, "prefill", "naive") == CaseStatus::pass);
  }
}

TEST_CASE("permuted heads fail every case") {
  const auto rows = by_key(run_conformance(ci_cases(), faulty_cpu("heads_permuted")));
  for (const ModelForm& mf : kAll) {
    INFO(mf.model << " " << mf.form);
    CHECK(status(rows, mf.model, "prefill", mf.form) == CaseStatus::fail);
  }
}

TEST_CASE("an ignored cache offset fails decode and chunked prefill, reading NaN slots") {
  const std::vector<CaseResult> results =
      run_conformance(ci_cases(), faulty_cpu("cache_offset_ignored"));
  const auto rows = by_key(results);
  for (const ModelForm& mf : kAll) {
    INFO(mf.model << " " << mf.form);
    CHECK(status(rows, mf.model, "prefill", mf.form) == CaseStatus::pass);
    CHECK(status(rows, mf.model, "decode", mf.form) == CaseStatus::fail);
    CHECK(status(rows, mf.model, "chunked", mf.form) == CaseStatus::fail);
  }
  // The unused cache slots are NaN, so the stale reads show up as non-finite outputs.
  bool saw_nan = false;
  for (const CaseResult& r : results)
    saw_nan = saw_nan || r.detail.find("non-finite") != std::string::npos;
  CHECK(saw_nan);
}

TEST_CASE("the model-feature faults fail the presets with the feature and pass the others") {
  // One case per feature preset (layer 0 of tiny-gpt-oss and tiny-gemma slides, their layer 1
  // does not); 9 tokens, so windows of 3, 4 and 5 hide keys.
  std::vector<VerifyCase> cases;
  uint64_t seed = 20;
  for (const char* model : {"tiny-gpt-oss", "tiny-gpt-oss@1", "tiny-gemma", "tiny-gemma@1",
                            "tiny-qwen3", "tiny-window", "tiny-mla-yarn"}) {
    VerifyCase c;
    c.model = model;
    c.seed = seed++;
    cases.push_back(c);
  }
  struct Expectation {
    const char* fault;
    std::vector<const char*> failing;  // every other model passes
  };
  const Expectation expectations[] = {
      {"sink_ignored", {"tiny-gpt-oss", "tiny-gpt-oss@1"}},
      {"qk_norm_skipped", {"tiny-gemma", "tiny-gemma@1", "tiny-qwen3"}},
      {"window_ignored", {"tiny-gpt-oss", "tiny-gemma", "tiny-window"}},
  };
  for (const Expectation& e : expectations) {
    const auto rows = by_key(run_conformance(cases, faulty_cpu(e.fault)));
    for (const VerifyCase& c : cases) {
      const std::string form = form_of(c.model.c_str());
      bool fails = false;
      for (const char* model : e.failing) fails = fails || c.model == model;
      INFO(e.fault << " " << c.model << " " << form);
      const CaseStatus expected = fails ? CaseStatus::fail : CaseStatus::pass;
      CHECK(status(rows, c.model, "prefill", form) == expected);
      CHECK(status(rows, c.model, "decode", form) == expected);
    }
  }
  // And without a fault, cpu-plain passes every row of these cases.
  std::vector<Implementation> plain;
  for (const Implementation& impl : implementations())
    if (impl.backend == "cpu-plain") plain.push_back(impl);
  REQUIRE(plain.size() == 3);
  for (const CaseResult& r : run_conformance(cases, plain)) {
    INFO(r.case_name << " " << r.check << " " << r.impl << ": " << r.detail);
    CHECK(r.status != CaseStatus::fail);
  }
}

namespace {
int run_cli(const std::string& args, std::string& out) {
  static test::TempDir dir;
  const std::string path = dir.file("out.txt");
  const int status =
      std::system((std::string(ATTNLAB_BINARY) + " " + args + " >" + path + " 2>&1").c_str());
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
}  // namespace

TEST_CASE("attnlab verify exits 1 and names the case when a fault is injected") {
  test::TempDir dir;
  std::string out;
  CHECK(run_cli("verify ci --inject-fault heads_permuted --junit " + dir.file("j.xml") +
                    " --json " + dir.file("r.json"),
                out) == 1);
  CHECK_THAT(out, Catch::Contains("tiny-gqa b2 s9 seed2 rpos"));
  CHECK_THAT(out, Catch::Contains("FAIL"));
  std::ifstream junit(dir.file("j.xml"));
  std::stringstream xml;
  xml << junit.rdbuf();
  CHECK_THAT(xml.str(), Catch::Contains("<failure message="));
  const std::string header = xml.str().substr(0, xml.str().find('\n', 40));
  CHECK_THAT(header, Catch::Contains("failures=\""));
  CHECK_THAT(header, !Catch::Contains("failures=\"0\""));
  std::ifstream json(dir.file("r.json"));
  const auto rows = nlohmann::json::parse(json);
  int failed = 0;
  for (const auto& row : rows) failed += row["status"] == "FAIL";
  CHECK(failed > 10);

  if (every_backend_runs_gta_gla()) {
    CHECK(run_cli("verify ci", out) == 0);
  } else {
    // Only GTA/GLA rows of the backends without them fail.
    CHECK(run_cli("verify ci", out) == 1);
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
      if (line.find("FAIL") == std::string::npos || line.rfind("tiny-", 0) != 0) continue;
      INFO(line);
      CHECK((line.find(" gta ") != std::string::npos || line.find(" gla ") != std::string::npos));
    }
  }
  for (const std::string& backend : kGtaGlaBackends)
    CHECK(run_cli("verify ci --filter " + backend + "/", out) == 0);
  CHECK(run_cli("verify ci --inject-fault no_such_fault", out) == 2);
  CHECK_THAT(out, Catch::Contains("unknown fault 'no_such_fault'"));
}

TEST_CASE("bad verify configs are rejected before anything runs, naming the field") {
  test::TempDir dir;
  std::string out;
  std::ofstream(dir.file("bad.json")) << R"({"cases": [{"model": "tiny-gqa", "seq": 0}]})";
  CHECK(run_cli("verify " + dir.file("bad.json"), out) == 2);
  CHECK_THAT(out, Catch::Contains("cases[0].seq (0) must be in [1, 4096]"));
  std::ofstream(dir.file("model.json")) << R"({"cases": [{"model": "tiny-gqq"}]})";
  CHECK(run_cli("verify " + dir.file("model.json"), out) == 2);
  CHECK_THAT(out, Catch::Contains("unknown preset 'tiny-gqq'"));
  CHECK(run_cli("verify no-such-config", out) == 2);
  CHECK_THAT(out, Catch::Contains("no such verify config"));
}

namespace {

// The fp64 reference decoding token by token, every cached element rounded to bf16 after each
// step, as a 16-bit cache stores it: to nearest even (core/dtype.h, what the backends do), or
// toward zero (the upper 16 bits of the fp32 value: a plausible bug).
RunOutput reference_with_bf16_cache(const CaseData& c, bool toward_zero) {
  const ImplForm form = defining_form(c.config);
  reference::Cache cache;
  RunOutput run{Tensor<double>(c.truth.out.shape), Tensor<double>(c.truth.lse.shape), 0};
  for (int64_t s = 0; s < c.spec.seq; ++s) {
    const reference::Result step = reference::forward(
        c.config, c.weights, form, token_slice(c.x, s, 1), token_slice(c.positions, s, 1), cache);
    put_tokens(step.out.data.data(), run.out, s, 1);
    put_tokens(step.lse.data.data(), run.lse, s, 1);
    run.cache_bytes = 0;
    for (Tensor<double>& part : cache.parts) {
      run.cache_bytes += part.numel() * 2;  // as if stored in 16 bits
      for (double& v : part.data)
        v = toward_zero
                ? bf16_to_float(static_cast<uint16_t>(float_bits(static_cast<float>(v)) >> 16))
                : bf16_to_float(double_to_bf16(v));
    }
  }
  return run;
}

}  // namespace

TEST_CASE(
    "the bias statistic fails a bf16 cache rounded toward zero, passes one rounded to nearest",
    "[verify][bias]") {
  const Tolerance& bf16 = tolerance_for(DType::bf16);
  // Cases with enough independent rounding errors (>= bias_min_samples cached elements and
  // outputs) for the bias to be judged.
  const std::vector<VerifyCase> cases = parse_verify_cases(R"({"cases": [
      {"model": "tiny-gqa", "batch": 4, "seq": 31, "seed": 4},
      {"model": "tiny-mha", "batch": 2, "seq": 40, "seed": 5, "positions": "random"},
      {"model": "tiny-mqa", "batch": 1, "seq": 200, "seed": 6},
      {"model": "tiny-mla", "batch": 1, "seq": 33, "seed": 8},
      {"model": "tiny-mla-lite", "batch": 3, "seq": 40, "seed": 9}]})",
                                                           "bias cases");
  for (const VerifyCase& spec : cases) {
    const CaseData c = prepare_case(spec);
    INFO(spec.name());
    CaseResult nearest, toward_zero;
    judge(reference_with_bf16_cache(c, false), c.truth, bf16, nearest);
    judge(reference_with_bf16_cache(c, true), c.truth, bf16, toward_zero);
    INFO("nearest: bias " << nearest.bias << " NMSE " << nearest.nmse << "; toward zero: bias "
                          << toward_zero.bias << " NMSE " << toward_zero.nmse << "; bound +-"
                          << toward_zero.bias_bound << ": " << toward_zero.detail);
    CHECK(nearest.status == CaseStatus::pass);
    // Every other bound lets the truncation through: it shrinks the outputs, it does not scatter
    // them.
    CHECK(toward_zero.nmse <= bf16.nmse_bound);
    CHECK(toward_zero.status == CaseStatus::fail);
    CHECK_THAT(toward_zero.detail, Catch::StartsWith("biased"));
    CHECK(toward_zero.bias < 0);
  }
}

TEST_CASE("judge's bias is the signed error along the reference, bounded by floor or coeff/sqrt(n)",
          "[verify][bias]") {
  RunOutput ref{Tensor<double>({1, 100, 4}), Tensor<double>({1, 100, 1}), 0};
  for (int64_t i = 0; i < ref.out.numel(); ++i) ref.out.data[i] = std::sin(0.37 * i + 1);
  RunOutput shrunk = ref;
  for (double& v : shrunk.out.data) v *= 1 - 1e-3;
  const Tolerance& bf16 = tolerance_for(DType::bf16);
  CaseResult r;
  judge(shrunk, ref, bf16, r);
  CHECK(r.bias == Approx(-1e-3).epsilon(1e-9));
  CHECK(std::isinf(r.bias_bound));  // 400 outputs: too few independent errors to judge
  CHECK(r.status == CaseStatus::pass);
  // 40000 outputs (no cache size given): judged, against the floor.
  RunOutput big_ref{Tensor<double>({1, 10000, 4}), Tensor<double>({1, 10000, 1}), 0};
  for (int64_t i = 0; i < big_ref.out.numel(); ++i) big_ref.out.data[i] = std::sin(0.37 * i + 1);
  RunOutput big = big_ref;
  for (double& v : big.out.data) v *= 1 - 2 * bf16.bias_floor;
  judge(big, big_ref, bf16, r);
  CHECK(r.bias == Approx(-2 * bf16.bias_floor).epsilon(1e-9));
  CHECK(r.bias_bound == Approx(std::max(bf16.bias_floor, bf16.bias_coeff / 200)).epsilon(1e-12));
  CHECK(r.status == CaseStatus::fail);
  CHECK_THAT(r.detail, Catch::StartsWith("biased"));
  // Within the floor it passes.
  big = big_ref;
  for (double& v : big.out.data) v *= 1 - 0.5 * bf16.bias_floor;
  judge(big, big_ref, bf16, r);
  CHECK(r.status == CaseStatus::pass);
  // An error orthogonal to the reference of the same size has no bias.
  RunOutput rotated = ref;
  for (int64_t i = 0; i + 1 < ref.out.numel(); i += 2) {
    rotated.out.data[i] += 1e-3 * ref.out.data[i + 1];
    rotated.out.data[i + 1] -= 1e-3 * ref.out.data[i];
  }
  CaseResult o;
  judge(rotated, ref, bf16, o);  // (n = 400: not judged, the value is still reported)
  CHECK(std::abs(o.bias) < 1e-12);
  CHECK(o.status == CaseStatus::pass);
}

TEST_CASE("the LSE bound grows with |lse|: lse_atol + lse_rtol |lse|", "[verify]") {
  const Tolerance& fp32 = tolerance_for(DType::fp32);
  RunOutput ref{Tensor<double>({1, 1, 4}, std::vector<double>{1, 2, 3, 4}),
                Tensor<double>({1, 1, 2}, std::vector<double>{1000, 1}), 0};
  RunOutput off = ref;
  off.lse.data[0] += 0.9 * (fp32.lse_atol + 1000 * fp32.lse_rtol);  // inside at |lse| 1000
  CaseResult r;
  judge(off, ref, fp32, r);
  CHECK(r.status == CaseStatus::pass);
  off.lse.data[1] += 1.1 * (fp32.lse_atol + fp32.lse_rtol);  // outside at |lse| 1
  judge(off, ref, fp32, r);
  CHECK(r.status == CaseStatus::fail);
  CHECK_THAT(r.detail, Catch::StartsWith("log-sum-exp off by"));
}

TEST_CASE("the adversarial fields of a verify case shape its inputs and its rows",
          "[verify][config]") {
  const std::vector<VerifyCase> cases = parse_verify_cases(R"({"cases": [
      {"model": "tiny-mqa", "batch": 2, "seq": 5, "seed": 3},
      {"model": "tiny-mqa", "batch": 2, "seq": 5, "seed": 3, "activation_scale": 1e-2,
       "position_offset": 1048570, "near_ties": true, "dtypes": ["fp32"]}]})",
                                                           "test");
  REQUIRE(cases.size() == 2);
  const VerifyCase& plain = cases[0];
  const VerifyCase& odd = cases[1];
  CHECK(odd.name() == "tiny-mqa b2 s5 seed3 x1e-02 pos+1048570 ties [fp32]");
  const Tensor<double> x = plain.activations(20), y = odd.activations(20);
  // Token 0 of each sequence: the plain one times the scale; later tokens within 1e-3 relative
  // noise of token 0.
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 0; i < 20; ++i) {
      const double first = x.data[b * 5 * 20 + i] * 1e-2;
      CHECK(y.data[b * 5 * 20 + i] == Approx(first).epsilon(1e-15));
      for (int64_t s = 1; s < 5; ++s)
        CHECK(std::abs(y.data[(b * 5 + s) * 20 + i] - first) <= 1e-2 * 5e-3);
    }
  const Tensor<int64_t> p = odd.positions();
  CHECK(p.data[0] == 1048570);
  CHECK(p.data[9] == 1048574);
  CHECK(odd.dtype_excluded(DType::fp32).empty());
  CHECK(odd.dtype_excluded(DType::bf16) == "case runs fp32 only");
  // The excluded dtypes are SKIP rows with that reason, never PASS.
  std::vector<Implementation> impls;
  for (const Implementation& impl : implementations())
    if (impl.backend == "cpu" && impl.form == ImplForm::standard) impls.push_back(impl);
  int skipped = 0, passed = 0;
  for (const CaseResult& r : run_conformance({odd}, impls)) {
    INFO(r.impl << " " << r.check << ": " << r.detail);
    if (r.dtype == "fp32") {
      CHECK(r.status != CaseStatus::fail);
      passed += r.status == CaseStatus::pass;
    } else {
      CHECK(r.status == CaseStatus::skip);
      CHECK(r.detail == "case runs fp32 only");
      ++skipped;
    }
  }
  CHECK(passed >= 4);
  CHECK(skipped >= 8);
}

TEST_CASE("bad adversarial fields are rejected, naming the field", "[verify][config]") {
  auto error_of = [](const std::string& field) {
    try {
      parse_verify_cases(R"({"cases": [{"model": "tiny-gqa", )" + field + "}]}", "c.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(error_of(R"("activation_scale": 0)"),
             Catch::Contains("c.json: cases[0].activation_scale (0) must be in ["));
  CHECK_THAT(error_of(R"("activation_scale": 1e7)"), Catch::Contains("activation_scale"));
  CHECK_THAT(error_of(R"("position_offset": -1)"),
             Catch::Contains("cases[0].position_offset (-1) must be in [0, 1073741824]"));
  CHECK_THAT(error_of(R"("near_ties": "yes")"),
             Catch::Contains("cases[0].near_ties must be true or false"));
  CHECK_THAT(error_of(R"("dtypes": ["fp8"])"),
             Catch::Contains("cases[0].dtypes: unknown dtype 'fp8' (expected fp64, fp32, bf16 or "
                             "fp16)"));
  CHECK_THAT(error_of(R"("dtypes": [])"), Catch::Contains("field 'dtypes'"));
}

TEST_CASE("the checks apply to GTA and GLA as they should, on the reference",
          "[verify][gta][gla]") {
  // tiny-gta, tiny-gla, tiny-gla4 and a GLA whose smallest head split (2) does not divide its 3
  // latent heads, without RoPE (as_mla's other precondition), as a layer-config file.
  test::TempDir dir;
  LayerConfig odd = resolve_model("tiny-gla");
  odd.name = "gla-3";
  odd.n_heads = 6;
  odd.n_latent_heads = 3;
  odd.rope_layout = RopeLayout::none;
  odd.biases = {"W_ukv_2", "o_proj"};
  validate_layer_config(odd, "gla-3");
  std::ofstream(dir.file("gla3.json")) << layer_config_to_json(odd).dump();
  std::vector<VerifyCase> cases;
  for (const std::string& model :
       std::vector<std::string>{"tiny-gta", "tiny-gla", "tiny-gla4", dir.file("gla3.json")}) {
    VerifyCase c;
    c.model = model;
    c.seed = 90;
    c.position_offset = 300;
    cases.push_back(c);
  }
  std::vector<Implementation> reference;
  for (const Implementation& impl : implementations())
    if (impl.backend == "reference") reference.push_back(impl);
  std::map<std::pair<std::string, std::string>, int> passed;  // (model, check) -> passing rows
  for (const CaseResult& r : run_conformance(cases, reference)) {
    INFO(r.case_name << " " << r.check << " " << r.impl << ": " << r.detail);
    CHECK(r.status != CaseStatus::fail);
    const std::string model = r.case_name.substr(0, r.case_name.find(' '));
    passed[{model, r.check}] += r.status == CaseStatus::pass;
    if (r.check == "as_mha" || r.check == "as_mla") CHECK(r.status == CaseStatus::skip);
  }
  const std::string gla3 = cases[3].name().substr(0, cases[3].name().find(' '));
  for (const std::string& model :
       std::vector<std::string>{"tiny-gta", "tiny-gla", "tiny-gla4", gla3}) {
    INFO(model);
    const int forms = model == "tiny-gta" ? 1 : 2;
    for (const char* check :
         {"prefill", "decode", "prompt_decode", "chunked", "batch", "causal", "tp_shards"})
      CHECK(passed[{model, check}] == forms);
    CHECK(passed[{model, "rope_swap"}] == (model == gla3 ? 0 : forms));
  }
}
