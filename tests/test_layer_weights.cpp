// Tests of io/layer_weights: save/load round trips for every tiny preset and dtype, prefix
// handling, each rejection (missing, unexpected, misshaped, I64, non-finite), and the Hugging
// Face style fixtures written by tests/fixtures/write_hf_layers.py (another program, pure Python).
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/presets.h"
#include "core/weights.h"
#include "io/layer_weights.h"
#include "io/safetensors.h"
#include "tests/test_support.h"
#include "variants/variant_spec.h"

using namespace attnlab;
using Catch::Matchers::Contains;

namespace {

const std::string kPrefix = "model.layers.3.self_attn.";

std::string fixture(const std::string& name) {
  return std::string(ATTNLAB_SOURCE_DIR) + "/tests/fixtures/" + name;
}

// Writes `weights` under `prefix` like save_layer_weights, but lets a test add, drop or replace
// tensors to produce a file the loader must judge.
struct LayerFile {
  SafetensorsWriter writer;
  LayerFile(const LayerConfig& config, const Weights& weights, const std::string& prefix,
            const std::string& skip = "", const std::string& replace = "",
            const Tensor<double>* replacement = nullptr) {
    for (const WeightSpec& spec : weight_specs(config)) {
      if (spec.name == skip) continue;
      if (spec.name == replace)
        writer.add(prefix + spec.name, *replacement, DType::fp32);
      else
        writer.add(prefix + spec.name, weights.get(spec.name), DType::fp32);
    }
  }
};

// Every error from the loader starts with the path and stays on one line.
void require_load_error(const LayerConfig& config, const std::string& path,
                        const std::string& prefix, const std::string& expected) {
  try {
    load_layer_weights(config, path, prefix);
    FAIL("load succeeded");
  } catch (const Error& e) {
    const std::string message = e.what();
    INFO("message: " << message);
    CHECK(message.rfind(path + ": ", 0) == 0);
    CHECK_THAT(message, Contains(expected));
    CHECK(message.find('\n') == std::string::npos);
  }
}

// r (a value of a 16-bit format) is the nearest such value to v, ties to the even code: the
// writer rounds from fp64 directly, so this is checked against the neighbouring codes rather
// than recomputed through fp32 (which could round twice).
bool is_nearest_16bit(double v, double r, float (*decode)(uint16_t), uint16_t (*encode)(float)) {
  const uint16_t code = encode(static_cast<float>(r));
  if (decode(code) != r) return false;  // r is not even a value of the format
  const double err = std::fabs(v - r);
  for (int delta : {-1, 1}) {
    const int mag = (code & 0x7FFF) + delta;
    if (mag < 0 || mag > 0x7FFF) continue;
    const double other = decode(static_cast<uint16_t>((code & 0x8000) | mag));
    if (!std::isfinite(other)) continue;
    const double other_err = std::fabs(v - other);
    if (other_err < err || (other_err == err && (code & 1))) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("layer weights round trip for every tiny preset and dtype") {
  test::TempDir dir;
  for (const std::string& name : preset_names("tiny")) {
    const LayerConfig config = load_preset(name);
    const Weights weights = random_weights(config, 99);
    for (DType dtype : {DType::fp64, DType::fp32, DType::bf16, DType::fp16}) {
      INFO(name << " as " << dtype_name(dtype));
      const std::string path = dir.file(name + "-" + dtype_name(dtype) + ".safetensors");
      save_layer_weights(config, weights, path, kPrefix, dtype);

      const SafetensorsFile file = SafetensorsFile::read(path);
      CHECK(file.names().size() == weight_specs(config).size());
      CHECK(file.metadata().at("format") == "pt");
      for (const WeightSpec& spec : weight_specs(config)) {
        REQUIRE(file.has(kPrefix + spec.name));
        CHECK(file.get(kPrefix + spec.name).dtype == dtype);
      }

      const Weights loaded = load_layer_weights(config, path, kPrefix);
      REQUIRE(loaded.tensors.size() == weights.tensors.size());
      for (const auto& [tname, t] : weights.tensors) {
        const Tensor<double>& back = loaded.get(tname);
        REQUIRE(back.shape == t.shape);
        for (int64_t i = 0; i < t.numel(); ++i) {
          const double v = t.data[i];
          const double r = back.data[i];
          INFO(tname << "[" << i << "] = " << v << " came back as " << r);
          if (dtype == DType::fp64) REQUIRE(r == v);
          if (dtype == DType::fp32) REQUIRE(r == static_cast<float>(v));
          if (dtype == DType::bf16) REQUIRE(is_nearest_16bit(v, r, bf16_to_float, float_to_bf16));
          if (dtype == DType::fp16) REQUIRE(is_nearest_16bit(v, r, fp16_to_float, float_to_fp16));
        }
      }
    }
  }
}

TEST_CASE("tensors outside the prefix are ignored, as in a full checkpoint") {
  test::TempDir dir;
  const LayerConfig config = load_preset("tiny-gqa");
  const Weights weights = random_weights(config, 1);
  LayerFile f(config, weights, kPrefix);
  // Other layers (including one whose number starts with the same digit), the MLP, embeddings.
  f.writer.add("model.layers.30.self_attn.q_proj.weight", Tensor<double>({2, 2}, 1.0), DType::fp32);
  f.writer.add("model.layers.4.self_attn.extra.weight", Tensor<double>({3}, 1.0), DType::fp32);
  f.writer.add("model.layers.3.mlp.up_proj.weight", Tensor<double>({4, 2}, 1.0), DType::bf16);
  f.writer.add("model.embed_tokens.weight", Tensor<double>({5, 2}, 1.0), DType::fp32);
  f.writer.add("lm_head.weight", Tensor<double>({5, 2}, NAN), DType::fp32);  // not even checked
  // The rotary buffer under the attention module is a known Hugging Face leftover.
  f.writer.add(kPrefix + "rotary_emb.inv_freq", Tensor<double>({4}, 0.5), DType::fp32);
  const std::string path = dir.file("full.safetensors");
  f.writer.write(path);

  const Weights loaded = load_layer_weights(config, path, kPrefix);
  CHECK(loaded.tensors.size() == weight_specs(config).size());
  CHECK(loaded.get("q_proj.weight").data[0] ==
        static_cast<float>(weights.get("q_proj.weight").data[0]));
  CHECK_FALSE(loaded.has("rotary_emb.inv_freq"));

  // With no prefix the layer's own names are not found at top level.
  require_load_error(config, path, "", "missing tensor 'q_proj.weight'");
}

TEST_CASE("missing tensor") {
  test::TempDir dir;
  const LayerConfig config = load_preset("tiny-gqa");
  const Weights weights = random_weights(config, 2);
  const std::string path = dir.file("m.safetensors");
  LayerFile(config, weights, kPrefix, "k_proj.bias").writer.write(path);
  require_load_error(config, path, kPrefix,
                     "missing tensor '" + kPrefix + "k_proj.bias' (needed by attention 'gqa')");

  SECTION("a prefix without its trailing dot gets a hint") {
    const std::string full = dir.file("full.safetensors");
    LayerFile(config, weights, kPrefix).writer.write(full);
    require_load_error(config, full, "model.layers.3.self_attn", "did you mean prefix");
  }
  SECTION("a wrong layer number finds nothing") {
    const std::string full = dir.file("full.safetensors");
    LayerFile(config, weights, kPrefix).writer.write(full);
    require_load_error(config, full, "model.layers.2.self_attn.",
                       "missing tensor 'model.layers.2.self_attn.q_proj.weight'");
  }
}

TEST_CASE("unexpected tensor under the prefix") {
  test::TempDir dir;
  LayerConfig config = load_preset("tiny-gqa");

  SECTION("a bias the config does not ask for") {
    config.biases.erase("k_proj");
    const Weights weights = random_weights(config, 3);
    LayerFile f(config, weights, kPrefix);
    f.writer.add(kPrefix + "k_proj.bias",
                 Tensor<double>({config.n_kv_heads * config.head_dim}, 0.1), DType::fp32);
    const std::string path = dir.file("b.safetensors");
    f.writer.write(path);
    require_load_error(config, path, kPrefix, "unexpected tensor '" + kPrefix + "k_proj.bias'");
    require_load_error(config, path, kPrefix, "config has no bias on k_proj?");
  }
  SECTION("a tensor of another variant") {
    const Weights weights = random_weights(config, 4);
    LayerFile f(config, weights, kPrefix);
    f.writer.add(kPrefix + "kv_a_layernorm.weight", Tensor<double>({4}, 1.0), DType::fp32);
    const std::string path = dir.file("v.safetensors");
    f.writer.write(path);
    require_load_error(config, path, kPrefix,
                       "unexpected tensor '" + kPrefix + "kv_a_layernorm.weight'");
    require_load_error(config, path, kPrefix, "not a tensor of attention 'gqa'");
  }
}

TEST_CASE("misshaped, integer and non-finite tensors") {
  test::TempDir dir;
  const LayerConfig config = load_preset("tiny-mla");
  const Weights weights = random_weights(config, 5);
  const std::string path = dir.file("x.safetensors");
  const std::string name = "kv_b_proj.weight";
  const Shape good = weights.get(name).shape;  // [H * (nope + v), kv_lora] = [42, 16]

  SECTION("transposed weight") {
    const Tensor<double> transposed({good[1], good[0]}, 0.5);
    LayerFile(config, weights, kPrefix, "", name, &transposed).writer.write(path);
    require_load_error(config, path, kPrefix,
                       "'" + kPrefix + name + "' has shape [16, 42], expected [42, 16]");
  }
  SECTION("wrong rank") {
    const Tensor<double> flat({good[0] * good[1]}, 0.5);
    LayerFile(config, weights, kPrefix, "", name, &flat).writer.write(path);
    require_load_error(config, path, kPrefix, "has shape [672], expected [42, 16]");
  }
  SECTION("I64 dtype") {
    LayerFile f(config, weights, kPrefix, name);
    f.writer.add(kPrefix + name, Tensor<int64_t>(good, 1));
    f.writer.write(path);
    require_load_error(config, path, kPrefix, "'" + kPrefix + name + "' has dtype I64");
  }
  SECTION("NaN") {
    Tensor<double> bad = weights.get(name);
    bad.data[17] = NAN;
    LayerFile(config, weights, kPrefix, "", name, &bad).writer.write(path);
    require_load_error(config, path, kPrefix,
                       "'" + kPrefix + name + "' holds a non-finite value (nan)");
    require_load_error(config, path, kPrefix, "index 17");
  }
  SECTION("infinity") {
    Tensor<double> bad = weights.get("q_a_layernorm.weight");
    bad.data[0] = -INFINITY;
    LayerFile(config, weights, kPrefix, "", "q_a_layernorm.weight", &bad).writer.write(path);
    require_load_error(config, path, kPrefix,
                       "'" + kPrefix + "q_a_layernorm.weight' holds a non-finite");
  }
  SECTION("a file that is not safetensors") {
    require_load_error(config, dir.file("absent.safetensors"), kPrefix, "no such file");
  }
}

TEST_CASE("save_layer_weights refuses what it cannot store faithfully") {
  test::TempDir dir;
  const LayerConfig config = load_preset("tiny-mqa");
  const std::string path = dir.file("s.safetensors");

  SECTION("missing weight") {
    Weights w = random_weights(config, 6);
    w.tensors.erase("v_proj.weight");
    CHECK_THROWS_WITH(save_layer_weights(config, w, path, "", DType::fp32),
                      Contains(path) && Contains("'v_proj.weight'"));
    CHECK_FALSE(std::filesystem::exists(path));
  }
  SECTION("wrong shape") {
    Weights w = random_weights(config, 6);
    w.tensors["o_proj.weight"] = Tensor<double>({3, 3}, 0.0);
    CHECK_THROWS_WITH(save_layer_weights(config, w, path, "", DType::fp32),
                      Contains("'o_proj.weight' has shape [3, 3]"));
    CHECK_FALSE(std::filesystem::exists(path));
  }
  SECTION("extra tensor") {
    Weights w = random_weights(config, 6);
    w.tensors["q_proj.bias"] = Tensor<double>({30}, 0.0);
    CHECK_THROWS_WITH(save_layer_weights(config, w, path, "", DType::fp32),
                      Contains("'q_proj.bias' is not a weight"));
    CHECK_FALSE(std::filesystem::exists(path));
  }
  SECTION("overflow in F16") {
    Weights w = random_weights(config, 6);
    w.tensors["q_proj.weight"].data[3] = 70000.0;
    CHECK_THROWS_WITH(save_layer_weights(config, w, path, "", DType::fp16),
                      Contains("'q_proj.weight'") && Contains("F16"));
    CHECK_FALSE(std::filesystem::exists(path));
    save_layer_weights(config, w, path, "", DType::bf16);  // fine in BF16's range
    CHECK(load_layer_weights(config, path, "").get("q_proj.weight").data[3] == 70144.0);
  }
  SECTION("non-finite value") {
    Weights w = random_weights(config, 6);
    w.tensors["k_proj.weight"].data[0] = NAN;
    CHECK_THROWS_WITH(save_layer_weights(config, w, path, "", DType::fp64),
                      Contains("'k_proj.weight'"));
    CHECK_FALSE(std::filesystem::exists(path));
  }
  SECTION("integer dtype") {
    CHECK_THROWS_AS(save_layer_weights(config, random_weights(config, 6), path, "", DType::i64),
                    Error);
    CHECK_FALSE(std::filesystem::exists(path));
  }
}

// ---------------------------------------------------------------------------------------------
// Fixtures from tests/fixtures/write_hf_layers.py

namespace {

const std::string kHfPrefix = "model.layers.0.self_attn.";

// Compares the loaded weights with the values the script recorded in "attnlab.check".
void check_recorded_values(const Weights& weights, const SafetensorsFile& file) {
  const nlohmann::json check = nlohmann::json::parse(file.metadata().at("attnlab.check"));
  REQUIRE(check.size() >= 5);
  for (auto it = check.begin(); it != check.end(); ++it) {
    const Tensor<double>& t = weights.get(it.key());
    for (const auto& pair : *it) {
      const int64_t index = pair[0].get<int64_t>();
      INFO(it.key() << "[" << index << "]");
      REQUIRE(index < t.numel());
      CHECK(t.data[index] == pair[1].get<double>());
    }
  }
}

void check_inputs_and_expected(const std::string& stem, int64_t hidden) {
  const SafetensorsFile input = SafetensorsFile::read(fixture(stem + "_input.safetensors"));
  CHECK(input.get("hidden_states").dtype == DType::fp32);
  const Tensor<double> x = input.to_double("hidden_states");
  CHECK(x.shape == Shape{2, 3, hidden});
  const Tensor<int64_t> positions = input.to_int64("position_ids");
  CHECK(positions.shape == Shape{2, 3});
  CHECK(positions.data == std::vector<int64_t>{0, 1, 2, 5, 6, 9});

  const SafetensorsFile expected = SafetensorsFile::read(fixture(stem + "_expected.safetensors"));
  CHECK(expected.get("attn_output").dtype == DType::fp64);
  const Tensor<double> out = expected.to_double("attn_output");
  CHECK(out.shape == Shape{2, 3, hidden});
  double sum_sq = 0;
  for (double v : out.data) {
    REQUIRE(std::isfinite(v));
    sum_sq += v * v;
  }
  CHECK(sum_sq > 1e-3);  // a real output, not zeros
}

}  // namespace

TEST_CASE("Hugging Face Qwen-style GQA fixture loads with its prefix") {
  const LayerConfig config = load_layer_config_file(fixture("hf_qwen_style_layer.json"));
  CHECK(config.attention == AttentionKind::gqa);
  CHECK(config.rope_layout == RopeLayout::half_split);
  CHECK(config.biases == std::set<std::string>{"q_proj", "k_proj", "v_proj"});
  const std::string path = fixture("hf_qwen_style_layer.safetensors");

  const Weights w = load_layer_weights(config, path, kHfPrefix);
  CHECK(w.tensors.size() == 7);
  CHECK(w.get("q_proj.weight").shape == Shape{16, 16});
  CHECK(w.get("q_proj.bias").shape == Shape{16});
  CHECK(w.get("k_proj.weight").shape == Shape{8, 16});
  CHECK(w.get("k_proj.bias").shape == Shape{8});
  CHECK(w.get("v_proj.weight").shape == Shape{8, 16});
  CHECK(w.get("v_proj.bias").shape == Shape{8});
  CHECK(w.get("o_proj.weight").shape == Shape{16, 16});
  CHECK_FALSE(w.has("o_proj.bias"));

  const SafetensorsFile file = SafetensorsFile::read(path);
  CHECK(file.metadata().at("format") == "pt");
  CHECK(file.get(kHfPrefix + "q_proj.weight").dtype == DType::bf16);
  CHECK(file.has("model.layers.0.mlp.up_proj.weight"));
  CHECK(file.has("model.embed_tokens.weight"));
  CHECK(file.has(kHfPrefix + "rotary_emb.inv_freq"));
  check_recorded_values(w, file);
  // BF16 storage: every loaded value is exactly a BF16 value.
  for (const auto& [name, t] : w.tensors)
    for (double v : t.data) REQUIRE(bf16_to_float(float_to_bf16(static_cast<float>(v))) == v);

  check_inputs_and_expected("hf_qwen_style", 16);
}

TEST_CASE("Hugging Face DeepSeek-style MLA fixture loads with its prefix") {
  const LayerConfig config = load_layer_config_file(fixture("hf_deepseek_style_layer.json"));
  CHECK(config.is_mla());
  CHECK(config.rope_layout == RopeLayout::interleaved);
  CHECK(config.biases.empty());
  const std::string path = fixture("hf_deepseek_style_layer.safetensors");

  const Weights w = load_layer_weights(config, path, kHfPrefix);
  CHECK(w.tensors.size() == 7);
  CHECK(w.get("q_a_proj.weight").shape == Shape{8, 16});
  CHECK(w.get("q_a_layernorm.weight").shape == Shape{8});
  CHECK(w.get("q_b_proj.weight").shape == Shape{16, 8});
  CHECK(w.get("kv_a_proj_with_mqa.weight").shape == Shape{10, 16});
  CHECK(w.get("kv_a_layernorm.weight").shape == Shape{6});
  CHECK(w.get("kv_b_proj.weight").shape == Shape{14, 6});
  CHECK(w.get("o_proj.weight").shape == Shape{16, 6});

  const SafetensorsFile file = SafetensorsFile::read(path);
  CHECK(file.get(kHfPrefix + "kv_b_proj.weight").dtype == DType::fp32);
  CHECK(file.has("model.layers.0.mlp.up_proj.weight"));
  check_recorded_values(w, file);

  // The same file under the GQA config of the other fixture: reported, not misread.
  const LayerConfig gqa = load_layer_config_file(fixture("hf_qwen_style_layer.json"));
  CHECK_THROWS_WITH(load_layer_weights(gqa, path, kHfPrefix),
                    Contains("missing tensor '" + kHfPrefix + "q_proj.weight'"));

  check_inputs_and_expected("hf_deepseek_style", 16);
}
