// lower_to_mla: GLA and GTA rewritten as MLA with grouped latent heads; see latent_lowering.h.
#include "variants/latent_lowering.h"

#include <algorithm>

namespace attnlab {

namespace {

// Rows of `parts` stacked in order; a part may be absent (nullptr): that many zero rows.
Tensor<double> stack_rows(const std::vector<const Tensor<double>*>& parts,
                          const std::vector<int64_t>& rows, int64_t cols) {
  int64_t total = 0;
  for (int64_t r : rows) total += r;
  Tensor<double> out(cols == 0 ? Shape{total} : Shape{total, cols});
  const int64_t width = cols == 0 ? 1 : cols;
  int64_t at = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i] != nullptr)
      std::copy(parts[i]->data.begin(), parts[i]->data.end(), out.data.begin() + at * width);
    at += rows[i];
  }
  return out;
}

void copy_tensor(Weights& to, const std::string& to_name, const Weights& from,
                 const std::string& from_name) {
  to.tensors[to_name] = from.get(from_name);
}

// A bias of the lowered projection when any of its parts has one (absent parts: zeros).
void stack_bias(Weights& to, LayerConfig& lowered, const std::string& to_name,
                const LayerConfig& config, const Weights& from,
                const std::vector<std::string>& from_names, const std::vector<int64_t>& rows) {
  bool any = false;
  std::vector<const Tensor<double>*> parts;
  for (const std::string& n : from_names) {
    const bool has = config.has_bias(n);
    any = any || has;
    parts.push_back(has ? &from.get(n + ".bias") : nullptr);
  }
  if (!any) return;
  lowered.biases.insert(to_name);
  to.tensors[to_name + ".bias"] = stack_rows(parts, rows, 0);
}

LayerConfig lowered_base(const LayerConfig& c) {
  LayerConfig m = c;
  m.attention = AttentionKind::mla;
  m.biases.clear();
  m.head_dim = 0;
  m.n_kv_heads = 0;
  return m;
}

LoweredLayer lower_gla(const LayerConfig& c, const Weights& w, ImplForm form) {
  LoweredLayer out{lowered_base(c), {}, form};
  LayerConfig& m = out.config;
  m.rope_key_per_latent_head = true;
  Weights& lw = out.weights;
  const int64_t h_c = c.n_latent_heads, d_c = c.kv_lora_rank;
  const int64_t group_rows = c.n_heads / h_c * (c.qk_nope_head_dim + c.v_head_dim);
  for (const auto& [from, to] :
       {std::pair{"W_dQ", "q_a_proj"}, std::pair{"W_uQ_rope", "q_b_proj"},
        std::pair{"W_dKV", "kv_a_proj_with_mqa"}, std::pair{"o_proj", "o_proj"}}) {
    copy_tensor(lw, std::string(to) + ".weight", w, std::string(from) + ".weight");
    if (c.has_bias(from)) {
      m.biases.insert(to);
      copy_tensor(lw, std::string(to) + ".bias", w, std::string(from) + ".bias");
    }
  }
  std::vector<const Tensor<double>*> ukv, norms;
  std::vector<std::string> ukv_names;
  for (int64_t j = 1; j <= h_c; ++j) {
    ukv_names.push_back("W_ukv_" + std::to_string(j));
    ukv.push_back(&w.get(ukv_names.back() + ".weight"));
    if (c.latent_norms) norms.push_back(&w.get("kv_norm_" + std::to_string(j) + ".weight"));
  }
  const std::vector<int64_t> ukv_rows(h_c, group_rows);
  lw.tensors["kv_b_proj.weight"] = stack_rows(ukv, ukv_rows, d_c);
  stack_bias(lw, m, "kv_b_proj", c, w, ukv_names, ukv_rows);
  if (c.latent_norms) {
    copy_tensor(lw, "q_a_layernorm.weight", w, "q_norm.weight");
    lw.tensors["kv_a_layernorm.weight"] = stack_rows(norms, std::vector<int64_t>(h_c, d_c), 0);
  }
  return out;
}

LoweredLayer lower_gta(const LayerConfig& c, const Weights& w) {
  LoweredLayer out{lowered_base(c), {}, ImplForm::absorb};
  LayerConfig& m = out.config;
  const int64_t d = c.head_dim, r = c.qk_rope_head_dim, n_kv = c.n_kv_heads;
  m.q_lora_rank = 0;
  m.kv_lora_rank = d;
  m.qk_nope_head_dim = d - r;
  m.v_head_dim = d;
  m.latent_norms = false;
  m.n_latent_heads = n_kv;
  m.rope_key_per_latent_head = false;
  Weights& lw = out.weights;
  for (const char* name : {"q_proj", "o_proj"}) {
    copy_tensor(lw, std::string(name) + ".weight", w, std::string(name) + ".weight");
    if (c.has_bias(name)) {
      m.biases.insert(name);
      copy_tensor(lw, std::string(name) + ".bias", w, std::string(name) + ".bias");
    }
  }
  lw.tensors["kv_a_proj_with_mqa.weight"] = stack_rows(
      {&w.get("kv_proj.weight"), &w.get("W_rope_k.weight")}, {n_kv * d, r}, c.hidden_size);
  stack_bias(lw, m, "kv_a_proj_with_mqa", c, w, {"kv_proj", "W_rope_k"}, {n_kv * d, r});
  // Per head [W_UK (d - r rows) ; W_UV (d rows)] over the tied state of width d.
  Tensor<double> kv_b({c.n_heads * (2 * d - r), d});
  for (int64_t h = 0; h < c.n_heads; ++h) {
    double* head = kv_b.ptr() + h * (2 * d - r) * d;
    for (int64_t i = 0; i < d - r; ++i) head[i * d + i] = 1.0;
    for (int64_t i = 0; i < d; ++i) head[(d - r + i) * d + i] = 1.0;
  }
  lw.tensors["kv_b_proj.weight"] = std::move(kv_b);
  return out;
}

}  // namespace

LoweredLayer lower_to_mla(const LayerConfig& config, const Weights& weights, ImplForm form) {
  if (!config.is_gla() && !config.is_gta()) return {config, weights, form};
  check_form_applies(config, form);
  check_layer_weights(config, weights);
  LoweredLayer lowered =
      config.is_gla() ? lower_gla(config, weights, form) : lower_gta(config, weights);
  validate_layer_config(lowered.config, "layer '" + config.name + "' lowered to mla");
  return lowered;
}

}  // namespace attnlab
