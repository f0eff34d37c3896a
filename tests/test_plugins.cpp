// Plugins (include/attnlab/plugin.h): the example plugin passes `attnlab verify --plugin` (SKIP
// where it does not apply), its wrong-scale twin fails naming the case, a sweep config loads and
// times it, its entries join the registry through register_implementation, and every bad plugin
// (no file, not a library, a missing symbol, another ABI version, an init error) is one line and
// exit 2.
#include <catch2/catch.hpp>
#include <fstream>

#include "core/error.h"
#include "core/presets.h"
#include "registry/plugin_loader.h"
#include "registry/registry.h"
#include "tests/test_support.h"
#include "verify/conformance.h"

using namespace attnlab;

namespace {

test::CliResult attnlab_cli(const std::string& args) {
  return test::run_cli(ATTNLAB_BINARY, args);
}

int count_lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

TEST_CASE("the example plugin passes verify ci; MLA and sink layers are SKIP") {
  const test::CliResult r = attnlab_cli("verify ci --plugin " + std::string(PLUGIN_NAIVE_MHA) +
                                        " --filter naive-mha --show-skipped");
  INFO(r.out.substr(0, 4000) << r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains(" 0 failed"));
  CHECK_THAT(r.out, Catch::Contains("tiny-gqa b2 s9 seed2 rpos"));
  CHECK_THAT(r.out, Catch::Contains("naive-mha"));
  CHECK_THAT(r.out, Catch::Contains("tiny-window"));
  CHECK_THAT(r.out, Catch::Contains("SKIP: does not apply to mla"));
}

TEST_CASE("a plugin with the softmax scale off fails verify, naming the case") {
  const test::CliResult r = attnlab_cli("verify ci --plugin " + std::string(PLUGIN_WRONG_SCALE) +
                                        " --filter naive-mha-wrong-scale");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("tiny-mha b2 s9 seed1"));
  CHECK_THAT(r.out, Catch::Contains("FAIL: NMSE above bound"));
  CHECK_THAT(r.out, !Catch::Contains("PASS"));
}

TEST_CASE("plugin entries join the registry and run through the driver") {
  const std::vector<std::string> ids = load_plugin(PLUGIN_NAIVE_MHA);
  REQUIRE(ids == std::vector<std::string>{"naive-mha/standard/fp32"});
  CHECK(load_plugin(PLUGIN_NAIVE_MHA).empty());  // loaded once
  const Implementation& impl = find_implementation("naive-mha", ImplForm::standard);
  CHECK(impl.supports(resolve_model("tiny-gqa")));
  CHECK(!impl.supports(resolve_model("tiny-mla")));
  CHECK(!impl.supports(resolve_model("tiny-gpt-oss")));  // sinks
  REQUIRE(impl.make_attention);
  // The same entry twice is refused by register_implementation.
  CHECK_THROWS_AS(register_implementation(impl), Error);

  VerifyCase spec;
  spec.model = "tiny-gqa";
  spec.seq = 6;
  const CaseData data = prepare_case(spec);
  for (Phase phase : {Phase::prefill, Phase::decode}) {
    CaseResult r;
    judge(impl.run(data.config, data.weights, data.x, data.positions, phase), data.truth,
          tolerance_for(DType::fp32), r);
    INFO(r.detail);
    CHECK(r.status == CaseStatus::pass);
  }
  // A cache filled for timing holds a real prefill: decode after it stays finite.
  const auto attention = impl.make_attention(data.config, data.weights);
  const auto cache = attention->make_cache(1, 40);
  cache->fill_synthetic(33, 5);
  CHECK(cache->length() == 33);
  std::vector<float> x(data.config.hidden_size, 0.5f), out(data.config.hidden_size);
  const int64_t position = 33;
  attention->forward(x.data(), &position, 1, 1, *cache, out.data(), nullptr);
  for (float v : out) CHECK(std::isfinite(v));
}

TEST_CASE("a sweep config's plugins are loaded and their backends timed") {
  test::TempDir dir;
  std::ofstream(dir.file("sweep.json"))
      << R"({"name": "plugin", "models": ["tiny-gqa"],
    "plugins": [")"
      << PLUGIN_NAIVE_MHA << R"("], "backends": ["naive-mha"], "phases": ["decode", "prefill"],
    "context": [16], "seq": [8], "threads": [1], "repetitions": 1, "min_time_s": 0.001,
    "calibration": "quick"})";
  const test::CliResult r =
      attnlab_cli("sweep " + dir.file("sweep.json") + " --out " + dir.file("out.json"));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  const std::string results = test::slurp(dir.file("out.json"));
  CHECK_THAT(results, Catch::Contains("naive-mha"));
}

TEST_CASE("a bad plugin is one line and exit 2") {
  test::TempDir dir;
  std::ofstream(dir.file("not_a_library.so")) << "text";
  const std::vector<std::pair<std::string, std::string>> bad = {
      {dir.file("missing.so"), "no such plugin file"},
      {dir.file("not_a_library.so"), "cannot load plugin"},
      {PLUGIN_NO_INIT, "missing symbol attnlab_plugin_init"},
      {PLUGIN_WRONG_ABI, "plugin ABI version 999, this attnlab loads version 1"},
      {PLUGIN_INIT_ERROR, "attnlab_plugin_init failed: no accelerator found"},
  };
  for (const auto& [path, needle] : bad) {
    const test::CliResult r = attnlab_cli("verify ci --plugin " + path);
    INFO(path << "\n" << r.err);
    CHECK(r.exit_code == 2);
    CHECK(count_lines(r.err) == 1);
    CHECK_THAT(r.err, Catch::StartsWith("attnlab: " + path + ": ") && Catch::Contains(needle));
  }
  // The same in a sweep config.
  std::ofstream(dir.file("sweep.json"))
      << R"({"models": ["tiny-gqa"], "plugins": [")" << PLUGIN_WRONG_ABI
      << R"("], "phases": ["prefill"], "seq": [4]})";
  const test::CliResult sweep = attnlab_cli("sweep " + dir.file("sweep.json") + " --dry-run");
  CHECK(sweep.exit_code == 2);
  CHECK(count_lines(sweep.err) == 1);
  CHECK_THAT(sweep.err, Catch::Contains("plugin ABI version 999"));
}
