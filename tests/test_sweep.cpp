// `attnlab sweep` and `attnlab merge`: configs rejected before anything runs with the field
// named, every case exactly once in Google Benchmark's JSON format with attnlab's records, a
// sweep killed mid-way and resumed, and shards that merge into the unsharded case list.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "sweep/sweep_config.h"
#include "tests/test_support.h"

extern char** environ;

using namespace attnlab;
using nlohmann::json;

namespace {

using test::slurp;

int attnlab_cli(const std::string& args, std::string* output = nullptr) {
  static test::TempDir dir;
  const std::string log = dir.file("log");
  const int status =
      std::system((std::string(ATTNLAB_BINARY) + " " + args + " >" + log + " 2>&1").c_str());
  if (output) *output = slurp(log);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string sweep_error(const std::string& text) {
  try {
    parse_sweep(text, "s.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

std::vector<std::string> case_names(const json& results) {
  std::vector<std::string> names;
  for (const json& c : results["attnlab"]["cases"]) names.push_back(c["name"]);
  return names;
}

std::vector<std::string> expected_names(const std::string& sweep) {
  std::vector<std::string> names;
  for (const SweepCase& c : load_sweep(sweep).cases) names.push_back(c.name());
  return names;
}

int count_lines(const std::string& path) {
  std::ifstream in(path);
  return static_cast<int>(std::count(std::istreambuf_iterator<char>(in), {}, '\n'));
}

}  // namespace

TEST_CASE("bad sweep configs fail before any timing, naming the field") {
  const std::string ok = R"("models": ["tiny-gqa"], "phases": ["decode"], "context": [8])";
  CHECK(sweep_error("{" + ok + "}") == "no error");
  CHECK(sweep_error(R"({"phases": ["decode"], "context": [8]})") ==
        "s.json: missing required field 'models'");
  CHECK(sweep_error("{" + ok + R"(, "batchs": [1]})") == "s.json: unknown field 'batchs'");
  CHECK_THAT(sweep_error("{" + ok + R"(, "batch": [0]})"),
             Catch::Contains("batch[0] (0) must be in [1, 4096]"));
  CHECK_THAT(sweep_error(R"({"models": ["tiny-gqa"], "phases": ["decode"]})"),
             Catch::Contains("'context' (cached tokens per step) is missing"));
  CHECK_THAT(sweep_error(R"({"models": ["tiny-gqa"], "phases": ["prefill"]})"),
             Catch::Contains("'seq' (tokens per sequence) is missing"));
  CHECK_THAT(sweep_error("{" + ok + R"(, "dtypes": ["int4"]})"),
             Catch::Contains("dtypes[0] 'int4' is not one of"));
  CHECK_THAT(sweep_error("{" + ok + R"(, "backends": ["tpu"]})"),
             Catch::Contains("backends[0] 'tpu' is not one of"));
  CHECK_THAT(sweep_error(R"({"models": ["tiny-gqq"], "phases": ["decode"], "context": [8]})"),
             Catch::Contains("models[0]: unknown preset 'tiny-gqq'"));
  CHECK_THAT(sweep_error(R"({"models": [{"attention": "gqa", "hidden_size": 64, "n_heads": 32,
             "n_kv_heads": 5}], "phases": ["decode"], "context": [8]})"),
             Catch::Contains("n_heads (32) must be divisible by n_kv_heads (5)"));
  CHECK_THAT(sweep_error("{" + ok + R"(, "exclude": [{"colour": "red"}]})"),
             Catch::Contains("exclude[0]: unknown field 'colour'"));
  CHECK_THAT(sweep_error("{" + ok + R"(, "impls": ["absorb"]})"), Catch::Contains("leave no case"));
  CHECK_THAT(sweep_error("{" + ok + R"(, "repetitions": 0})"),
             Catch::Contains("repetitions (0) must be in [1, 100]"));
  CHECK_THAT(sweep_error("{" + ok + R"(, "tp": 0})"),
             Catch::Contains("tp (0) must be in [1, 1024]"));
  CHECK(parse_sweep("{" + ok + R"(, "tp": 4})", "s.json").tp == 4);
}

TEST_CASE("the case list is the product of the lists minus exclusions and unsupported forms") {
  const SweepSpec spec = parse_sweep(R"({"models": ["tiny-gqa", "tiny-mla"],
      "phases": ["decode", "prefill"], "context": [8, 16], "seq": [4], "batch": [1, 2],
      "threads": [1], "exclude": [{"model": "tiny-mla", "impl": "naive", "phase": "prefill"}]})",
                                     "s.json");
  // tiny-gqa: standard x (2 decode + 1 prefill) x 2 batches = 6; tiny-mla: naive decode 4 +
  // absorb (4 + 2) = 10.
  CHECK(spec.cases.size() == 16);
  for (size_t i = 0; i < spec.cases.size(); ++i) CHECK(spec.cases[i].index == int64_t(i));
  CHECK(spec.cases[0].name() == "decode/tiny-gqa/standard/cpu/fp32/b1/ctx8/t1");
  CHECK(spec.fingerprint.size() == 16);
  CHECK(parse_sweep(R"({"models": ["tiny-gqa"], "phases": ["decode"], "context": [8, 16]})", "a")
            .fingerprint != parse_sweep(R"({"models": ["tiny-gqa"], "phases": ["decode"],
            "context": [8, 32]})",
                                        "a")
                                .fingerprint);
}

TEST_CASE("sweep ci: every case once, Google Benchmark JSON with attnlab's records") {
  test::TempDir dir;
  const std::string out = dir.file("ci.json");
  std::string log;
  REQUIRE(attnlab_cli("sweep ci --out " + out, &log) == 0);
  const json results = json::parse(slurp(out));
  CHECK(case_names(results) == expected_names("ci"));
  CHECK_FALSE(std::filesystem::exists(out + ".partial"));
  // Google Benchmark's format: iterations and aggregates with the fields compare.py reads.
  int medians = 0;
  for (const json& run : results["benchmarks"]) {
    CHECK(run.contains("name"));
    CHECK(run.contains("real_time"));
    CHECK(run.contains("time_unit") ==
          (run["run_type"] == "iteration" || run["aggregate_unit"] == "time"));
    if (run["run_type"] == "aggregate" && run["aggregate_name"] == "median") {
      ++medians;
      CHECK(run["tokens_per_s"].get<double>() > 0);
      CHECK(run["roofline_fraction"].get<double>() > 0);
    }
  }
  CHECK(medians == int(expected_names("ci").size()));
  CHECK(results["context"].contains("gemm_gflops_t1"));
  CHECK(results["context"].contains("dram_read_gbps_t1"));
  for (const json& c : results["attnlab"]["cases"]) {
    INFO(c["name"]);
    CHECK(c["status"] == "ok");
    CHECK(c["info"]["verify"]["status"] == "PASS");
    CHECK(c["info"]["kv_bytes_allocated"].get<double>() ==
          c["info"]["kv_bytes_analytic"].get<double>());
    CHECK(c["info"]["latency_ms_p10"].get<double>() <= c["info"]["latency_ms_p90"].get<double>());
  }
}

TEST_CASE("dry run lists the cases with their memory and runs nothing") {
  test::TempDir dir;
  std::string log;
  CHECK(attnlab_cli("sweep ci --dry-run --out " + dir.file("x.json"), &log) == 0);
  CHECK_THAT(log, Catch::Contains("decode/tiny-gqa/standard/cpu/fp32/b1/ctx16/t1"));
  CHECK_THAT(log, Catch::Contains(std::to_string(expected_names("ci").size()) + " cases"));
  CHECK_FALSE(std::filesystem::exists(dir.file("x.json")));
  // A case that cannot fit in RAM is refused up front.
  std::ofstream(dir.file("huge.json")) << R"({"models": ["llama-2-7b"], "phases": ["decode"],
      "context": [16000000], "batch": [64]})";
  CHECK(attnlab_cli("sweep " + dir.file("huge.json") + " --out " + dir.file("h.json"), &log) == 2);
  CHECK_THAT(log, Catch::Contains("(modelled)"));
}

TEST_CASE("a sweep killed mid-way and resumed has every case exactly once") {
  test::TempDir dir;
  const std::string out = dir.file("r.json"), journal = out + ".partial";
  // Slow enough (min_time) to be killed between cases.
  std::ofstream(dir.file("slow.json")) << R"({"name": "slow", "models": ["tiny-gqa", "tiny-mqa"],
      "phases": ["decode"], "context": [4, 8, 16, 32, 64], "threads": [1], "repetitions": 2,
      "min_time_s": 0.05, "calibration": "quick"})";
  const std::string binary = ATTNLAB_BINARY;
  const std::string config = dir.file("slow.json");
  std::vector<std::string> args = {binary, "sweep", config, "--out", out};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  REQUIRE(posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  // Kill it (SIGKILL: no cleanup at all) once three cases are in the journal.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (count_lines(journal) < 4 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFSIGNALED(status));
  const int finished_before = count_lines(journal) - 1;
  REQUIRE(finished_before >= 3);
  REQUIRE(finished_before < 10);
  CHECK_FALSE(std::filesystem::exists(out));

  std::string log;
  CHECK(attnlab_cli("sweep " + config + " --out " + out, &log) == 2);  // refuses to overwrite
  CHECK_THAT(log, Catch::Contains("--resume"));
  REQUIRE(attnlab_cli("sweep " + config + " --out " + out + " --resume", &log) == 0);
  const json results = json::parse(slurp(out));
  CHECK(case_names(results) == expected_names(config));
  std::set<std::string> runs;
  for (const json& run : results["benchmarks"])
    if (run["run_type"] == "aggregate" && run["aggregate_name"] == "median")
      CHECK(runs.insert(run["name"].get<std::string>()).second);
  CHECK(runs.size() == 10);
}

TEST_CASE("shards merged equal the unsharded case list; foreign shards are refused") {
  test::TempDir dir;
  for (int i = 1; i <= 3; ++i)
    REQUIRE(attnlab_cli("sweep ci --shard " + std::to_string(i) + "/3 --out " +
                        dir.file("s" + std::to_string(i) + ".json")) == 0);
  const std::string shards =
      dir.file("s1.json") + " " + dir.file("s2.json") + " " + dir.file("s3.json");
  REQUIRE(attnlab_cli("merge " + shards + " --out " + dir.file("merged.json")) == 0);
  const json merged = json::parse(slurp(dir.file("merged.json")));
  CHECK(case_names(merged) == expected_names("ci"));

  std::string log;
  CHECK(attnlab_cli("merge " + dir.file("s1.json") + " " + dir.file("s2.json") + " --out " +
                        dir.file("partial.json"),
                    &log) == 2);
  CHECK_THAT(log, Catch::Contains("is a shard missing?"));
  CHECK(attnlab_cli("merge " + dir.file("s1.json") + " " + dir.file("s1.json") + " " +
                        dir.file("s2.json") + " " + dir.file("s3.json") + " --out " +
                        dir.file("d.json"),
                    &log) == 2);
  CHECK_THAT(log, Catch::Contains("is also in"));
  std::ofstream(dir.file("other.json")) << R"({"name": "ci", "models": ["tiny-mha"],
      "phases": ["decode"], "context": [8], "threads": [1], "repetitions": 1,
      "min_time_s": 0.001, "calibration": "quick"})";
  REQUIRE(attnlab_cli("sweep " + dir.file("other.json") + " --out " + dir.file("o.json")) == 0);
  CHECK(attnlab_cli("merge " + dir.file("s1.json") + " " + dir.file("o.json") + " --out " +
                        dir.file("x.json"),
                    &log) == 2);
  CHECK_THAT(log, Catch::Contains("fingerprint"));
  CHECK(attnlab_cli("sweep ci --shard 4/3", &log) == 2);
  CHECK_THAT(log, Catch::Contains("--shard 4/3"));
}

TEST_CASE("built-in sweep 'variants': the six width2048 variants, absorb for MLA and GLA") {
  const SweepSpec spec = load_sweep("variants");
  std::set<std::string> series;  // model/form
  for (const SweepCase& c : spec.cases) series.insert(c.model + "/" + to_string(c.form));
  // Every combination parses (a backend without GTA/GLA yet fails those cases when run).
  const std::set<std::string> expected = {"width2048-mha/standard",  "width2048-gqa4/standard",
                                          "width2048-mqa/standard",  "width2048-mla/absorb",
                                          "width2048-gta4/standard", "width2048-gla2/absorb"};
  CHECK(series == expected);
  CHECK(spec.cases.size() == 6 * (5 + 1));
  // The default sweep (the README's quick start) has a GTA and a GLA model.
  std::set<std::string> kinds;
  for (const SweepCase& c : load_sweep("default").cases)
    kinds.insert(to_string(c.config.attention));
  CHECK(kinds == std::set<std::string>{"mha", "gqa", "mqa", "mla", "gta", "gla"});
}

TEST_CASE("a directory named like a built-in sweep does not hide it, any other is an error") {
  const test::TempDir dir;
  std::filesystem::create_directory(dir.path() / "ci");
  std::filesystem::create_directory(dir.path() / "mine");
  const std::filesystem::path before = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  std::string error;
  size_t cases = 0;
  try {
    cases = load_sweep("ci").cases.size();
    load_sweep("mine");
  } catch (const Error& e) {
    error = e.what();
  }
  std::filesystem::current_path(before);
  CHECK(cases > 0);
  CHECK(error == "mine: is a directory, not a sweep config");
}

TEST_CASE("modelled memory counts latent activations for GLA as for MLA, and GTA's") {
  // The per-token latent query and output (2 x heads x width) of a prefill of 64 tokens.
  const auto activations = [](const char* preset, ImplForm form) {
    SweepCase c;
    c.config = load_layer_config_file(std::string(ATTNLAB_SOURCE_DIR) + "/configs/models/" +
                                      preset + ".json");
    c.form = form;
    c.phase = Phase::prefill;
    c.new_tokens = 64;
    SweepCase none = c;
    none.new_tokens = 0;
    return modelled_case_memory_bytes(c) - modelled_case_memory_bytes(none);
  };
  const auto plain = [](int64_t hidden, int64_t heads, int64_t qk, int64_t v) {
    return 4.0 * 64 * (4.0 * double(hidden) + 3.0 * double(heads * (qk + v)));
  };
  const double cache_mla = 64 * 576 * 4.0, cache_gla = 64 * 640 * 4.0, cache_gta = 64 * 576 * 4.0;
  CHECK(activations("width2048-mla", ImplForm::absorb) ==
        plain(2048, 16, 192, 128) + 4.0 * 64 * 2 * 16 * 512 + cache_mla);
  CHECK(activations("width2048-gla2", ImplForm::absorb) ==
        plain(2048, 16, 192, 128) + 4.0 * 64 * 2 * 16 * 256 + cache_gla);
  CHECK(activations("width2048-gta4", ImplForm::standard) ==
        plain(2048, 16, 128, 128) + 4.0 * 64 * 2 * 16 * 128 + cache_gta);
}
