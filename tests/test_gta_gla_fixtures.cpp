// `attnlab run` on GTA and GLA layers (Zadouri, Strauss, Dao 2025, arXiv 2505.21487) of the
// presets tiny-gta, tiny-gla, tiny-gla4, width2048-gta4, width2048-gla2 and gla2-deepseek-v3
// (reduced; each config's "source" says how), written with the reference code's weight names by
// tests/fixtures/write_gta_gla.py (pure Python, run here into a temporary directory), against
// that program's own fp64 output and LSE. The writer computes them from the paper's reference
// code's equations and shares nothing with attnlab's C++.
//
// Criterion, for every fixture, backend (reference fp64, cpu fp32, cpu-plain fp32), form (GTA:
// standard; GLA: naive and absorb) and phase (prefill, decode):
//   max |attn_output - expected| <= 1e-5 * max |expected|
//   max |lse - expected lse|     <= 1e-5 * max(1, max |expected lse|)
// and each structure the fixture checks must move the expected output by more than 100x that
// bound (the writer reports max |out - out with it broken| / max |out|: GLA's latent groups
// swapped, GTA's V = K or query heads on the wrong tied head, the rope key unrotated, ...), so a
// fixture that stops exercising it fails too.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/presets.h"
#include "io/safetensors.h"
#include "tests/test_support.h"

using namespace attnlab;

namespace {

constexpr double kRelativeTolerance = 1e-5;
constexpr double kMinStructureEffect = 100 * kRelativeTolerance;

const std::string kWriter = std::string(ATTNLAB_SOURCE_DIR) + "/tests/fixtures/write_gta_gla.py";
const std::string kPrefix = "model.layers.0.self_attn.";

struct Run {
  std::string backend;  // with its --dtype
  std::string form;
  std::string phase;
};

std::vector<Run> runs_for(bool gla) {
  std::vector<Run> runs;
  for (const std::string backend : {"reference", "cpu --dtype fp32", "cpu-plain --dtype fp32"})
    for (const std::string& form :
         gla ? std::vector<std::string>{"naive", "absorb"} : std::vector<std::string>{"standard"})
      for (const std::string phase : {"prefill", "decode"}) runs.push_back({backend, form, phase});
  return runs;
}

double max_abs(const Tensor<double>& t) {
  double m = 0;
  for (double v : t.data) m = std::max(m, std::abs(v));
  return m;
}

// Writes the fixture with the Python writer, checks its structure effects, then runs and
// compares every backend, form and phase.
void check_fixture(const std::string& name, AttentionKind kind,
                   const std::vector<std::string>& effects_required) {
  test::TempDir dir;
  const test::CliResult written =
      test::run_cli("python3", kWriter + " --out " + dir.path().string() + " --only " + name);
  INFO("python3 write_gta_gla.py: " << written.err);
  REQUIRE(written.exit_code == 0);
  const std::string stem = dir.file(name);
  const std::string model = stem + "_layer.json";

  const LayerConfig config = resolve_model(model);
  REQUIRE(config.attention == kind);
  const SafetensorsFile expected_file = SafetensorsFile::read(stem + "_expected.safetensors");

  const auto effects =
      nlohmann::json::parse(expected_file.metadata().at("attnlab.structure_effects"));
  for (const std::string& effect : effects_required) {
    INFO(name << ": effect of " << effect);
    REQUIRE(effects.contains(effect));
    CHECK(effects[effect].get<double>() > kMinStructureEffect);
  }

  const Tensor<double> expected = expected_file.to_double("attn_output");
  const Tensor<double> expected_lse = expected_file.to_double("lse");
  REQUIRE(expected_lse.shape == Shape{expected.dim(0), expected.dim(1), config.n_heads});
  for (const Run& run : runs_for(config.is_gla())) {
    INFO(name << " --backend " << run.backend << " --form " << run.form << " --phase "
              << run.phase);
    const std::string out = dir.file("out.safetensors");
    const test::CliResult r = test::run_cli(
        ATTNLAB_BINARY, "run --model " + model + " --weights " + stem +
                            "_layer.safetensors --prefix " + kPrefix + " --input " + stem +
                            "_input.safetensors --backend " + run.backend + " --form " + run.form +
                            " --phase " + run.phase + " --lse --out " + out);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const SafetensorsFile result = SafetensorsFile::read(out);
    REQUIRE(result.get("attn_output").shape == expected.shape);
    REQUIRE(result.get("lse").shape == expected_lse.shape);
    const test::Comparison c = test::compare(result.to_double("attn_output"), expected);
    INFO("output: max abs error " << c.max_abs_error << ", max |expected| " << c.max_ref);
    CHECK(c.max_abs_error <= kRelativeTolerance * c.max_ref);
    const test::Comparison l = test::compare(result.to_double("lse"), expected_lse);
    INFO("lse: max abs error " << l.max_abs_error << ", max |expected| " << l.max_ref);
    CHECK(l.max_abs_error <= kRelativeTolerance * std::max(1.0, max_abs(expected_lse)));
  }
}

}  // namespace

TEST_CASE("gta/gla fixtures: tiny-gta, 3 query heads per tied head, every bias",
          "[gta-gla-fixtures]") {
  check_fixture("tiny-gta", AttentionKind::gta,
                {"v_equals_k", "kv_head_of_query", "rope_on_key", "positions", "biases"});
}

TEST_CASE("gta/gla fixtures: width2048-gta4, head_dim 128 and rope key 64, W_rope_k bias",
          "[gta-gla-fixtures]") {
  check_fixture("width2048-gta4", AttentionKind::gta,
                {"v_equals_k", "kv_head_of_query", "rope_on_key", "positions", "biases"});
}

TEST_CASE("gta/gla fixtures: tiny-gla, 2 latent heads, every bias", "[gta-gla-fixtures]") {
  check_fixture("tiny-gla", AttentionKind::gla,
                {"latent_groups_swapped", "rope_on_key", "positions", "biases"});
}

TEST_CASE("gta/gla fixtures: tiny-gla4, 4 latent heads, interleaved RoPE, one W_ukv bias",
          "[gta-gla-fixtures]") {
  check_fixture("tiny-gla4", AttentionKind::gla,
                {"latent_groups_swapped", "rope_on_key", "rope.layout", "positions", "biases"});
}

TEST_CASE("gta/gla fixtures: width2048-gla2, 8 query heads per latent head, 128/64/128",
          "[gta-gla-fixtures]") {
  check_fixture("width2048-gla2", AttentionKind::gla,
                {"latent_groups_swapped", "rope_on_key", "positions", "biases"});
}

TEST_CASE("gta/gla fixtures: gla2-deepseek-v3, interleaved RoPE with YaRN past 4096",
          "[gta-gla-fixtures]") {
  check_fixture(
      "gla2-deepseek-v3", AttentionKind::gla,
      {"latent_groups_swapped", "rope_on_key", "rope.layout", "rope.scaling", "positions"});
}
