// JSON parsing and validation of LayerConfig. Every rule lives in validate_layer_config and
// every message names the origin, the field and the rule, e.g.
//   "configs/x.json: n_heads (32) must be divisible by n_kv_heads (5)".
#include "core/layer_config.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/checked_math.h"
#include "core/error.h"
#include "core/json_fields.h"
#include "core/size_limits.h"

namespace attnlab {

using nlohmann::json;

namespace {

// Dimensions above this are rejected: they cannot be allocated, and products of several of
// them would overflow 64-bit element counts (core/size_limits.h).
constexpr int64_t kMaxDim = kMaxLayerDim;

const char* kMhaOnlyFields[] = {"n_kv_heads", "head_dim"};
const char* kMlaOnlyFields[] = {"q_lora_rank",      "kv_lora_rank", "qk_nope_head_dim",
                                "qk_rope_head_dim", "v_head_dim",   "latent_norms"};

[[noreturn]] void fail(const std::string& origin, const std::string& message) {
  throw Error(origin + ": " + message);
}

// A dimension field, read with the bounds validate_layer_config applies.
int64_t get_dim(const json& j, const char* field, const std::string& origin, int64_t min) {
  return read_int(j.at(field), origin, field, min, kMaxDim);
}

std::string get_string(const json& j, const char* field, const std::string& origin) {
  return read_string(j.at(field), origin, field);
}

AttentionKind parse_attention(const std::string& s, const std::string& origin) {
  if (s == "mha") return AttentionKind::mha;
  if (s == "gqa") return AttentionKind::gqa;
  if (s == "mqa") return AttentionKind::mqa;
  if (s == "mla") return AttentionKind::mla;
  if (s == "gta") return AttentionKind::gta;
  if (s == "gla") return AttentionKind::gla;
  fail(origin, "attention " + single_quoted(s) + " is not one of mha, gqa, mqa, mla, gta, gla");
}

RopeLayout parse_rope_layout(const std::string& s, const std::string& origin) {
  if (s == "none") return RopeLayout::none;
  if (s == "interleaved") return RopeLayout::interleaved;
  if (s == "half_split") return RopeLayout::half_split;
  fail(origin, "rope.layout " + single_quoted(s) + " is not one of none, interleaved, half_split");
}

void require_dim(const std::string& origin, const char* field, int64_t value, int64_t min) {
  if (value < min || value > kMaxDim)
    fail(origin, std::string(field) + " (" + std::to_string(value) + ") must be in [" +
                     std::to_string(min) + ", " + std::to_string(kMaxDim) + "]");
}

}  // namespace

const char* to_string(RopeScalingType type) {
  switch (type) {
    case RopeScalingType::none:
      return "default";
    case RopeScalingType::linear:
      return "linear";
    case RopeScalingType::yarn:
      return "yarn";
    case RopeScalingType::llama3:
      return "llama3";
  }
  return "?";
}

const char* to_string(LayerType type) {
  return type == LayerType::sliding_attention ? "sliding_attention" : "full_attention";
}

const char* to_string(AttentionKind kind) {
  switch (kind) {
    case AttentionKind::mha:
      return "mha";
    case AttentionKind::gqa:
      return "gqa";
    case AttentionKind::mqa:
      return "mqa";
    case AttentionKind::mla:
      return "mla";
    case AttentionKind::gta:
      return "gta";
    case AttentionKind::gla:
      return "gla";
  }
  return "?";
}

const char* to_string(RopeLayout layout) {
  switch (layout) {
    case RopeLayout::none:
      return "none";
    case RopeLayout::interleaved:
      return "interleaved";
    case RopeLayout::half_split:
      return "half_split";
  }
  return "?";
}

int64_t LayerConfig::qk_head_dim() const {
  return has_latent() ? qk_nope_head_dim + qk_rope_head_dim : head_dim;
}
int64_t LayerConfig::value_head_dim() const {
  return has_latent() ? v_head_dim : head_dim;
}
int64_t LayerConfig::rope_dim() const {
  if (has_latent() || is_gta()) return qk_rope_head_dim;
  // Hugging Face: int(head_dim * partial_rotary_factor) (truncation).
  return static_cast<int64_t>(static_cast<double>(head_dim) * partial_rotary_factor);
}
LayerType LayerConfig::type_of_layer(int64_t i) const {
  if (!layer_types.empty()) return layer_types.at(i);
  return sliding_window ? LayerType::sliding_attention : LayerType::full_attention;
}
LayerType LayerConfig::layer_type() const {
  return type_of_layer(layer_types.empty() ? 0 : layer_index);
}
std::optional<int64_t> LayerConfig::window() const {
  if (layer_type() == LayerType::sliding_attention) return sliding_window;
  return std::nullopt;
}
double LayerConfig::layer_rope_theta() const {
  if (rope_local_theta && layer_type() == LayerType::sliding_attention) return *rope_local_theta;
  return rope_theta;
}
RopeScaling LayerConfig::layer_rope_scaling() const {
  if (rope_local_theta && layer_type() == LayerType::sliding_attention) return RopeScaling{};
  return rope_scaling;
}
int64_t LayerConfig::kv_heads() const {
  return has_latent() ? n_heads : n_kv_heads;
}
double yarn_mscale(double factor, double mscale) {
  return factor <= 1 ? 1.0 : 0.1 * mscale * std::log(factor) + 1.0;
}

double LayerConfig::scale() const {
  if (softmax_scale) return *softmax_scale;
  double scale = 1.0 / std::sqrt(static_cast<double>(qk_head_dim()));
  const RopeScaling scaling = layer_rope_scaling();
  // DeepSeek (HF DeepseekV3Attention, inference/model.py): softmax_scale * mscale^2.
  if (scaling.type == RopeScalingType::yarn && scaling.mscale_all_dim &&
      *scaling.mscale_all_dim != 0) {
    const double m = yarn_mscale(scaling.factor, *scaling.mscale_all_dim);
    scale *= m * m;
  }
  return scale;
}

namespace {

bool finite_positive(double x) {
  return x > 0 && std::isfinite(x);
}

// Partial rotary, local theta and rope.scaling.
void validate_rope_extensions(const LayerConfig& c, const std::string& origin) {
  if (!(c.partial_rotary_factor > 0 && c.partial_rotary_factor <= 1))
    fail(origin, "rope.partial_rotary_factor (" + std::to_string(c.partial_rotary_factor) +
                     ") must be in (0, 1]");
  if ((c.has_latent() || c.is_gta()) && c.partial_rotary_factor != 1)
    fail(origin, std::string("rope.partial_rotary_factor does not apply to attention '") +
                     to_string(c.attention) + "' (its rotary part is qk_rope_head_dim)");
  if (c.rope_local_theta && !finite_positive(*c.rope_local_theta))
    fail(origin, "rope.local_base_freq must be a finite number > 0");
  const RopeScaling& r = c.rope_scaling;
  if (r.type == RopeScalingType::none) return;
  if (c.rope_layout == RopeLayout::none)
    fail(origin, "rope.scaling needs a rope.layout other than 'none'");
  if (!(r.factor >= 1) || !std::isfinite(r.factor))
    fail(origin, "rope.scaling.factor (" + std::to_string(r.factor) + ") must be >= 1");
  if (r.type == RopeScalingType::linear) return;
  if (r.original_max_position_embeddings < 1)
    fail(origin, "rope.scaling.original_max_position_embeddings is required for '" +
                     std::string(to_string(r.type)) + "' and must be >= 1");
  if (r.type == RopeScalingType::yarn) {
    if (!finite_positive(r.beta_fast) || !finite_positive(r.beta_slow) ||
        !(r.beta_fast > r.beta_slow))
      fail(origin, "rope.scaling needs beta_fast > beta_slow > 0");
    for (const auto& [name, v] :
         {std::pair{"mscale", r.mscale}, std::pair{"mscale_all_dim", r.mscale_all_dim},
          std::pair{"attention_factor", r.attention_factor}})
      if (v && !(*v >= 0 && std::isfinite(*v)))
        fail(origin, "rope.scaling." + std::string(name) + " must be a finite number >= 0");
  }
  if (r.type == RopeScalingType::llama3 &&
      !(finite_positive(r.low_freq_factor) && r.high_freq_factor > r.low_freq_factor &&
        std::isfinite(r.high_freq_factor)))
    fail(origin, "rope.scaling needs high_freq_factor > low_freq_factor > 0");
}

// Sliding window, layer types, sinks and QK-norm.
void validate_layer_kinds(const LayerConfig& c, const std::string& origin) {
  if (c.sliding_window && (*c.sliding_window < 1 || *c.sliding_window > kMaxLayerDim))
    fail(origin, "sliding_window (" + std::to_string(*c.sliding_window) + ") must be in [1, " +
                     std::to_string(kMaxLayerDim) + "]");
  if (!c.layer_types.empty()) {
    if (static_cast<int64_t>(c.layer_types.size()) != c.n_layers)
      fail(origin, "layer_types has " + std::to_string(c.layer_types.size()) +
                       " entries; n_layers is " + std::to_string(c.n_layers));
    bool any_sliding = false;
    for (LayerType t : c.layer_types) any_sliding |= t == LayerType::sliding_attention;
    if (any_sliding && !c.sliding_window)
      fail(origin, "layer_types names 'sliding_attention' layers but sliding_window is not set");
  }
  if (c.layer_index < 0 || c.layer_index >= c.n_layers)
    fail(origin, "layer_index (" + std::to_string(c.layer_index) +
                     ") must be in [0, n_layers - 1 = " + std::to_string(c.n_layers - 1) + "]");
  if ((c.has_latent() || c.is_gta()) && (c.attention_sinks || c.qk_norm))
    fail(origin, std::string(c.attention_sinks ? "attention_sinks" : "qk_norm") +
                     " applies only to attention mha, gqa, mqa");
  if (!std::isfinite(c.qk_norm_weight_offset))
    fail(origin, "qk_norm_weight_offset must be a finite number");
}

}  // namespace

void validate_layer_config(const LayerConfig& c, const std::string& origin) {
  require_dim(origin, "hidden_size", c.hidden_size, 1);
  require_dim(origin, "n_heads", c.n_heads, 1);
  require_dim(origin, "n_layers", c.n_layers, 1);
  if (!c.has_latent()) {
    require_dim(origin, "head_dim", c.head_dim, 1);
    require_dim(origin, "n_kv_heads", c.n_kv_heads, 1);
    if (c.is_gta()) {
      // K = [tied state's first head_dim - r elements | the rope key]: both parts non-empty.
      if (c.qk_rope_head_dim < 1 || c.qk_rope_head_dim >= c.head_dim)
        fail(origin, "qk_rope_head_dim (" + std::to_string(c.qk_rope_head_dim) +
                         ") must be in [1, head_dim - 1 = " + std::to_string(c.head_dim - 1) +
                         "] for attention 'gta'");
    }
    if (c.n_heads % c.n_kv_heads != 0)
      fail(origin, "n_heads (" + std::to_string(c.n_heads) + ") must be divisible by n_kv_heads (" +
                       std::to_string(c.n_kv_heads) + ")");
    if (c.attention == AttentionKind::mha && c.n_kv_heads != c.n_heads)
      fail(origin, "attention 'mha' needs n_kv_heads (" + std::to_string(c.n_kv_heads) +
                       ") equal to n_heads (" + std::to_string(c.n_heads) + "); use 'gqa'");
    if (c.attention == AttentionKind::mqa && c.n_kv_heads != 1)
      fail(origin, "attention 'mqa' needs n_kv_heads 1, got " + std::to_string(c.n_kv_heads));
  } else {
    require_dim(origin, "q_lora_rank", c.q_lora_rank, 0);
    require_dim(origin, "kv_lora_rank", c.kv_lora_rank, 1);
    require_dim(origin, "qk_nope_head_dim", c.qk_nope_head_dim, 1);
    require_dim(origin, "qk_rope_head_dim", c.qk_rope_head_dim, 0);
    require_dim(origin, "v_head_dim", c.v_head_dim, 1);
    require_dim(origin, "n_latent_heads", c.n_latent_heads, 1);
    if (c.is_gla() && c.q_lora_rank < 1)
      fail(origin, "q_lora_rank (0) must be at least 1 for attention 'gla' (W_dQ)");
    if (c.n_heads % c.n_latent_heads != 0)
      fail(origin, "n_heads (" + std::to_string(c.n_heads) +
                       ") must be divisible by n_latent_heads (" +
                       std::to_string(c.n_latent_heads) + ")");
    // kv_a_proj_with_mqa's (W_dKV's) output and the absorb cache of a token.
    const std::optional<int64_t> latents = checked_mul(c.n_latent_heads, c.kv_lora_rank);
    const std::optional<int64_t> ropes = checked_mul(c.n_latent_heads, c.qk_rope_head_dim);
    const std::optional<int64_t> width =
        latents && ropes ? checked_add(*latents, *ropes) : std::nullopt;
    if (!width || *width > kMaxHeadWidth)
      fail(origin, std::string(c.n_latent_heads == 1
                                   ? "kv_lora_rank + qk_rope_head_dim"
                                   : "n_latent_heads x (kv_lora_rank + qk_rope_head_dim)") +
                       " (" + (width ? std::to_string(*width) : std::string("over 2^63")) +
                       ") must be at most " + std::to_string(kMaxHeadWidth));
  }
  // The widest projection side and a bound on a token's cache per layer (core/size_limits.h);
  // each factor is <= kMaxDim, so the product cannot overflow before it is compared.
  const std::optional<int64_t> head_width =
      checked_mul(c.n_heads, c.qk_head_dim() + c.value_head_dim());
  if (!head_width || *head_width > kMaxHeadWidth)
    fail(origin,
         std::string(c.has_latent() ? "n_heads x (qk_nope_head_dim + qk_rope_head_dim + v_head_dim)"
                                    : "n_heads x 2 x head_dim") +
             " (" + (head_width ? std::to_string(*head_width) : std::string("over 2^63")) +
             ") must be at most " + std::to_string(kMaxHeadWidth));
  if (c.rope_layout != RopeLayout::none) {
    if (c.rope_dim() % 2 != 0)
      fail(origin,
           std::string(c.has_latent() || c.is_gta() ? "qk_rope_head_dim"
                       : c.partial_rotary_factor == 1
                           ? "head_dim"
                           : "the rotary width int(head_dim x rope.partial_rotary_factor)") +
               " (" + std::to_string(c.rope_dim()) + ") must be even for rope.layout '" +
               to_string(c.rope_layout) + "'");
    if (!(c.rope_theta > 0) || !std::isfinite(c.rope_theta))
      fail(origin, "rope.theta (" + std::to_string(c.rope_theta) + ") must be a finite number > 0");
  }
  validate_rope_extensions(c, origin);
  validate_layer_kinds(c, origin);
  if (!(c.rms_norm_eps > 0) || !std::isfinite(c.rms_norm_eps))
    fail(origin, "rms_norm_eps must be a finite number > 0");
  if (c.softmax_scale && (!(*c.softmax_scale > 0) || !std::isfinite(*c.softmax_scale)))
    fail(origin, "softmax_scale must be a finite number > 0");
  const std::vector<std::string> projections = projection_names(c);
  for (const std::string& b : c.biases) {
    bool known = false;
    for (const std::string& p : projections) known = known || p == b;
    if (!known) {
      std::string list;
      for (const std::string& p : projections) list += (list.empty() ? "" : ", ") + p;
      fail(origin, "biases: " + single_quoted(b) + " is not a projection of attention '" +
                       to_string(c.attention) + "' (" + list + ")");
    }
  }
}

namespace {

// rope.scaling: Hugging Face's rope_scaling object ("type" or "rope_type" names the kind).
RopeScaling parse_rope_scaling(const json& j, const std::string& origin) {
  if (!j.is_object()) fail(origin, "rope.scaling must be an object {\"type\": ..., ...}");
  static const std::set<std::string> fields = {
      "type",      "rope_type",       "factor",           "original_max_position_embeddings",
      "beta_fast", "beta_slow",       "mscale",           "mscale_all_dim",
      "truncate",  "low_freq_factor", "high_freq_factor", "attention_factor"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!fields.count(it.key()))
      fail(origin, "unknown field " + single_quoted("rope.scaling." + it.key()));
  const char* type_field = j.contains("rope_type") ? "rope_type" : "type";
  if (!j.contains(type_field)) fail(origin, "missing required field 'rope.scaling.type'");
  const std::string path = std::string("rope.scaling.") + type_field;
  const std::string type = read_string(j.at(type_field), origin, path);
  RopeScaling r;
  if (type == "default")
    r.type = RopeScalingType::none;
  else if (type == "linear")
    r.type = RopeScalingType::linear;
  else if (type == "yarn")
    r.type = RopeScalingType::yarn;
  else if (type == "llama3")
    r.type = RopeScalingType::llama3;
  else
    fail(origin, path + " " + single_quoted(type) + " is not one of default, linear, yarn, llama3");
  const auto number = [&](const char* field) {
    return read_number(j.at(field), origin, std::string("rope.scaling.") + field);
  };
  if (r.type != RopeScalingType::none && !j.contains("factor"))
    fail(origin, "missing required field 'rope.scaling.factor'");
  if (j.contains("factor")) r.factor = number("factor");
  if (j.contains("original_max_position_embeddings"))
    r.original_max_position_embeddings =
        read_int(j.at("original_max_position_embeddings"), origin,
                 "rope.scaling.original_max_position_embeddings", 1, kMaxDim);
  if (j.contains("beta_fast")) r.beta_fast = number("beta_fast");
  if (j.contains("beta_slow")) r.beta_slow = number("beta_slow");
  if (j.contains("mscale")) r.mscale = number("mscale");
  if (j.contains("mscale_all_dim")) r.mscale_all_dim = number("mscale_all_dim");
  if (j.contains("attention_factor")) r.attention_factor = number("attention_factor");
  if (j.contains("truncate"))
    r.truncate = read_bool(j.at("truncate"), origin, "rope.scaling.truncate");
  if (j.contains("low_freq_factor")) r.low_freq_factor = number("low_freq_factor");
  if (j.contains("high_freq_factor")) r.high_freq_factor = number("high_freq_factor");
  return r;
}

json rope_scaling_to_json(const RopeScaling& r) {
  json j = {{"type", to_string(r.type)}, {"factor", r.factor}};
  if (r.type == RopeScalingType::yarn || r.type == RopeScalingType::llama3)
    j["original_max_position_embeddings"] = r.original_max_position_embeddings;
  if (r.type == RopeScalingType::yarn) {
    j["beta_fast"] = r.beta_fast;
    j["beta_slow"] = r.beta_slow;
    if (r.mscale) j["mscale"] = *r.mscale;
    if (r.mscale_all_dim) j["mscale_all_dim"] = *r.mscale_all_dim;
    if (r.attention_factor) j["attention_factor"] = *r.attention_factor;
    j["truncate"] = r.truncate;
  }
  if (r.type == RopeScalingType::llama3) {
    j["low_freq_factor"] = r.low_freq_factor;
    j["high_freq_factor"] = r.high_freq_factor;
  }
  return j;
}

}  // namespace

LayerConfig parse_layer_config(const json& j, const std::string& origin) {
  if (!j.is_object()) fail(origin, "a layer config must be a JSON object");
  static const std::set<std::string> known = {"name",
                                              "attention",
                                              "hidden_size",
                                              "n_heads",
                                              "n_layers",
                                              "n_kv_heads",
                                              "head_dim",
                                              "q_lora_rank",
                                              "kv_lora_rank",
                                              "qk_nope_head_dim",
                                              "qk_rope_head_dim",
                                              "v_head_dim",
                                              "latent_norms",
                                              "n_latent_heads",
                                              "rope",
                                              "rms_norm_eps",
                                              "biases",
                                              "softmax_scale",
                                              "sliding_window",
                                              "layer_types",
                                              "layer_index",
                                              "attention_sinks",
                                              "qk_norm",
                                              "qk_norm_weight_offset",
                                              "source"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!known.count(it.key())) fail(origin, "unknown field " + single_quoted(it.key()));
  for (const char* field : {"attention", "hidden_size", "n_heads"})
    if (!j.contains(field)) fail(origin, std::string("missing required field '") + field + "'");

  LayerConfig c;
  c.name = j.contains("name") ? get_string(j, "name", origin) : std::string("unnamed");
  c.source = j.contains("source") ? get_string(j, "source", origin) : std::string();
  c.attention = parse_attention(get_string(j, "attention", origin), origin);
  c.hidden_size = get_dim(j, "hidden_size", origin, 1);
  c.n_heads = get_dim(j, "n_heads", origin, 1);
  if (j.contains("n_layers")) c.n_layers = get_dim(j, "n_layers", origin, 1);

  const std::string kind = to_string(c.attention);
  if (j.contains("n_latent_heads") && !c.is_gla())
    fail(origin, "n_latent_heads applies only to attention 'gla', not '" + kind + "'");
  if (c.has_latent()) {
    for (const char* field : kMhaOnlyFields)
      if (j.contains(field))
        fail(origin, std::string(field) + " does not apply to attention '" + kind + "'");
    for (const char* field : {"kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"})
      if (!j.contains(field))
        fail(origin,
             std::string("missing required field '") + field + "' for attention '" + kind + "'");
    if (c.is_gla()) {
      for (const char* field : {"n_latent_heads", "q_lora_rank"})
        if (!j.contains(field))
          fail(origin, std::string("missing required field '") + field + "' for attention 'gla'");
      c.n_latent_heads = get_dim(j, "n_latent_heads", origin, 1);
    }
    c.q_lora_rank = j.contains("q_lora_rank") ? get_dim(j, "q_lora_rank", origin, 0) : 0;
    c.kv_lora_rank = get_dim(j, "kv_lora_rank", origin, 1);
    c.qk_nope_head_dim = get_dim(j, "qk_nope_head_dim", origin, 1);
    c.qk_rope_head_dim = get_dim(j, "qk_rope_head_dim", origin, 0);
    c.v_head_dim = get_dim(j, "v_head_dim", origin, 1);
    if (j.contains("latent_norms"))
      c.latent_norms = read_bool(j.at("latent_norms"), origin, "latent_norms");
  } else {
    for (const char* field : kMlaOnlyFields)
      if (j.contains(field) && !(c.is_gta() && std::string(field) == "qk_rope_head_dim"))
        fail(origin,
             std::string(field) + " applies only to attention 'mla' and 'gla', not '" + kind + "'");
    if (j.contains("head_dim")) {
      c.head_dim = get_dim(j, "head_dim", origin, 1);
    } else {
      if (c.hidden_size % c.n_heads != 0)
        fail(origin, "head_dim is missing and hidden_size (" + std::to_string(c.hidden_size) +
                         ") is not divisible by n_heads (" + std::to_string(c.n_heads) + ")");
      c.head_dim = c.hidden_size / c.n_heads;
    }
    if (j.contains("n_kv_heads")) {
      c.n_kv_heads = get_dim(j, "n_kv_heads", origin, 1);
    } else if (c.attention == AttentionKind::mha) {
      c.n_kv_heads = c.n_heads;
    } else if (c.attention == AttentionKind::mqa) {
      c.n_kv_heads = 1;
    } else {
      fail(origin, "missing required field 'n_kv_heads' for attention '" + kind + "'");
    }
    // GTA's decoupled rope key: half the head by default, as in the paper.
    if (c.is_gta())
      c.qk_rope_head_dim = j.contains("qk_rope_head_dim")
                               ? get_dim(j, "qk_rope_head_dim", origin, 1)
                               : c.head_dim / 2;
  }

  if (j.contains("rope")) {
    const json& rope = j.at("rope");
    if (!rope.is_object()) fail(origin, "rope must be an object {\"layout\": ..., \"theta\": ...}");
    static const std::set<std::string> rope_fields = {"layout", "theta", "partial_rotary_factor",
                                                      "local_base_freq", "scaling"};
    for (auto it = rope.begin(); it != rope.end(); ++it)
      if (!rope_fields.count(it.key()))
        fail(origin, "unknown field " + single_quoted("rope." + it.key()));
    if (!rope.contains("layout")) fail(origin, "missing required field 'rope.layout'");
    c.rope_layout =
        parse_rope_layout(read_string(rope.at("layout"), origin, "rope.layout"), origin);
    if (rope.contains("theta"))
      c.rope_theta = read_positive_number(rope.at("theta"), origin, "rope.theta");
    if (rope.contains("partial_rotary_factor"))
      c.partial_rotary_factor = read_positive_number(rope.at("partial_rotary_factor"), origin,
                                                     "rope.partial_rotary_factor");
    if (rope.contains("local_base_freq"))
      c.rope_local_theta =
          read_positive_number(rope.at("local_base_freq"), origin, "rope.local_base_freq");
    if (rope.contains("scaling") && !rope.at("scaling").is_null())
      c.rope_scaling = parse_rope_scaling(rope.at("scaling"), origin);
  }
  if (j.contains("sliding_window") && !j.at("sliding_window").is_null())
    c.sliding_window = read_int(j.at("sliding_window"), origin, "sliding_window", 1, kMaxDim);
  if (j.contains("layer_types")) {
    const json& types = j.at("layer_types");
    if (!types.is_array()) fail(origin, "layer_types must be an array of layer type names");
    for (size_t i = 0; i < types.size(); ++i) {
      const std::string path = element_path("layer_types", i);
      const std::string t = read_string(types[i], origin, path);
      if (t == "full_attention")
        c.layer_types.push_back(LayerType::full_attention);
      else if (t == "sliding_attention")
        c.layer_types.push_back(LayerType::sliding_attention);
      else
        fail(origin,
             path + " " + single_quoted(t) + " is not one of full_attention, sliding_attention");
    }
  }
  if (j.contains("layer_index"))
    c.layer_index = read_int(j.at("layer_index"), origin, "layer_index", 0, kMaxDim);
  if (j.contains("attention_sinks"))
    c.attention_sinks = read_bool(j.at("attention_sinks"), origin, "attention_sinks");
  if (j.contains("qk_norm")) c.qk_norm = read_bool(j.at("qk_norm"), origin, "qk_norm");
  if (j.contains("qk_norm_weight_offset"))
    c.qk_norm_weight_offset =
        read_number(j.at("qk_norm_weight_offset"), origin, "qk_norm_weight_offset");
  if (j.contains("rms_norm_eps"))
    c.rms_norm_eps = read_positive_number(j.at("rms_norm_eps"), origin, "rms_norm_eps");
  if (j.contains("softmax_scale"))
    c.softmax_scale = read_positive_number(j.at("softmax_scale"), origin, "softmax_scale");
  if (j.contains("biases")) {
    const json& b = j.at("biases");
    if (!b.is_array()) fail(origin, "biases must be an array of projection names");
    for (size_t i = 0; i < b.size(); ++i)
      c.biases.insert(read_string(b[i], origin, element_path("biases", i)));
  }
  validate_layer_config(c, origin);
  return c;
}

LayerConfig load_layer_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open layer config");
  std::stringstream text;
  text << in.rdbuf();
  return parse_layer_config(parse_json(text.str(), path), path);
}

json layer_config_to_json(const LayerConfig& c) {
  json j;
  j["name"] = c.name;
  j["attention"] = to_string(c.attention);
  j["hidden_size"] = c.hidden_size;
  j["n_heads"] = c.n_heads;
  j["n_layers"] = c.n_layers;
  if (c.is_gla()) j["n_latent_heads"] = c.n_latent_heads;
  if (c.has_latent()) {
    j["q_lora_rank"] = c.q_lora_rank;
    j["kv_lora_rank"] = c.kv_lora_rank;
    j["qk_nope_head_dim"] = c.qk_nope_head_dim;
    j["qk_rope_head_dim"] = c.qk_rope_head_dim;
    j["v_head_dim"] = c.v_head_dim;
    j["latent_norms"] = c.latent_norms;
  } else {
    j["n_kv_heads"] = c.n_kv_heads;
    j["head_dim"] = c.head_dim;
    if (c.is_gta()) j["qk_rope_head_dim"] = c.qk_rope_head_dim;
  }
  j["rope"] = {{"layout", to_string(c.rope_layout)}, {"theta", c.rope_theta}};
  if (c.partial_rotary_factor != 1) j["rope"]["partial_rotary_factor"] = c.partial_rotary_factor;
  if (c.rope_local_theta) j["rope"]["local_base_freq"] = *c.rope_local_theta;
  if (c.rope_scaling.type != RopeScalingType::none)
    j["rope"]["scaling"] = rope_scaling_to_json(c.rope_scaling);
  if (c.sliding_window) j["sliding_window"] = *c.sliding_window;
  if (!c.layer_types.empty()) {
    std::vector<std::string> types;
    for (LayerType t : c.layer_types) types.push_back(to_string(t));
    j["layer_types"] = types;
  }
  if (c.layer_index != 0) j["layer_index"] = c.layer_index;
  if (c.attention_sinks) j["attention_sinks"] = true;
  if (c.qk_norm) j["qk_norm"] = true;
  if (c.qk_norm_weight_offset != 0) j["qk_norm_weight_offset"] = c.qk_norm_weight_offset;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["biases"] = std::vector<std::string>(c.biases.begin(), c.biases.end());
  if (c.softmax_scale) j["softmax_scale"] = *c.softmax_scale;
  if (!c.source.empty()) j["source"] = c.source;
  return j;
}

std::vector<std::string> projection_names(const LayerConfig& config) {
  // GTA and GLA: the names of the paper's reference code (Dao-AILab/grouped-latent-attention,
  // modeling_llama_GTA.py / modeling_llama_GLA.py), W_ukv_j numbered from 1.
  if (config.is_gta()) return {"q_proj", "kv_proj", "W_rope_k", "o_proj"};
  if (config.is_gla()) {
    std::vector<std::string> names = {"W_dQ", "W_uQ_rope", "W_dKV"};
    for (int64_t j = 1; j <= config.n_latent_heads; ++j)
      names.push_back("W_ukv_" + std::to_string(j));
    names.push_back("o_proj");
    return names;
  }
  if (!config.is_mla()) return {"q_proj", "k_proj", "v_proj", "o_proj"};
  if (config.q_lora_rank == 0) return {"q_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj"};
  return {"q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj"};
}

}  // namespace attnlab
