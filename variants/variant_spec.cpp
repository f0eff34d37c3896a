// Weight lists and cache layouts of every variant; see variant_spec.h.
#include "variants/variant_spec.h"

#include <algorithm>
#include <cmath>

#include "core/checked_math.h"
#include "core/error.h"

namespace attnlab {

const char* to_string(ImplForm form) {
  switch (form) {
    case ImplForm::standard:
      return "standard";
    case ImplForm::naive:
      return "naive";
    case ImplForm::absorb:
      return "absorb";
  }
  return "?";
}

ImplForm parse_impl_form(const std::string& text) {
  if (text == "standard") return ImplForm::standard;
  if (text == "naive") return ImplForm::naive;
  if (text == "absorb") return ImplForm::absorb;
  throw Error("impl '" + text + "' is not one of standard, naive, absorb");
}

std::vector<ImplForm> impl_forms_for(const LayerConfig& config) {
  if (config.has_latent()) return {ImplForm::naive, ImplForm::absorb};
  return {ImplForm::standard};
}

bool form_supported(const LayerConfig& config, ImplForm form) {
  for (ImplForm f : impl_forms_for(config))
    if (f == form) return true;
  return false;
}

void check_form_applies(const LayerConfig& config, ImplForm form) {
  if (!form_supported(config, form))
    throw Error("impl '" + std::string(to_string(form)) + "' does not apply to " +
                to_string(config.attention) + " layer '" + config.name + "'");
}

void check_layer_weights(const LayerConfig& config, const Weights& weights) {
  validate_layer_config(config, "layer '" + config.name + "'");
  for (const WeightSpec& spec : weight_specs(config)) {
    const Tensor<double>& tensor = weights.get(spec.name);
    if (tensor.shape != spec.shape)
      throw Error("weight '" + spec.name + "' has shape " + shape_to_string(tensor.shape) +
                  ", expected " + shape_to_string(spec.shape) + " for '" + config.name + "'");
  }
}

namespace {

void add_linear(std::vector<WeightSpec>& specs, const LayerConfig& config, const std::string& name,
                int64_t out_features, int64_t in_features) {
  specs.push_back({name + ".weight", {out_features, in_features}, WeightRole::linear_weight});
  if (config.has_bias(name))
    specs.push_back({name + ".bias", {out_features}, WeightRole::linear_bias});
}

}  // namespace

namespace {

// GTA (modeling_llama_GTA.py): q_proj gives each head [q_nope (d - r) | q_rope (r)]; kv_proj the
// tied state of each KV head; W_rope_k the one rope key all heads share.
std::vector<WeightSpec> gta_weight_specs(const LayerConfig& c) {
  std::vector<WeightSpec> specs;
  const int64_t d = c.head_dim;
  add_linear(specs, c, "q_proj", c.n_heads * d, c.hidden_size);
  add_linear(specs, c, "kv_proj", c.n_kv_heads * d, c.hidden_size);
  add_linear(specs, c, "W_rope_k", c.qk_rope_head_dim, c.hidden_size);
  add_linear(specs, c, "o_proj", c.hidden_size, c.n_heads * d);
  return specs;
}

// GLA (modeling_llama_GLA.py): W_dQ -> q_norm -> W_uQ_rope gives each head [q_nope | q_rope];
// W_dKV gives [c_1 | ... | c_hc | k_rope]; kv_norm_j normalises c_j and W_ukv_j up-projects it
// to [k_nope | v] of each of the n_heads / h_c query heads of group j.
std::vector<WeightSpec> gla_weight_specs(const LayerConfig& c) {
  std::vector<WeightSpec> specs;
  const int64_t h = c.n_heads, h_c = c.n_latent_heads, d_c = c.kv_lora_rank;
  add_linear(specs, c, "W_dQ", c.q_lora_rank, c.hidden_size);
  if (c.latent_norms) specs.push_back({"q_norm.weight", {c.q_lora_rank}, WeightRole::norm_weight});
  add_linear(specs, c, "W_uQ_rope", h * c.qk_head_dim(), c.q_lora_rank);
  add_linear(specs, c, "W_dKV", h_c * d_c + c.qk_rope_head_dim, c.hidden_size);
  for (int64_t j = 1; j <= h_c; ++j) {
    const std::string n = std::to_string(j);
    if (c.latent_norms)
      specs.push_back({"kv_norm_" + n + ".weight", {d_c}, WeightRole::norm_weight});
    add_linear(specs, c, "W_ukv_" + n, h / h_c * (c.qk_nope_head_dim + c.v_head_dim), d_c);
  }
  add_linear(specs, c, "o_proj", c.hidden_size, h * c.v_head_dim);
  return specs;
}

}  // namespace

std::vector<WeightSpec> weight_specs(const LayerConfig& c) {
  if (c.is_gta()) return gta_weight_specs(c);
  if (c.is_gla()) return gla_weight_specs(c);
  std::vector<WeightSpec> specs;
  const int64_t h = c.n_heads;
  if (!c.is_mla()) {
    const int64_t d = c.head_dim;
    add_linear(specs, c, "q_proj", h * d, c.hidden_size);
    add_linear(specs, c, "k_proj", c.n_kv_heads * d, c.hidden_size);
    add_linear(specs, c, "v_proj", c.n_kv_heads * d, c.hidden_size);
    add_linear(specs, c, "o_proj", c.hidden_size, h * d);
    if (c.qk_norm) {
      specs.push_back({"q_norm.weight", {d}, WeightRole::norm_weight});
      specs.push_back({"k_norm.weight", {d}, WeightRole::norm_weight});
    }
    if (c.attention_sinks) specs.push_back({"sinks", {h}, WeightRole::sink_logit});
    return specs;
  }
  const int64_t qk = c.qk_head_dim();
  if (c.q_lora_rank == 0) {
    add_linear(specs, c, "q_proj", h * qk, c.hidden_size);
  } else {
    add_linear(specs, c, "q_a_proj", c.q_lora_rank, c.hidden_size);
    if (c.latent_norms)
      specs.push_back({"q_a_layernorm.weight", {c.q_lora_rank}, WeightRole::norm_weight});
    add_linear(specs, c, "q_b_proj", h * qk, c.q_lora_rank);
  }
  // n_latent_heads > 1 only on a lowered GLA/GTA layer: [c_1 | ... | c_G | k_rope], each c_j
  // normalised by its own slice of kv_a_layernorm; head h reads c_(h / (n_heads / G)).
  const int64_t latents = c.n_latent_heads * c.kv_lora_rank;
  add_linear(specs, c, "kv_a_proj_with_mqa", latents + c.qk_rope_head_dim, c.hidden_size);
  if (c.latent_norms)
    specs.push_back({"kv_a_layernorm.weight", {latents}, WeightRole::norm_weight});
  add_linear(specs, c, "kv_b_proj", h * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank);
  add_linear(specs, c, "o_proj", c.hidden_size, h * c.v_head_dim);
  return specs;
}

std::vector<CachePart> cache_layout(const LayerConfig& c, ImplForm form) {
  switch (form) {
    case ImplForm::standard:
      // GTA: the tied state of each KV head (V whole, K's non-rope part its first d - r) and
      // the one rope key every head shares.
      if (c.is_gta())
        return {{"tied", {c.n_kv_heads, c.head_dim}}, {"rope_key", {c.qk_rope_head_dim}}};
      return {{"k", {c.n_kv_heads, c.head_dim}}, {"v", {c.n_kv_heads, c.head_dim}}};
    case ImplForm::naive:
      return {{"k", {c.n_heads, c.qk_head_dim()}}, {"v", {c.n_heads, c.v_head_dim}}};
    case ImplForm::absorb:
      if (c.n_latent_heads == 1)
        return {{"latent", {c.kv_lora_rank}}, {"rope_key", {c.qk_rope_head_dim}}};
      // GLA: each latent head with its own copy of the rope key, the layout of FlashAttention-3's
      // GLA decode kernel (k_rope [.., h_c, d_r]) and what each rank holds at TP = h_c.
      return {
          {"latent", {c.n_latent_heads, c.kv_lora_rank}},
          {"rope_key", {c.rope_key_per_latent_head ? c.n_latent_heads : 1, c.qk_rope_head_dim}}};
  }
  return {};
}

namespace {

[[noreturn]] void fail_cache_overflow(const LayerConfig& config) {
  throw Error("layer '" + config.name +
              "': its KV cache per token does not fit in 64 bits (an unvalidated config?)");
}

}  // namespace

int64_t kv_elements_per_token_layer(const LayerConfig& config, ImplForm form) {
  // Checked: validate_layer_config bounds this (core/size_limits.h), but a config built by
  // hand may not have been validated.
  std::optional<int64_t> total = 0;
  for (const CachePart& part : cache_layout(config, form)) {
    const std::optional<int64_t> elements = checked_product(part.per_token_shape);
    if (total && elements) total = checked_add(*total, *elements);
    if (!total || !elements) fail_cache_overflow(config);
  }
  return *total;
}

int64_t cache_slots(const LayerConfig& config, int64_t capacity) {
  const std::optional<int64_t> window = config.window();
  if (config.has_latent() || config.is_gta() || !window) return capacity;
  return std::min(capacity, *window + kRingStepTokens - 1);
}

int64_t mha_baseline_elements_per_token_layer(const LayerConfig& c) {
  const int64_t d_h = c.has_latent() ? c.qk_nope_head_dim : c.head_dim;
  return 2 * c.n_heads * d_h;
}

KvFigures kv_figures(const LayerConfig& config, ImplForm form, int64_t context, int64_t batch,
                     double bytes_per_element) {
  KvFigures f;
  f.elements_per_token_layer = kv_elements_per_token_layer(config, form);
  const std::optional<int64_t> per_token = checked_mul(f.elements_per_token_layer, config.n_layers);
  if (!per_token) fail_cache_overflow(config);
  f.elements_per_token = *per_token;
  f.bytes_per_token_layer = static_cast<double>(f.elements_per_token_layer) * bytes_per_element;
  f.bytes_per_token = static_cast<double>(f.elements_per_token) * bytes_per_element;
  // Tokens each layer keeps at this context: all of them, or its window on a sliding layer.
  double kept_token_layers = 0;
  for (int64_t layer = 0; layer < config.n_layers; ++layer) {
    const bool sliding = config.type_of_layer(layer) == LayerType::sliding_attention;
    kept_token_layers +=
        static_cast<double>(sliding ? std::min(context, *config.sliding_window) : context);
    f.sliding_layers += sliding ? 1 : 0;
  }
  f.bytes_at_context = f.bytes_per_token_layer * kept_token_layers * static_cast<double>(batch);
  f.bytes_at_context_without_window =
      f.bytes_per_token * static_cast<double>(context) * static_cast<double>(batch);
  f.mha_elements_per_token_layer = mha_baseline_elements_per_token_layer(config);
  f.fraction_of_mha = static_cast<double>(f.elements_per_token_layer) /
                      static_cast<double>(f.mha_elements_per_token_layer);
  return f;
}

Weights random_weights(const LayerConfig& config, uint64_t seed) {
  Weights weights;
  NormalSampler sampler(seed);
  for (const WeightSpec& spec : weight_specs(config)) {
    Tensor<double> t(spec.shape);
    switch (spec.role) {
      case WeightRole::linear_weight: {
        const double stddev = 1.0 / std::sqrt(static_cast<double>(spec.shape[1]));
        for (double& v : t.data) v = sampler.next(stddev);
        break;
      }
      case WeightRole::linear_bias:
        for (double& v : t.data) v = sampler.next(0.5);
        break;
      case WeightRole::norm_weight: {
        // Effective weight ~ 1 + N(0, 0.01); the q/k norms store it less their offset (Gemma).
        const bool qk = spec.name == "q_norm.weight" || spec.name == "k_norm.weight";
        const double offset = qk ? config.qk_norm_weight_offset : 0.0;
        for (double& v : t.data) v = 1.0 - offset + sampler.next(0.1);
        break;
      }
      case WeightRole::sink_logit:
        // Of the order of the scaled scores, so a sink takes a visible share of the softmax.
        for (double& v : t.data) v = sampler.next(1.0);
        break;
    }
    weights.tensors.emplace(spec.name, std::move(t));
  }
  return weights;
}

}  // namespace attnlab
