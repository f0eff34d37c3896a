// `attnlab run` on layers of the published presets with their model features (YaRN, llama3,
// linear and local-theta RoPE, sliding windows with layer_types / layer_index, gpt-oss sinks,
// QK-norm), written with Hugging Face names by tests/fixtures/write_hf_features.py (pure Python,
// run here into a temporary directory), against that program's own fp64 output and LSE.
//
// Criterion, for every layer, backend (reference fp64, cpu fp32), form (MLA: naive and absorb)
// and phase (prefill, decode):
//   max |attn_output - expected| <= 1e-5 * max |expected|
//   max |lse - expected lse|     <= 1e-5 * max(1, max |expected lse|)
// and every feature the preset has must move the expected output by more than 100x that bound
// (the writer reports max |out - out without the feature| / max |out|), so a fixture that no
// longer exercises its feature (positions inside the original context, fewer tokens than the
// window) fails too. Tests tagged [needs-sinks-qknorm] need attention sinks and QK-norm in the
// backends.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/presets.h"
#include "io/safetensors.h"
#include "tests/test_support.h"

using namespace attnlab;

namespace {

constexpr double kRelativeTolerance = 1e-5;
constexpr double kMinFeatureEffect = 100 * kRelativeTolerance;

const std::string kWriter =
    std::string(ATTNLAB_SOURCE_DIR) + "/tests/fixtures/write_hf_features.py";

struct FeatureLayer {
  int layer;
  const char* layer_type;             // HF layer_types entry of that layer
  std::vector<std::string> features;  // ones that change this layer's output
};

struct Run {
  std::string backend;  // with its --dtype
  std::string form;     // "" = the default
  std::string phase;
};

std::vector<Run> runs_for(bool mla) {
  std::vector<Run> runs;
  for (const std::string backend : {"reference", "cpu --dtype fp32"})
    for (const std::string& form :
         mla ? std::vector<std::string>{"naive", "absorb"} : std::vector<std::string>{""})
      for (const std::string phase : {"prefill", "decode"}) runs.push_back({backend, form, phase});
  return runs;
}

double max_abs(const Tensor<double>& t) {
  double m = 0;
  for (double v : t.data) m = std::max(m, std::abs(v));
  return m;
}

// Writes the preset's fixture with the Python writer, then runs and compares each layer.
void check_preset(const std::string& preset, const std::vector<FeatureLayer>& layers) {
  test::TempDir dir;
  const test::CliResult written =
      test::run_cli("python3", kWriter + " --out " + dir.path().string() + " --only " + preset);
  INFO("python3 write_hf_features.py: " << written.err);
  REQUIRE(written.exit_code == 0);
  const std::string stem = dir.file(preset);

  for (const FeatureLayer& fl : layers) {
    const std::string index = std::to_string(fl.layer);
    const std::string model = stem + "_layer.json@" + index;
    const SafetensorsFile expected_file =
        SafetensorsFile::read(stem + "_expected@" + index + ".safetensors");

    // The layer attnlab selects is the kind the writer (and HF's layer_types) says it is.
    const LayerConfig config = resolve_model(model);
    CHECK(config.layer_index == fl.layer);
    CHECK(std::string(to_string(config.layer_type())) == fl.layer_type);
    CHECK(expected_file.metadata().at("attnlab.layer_type") == fl.layer_type);

    const auto effects =
        nlohmann::json::parse(expected_file.metadata().at("attnlab.feature_effects"));
    for (const std::string& feature : fl.features) {
      INFO(preset << "@" << index << ": effect of " << feature);
      REQUIRE(effects.contains(feature));
      CHECK(effects[feature].get<double>() > kMinFeatureEffect);
    }

    const Tensor<double> expected = expected_file.to_double("attn_output");
    const Tensor<double> expected_lse = expected_file.to_double("lse");
    REQUIRE(expected_lse.shape == Shape{expected.dim(0), expected.dim(1), config.n_heads});
    for (const Run& run : runs_for(config.is_mla())) {
      INFO(preset << "@" << index << " --backend " << run.backend << " --form " << run.form
                  << " --phase " << run.phase);
      const std::string out = dir.file("out.safetensors");
      const test::CliResult r = test::run_cli(
          ATTNLAB_BINARY, "run --model " + model + " --weights " + stem +
                              "_layer.safetensors --prefix model.layers." + index +
                              ".self_attn. --input " + stem + "_input.safetensors --backend " +
                              run.backend + (run.form.empty() ? "" : " --form " + run.form) +
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
}

}  // namespace

TEST_CASE("hf features: deepseek-v3 MLA with YaRN past 4096 (mscale^2 softmax scale)",
          "[hf-features]") {
  check_preset("deepseek-v3", {{0, "full_attention", {"rope.scaling", "yarn_truncate"}}});
}

TEST_CASE("hf features: deepseek-v2-lite MLA (q_proj) with YaRN mscale 0.707 past 4096",
          "[hf-features]") {
  check_preset("deepseek-v2-lite", {{0, "full_attention", {"rope.scaling", "yarn_truncate"}}});
}

TEST_CASE("hf features: llama-3.1-8b llama3 RoPE scaling past 8192", "[hf-features]") {
  check_preset("llama-3.1-8b", {{0, "full_attention", {"rope.scaling"}}});
}

TEST_CASE("hf features: mistral-7b sliding window over more tokens than the window",
          "[hf-features]") {
  check_preset("mistral-7b", {{0, "sliding_attention", {"sliding_window"}}});
}

TEST_CASE("hf features: gpt-oss-20b sliding layer 0 and full layer 1 with sinks and YaRN",
          "[hf-features][needs-sinks-qknorm]") {
  check_preset("gpt-oss-20b",
               {{0, "sliding_attention", {"rope.scaling", "sliding_window", "attention_sinks"}},
                {1, "full_attention", {"rope.scaling", "attention_sinks"}}});
}

TEST_CASE("hf features: gemma-3-12b local layer 0 and global layer 5 with (1 + w) QK-norm",
          "[hf-features][needs-sinks-qknorm]") {
  check_preset("gemma-3-12b",
               {{0, "sliding_attention", {"rope.local_base_freq", "sliding_window", "qk_norm"}},
                {5, "full_attention", {"rope.scaling", "qk_norm"}}});
}

TEST_CASE("hf features: qwen3-32b QK-norm", "[hf-features][needs-sinks-qknorm]") {
  check_preset("qwen3-32b", {{0, "full_attention", {"qk_norm"}}});
}
