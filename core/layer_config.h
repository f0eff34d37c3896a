// LayerConfig: one description of an attention layer for every variant attnlab knows.
// MHA, GQA and MQA differ only in n_kv_heads (MHA: = n_heads, MQA: 1); MLA adds the low-rank
// fields of DeepSeek-V2/V3; GLA (grouped latent attention) splits MLA's latent into
// n_latent_heads heads; GTA (grouped-tied attention) ties each KV head's key and value into one
// state (Zadouri, Strauss, Dao 2025, arXiv 2505.21487). Parsed from JSON (configs/models/*.json, or
// a user's file) and validated with errors that name the field and the rule. The JSON schema is
// documented in docs/CONFIG.md; every field here has the same name there.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace attnlab {

enum class AttentionKind { mha, gqa, mqa, mla, gta, gla };
enum class RopeLayout {
  none,         // no rotary embedding (as in the seeds' MHA/GQA/MQA code)
  interleaved,  // pairs (x[2i], x[2i+1]): DeepSeek, GPT-J, Meta's original Llama code
  half_split,   // pairs (x[i], x[i+d/2]) with rotate_half: Hugging Face Llama/NeoX/Qwen/Mistral
};

// Frequency scaling of RoPE, as Hugging Face's rope_scaling names it (modeling_rope_utils).
enum class RopeScalingType {
  none,    // theta^(-2i/d)
  linear,  // every inverse frequency divided by factor (Gemma 3's global layers)
  yarn,    // YaRN (DeepSeek-V2/V3, gpt-oss): a per-pair ramp between interpolation and
           // extrapolation, cos/sin multiplied by an attention factor
  llama3,  // Llama 3.1+: low frequencies divided by factor, high kept, a smooth band between
};
// Which kind of layer this is in a model that mixes them (HF config.json's layer_types).
enum class LayerType { full_attention, sliding_attention };

const char* to_string(AttentionKind kind);
const char* to_string(RopeLayout layout);
const char* to_string(RopeScalingType type);
const char* to_string(LayerType type);

// rope.scaling; field names and defaults are Hugging Face's. Formulas: docs/CONFIG.md.
struct RopeScaling {
  RopeScalingType type = RopeScalingType::none;
  double factor = 1.0;
  int64_t original_max_position_embeddings = 0;  // yarn, llama3
  // yarn
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  std::optional<double> mscale;            // DeepSeek: with mscale_all_dim, the cos/sin factor
  std::optional<double> mscale_all_dim;    // DeepSeek: also multiplies the softmax scale
  std::optional<double> attention_factor;  // explicit cos/sin factor (overrides the mscales)
  bool truncate = true;                    // floor/ceil the correction range (gpt-oss: false)
  // llama3
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;

  bool operator==(const RopeScaling&) const = default;
};

struct LayerConfig {
  std::string name;
  AttentionKind attention = AttentionKind::mha;
  int64_t hidden_size = 0;
  int64_t n_heads = 0;
  int64_t n_layers = 1;  // used only for whole-model figures (KV cache per token)

  // MHA / GQA / MQA, and GTA: n_kv_heads tied K/V states of head_dim each.
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;

  // MLA (DeepSeek-V2 naming). q_lora_rank 0 means a plain q_proj (DeepSeek-V2-Lite).
  // GLA uses the same fields, kv_lora_rank being the width of each latent head; GTA uses
  // qk_rope_head_dim alone (its decoupled rope key; default head_dim / 2).
  int64_t q_lora_rank = 0;
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t v_head_dim = 0;
  // GLA: h_c latent heads, each of kv_lora_rank, serving n_heads / h_c query heads apiece.
  // Also set on the MLA a GLA or GTA layer is lowered to (variants/latent_lowering.h): MLA's
  // kernels are written for any number of latent heads, with the rope key cached once per
  // latent head (rope_key_per_latent_head, GLA) or once for all of them (GTA).
  int64_t n_latent_heads = 1;
  bool rope_key_per_latent_head = true;
  // MLA: normalise the latents with q_a_layernorm / kv_a_layernorm (RMSNorm), as DeepSeek does.
  // false gives a plain low-rank factorisation, the form GQA->MLA conversions (TransMLA)
  // produce; it makes MLA exactly comparable with GQA/MHA in the property tests.
  bool latent_norms = true;

  RopeLayout rope_layout = RopeLayout::none;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;            // of full-attention layers (all layers without local theta)
  double partial_rotary_factor = 1.0;  // mha/gqa/mqa: RoPE rotates int(head_dim * factor) elements
  std::optional<double> rope_local_theta;  // theta of sliding layers, which then take no scaling
                                           // (Gemma 3's rope_local_base_freq)

  // Mixed local/global models. sliding_window W: a sliding layer's query at slot s sees slots
  // [s + 1 - W, s + 1). layer_types (one per layer, empty = every layer sliding when a window is
  // set) says which layers slide; layer_index is the layer this config runs.
  std::optional<int64_t> sliding_window;
  std::vector<LayerType> layer_types;
  int64_t layer_index = 0;

  // mha/gqa/mqa only. attention_sinks: a learned logit per query head (weights "sinks" [n_heads],
  // gpt-oss) joins every softmax's denominator as one more key whose value is zero. qk_norm:
  // RMSNorm over head_dim of every query and key head before RoPE (weights q_norm / k_norm
  // [head_dim], Qwen3, Gemma 3), eps rms_norm_eps, weight (w + qk_norm_weight_offset): Gemma
  // stores w - 1 and multiplies by (1 + w), offset 1.
  bool attention_sinks = false;
  bool qk_norm = false;
  double qk_norm_weight_offset = 0.0;
  double rms_norm_eps = 1e-6;           // MLA's latent norms, the q/k norms
  std::set<std::string> biases;         // Hugging Face projection names that carry a bias
  std::optional<double> softmax_scale;  // default 1/sqrt(qk_head_dim())
  std::string source;                   // where the published numbers come from (free text)

  bool is_mla() const { return attention == AttentionKind::mla; }
  bool is_gla() const { return attention == AttentionKind::gla; }
  bool is_gta() const { return attention == AttentionKind::gta; }
  // MLA's fields describe the layer (mla, gla): forms naive and absorb, a latent cache.
  bool has_latent() const { return is_mla() || is_gla(); }
  // The heads the absorbed cache is split into: n_latent_heads (mla, gla), n_kv_heads (gta).
  int64_t latent_heads() const { return is_gta() ? n_kv_heads : n_latent_heads; }
  bool has_bias(const std::string& projection) const { return biases.count(projection) != 0; }
  // Query/key width per head: head_dim (also GTA), or qk_nope_head_dim + qk_rope_head_dim for
  // MLA and GLA.
  int64_t qk_head_dim() const;
  // Value width per head: head_dim (also GTA), or v_head_dim for MLA and GLA.
  int64_t value_head_dim() const;
  // Width that RoPE rotates per head: int(head_dim * partial_rotary_factor), or
  // qk_rope_head_dim for MLA, GLA and GTA.
  int64_t rope_dim() const;
  // The layer this config runs (layer_index): its type, its window (none on full layers), its
  // RoPE base and scaling (a sliding layer with rope_local_theta: that theta, no scaling).
  LayerType layer_type() const;
  std::optional<int64_t> window() const;
  double layer_rope_theta() const;
  RopeScaling layer_rope_scaling() const;
  // The type of layer i of the model (layer_types[i], or as layer_type() when it is empty).
  LayerType type_of_layer(int64_t i) const;
  // Key/value heads: n_kv_heads (also GTA), or n_heads for MLA and GLA (each head has its own
  // up-projected K/V).
  int64_t kv_heads() const;
  // softmax_scale when given; else 1/sqrt(qk_head_dim()), times YaRN's mscale(mscale_all_dim)^2
  // when the layer's scaling sets mscale_all_dim (DeepSeek-V2/V3).
  double scale() const;
};

// YaRN's magnitude correction (HF get_mscale / DeepSeek yarn_get_mscale): 1 for factor <= 1,
// else 0.1 * mscale * ln(factor) + 1.
double yarn_mscale(double factor, double mscale);

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
