// GTA and GLA layer configs: parsing, the rules and their one-line messages, the reference
// code's weight names and shapes, the cache layouts and KV sizes the issue and the paper state,
// and lower_to_mla's rewriting (shapes, the exact selection / identity of GTA's W_UK / W_UV, the
// stacking of GLA's W_ukv_j).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/presets.h"
#include "variants/latent_lowering.h"
#include "variants/variant_spec.h"

using namespace attnlab;
using nlohmann::json;

namespace {

json gta() {
  return json::parse(R"({"name": "t", "attention": "gta", "hidden_size": 32, "n_heads": 8,
                         "n_kv_heads": 2, "head_dim": 8, "rope": {"layout": "half_split"}})");
}

json gla() {
  return json::parse(R"({"name": "t", "attention": "gla", "hidden_size": 32, "n_heads": 8,
                         "n_latent_heads": 2, "q_lora_rank": 16, "kv_lora_rank": 12,
                         "qk_nope_head_dim": 8, "qk_rope_head_dim": 4, "v_head_dim": 6,
                         "rope": {"layout": "interleaved"}})");
}

std::string error_of(const json& j) {
  try {
    parse_layer_config(j, "cfg.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

std::vector<std::string> names_of(const std::vector<WeightSpec>& specs) {
  std::vector<std::string> names;
  for (const WeightSpec& s : specs) names.push_back(s.name + shape_to_string(s.shape));
  return names;
}

}  // namespace

TEST_CASE("GTA config: defaults, round trip and rules") {
  const LayerConfig c = parse_layer_config(gta(), "cfg.json");
  CHECK(c.is_gta());
  CHECK(c.qk_rope_head_dim == 4);  // head_dim / 2 by default, as the paper
  CHECK(c.qk_head_dim() == 8);
  CHECK(c.value_head_dim() == 8);
  CHECK(c.rope_dim() == 4);
  CHECK(c.latent_heads() == 2);
  CHECK(parse_layer_config(layer_config_to_json(c), "again").qk_rope_head_dim == 4);

  json j = gta();
  j["qk_rope_head_dim"] = 8;
  CHECK(error_of(j) ==
        "cfg.json: qk_rope_head_dim (8) must be in [1, head_dim - 1 = 7] for attention 'gta'");
  j = gta();
  j.erase("n_kv_heads");
  CHECK(error_of(j) == "cfg.json: missing required field 'n_kv_heads' for attention 'gta'");
  j = gta();
  j["kv_lora_rank"] = 4;
  CHECK(error_of(j) ==
        "cfg.json: kv_lora_rank applies only to attention 'mla' and 'gla', not 'gta'");
  j = gta();
  j["biases"] = {"k_proj"};
  CHECK(error_of(j) ==
        "cfg.json: biases: 'k_proj' is not a projection of attention 'gta' "
        "(q_proj, kv_proj, W_rope_k, o_proj)");
  j = gta();
  j["attention_sinks"] = true;
  CHECK(error_of(j) == "cfg.json: attention_sinks applies only to attention mha, gqa, mqa");
}

TEST_CASE("GLA config: required fields and rules") {
  const LayerConfig c = parse_layer_config(gla(), "cfg.json");
  CHECK(c.is_gla());
  CHECK(c.has_latent());
  CHECK(c.n_latent_heads == 2);
  CHECK(c.qk_head_dim() == 12);
  CHECK(parse_layer_config(layer_config_to_json(c), "again").n_latent_heads == 2);

  json j = gla();
  j["n_latent_heads"] = 3;
  CHECK(error_of(j) == "cfg.json: n_heads (8) must be divisible by n_latent_heads (3)");
  j = gla();
  j.erase("n_latent_heads");
  CHECK(error_of(j) == "cfg.json: missing required field 'n_latent_heads' for attention 'gla'");
  j = gla();
  j.erase("q_lora_rank");
  CHECK(error_of(j) == "cfg.json: missing required field 'q_lora_rank' for attention 'gla'");
  j = gla();
  j["q_lora_rank"] = 0;
  CHECK(error_of(j) == "cfg.json: q_lora_rank (0) must be at least 1 for attention 'gla' (W_dQ)");
  j = gla();
  j["head_dim"] = 8;
  CHECK(error_of(j) == "cfg.json: head_dim does not apply to attention 'gla'");
  j = json::parse(R"({"attention": "mla", "hidden_size": 32, "n_heads": 8, "n_latent_heads": 2,
                      "kv_lora_rank": 8, "qk_nope_head_dim": 4, "qk_rope_head_dim": 4,
                      "v_head_dim": 4})");
  CHECK(error_of(j) == "cfg.json: n_latent_heads applies only to attention 'gla', not 'mla'");
  j = gla();
  j["biases"] = {"W_ukv_3"};
  CHECK(error_of(j) ==
        "cfg.json: biases: 'W_ukv_3' is not a projection of attention 'gla' "
        "(W_dQ, W_uQ_rope, W_dKV, W_ukv_1, W_ukv_2, o_proj)");
}

TEST_CASE("GTA and GLA weights carry the reference code's names and shapes") {
  json j = gta();
  j["biases"] = {"W_rope_k"};
  CHECK(names_of(weight_specs(parse_layer_config(j, "x"))) ==
        std::vector<std::string>{"q_proj.weight[64, 32]", "kv_proj.weight[16, 32]",
                                 "W_rope_k.weight[4, 32]", "W_rope_k.bias[4]",
                                 "o_proj.weight[32, 64]"});
  j = gla();
  j["biases"] = {"W_ukv_2"};
  CHECK(names_of(weight_specs(parse_layer_config(j, "x"))) ==
        std::vector<std::string>{"W_dQ.weight[16, 32]", "q_norm.weight[16]",
                                 "W_uQ_rope.weight[96, 16]", "W_dKV.weight[28, 32]",
                                 "kv_norm_1.weight[12]", "W_ukv_1.weight[56, 12]",
                                 "kv_norm_2.weight[12]", "W_ukv_2.weight[56, 12]",
                                 "W_ukv_2.bias[56]", "o_proj.weight[32, 48]"});
}

TEST_CASE("KV cache per token: GLA-2 640 (320 a rank at TP 2), MLA 576, GTA-4 half GQA-4") {
  const auto elements = [](const std::string& preset, ImplForm form) {
    return kv_elements_per_token_layer(load_preset(preset), form);
  };
  CHECK(elements("width2048-gla2", ImplForm::absorb) == 2 * (256 + 64));
  CHECK(elements("width2048-mla", ImplForm::absorb) == 512 + 64);
  CHECK(elements("gla2-deepseek-v3", ImplForm::absorb) == 640);
  CHECK(elements("width2048-gla2", ImplForm::naive) == 16 * (128 + 64 + 128));
  CHECK(elements("width2048-gta4", ImplForm::standard) == 4 * 128 + 64);
  CHECK(elements("width2048-gqa4", ImplForm::standard) == 2 * 4 * 128);
  const auto layout = cache_layout(load_preset("width2048-gla2"), ImplForm::absorb);
  REQUIRE(layout.size() == 2);
  CHECK(layout[0].per_token_shape == Shape{2, 256});
  CHECK(layout[1].per_token_shape == Shape{2, 64});
  CHECK(layout[0].elements() / 2 + layout[1].elements() / 2 == 320);  // one latent head a rank
  CHECK(cache_layout(load_preset("width2048-gta4"), ImplForm::standard)[0].name == "tied");
}

TEST_CASE("lower_to_mla: GTA's W_UK selects and W_UV is the identity; GLA stacks W_ukv_j") {
  const LayerConfig gta_config = load_preset("tiny-gta");
  const LoweredLayer g =
      lower_to_mla(gta_config, random_weights(gta_config, 3), ImplForm::standard);
  CHECK(g.form == ImplForm::absorb);
  CHECK(g.config.is_mla());
  CHECK(g.config.n_latent_heads == 2);
  CHECK_FALSE(g.config.rope_key_per_latent_head);
  check_layer_weights(g.config, g.weights);
  const int64_t d = 8, r = 4;
  const Tensor<double>& kv_b = g.weights.get("kv_b_proj.weight");
  REQUIRE(kv_b.shape == Shape{6 * (2 * d - r), d});
  for (int64_t h = 0; h < 6; ++h)
    for (int64_t row = 0; row < 2 * d - r; ++row)
      for (int64_t col = 0; col < d; ++col) {
        const int64_t want_col = row < d - r ? row : row - (d - r);
        CHECK(kv_b.data[(h * (2 * d - r) + row) * d + col] == (col == want_col ? 1.0 : 0.0));
      }
  CHECK(kv_elements_per_token_layer(g.config, ImplForm::absorb) ==
        kv_elements_per_token_layer(gta_config, ImplForm::standard));

  const LayerConfig gla_config = load_preset("tiny-gla");
  const Weights w = random_weights(gla_config, 5);
  const LoweredLayer l = lower_to_mla(gla_config, w, ImplForm::naive);
  check_layer_weights(l.config, l.weights);
  CHECK(l.config.rope_key_per_latent_head);
  CHECK(l.config.biases ==
        std::set<std::string>{"q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj"});
  const Tensor<double>& stacked = l.weights.get("kv_b_proj.weight");
  const Tensor<double>& second = w.get("W_ukv_2.weight");
  CHECK(std::equal(second.data.begin(), second.data.end(),
                   stacked.data.end() - static_cast<std::ptrdiff_t>(second.data.size())));
  CHECK(kv_elements_per_token_layer(l.config, ImplForm::absorb) ==
        kv_elements_per_token_layer(gla_config, ImplForm::absorb));
  CHECK_THROWS_WITH(lower_to_mla(gla_config, w, ImplForm::standard),
                    "impl 'standard' does not apply to gla layer 'tiny-gla'");
}
