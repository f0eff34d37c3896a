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
  fail(origin, "attention " + single_quoted(s) + " is not one of mha, gqa, mqa, mla");
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
  return is_mla() ? qk_nope_head_dim + qk_rope_head_dim : head_dim;
}
int64_t LayerConfig::value_head_dim() const {
  return is_mla() ? v_head_dim : head_dim;
}
int64_t LayerConfig::rope_dim() const {
  return is_mla() ? qk_rope_head_dim : head_dim;
}
int64_t LayerConfig::kv_heads() const {
  return is_mla() ? n_heads : n_kv_heads;
}
double LayerConfig::scale() const {
  return softmax_scale ? *softmax_scale : 1.0 / std::sqrt(static_cast<double>(qk_head_dim()));
}

void validate_layer_config(const LayerConfig& c, const std::string& origin) {
  require_dim(origin, "hidden_size", c.hidden_size, 1);
  require_dim(origin, "n_heads", c.n_heads, 1);
  require_dim(origin, "n_layers", c.n_layers, 1);
  if (!c.is_mla()) {
    require_dim(origin, "head_dim", c.head_dim, 1);
    require_dim(origin, "n_kv_heads", c.n_kv_heads, 1);
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
    // kv_a_proj_with_mqa's output and the absorb cache of a token (each term <= kMaxDim).
    const int64_t latent_width = c.kv_lora_rank + c.qk_rope_head_dim;
    if (latent_width > kMaxHeadWidth)
      fail(origin, "kv_lora_rank + qk_rope_head_dim (" + std::to_string(latent_width) +
                       ") must be at most " + std::to_string(kMaxHeadWidth));
  }
  // The widest projection side and a bound on a token's cache per layer (core/size_limits.h);
  // each factor is <= kMaxDim, so the product cannot overflow before it is compared.
  const std::optional<int64_t> head_width =
      checked_mul(c.n_heads, c.qk_head_dim() + c.value_head_dim());
  if (!head_width || *head_width > kMaxHeadWidth)
    fail(origin,
         std::string(c.is_mla() ? "n_heads x (qk_nope_head_dim + qk_rope_head_dim + v_head_dim)"
                                : "n_heads x 2 x head_dim") +
             " (" + (head_width ? std::to_string(*head_width) : std::string("over 2^63")) +
             ") must be at most " + std::to_string(kMaxHeadWidth));
  if (c.rope_layout != RopeLayout::none) {
    if (c.rope_dim() % 2 != 0)
      fail(origin, std::string(c.is_mla() ? "qk_rope_head_dim" : "head_dim") + " (" +
                       std::to_string(c.rope_dim()) + ") must be even for rope.layout '" +
                       to_string(c.rope_layout) + "'");
    if (!(c.rope_theta > 0) || !std::isfinite(c.rope_theta))
      fail(origin, "rope.theta (" + std::to_string(c.rope_theta) + ") must be a finite number > 0");
  }
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
                                              "rope",
                                              "rms_norm_eps",
                                              "biases",
                                              "softmax_scale",
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

  if (c.is_mla()) {
    for (const char* field : kMhaOnlyFields)
      if (j.contains(field))
        fail(origin, std::string(field) + " does not apply to attention 'mla'");
    for (const char* field : {"kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"})
      if (!j.contains(field))
        fail(origin, std::string("missing required field '") + field + "' for attention 'mla'");
    c.q_lora_rank = j.contains("q_lora_rank") ? get_dim(j, "q_lora_rank", origin, 0) : 0;
    c.kv_lora_rank = get_dim(j, "kv_lora_rank", origin, 1);
    c.qk_nope_head_dim = get_dim(j, "qk_nope_head_dim", origin, 1);
    c.qk_rope_head_dim = get_dim(j, "qk_rope_head_dim", origin, 0);
    c.v_head_dim = get_dim(j, "v_head_dim", origin, 1);
    if (j.contains("latent_norms"))
      c.latent_norms = read_bool(j.at("latent_norms"), origin, "latent_norms");
  } else {
    for (const char* field : kMlaOnlyFields)
      if (j.contains(field))
        fail(origin, std::string(field) + " applies only to attention 'mla', not '" +
                         to_string(c.attention) + "'");
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
      fail(origin, "missing required field 'n_kv_heads' for attention 'gqa'");
    }
  }

  if (j.contains("rope")) {
    const json& rope = j.at("rope");
    if (!rope.is_object()) fail(origin, "rope must be an object {\"layout\": ..., \"theta\": ...}");
    for (auto it = rope.begin(); it != rope.end(); ++it)
      if (it.key() != "layout" && it.key() != "theta")
        fail(origin, "unknown field " + single_quoted("rope." + it.key()));
    if (!rope.contains("layout")) fail(origin, "missing required field 'rope.layout'");
    c.rope_layout =
        parse_rope_layout(read_string(rope.at("layout"), origin, "rope.layout"), origin);
    if (rope.contains("theta"))
      c.rope_theta = read_positive_number(rope.at("theta"), origin, "rope.theta");
  }
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
  if (c.is_mla()) {
    j["q_lora_rank"] = c.q_lora_rank;
    j["kv_lora_rank"] = c.kv_lora_rank;
    j["qk_nope_head_dim"] = c.qk_nope_head_dim;
    j["qk_rope_head_dim"] = c.qk_rope_head_dim;
    j["v_head_dim"] = c.v_head_dim;
    j["latent_norms"] = c.latent_norms;
  } else {
    j["n_kv_heads"] = c.n_kv_heads;
    j["head_dim"] = c.head_dim;
  }
  j["rope"] = {{"layout", to_string(c.rope_layout)}, {"theta", c.rope_theta}};
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["biases"] = std::vector<std::string>(c.biases.begin(), c.biases.end());
  if (c.softmax_scale) j["softmax_scale"] = *c.softmax_scale;
  if (!c.source.empty()) j["source"] = c.source;
  return j;
}

std::vector<std::string> projection_names(const LayerConfig& config) {
  if (!config.is_mla()) return {"q_proj", "k_proj", "v_proj", "o_proj"};
  if (config.q_lora_rank == 0) return {"q_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj"};
  return {"q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj"};
}

}  // namespace attnlab
