// What each attention variant *is*, independent of how it runs: the projections and weight
// tensors it owns (Hugging Face names and shapes), the KV-cache layout of each implementation
// form, the analytic cache size (DeepSeek-V2 paper, Table 1) and seeded random weights of those
// shapes. (The projection names a config has are core/layer_config.h's: config validation
// needs them.) The reference, the kernels,
// the safetensors loader and `attnlab kv` all read their shapes from here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/layer_config.h"
#include "core/tensor.h"
#include "core/weights.h"

namespace attnlab {

// How an implementation computes and caches. MHA/GQA/MQA and GTA have one form (standard); MLA
// and GLA have naive (up-project the latent to full per-head K/V, cache K and V) and absorb (fold
// W_UK into the query and W_UV into the output, cache the normalised latent plus the rope key).
enum class ImplForm { standard, naive, absorb };
const char* to_string(ImplForm form);
ImplForm parse_impl_form(const std::string& text);  // throws attnlab::Error
// The forms a config supports: {standard} for MHA/GQA/MQA/GTA, {naive, absorb} for MLA/GLA.
std::vector<ImplForm> impl_forms_for(const LayerConfig& config);
bool form_supported(const LayerConfig& config, ImplForm form);

enum class WeightRole { linear_weight, linear_bias, norm_weight, sink_logit };

struct WeightSpec {
  std::string name;  // Hugging Face name without prefix, e.g. "q_proj.weight"
  Shape shape;       // linear weights are [out_features, in_features]
  WeightRole role;
};

// Every tensor a layer of this config owns, biases only where config.biases says so; q_norm /
// k_norm [head_dim] with qk_norm, sinks [n_heads] with attention_sinks (Qwen3 / gpt-oss names).
std::vector<WeightSpec> weight_specs(const LayerConfig& config);
// Seeded random weights with the shapes of weight_specs(config): linear weights ~ N(0, 1/in)
// (keeps activations O(1) layer to layer), biases ~ N(0, 0.25), norm weights ~ 1 + N(0, 0.01)
// (q/k norms: less qk_norm_weight_offset), sink logits ~ N(0, 1).
// Deterministic across platforms for a given seed (core/weights.h's NormalSampler).
Weights random_weights(const LayerConfig& config, uint64_t seed);

// The checks every backend's factory makes before building a layer, each throwing
// attnlab::Error with a one-line message: the form applies to the config; the config is valid
// and every tensor of weight_specs(config) is present with its shape.
void check_form_applies(const LayerConfig& config, ImplForm form);
void check_layer_weights(const LayerConfig& config, const Weights& weights);

// One named part of a KV cache, per token per layer (e.g. "k" with n_kv*d elements).
struct CachePart {
  std::string name;
  Shape per_token_shape;  // e.g. {n_kv_heads, head_dim}
  int64_t elements() const { return shape_numel(per_token_shape); }
};
std::vector<CachePart> cache_layout(const LayerConfig& config, ImplForm form);
// Cached elements per token per layer of the given form (sum over cache_layout).
int64_t kv_elements_per_token_layer(const LayerConfig& config, ImplForm form);
// The sliding-window ring cache (the fast CPU backend's standard form; every other cache keeps
// all `capacity` slots): a sliding layer of window W keeps R = min(capacity, W + H - 1) slots per
// sequence, logical slot t at physical slot t % R, where H = kRingStepTokens is the most new
// tokens one attention step of the backend stores and attends (a longer forward runs in pieces of
// at most H). Every query of a step then finds its W keys still held: the step's oldest visible
// key is at most W + H - 2 slots before its newest one.
constexpr int64_t kRingStepTokens = 256;
// Slots per sequence a ring cache of `capacity` tokens holds for this layer: R above on a
// sliding MHA/GQA/MQA layer, else capacity (full layers and MLA keep every slot).
int64_t cache_slots(const LayerConfig& config, int64_t capacity);
// The MHA baseline with the same heads: 2 * n_heads * d_h, d_h = head_dim (MLA: qk_nope_head_dim,
// the paper's d_h). DeepSeek-V2 Table 1 compares every variant against this.
int64_t mha_baseline_elements_per_token_layer(const LayerConfig& config);

// KV-cache figures of one implementation form of a model, as `attnlab kv` prints them.
struct KvFigures {
  int64_t elements_per_token_layer = 0;
  int64_t elements_per_token = 0;  // whole model: x n_layers
  double bytes_per_token_layer = 0;
  double bytes_per_token = 0;
  // Whole model at `context` tokens x batch: a sliding layer keeps min(context, window) tokens,
  // a full layer all of them (Mistral's rolling buffer, Gemma's local layers).
  double bytes_at_context = 0;
  double bytes_at_context_without_window = 0;  // every layer keeping every token
  int64_t sliding_layers = 0;                  // of n_layers
  int64_t mha_elements_per_token_layer = 0;
  double fraction_of_mha = 0;  // elements_per_token_layer / MHA baseline
};
KvFigures kv_figures(const LayerConfig& config, ImplForm form, int64_t context, int64_t batch,
                     double bytes_per_element);

}  // namespace attnlab
