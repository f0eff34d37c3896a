// LayerConfig: one description of an attention layer for every variant attnlab knows.
// MHA, GQA and MQA differ only in n_kv_heads (MHA: = n_heads, MQA: 1); MLA adds the low-rank
// fields of DeepSeek-V2/V3. Parsed from JSON (configs/models/*.json, or a user's file) and
// validated with errors that name the field and the rule. The JSON schema is documented in
// docs/CONFIG.md; every field here has the same name there.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace attnlab {

enum class AttentionKind { mha, gqa, mqa, mla };
enum class RopeLayout {
  none,         // no rotary embedding (as in the seeds' MHA/GQA/MQA code)
  interleaved,  // pairs (x[2i], x[2i+1]): DeepSeek, GPT-J, Meta's original Llama code
  half_split,   // pairs (x[i], x[i+d/2]) with rotate_half: Hugging Face Llama/NeoX/Qwen/Mistral
};

const char* to_string(AttentionKind kind);
const char* to_string(RopeLayout layout);

struct LayerConfig {
  std::string name;
  AttentionKind attention = AttentionKind::mha;
  int64_t hidden_size = 0;
  int64_t n_heads = 0;
  int64_t n_layers = 1;  // used only for whole-model figures (KV cache per token)

  // MHA / GQA / MQA
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;

  // MLA (DeepSeek-V2 naming). q_lora_rank 0 means a plain q_proj (DeepSeek-V2-Lite).
  int64_t q_lora_rank = 0;
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t v_head_dim = 0;
  // MLA: normalise the latents with q_a_layernorm / kv_a_layernorm (RMSNorm), as DeepSeek does.
  // false gives a plain low-rank factorisation, the form GQA->MLA conversions (TransMLA)
  // produce; it makes MLA exactly comparable with GQA/MHA in the property tests.
  bool latent_norms = true;

  RopeLayout rope_layout = RopeLayout::none;
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-6;           // MLA's q_a_layernorm and kv_a_layernorm
  std::set<std::string> biases;         // Hugging Face projection names that carry a bias
  std::optional<double> softmax_scale;  // default 1/sqrt(qk_head_dim())
  std::string source;                   // where the published numbers come from (free text)

  bool is_mla() const { return attention == AttentionKind::mla; }
  bool has_bias(const std::string& projection) const { return biases.count(projection) != 0; }
  // Query/key width per head: head_dim, or qk_nope_head_dim + qk_rope_head_dim for MLA.
  int64_t qk_head_dim() const;
  // Value width per head: head_dim, or v_head_dim for MLA.
  int64_t value_head_dim() const;
  // Width that RoPE rotates per head: head_dim, or qk_rope_head_dim for MLA.
  int64_t rope_dim() const;
  // Key/value heads: n_kv_heads, or n_heads for MLA (each head has its own up-projected K/V).
  int64_t kv_heads() const;
  double scale() const;
};

// The projections of a variant, in forward order (Hugging Face names, e.g. "kv_b_proj"): what
// `biases` may name. Their weight tensors and shapes are variants/variant_spec.h's.
std::vector<std::string> projection_names(const LayerConfig& config);

// Parses and validates; throws attnlab::Error("<origin>: <field>: <problem>") on the first
// problem found. `origin` names the input (a file path or "preset 'x'") in messages.
LayerConfig parse_layer_config(const nlohmann::json& json, const std::string& origin);
LayerConfig load_layer_config_file(const std::string& path);
// Checks the cross-field rules; parse_layer_config calls it, and so should code that builds
// a LayerConfig by hand (property tests, conversions).
void validate_layer_config(const LayerConfig& config, const std::string& origin);
nlohmann::json layer_config_to_json(const LayerConfig& config);

}  // namespace attnlab
