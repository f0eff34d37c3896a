// `attnlab golden` and `attnlab compare`: the golden files round-trip (an implementation's own
// output, written as an outside program would, passes compare; so does `attnlab run` on the
// case's config.json), a perturbed output fails naming the case, a case limited to some dtypes
// is SKIP for the others, and every bad input is one line and exit 2.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/presets.h"
#include "io/layer_weights.h"
#include "io/safetensors.h"
#include "registry/registry.h"
#include "tests/test_support.h"
#include "verify/golden.h"

using namespace attnlab;

namespace {

using test::CliResult;

CliResult attnlab_cli(const std::string& args) {
  return test::run_cli(ATTNLAB_BINARY, args);
}

const char* const kCases = R"({"cases": [
  {"model": "tiny-mla", "batch": 2, "seq": 7, "seed": 3, "positions": "random"},
  {"model": "tiny-gqa", "batch": 1, "seq": 6, "seed": 4},
  {"model": "tiny-mha", "batch": 1, "seq": 5, "seed": 5, "score_scale": 60, "dtypes": ["fp64", "fp32"]}
]})";

// Writes the cases above as golden files under dir/golden; returns the case directory names.
std::vector<std::string> write_cases(const test::TempDir& dir) {
  std::ofstream(dir.file("cases.json")) << kCases;
  const CliResult r =
      attnlab_cli("golden --cases " + dir.file("cases.json") + " --out " + dir.file("golden"));
  REQUIRE(r.exit_code == 0);
  return golden_case_dirs(dir.file("golden"));
}

// What an outside implementation does: reads config.json, weights and inputs, runs in the
// case's phase and writes attn_output (and lse unless told not to), here with the CPU backend.
void run_case(const std::string& case_dir, const std::string& out_path, double perturb = 0,
              bool with_lse = true) {
  const LayerConfig config = resolve_model(case_dir + "/config.json");
  const Weights weights = load_layer_weights(config, case_dir + "/weights.safetensors", "");
  const SafetensorsFile inputs = SafetensorsFile::read(case_dir + "/inputs.safetensors");
  const GoldenCase golden = read_golden_case(case_dir);
  const Implementation& impl = find_implementation("cpu", default_form(config), DType::fp32);
  RunOutput out = impl.run(config, weights, inputs.to_double("hidden_states"),
                           inputs.to_int64("position_ids"), parse_phase(golden.phase));
  out.out.data[3] *= 1 + perturb;
  SafetensorsWriter writer;
  writer.add("attn_output", out.out, DType::fp32);
  if (with_lse) writer.add("lse", out.lse, DType::fp32);
  writer.write(out_path);
}

int count_lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

TEST_CASE("golden writes one directory per case and phase, each complete") {
  test::TempDir dir;
  const std::vector<std::string> cases = write_cases(dir);
  REQUIRE(cases.size() == 6);  // 3 cases x prefill, decode
  for (const std::string& c : cases)
    for (const char* file : {"case.json", "config.json", "weights.safetensors",
                             "inputs.safetensors", "expected.safetensors"})
      CHECK(std::filesystem::exists(c + "/" + file));
  std::ifstream in(cases[1] + "/case.json");
  const nlohmann::json j = nlohmann::json::parse(in);
  CHECK(j["phase"] == "decode");
  CHECK(j["chunks"].size() == 7);
  CHECK(j["truth_form"] == "naive");
  CHECK(j["tolerance"]["bf16"]["nmse_bound"] == 5e-5);
  const SafetensorsFile expected = SafetensorsFile::read(cases[1] + "/expected.safetensors");
  CHECK(expected.get("attn_output").shape == Shape{2, 7, 40});
  CHECK(expected.get("lse").shape == Shape{2, 7, 3});
  // Nothing is left behind but the output directory itself.
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
    CHECK(entry.path().filename().string().find(".tmp-") == std::string::npos);
}

TEST_CASE("compare passes an implementation's own output, every case and phase") {
  test::TempDir dir;
  const std::vector<std::string> cases = write_cases(dir);
  std::filesystem::create_directory(dir.file("actual"));
  for (const std::string& c : cases)
    run_case(c, dir.file("actual") + "/" + std::filesystem::path(c).filename().string() +
                    ".safetensors");
  const CliResult all = attnlab_cli("compare " + dir.file("golden") + " " + dir.file("actual"));
  INFO(all.out << all.err);
  CHECK(all.exit_code == 0);
  CHECK_THAT(all.out, Catch::Contains("compare: 6 passed, 0 failed, 0 skipped"));
  // The score-scaled case runs fp64 and fp32 only: SKIP at bf16, the others pass.
  const CliResult bf16 =
      attnlab_cli("compare " + dir.file("golden") + " " + dir.file("actual") + " --dtype bf16");
  CHECK(bf16.exit_code == 0);
  CHECK_THAT(bf16.out, Catch::Contains("4 passed, 0 failed, 2 skipped"));
  CHECK_THAT(bf16.out, Catch::Contains("SKIP: case runs fp64,fp32 only"));
  // `attnlab run` on the case's own config.json, as the README's path does.
  const std::string c = cases[0];
  const CliResult run = attnlab_cli(
      "run --model " + c + "/config.json --weights " + c + "/weights.safetensors --input " + c +
      "/inputs.safetensors --out " + dir.file("run.safetensors") + " --backend cpu --lse");
  REQUIRE(run.exit_code == 0);
  CHECK(attnlab_cli("compare " + c + " " + dir.file("run.safetensors")).exit_code == 0);
}

TEST_CASE("compare fails a perturbed output, naming the case") {
  test::TempDir dir;
  const std::vector<std::string> cases = write_cases(dir);
  const std::string c = cases[2];  // tiny-gqa, prefill
  run_case(c, dir.file("bad.safetensors"), 1e-3);
  const CliResult r = attnlab_cli("compare " + c + " " + dir.file("bad.safetensors"));
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("002-tiny-gqa-b1-s6-seed4-prefill"));
  CHECK_THAT(r.out, Catch::Contains("FAIL"));
  const CliResult json =
      attnlab_cli("compare " + c + " " + dir.file("bad.safetensors") + " --json");
  CHECK(json.exit_code == 1);
  const nlohmann::json rows = nlohmann::json::parse(json.out);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["case"] == "tiny-gqa b1 s6 seed4");
  CHECK(rows[0]["status"] == "FAIL");
  // A golden root with one output missing: that case FAILs, the others still run.
  std::filesystem::create_directory(dir.file("actual"));
  run_case(cases[0], dir.file("actual") + "/" +
                         std::filesystem::path(cases[0]).filename().string() + ".safetensors");
  const CliResult some = attnlab_cli("compare " + dir.file("golden") + " " + dir.file("actual"));
  CHECK(some.exit_code == 1);
  CHECK_THAT(some.out, Catch::Contains("1 passed, 5 failed"));
  CHECK_THAT(some.out, Catch::Contains("no output file"));
}

TEST_CASE("compare without lse judges the output alone and says so") {
  test::TempDir dir;
  const std::vector<std::string> cases = write_cases(dir);
  run_case(cases[0], dir.file("out.safetensors"), 0, false);
  const CliResult r = attnlab_cli("compare " + cases[0] + " " + dir.file("out.safetensors"));
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("lse not given"));
}

TEST_CASE("golden and compare: bad input is one line and exit 2") {
  test::TempDir dir;
  const std::vector<std::string> cases = write_cases(dir);
  const std::string c = cases[0];
  std::ofstream(dir.file("junk.safetensors")) << "not a safetensors file";
  SafetensorsWriter no_output;
  no_output.add("hidden_states", Tensor<double>({1, 1, 40}), DType::fp32);
  no_output.write(dir.file("no_output.safetensors"));
  std::filesystem::create_directory(dir.file("someone_elses"));
  std::ofstream(dir.file("someone_elses") + "/keep.txt") << "keep";
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"compare " + dir.file("someone_elses") + " " + dir.file("junk.safetensors"),
       "not a golden case directory"},
      {"compare " + c + " " + dir.file("junk.safetensors"), "junk.safetensors"},
      {"compare " + c + " " + dir.file("no_output.safetensors"), "unexpected tensor"},
      {"compare " + c + " " + dir.file("junk.safetensors") + " --dtype fp8", "--dtype"},
      {"compare " + dir.file("golden") + " " + dir.file("junk.safetensors"), "must be a directory"},
      {"golden --cases ci --out " + dir.file("someone_elses"), "not a golden directory"},
      {"golden --cases nosuch --out " + dir.file("x"), "nosuch"},
      {"golden --model nosuch-model --out " + dir.file("x"), "nosuch-model"},
      {"golden --phase sideways --out " + dir.file("x"), "sideways"},
  };
  for (const auto& [args, needle] : bad) {
    const CliResult r = attnlab_cli(args);
    INFO(args << "\n" << r.err);
    CHECK(r.exit_code == 2);
    CHECK(count_lines(r.err) == 1);
    CHECK_THAT(r.err, Catch::StartsWith("attnlab: ") && Catch::Contains(needle));
  }
  CHECK(test::slurp(dir.file("someone_elses") + "/keep.txt") == "keep");
  CHECK(!std::filesystem::exists(dir.file("x")));
}

TEST_CASE("golden --model runs every case's shape on the given layer") {
  test::TempDir dir;
  const CliResult r =
      attnlab_cli("golden --model tiny-mla-lite --cases " + std::string(ATTNLAB_SOURCE_DIR) +
                  "/configs/verify/ci.json --phase prefill --out " + dir.file("g"));
  REQUIRE(r.exit_code == 0);
  for (const std::string& c : golden_case_dirs(dir.file("g"))) {
    const GoldenCase g = read_golden_case(c);
    CHECK(g.case_name.rfind("tiny-mla-lite ", 0) == 0);
    CHECK(g.phase == "prefill");
  }
}
