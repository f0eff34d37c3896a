// End-to-end tests of the attnlab binary: exit codes, one-line error messages that name the
// input, no partial output files, `kv` figures, and `run` on layers written by another program
// (tests/fixtures/write_hf_layers.py, pure Python) matching that program's own fp64 outputs.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/presets.h"
#include "core/weights.h"
#include "io/safetensors.h"
#include "registry/registry.h"
#include "tests/test_support.h"

using namespace attnlab;

namespace {

using test::CliResult;
using test::slurp;

CliResult attnlab_cli(const std::string& args) {
  return test::run_cli(ATTNLAB_BINARY, args);
}

int count_lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

const std::string kFixtures = std::string(ATTNLAB_SOURCE_DIR) + "/tests/fixtures/";

void write_input(const std::string& path, const LayerConfig& config, int64_t batch, int64_t seq,
                 double poison = 0) {
  SafetensorsWriter w;
  Tensor<double> x = random_activations(batch, seq, config.hidden_size, 11);
  if (poison != 0) x.data[5] = poison;
  w.add("hidden_states", x, DType::fp32);
  w.write(path);
}

}  // namespace

TEST_CASE("kv --model deepseek-v3 shows 576 elements per token per layer") {
  const CliResult r = attnlab_cli("kv --model deepseek-v3 --json");
  REQUIRE(r.exit_code == 0);
  const auto records = nlohmann::json::parse(r.out);
  bool found = false;
  for (const auto& rec : records)
    if (rec["impl"] == "absorb") {
      CHECK(rec["elements_per_token_layer"] == 576);
      CHECK(rec["bytes_per_token"] == 70272.0);
      found = true;
    }
  CHECK(found);
  const CliResult table = attnlab_cli("kv --model deepseek-v3");
  CHECK_THAT(table.out, Catch::Contains("576"));
  CHECK_THAT(table.out, Catch::Contains("70,272"));
}

TEST_CASE("kv with no --model lists every published preset") {
  const CliResult r = attnlab_cli("kv --json");
  REQUIRE(r.exit_code == 0);
  const auto records = nlohmann::json::parse(r.out);
  std::set<std::string> models;
  for (const auto& rec : records) models.insert(rec["model"].get<std::string>());
  CHECK(models.size() == preset_names("models").size());
}

TEST_CASE("bad flags and values exit 2 with one line") {
  for (const char* args :
       {"kv --context abc", "kv --dtype int3", "run --model tiny-mha", "frobnicate",
        "kv --model no-such-model",
        "run --model tiny-mha "
        "--input x --out y --phase sideways",
        "run --model tiny-mha --input x --out y --backend gpu9",
        "run --model tiny-mha --input x --out y --dtype int3",
        "run --model tiny-mha --input x --out y --backend reference --dtype bf16",
        "run --model tiny-mha --input x --out y --impl standard",
        "verify ci --filter no-such-implementation"}) {
    INFO(args);
    const CliResult r = attnlab_cli(args);
    CHECK(r.exit_code == 2);
    CHECK(count_lines(r.err) == 1);
    CHECK_THAT(r.err, Catch::StartsWith("attnlab: "));
  }
}

TEST_CASE("kv: a layer config whose number overflows a double is one line naming file and field") {
  test::TempDir dir;
  const std::string bad = dir.file("bad.json");
  std::ofstream(bad) << R"({"attention": "mha", "hidden_size": 64, "n_heads": 4,
      "rope": {"layout": "half_split", "theta": 1e3084}})";
  const CliResult r = attnlab_cli("kv --model " + bad);
  CHECK(r.exit_code == 2);
  CHECK(count_lines(r.err) == 1);
  CHECK(r.err == "attnlab: " + bad + ": rope.theta (1e3084) overflows a double\n");
  CHECK(r.out.empty());
}

TEST_CASE("sweep, verify and merge inputs with bad numbers exit 2 with one line") {
  test::TempDir dir;
  const std::string sweep = dir.file("s.json"), verify = dir.file("v.json"),
                    shard = dir.file("m.json");
  std::ofstream(sweep) << R"({"models": ["tiny-gqa"], "phases": ["decode"], "context": [1e400]})";
  std::ofstream(verify) << R"({"cases": [{"model": "tiny-gqa", "seed": -1}]})";
  std::ofstream(shard) << R"({"attnlab": {"fingerprint": "f", "cases": [{"index": "0"}]}})";
  for (const auto& [args, message] : std::vector<std::pair<std::string, std::string>>{
           {"sweep " + sweep + " --dry-run", sweep + ": context[0] (1e400) overflows a double"},
           {"verify " + verify, verify + ": cases[0].seed (-1) must be in [0, "},
           {"merge " + shard + " --out " + dir.file("o.json"),
            shard + ": attnlab.cases[0].index must be an integer, got \"0\""}}) {
    INFO(args);
    const CliResult r = attnlab_cli(args);
    CHECK(r.exit_code == 2);
    CHECK(count_lines(r.err) == 1);
    CHECK_THAT(r.err, Catch::StartsWith("attnlab: " + message));
  }
}

TEST_CASE("run: --backend and --dtype errors name the flag and list what the registry has") {
  const CliResult backend = attnlab_cli("run --model tiny-mha --input x --out y --backend gpu9");
  CHECK(backend.exit_code == 2);
  CHECK_THAT(backend.err, Catch::Contains("--backend 'gpu9'"));
  for (const std::string& name : registered_backends())
    CHECK_THAT(backend.err, Catch::Contains(name));
  const CliResult dtype = attnlab_cli("run --model tiny-mha --input x --out y --dtype int3");
  CHECK(dtype.exit_code == 2);
  CHECK_THAT(dtype.err, Catch::Contains("--dtype"));
  CHECK_THAT(dtype.err, Catch::Contains("bf16"));
  const CliResult stored =
      attnlab_cli("run --model tiny-mha --input x --out y --backend cpu-plain --dtype fp16");
  CHECK(stored.exit_code == 2);
  CHECK_THAT(stored.err,
             Catch::Contains("--dtype fp16: backend cpu-plain stores its cache in fp32"));
}

TEST_CASE("run: bad inputs are named, exit 2, and leave no output file") {
  test::TempDir dir;
  const std::string out = dir.file("out.safetensors");
  const LayerConfig cfg = load_preset("tiny-gqa");

  SECTION("missing input file") {
    const CliResult r = attnlab_cli("run --model tiny-gqa --input " + dir.file("nope.safetensors") +
                                    " --out " + out);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("nope.safetensors"));
  }
  SECTION("truncated input file") {
    write_input(dir.file("x.safetensors"), cfg, 1, 4);
    const std::string bytes = slurp(dir.file("x.safetensors"));
    std::ofstream(dir.file("cut.safetensors"), std::ios::binary)
        << bytes.substr(0, bytes.size() - 9);
    const CliResult r = attnlab_cli("run --model tiny-gqa --input " + dir.file("cut.safetensors") +
                                    " --out " + out);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("cut.safetensors"));
    CHECK(count_lines(r.err) == 1);
  }
  SECTION("hidden size that does not match the model") {
    write_input(dir.file("x.safetensors"), load_preset("tiny-mha"), 1, 4);
    const CliResult r =
        attnlab_cli("run --model tiny-gqa --input " + dir.file("x.safetensors") + " --out " + out);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("hidden_states has shape [1, 4, 32]"));
  }
  SECTION("non-finite input values") {
    write_input(dir.file("x.safetensors"), cfg, 1, 4, NAN);
    const CliResult r =
        attnlab_cli("run --model tiny-gqa --input " + dir.file("x.safetensors") + " --out " + out);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("non-finite"));
  }
  SECTION("absorb asked of a GQA model") {
    write_input(dir.file("x.safetensors"), cfg, 1, 4);
    const CliResult r = attnlab_cli("run --model tiny-gqa --form absorb --input " +
                                    dir.file("x.safetensors") + " --out " + out);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("absorb does not apply"));
  }
  SECTION("invalid layer-config file") {
    std::ofstream(dir.file("bad.json")) << R"({"attention": "gqa", "hidden_size": 64,
        "n_heads": 32, "n_kv_heads": 5, "head_dim": 2})";
    write_input(dir.file("x.safetensors"), cfg, 1, 4);
    const CliResult r = attnlab_cli("run --model " + dir.file("bad.json") + " --input " +
                                    dir.file("x.safetensors") + " --out " + out);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("n_heads (32) must be divisible by n_kv_heads (5)"));
  }
  CHECK_FALSE(std::filesystem::exists(out));
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
    CHECK(entry.path().filename().string().find(".tmp") == std::string::npos);
}

TEST_CASE("run: prefill and decode agree, and the output keeps the input dtype") {
  test::TempDir dir;
  const LayerConfig cfg = load_preset("tiny-mla");
  SafetensorsWriter w;
  w.add("hidden_states", random_activations(2, 5, cfg.hidden_size, 3), DType::bf16);
  w.write(dir.file("x.safetensors"));
  for (const char* phase : {"prefill", "decode"}) {
    const CliResult r = attnlab_cli("run --model tiny-mla --seed 4 --phase " + std::string(phase) +
                                    " --input " + dir.file("x.safetensors") + " --out " +
                                    dir.file(std::string(phase) + ".safetensors"));
    REQUIRE(r.exit_code == 0);
  }
  const auto prefill = SafetensorsFile::read(dir.file("prefill.safetensors"));
  const auto decode = SafetensorsFile::read(dir.file("decode.safetensors"));
  CHECK(prefill.get("attn_output").dtype == DType::bf16);
  CHECK(prefill.get("attn_output").shape == Shape{2, 5, cfg.hidden_size});
  const test::Comparison c =
      test::compare(decode.to_double("attn_output"), prefill.to_double("attn_output"));
  CHECK(c.max_abs_error <= 2e-2 * std::max(1.0, c.max_ref));  // bf16 output rounding
}

TEST_CASE("run: layers written by another program load by prefix and match its outputs") {
  test::TempDir dir;
  for (const std::string stem : {"hf_qwen_style", "hf_deepseek_style"}) {
    for (const std::string backend : {"cpu", "reference"}) {
      for (const std::string phase : {"prefill", "decode"}) {
        INFO(stem << " " << backend << " " << phase);
        const std::string out = dir.file(stem + backend + phase + ".safetensors");
        const CliResult r = attnlab_cli(
            "run --model " + kFixtures + stem + "_layer.json --weights " + kFixtures + stem +
            "_layer.safetensors --prefix model.layers.0.self_attn. --input " + kFixtures + stem +
            "_input.safetensors --backend " + backend + " --phase " + phase + " --out " + out);
        REQUIRE(r.exit_code == 0);
        const Tensor<double> expected =
            SafetensorsFile::read(kFixtures + stem + "_expected.safetensors")
                .to_double("attn_output");
        const test::Comparison c =
            test::compare(SafetensorsFile::read(out).to_double("attn_output"), expected);
        // F32 output: fp32 rounding of O(1) values; the reference path is exact up to that too.
        CHECK(c.max_abs_error < 1e-5 * std::max(1.0, c.max_ref));
      }
    }
  }
}

TEST_CASE("verify passes on the CI cases and writes its JSON") {
  test::TempDir dir;
  const CliResult r = attnlab_cli("verify " + std::string(ATTNLAB_SOURCE_DIR) +
                                  "/configs/verify/ci.json --json " + dir.file("v.json"));
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains(" 0 failed"));
  const auto results = nlohmann::json::parse(slurp(dir.file("v.json")));
  CHECK(results.size() > 10);
}

TEST_CASE("info reports the build and the CUDA status") {
  const CliResult r = attnlab_cli("info --json");
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j.contains("cuda_built"));
  CHECK(j["openmp_threads"].get<int>() >= 1);
  CHECK_FALSE(j["cuda_status"].get<std::string>().empty());
}
