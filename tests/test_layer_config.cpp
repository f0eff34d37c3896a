// LayerConfig parsing and validation: every preset loads, and each class of bad config is
// rejected with a message that names the field and the rule.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/presets.h"
#include "variants/variant_spec.h"

using namespace attnlab;
using nlohmann::json;

namespace {

json gqa() {
  return json::parse(R"({"name": "t", "attention": "gqa", "hidden_size": 64, "n_heads": 8,
                         "n_kv_heads": 2, "head_dim": 8, "rope": {"layout": "half_split"}})");
}

std::string error_of(const json& j) {
  try {
    parse_layer_config(j, "cfg.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("every embedded preset parses and validates") {
  const auto names = preset_names("");
  REQUIRE(names.size() >= 14);
  for (const std::string& name : names) {
    INFO(name);
    const LayerConfig c = load_preset(name);
    CHECK(c.name == name);
    CHECK_FALSE(weight_specs(c).empty());
  }
}

TEST_CASE("published presets carry the numbers of FACTS.md") {
  const LayerConfig v3 = load_preset("deepseek-v3");
  CHECK(v3.hidden_size == 7168);
  CHECK(v3.n_heads == 128);
  CHECK(v3.n_layers == 61);
  CHECK(v3.q_lora_rank == 1536);
  CHECK(v3.kv_lora_rank == 512);
  CHECK(v3.qk_head_dim() == 192);
  // YaRN (factor 40, mscale_all_dim 1): 1/sqrt(192) x (0.1 ln 40 + 1)^2, DeepSeek's softmax scale.
  CHECK(v3.scale() == Approx(1.8738542 / std::sqrt(192.0)).epsilon(1e-7));
  CHECK(v3.rope_scaling.type == RopeScalingType::yarn);
  CHECK(v3.rope_scaling.factor == 40);
  CHECK(v3.rope_layout == RopeLayout::interleaved);
  const LayerConfig lite = load_preset("deepseek-v2-lite");
  CHECK(lite.q_lora_rank == 0);
  CHECK(projection_names(lite).front() == "q_proj");
  const LayerConfig qwen = load_preset("qwen2.5-7b");
  CHECK(qwen.biases == std::set<std::string>{"q_proj", "k_proj", "v_proj"});
  CHECK(load_preset("falcon-7b").n_kv_heads == 1);
  CHECK(load_preset("llama-2-7b").n_kv_heads == 32);
  CHECK(load_preset("llama-3-70b").n_layers == 80);
}

TEST_CASE("defaults: head_dim from hidden/heads, n_kv_heads from the attention kind") {
  json j = gqa();
  j.erase("head_dim");
  CHECK(parse_layer_config(j, "x").head_dim == 8);
  json mha = json::parse(R"({"attention": "mha", "hidden_size": 32, "n_heads": 4})");
  CHECK(parse_layer_config(mha, "x").n_kv_heads == 4);
  json mqa = json::parse(R"({"attention": "mqa", "hidden_size": 32, "n_heads": 4})");
  CHECK(parse_layer_config(mqa, "x").n_kv_heads == 1);
}

TEST_CASE("bad configs name the field and the rule") {
  json j = gqa();
  j["n_kv_heads"] = 5;
  j["n_heads"] = 32;
  CHECK(error_of(j) == "cfg.json: n_heads (32) must be divisible by n_kv_heads (5)");

  j = gqa();
  j["n_head"] = 8;
  CHECK(error_of(j) == "cfg.json: unknown field 'n_head'");

  j = gqa();
  j.erase("hidden_size");
  CHECK(error_of(j) == "cfg.json: missing required field 'hidden_size'");

  j = gqa();
  j["attention"] = "mlx";
  CHECK_THAT(error_of(j), Catch::Contains("attention 'mlx' is not one of"));

  j = gqa();
  j["hidden_size"] = "64";
  CHECK_THAT(error_of(j), Catch::Contains("hidden_size must be an integer"));

  j = gqa();
  j["head_dim"] = 0;
  CHECK_THAT(error_of(j), Catch::Contains("head_dim (0) must be in [1,"));

  j = gqa();
  j["n_heads"] = int64_t{1} << 40;
  CHECK_THAT(error_of(j), Catch::Contains("n_heads"));

  j = gqa();
  j["head_dim"] = 7;
  CHECK(error_of(j) == "cfg.json: head_dim (7) must be even for rope.layout 'half_split'");

  j = gqa();
  j["rope"]["layout"] = "spiral";
  CHECK_THAT(error_of(j), Catch::Contains("rope.layout 'spiral'"));

  j = gqa();
  j["kv_lora_rank"] = 512;
  CHECK_THAT(error_of(j), Catch::Contains("kv_lora_rank applies only to attention 'mla'"));

  j = gqa();
  j["biases"] = {"q_proj", "kv_b_proj"};
  CHECK_THAT(error_of(j), Catch::Contains("biases: 'kv_b_proj' is not a projection"));

  j = gqa();
  j["attention"] = "mha";
  CHECK_THAT(error_of(j), Catch::Contains("attention 'mha' needs n_kv_heads (2) equal to n_heads"));

  j = gqa();
  j["attention"] = "mqa";
  CHECK_THAT(error_of(j), Catch::Contains("attention 'mqa' needs n_kv_heads 1"));

  j = gqa();
  j["rope"]["theta"] = -1;
  CHECK_THAT(error_of(j), Catch::Contains("rope.theta"));

  json mla = json::parse(R"({"attention": "mla", "hidden_size": 64, "n_heads": 2,
      "kv_lora_rank": 16, "qk_nope_head_dim": 8, "qk_rope_head_dim": 3, "v_head_dim": 8,
      "rope": {"layout": "interleaved"}})");
  CHECK(error_of(mla) ==
        "cfg.json: qk_rope_head_dim (3) must be even for rope.layout 'interleaved'");
  mla.erase("v_head_dim");
  CHECK(error_of(mla) == "cfg.json: missing required field 'v_head_dim' for attention 'mla'");

  CHECK_THAT(error_of(json::array()), Catch::Contains("must be a JSON object"));
}

TEST_CASE("sizes whose products would overflow downstream counts are rejected") {
  // n_heads x 2 x head_dim bounds q_proj's rows and a token's cache per layer.
  json j = gqa();
  j["n_heads"] = 4096;
  j["n_kv_heads"] = 4096;
  j["head_dim"] = 4096;
  CHECK(error_of(j) == "cfg.json: n_heads x 2 x head_dim (33554432) must be at most 16777216");
  j["head_dim"] = 2048;  // exactly at the limit
  CHECK(error_of(j) == "no error");

  json mla = json::parse(R"({"attention": "mla", "hidden_size": 64, "n_heads": 2,
      "kv_lora_rank": 16777216, "qk_nope_head_dim": 8, "qk_rope_head_dim": 2, "v_head_dim": 8})");
  CHECK(error_of(mla) ==
        "cfg.json: kv_lora_rank + qk_rope_head_dim (16777218) must be at most "
        "16777216");
  mla["kv_lora_rank"] = 16;
  mla["n_heads"] = 1 << 20;
  CHECK(error_of(mla) ==
        "cfg.json: n_heads x (qk_nope_head_dim + qk_rope_head_dim + v_head_dim) "
        "(18874368) must be at most 16777216");

  // Every count derived from the largest accepted layer fits in int64.
  j = gqa();
  j.erase("rope");
  j["hidden_size"] = int64_t{1} << 24;
  j["n_heads"] = 1;
  j["n_kv_heads"] = 1;
  j["head_dim"] = int64_t{1} << 23;
  j["n_layers"] = int64_t{1} << 24;
  const LayerConfig big = parse_layer_config(j, "big.json");
  const KvFigures f = kv_figures(big, ImplForm::standard, 1 << 30, 1 << 20, 4.0);
  CHECK(f.elements_per_token == int64_t{1} << 48);
  int64_t weights = 0;
  for (const WeightSpec& spec : weight_specs(big)) weights += shape_numel(spec.shape);
  CHECK(weights == int64_t{1} << 49);
}

TEST_CASE("kv figures of a hand-built (unvalidated) config that overflow are an error") {
  LayerConfig c = load_preset("tiny-gqa");
  c.n_layers = int64_t{1} << 62;
  CHECK_THROWS_WITH(kv_figures(c, ImplForm::standard, 1, 1, 2.0),
                    Catch::Contains("does not fit in 64 bits"));
  c = load_preset("tiny-gqa");
  c.n_kv_heads = int64_t{1} << 40;
  c.head_dim = int64_t{1} << 30;
  CHECK_THROWS_WITH(kv_elements_per_token_layer(c, ImplForm::standard),
                    Catch::Contains("does not fit in 64 bits"));
}

TEST_CASE("unknown presets and missing files are reported by name") {
  CHECK_THROWS_WITH(load_preset("llama-9"), Catch::Contains("unknown preset 'llama-9'"));
  CHECK_THROWS_WITH(resolve_model("no/such/file.json"),
                    Catch::Contains("no/such/file.json: no such layer-config file"));
}

TEST_CASE("config JSON round trip") {
  for (const std::string& name : preset_names("")) {
    const LayerConfig a = load_preset(name);
    const LayerConfig b = parse_layer_config(layer_config_to_json(a), "round trip");
    CHECK(layer_config_to_json(a) == layer_config_to_json(b));
  }
}

TEST_CASE("model features: rope scaling, windows, layer types, sinks, QK-norm") {
  json j = gqa();
  j["rope"]["scaling"] = {{"rope_type", "yarn"},
                          {"factor", 32},
                          {"original_max_position_embeddings", 4096},
                          {"truncate", false}};
  j["rope"]["partial_rotary_factor"] = 0.5;
  j["sliding_window"] = 16;
  j["layer_types"] = {"sliding_attention", "full_attention"};
  j["n_layers"] = 2;
  j["attention_sinks"] = true;
  j["qk_norm"] = true;
  j["qk_norm_weight_offset"] = 1;
  const LayerConfig c = parse_layer_config(j, "cfg.json");
  CHECK(c.rope_scaling.type == RopeScalingType::yarn);
  CHECK(c.rope_scaling.factor == 32);
  CHECK_FALSE(c.rope_scaling.truncate);
  CHECK(c.rope_dim() == 4);
  CHECK(c.window() == 16);
  CHECK(c.type_of_layer(1) == LayerType::full_attention);
  CHECK(c.attention_sinks);
  CHECK(c.qk_norm_weight_offset == 1);
  // Written back and read again: the same config.
  const LayerConfig again = parse_layer_config(layer_config_to_json(c), "round trip");
  CHECK(again.rope_scaling == c.rope_scaling);
  CHECK(again.partial_rotary_factor == c.partial_rotary_factor);
  CHECK(again.sliding_window == c.sliding_window);
  CHECK(again.layer_types == c.layer_types);
  CHECK(again.attention_sinks == c.attention_sinks);
  CHECK(again.qk_norm == c.qk_norm);
  CHECK(again.qk_norm_weight_offset == c.qk_norm_weight_offset);
  // The tensors the features add, with their HF names.
  std::set<std::string> names;
  for (const WeightSpec& s : weight_specs(c)) names.insert(s.name);
  CHECK(names.count("sinks"));
  CHECK(names.count("q_norm.weight"));
  CHECK(names.count("k_norm.weight"));
}

TEST_CASE("bad model-feature fields name the field and the rule") {
  json j = gqa();
  j["rope"]["scaling"] = {{"type", "ntk"}, {"factor", 2}};
  CHECK_THAT(error_of(j), Catch::Contains("rope.scaling.type 'ntk' is not one of"));
  j = gqa();
  j["rope"]["scaling"] = {{"type", "yarn"}, {"factor", 4}};
  CHECK_THAT(error_of(j), Catch::Contains("original_max_position_embeddings is required"));
  j = gqa();
  j["rope"]["scaling"] = {
      {"type", "llama3"}, {"factor", 0.5}, {"original_max_position_embeddings", 8}};
  CHECK_THAT(error_of(j), Catch::Contains("rope.scaling.factor (0.500000) must be >= 1"));
  j = gqa();
  j["rope"]["scaling"] = {{"type", "linear"}, {"factor", 2}, {"beta", 1}};
  CHECK(error_of(j) == "cfg.json: unknown field 'rope.scaling.beta'");
  j = gqa();
  j["rope"]["partial_rotary_factor"] = 1.5;
  CHECK_THAT(error_of(j), Catch::Contains("partial_rotary_factor (1.500000) must be in (0, 1]"));
  j = gqa();
  j["rope"]["partial_rotary_factor"] = 0.75;  // int(8 * 0.75) = 6: fine; 0.625 -> 5: odd
  CHECK(error_of(j) == "no error");
  j["rope"]["partial_rotary_factor"] = 0.625;
  CHECK_THAT(
      error_of(j),
      Catch::Contains("rotary width int(head_dim x rope.partial_rotary_factor) (5) must be even"));
  j = gqa();
  j["sliding_window"] = 0;
  CHECK_THAT(error_of(j), Catch::Contains("sliding_window (0) must be in [1,"));
  j = gqa();
  j["layer_types"] = {"sliding_attention"};
  j["n_layers"] = 2;
  CHECK(error_of(j) == "cfg.json: layer_types has 1 entries; n_layers is 2");
  j["n_layers"] = 1;
  CHECK(error_of(j) ==
        "cfg.json: layer_types names 'sliding_attention' layers but sliding_window is not set");
  j["layer_types"] = {"local"};
  CHECK_THAT(error_of(j), Catch::Contains("layer_types[0] 'local' is not one of"));
  j = gqa();
  j["layer_index"] = 3;
  CHECK(error_of(j) == "cfg.json: layer_index (3) must be in [0, n_layers - 1 = 0]");
  json mla = json::parse(R"({"attention": "mla", "hidden_size": 32, "n_heads": 2, "kv_lora_rank": 8,
                             "qk_nope_head_dim": 4, "qk_rope_head_dim": 2, "v_head_dim": 4,
                             "attention_sinks": true})");
  CHECK(error_of(mla) == "cfg.json: attention_sinks applies only to attention mha, gqa, mqa");
  CHECK_THROWS_WITH(resolve_model("gpt-oss-20b@24"),
                    Catch::Contains("layer_index (24) must be in [0, n_layers - 1 = 23]"));
}
