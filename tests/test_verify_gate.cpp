// The verify gate bites: every deliberate bug of cpu::Fault, injected into a copy of the CPU
// implementation through the registry, makes `attnlab verify` report FAIL on the checks that
// should see it (naming the case), while the real implementations pass everything.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/test_support.h"
#include "verify/conformance.h"
#include "verify/verify_report.h"

using namespace attnlab;

namespace {

std::vector<Implementation> faulty_cpu(const std::string& fault) {
  std::vector<Implementation> impls;
  for (ImplForm form : {ImplForm::standard, ImplForm::naive, ImplForm::absorb})
    impls.push_back(faulty_cpu_implementation(form, fault));
  return impls;
}

// status of (model, check, form) rows, e.g. {"tiny-gqa", "prefill", "standard"} -> FAIL.
using Key = std::tuple<std::string, std::string, std::string>;
std::map<Key, CaseResult> by_key(const std::vector<CaseResult>& results) {
  std::map<Key, CaseResult> map;
  for (const CaseResult& r : results) {
    const std::string model = r.case_name.substr(0, r.case_name.find(' '));
    map[{model, r.check, r.form}] = r;
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

std::string form_of(const char* model) {
  return std::string(model).find("mla") != std::string::npos ? "absorb" : "standard";
}

}  // namespace

TEST_CASE("every registered implementation passes every applicable check on the default cases") {
  const std::vector<CaseResult> results =
      run_conformance(load_verify_cases("default"), implementations());
  int passed = 0;
  for (const CaseResult& r : results) {
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

  CHECK(run_cli("verify ci", out) == 0);
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
