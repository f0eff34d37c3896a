// The exact layer rewrites declared in conversions.h: GQA/MQA -> MHA (repeat k/v rows per query
// group), GQA -> MLA (TransMLA: latent = [k | v], kv_b_proj selects each head's group), MLA -> MHA
// (materialised products of the low-rank factors), MLA -> GLA with one latent head (renamed
// tensors), GTA -> GQA (the rope part moved to the front of each head), RoPE layout swap (q/k rows
// permuted within every rotated head vector) and head sharding (tensor parallelism, GTA's tied
// heads and GLA's latent heads included); the q/k norm weights and
// sink logits of mha/gqa/mqa layers follow their heads and rows. Every function checks its
// input layer (valid config, weights exactly weight_specs), throws attnlab::Error naming a failed
// precondition, and returns a layer whose config validates and whose weights are exactly
// weight_specs(new config). All arithmetic is fp64 on the master weights.
#include "variants/conversions.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>
#include <string>

#include "core/error.h"
#include "variants/variant_spec.h"

namespace attnlab {

namespace {

[[noreturn]] void fail(const char* conversion, const LayerConfig& config,
                       const std::string& problem) {
  throw Error(std::string(conversion) + ": layer '" + config.name + "': " + problem);
}

// The input must be a valid layer: its config validates and its weights are exactly the tensors
// of weight_specs(config) with their shapes.
void check_input(const char* conversion, const Layer& layer) {
  validate_layer_config(layer.config,
                        std::string(conversion) + ": layer '" + layer.config.name + "'");
  const std::vector<WeightSpec> specs = weight_specs(layer.config);
  for (const WeightSpec& spec : specs) {
    if (!layer.weights.has(spec.name))
      fail(conversion, layer.config, "missing weight tensor '" + spec.name + "'");
    const Tensor<double>& t = layer.weights.get(spec.name);
    if (t.shape != spec.shape || t.numel() != shape_numel(spec.shape))
      fail(conversion, layer.config,
           "weight '" + spec.name + "' is " + shape_to_string(t.shape) + ", expected " +
               shape_to_string(spec.shape));
  }
  if (layer.weights.tensors.size() != specs.size())
    fail(conversion, layer.config,
         "has " + std::to_string(layer.weights.tensors.size()) +
             " weight tensors, its config has " + std::to_string(specs.size()));
}

// The output is built by this file, so a mismatch is a bug here, not a user error.
Layer finish(const char* conversion, Layer layer) {
  validate_layer_config(layer.config, std::string(conversion) + " result");
  const std::vector<WeightSpec> specs = weight_specs(layer.config);
  for (const WeightSpec& spec : specs) {
    if (!layer.weights.has(spec.name) || layer.weights.get(spec.name).shape != spec.shape)
      throw std::logic_error(std::string(conversion) + ": built a wrong tensor '" + spec.name +
                             "'");
  }
  if (layer.weights.tensors.size() != specs.size())
    throw std::logic_error(std::string(conversion) + ": built extra weight tensors");
  return layer;
}

const Tensor<double>& weight(const Layer& layer, const std::string& projection) {
  return layer.weights.get(projection + ".weight");
}

const Tensor<double>* bias(const Layer& layer, const std::string& projection) {
  return layer.config.has_bias(projection) ? &layer.weights.get(projection + ".bias") : nullptr;
}

void put(Weights& weights, const std::string& name, Tensor<double> tensor) {
  weights.tensors[name] = std::move(tensor);
}

// Rows `rows` (in that order) of a 2-D weight [out, in] or a 1-D bias [out].
Tensor<double> select_rows(const Tensor<double>& t, const std::vector<int64_t>& rows) {
  const int64_t width = t.shape.size() == 2 ? t.dim(1) : 1;
  Shape shape = t.shape;
  shape[0] = static_cast<int64_t>(rows.size());
  Tensor<double> out(shape);
  for (size_t r = 0; r < rows.size(); ++r)
    for (int64_t i = 0; i < width; ++i) out.data[r * width + i] = t.data[rows[r] * width + i];
  return out;
}

std::vector<int64_t> row_range(int64_t begin, int64_t count) {
  std::vector<int64_t> rows(count);
  for (int64_t i = 0; i < count; ++i) rows[i] = begin + i;
  return rows;
}

// Columns [begin, begin + count) of a 2-D weight [out, in].
Tensor<double> select_columns(const Tensor<double>& t, int64_t begin, int64_t count) {
  const int64_t out_features = t.dim(0), in_features = t.dim(1);
  Tensor<double> out({out_features, count});
  for (int64_t o = 0; o < out_features; ++o)
    for (int64_t i = 0; i < count; ++i)
      out.data[o * count + i] = t.data[o * in_features + begin + i];
  return out;
}

// a [m, k] times b [k, n].
Tensor<double> matmul(const Tensor<double>& a, const Tensor<double>& b) {
  const int64_t m = a.dim(0), k = a.dim(1), n = b.dim(1);
  Tensor<double> c({m, n});
  for (int64_t i = 0; i < m; ++i)
    for (int64_t p = 0; p < k; ++p) {
      const double aip = a.data[i * k + p];
      for (int64_t j = 0; j < n; ++j) c.data[i * n + j] += aip * b.data[p * n + j];
    }
  return c;
}

// a [m, k] times the vector v [k] (a 1-D tensor), as a 1-D tensor [m].
Tensor<double> matvec(const Tensor<double>& a, const Tensor<double>& v) {
  const int64_t m = a.dim(0), k = a.dim(1);
  Tensor<double> y({m});
  for (int64_t i = 0; i < m; ++i)
    for (int64_t p = 0; p < k; ++p) y.data[i] += a.data[i * k + p] * v.data[p];
  return y;
}

void add_in_place(Tensor<double>& y, const Tensor<double>& x) {
  for (int64_t i = 0; i < y.numel(); ++i) y.data[i] += x.data[i];
}

// Copies "<projection>.weight" and, when the source layer has one, "<projection>.bias".
void copy_projection(const Layer& from, const std::string& projection, Weights& to) {
  put(to, projection + ".weight", weight(from, projection));
  if (const Tensor<double>* b = bias(from, projection)) put(to, projection + ".bias", *b);
}

// The rows of a head-major projection that belong to heads [first, first + count), each head
// owning `rows_per_head` consecutive rows.
std::vector<int64_t> head_rows(int64_t first, int64_t count, int64_t rows_per_head) {
  return row_range(first * rows_per_head, count * rows_per_head);
}

// The permutation of one rotated head vector of width d that takes `from` to `to`: new[perm[j]]
// = old[j], so pair i of the new layout holds what pair i of the old layout held.
std::vector<int64_t> rope_permutation(int64_t d, RopeLayout from) {
  std::vector<int64_t> old_of_new(d);  // old index feeding new index
  for (int64_t i = 0; i < d / 2; ++i) {
    if (from == RopeLayout::interleaved) {  // -> half_split
      old_of_new[i] = 2 * i;
      old_of_new[i + d / 2] = 2 * i + 1;
    } else {  // half_split -> interleaved
      old_of_new[2 * i] = i;
      old_of_new[2 * i + 1] = i + d / 2;
    }
  }
  return old_of_new;
}

// Row order of a [blocks * block, ...] projection whose rows [b * block + offset, + d) are a
// rotated vector: those rows permuted, every other row in place.
std::vector<int64_t> permuted_rows(int64_t blocks, int64_t block, int64_t offset,
                                   const std::vector<int64_t>& old_of_new) {
  std::vector<int64_t> rows = row_range(0, blocks * block);
  const int64_t d = static_cast<int64_t>(old_of_new.size());
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t j = 0; j < d; ++j)
      rows[b * block + offset + j] = b * block + offset + old_of_new[j];
  return rows;
}

void permute_projection(const Layer& from, const std::string& projection,
                        const std::vector<int64_t>& rows, Weights& to) {
  put(to, projection + ".weight", select_rows(weight(from, projection), rows));
  if (const Tensor<double>* b = bias(from, projection))
    put(to, projection + ".bias", select_rows(*b, rows));
}

// QK-norm weights [head_dim] (one per layer, shared by every head) and the per-query-head sink
// logits of the query heads in `query_heads` (sinks[h] for each listed h), when the layer has
// them. `norm_rows` orders the norm weights' elements (the identity unless RoPE pairs move).
void put_norms_and_sinks(const Layer& from, const std::vector<int64_t>& norm_rows,
                         const std::vector<int64_t>& query_heads, Weights& to) {
  if (from.config.qk_norm)
    for (const char* name : {"q_norm.weight", "k_norm.weight"})
      put(to, name, select_rows(from.weights.get(name), norm_rows));
  if (from.config.attention_sinks)
    put(to, "sinks", select_rows(from.weights.get("sinks"), query_heads));
}

// MHA, GQA or MQA: the kinds with q_proj / k_proj / v_proj per head.
void require_standard_kind(const char* conversion, const LayerConfig& c) {
  if (c.has_latent() || c.is_gta())
    fail(conversion, c,
         std::string("needs attention mha, gqa or mqa, got '") + to_string(c.attention) + "'");
}

// Copies "<from>.weight" (and its bias, when the source has one) to "<to>.weight" / "<to>.bias",
// noting the bias in `biases`.
void rename_projection(const Layer& layer, const std::string& from, const std::string& to,
                       Weights& weights, std::set<std::string>& biases) {
  put(weights, to + ".weight", weight(layer, from));
  if (const Tensor<double>* b = bias(layer, from)) {
    put(weights, to + ".bias", *b);
    biases.insert(to);
  }
}

// A [rows_a + rows_b, ...] tensor: a's rows then b's; an absent part (nullptr) is that many
// zero rows (a bias one side lacks).
Tensor<double> stack(const Tensor<double>* a, int64_t rows_a, const Tensor<double>* b,
                     int64_t rows_b, int64_t width) {
  Tensor<double> out(width == 0 ? Shape{rows_a + rows_b} : Shape{rows_a + rows_b, width});
  const int64_t w = width == 0 ? 1 : width;
  if (a) std::copy(a->data.begin(), a->data.end(), out.data.begin());
  if (b) std::copy(b->data.begin(), b->data.end(), out.data.begin() + rows_a * w);
  return out;
}

}  // namespace

Layer gqa_as_mha(const Layer& gqa) {
  const char* kName = "gqa_as_mha";
  check_input(kName, gqa);
  const LayerConfig& c = gqa.config;
  require_standard_kind(kName, c);
  const int64_t heads = c.n_heads, d = c.head_dim, group = heads / c.n_kv_heads;

  Layer mha;
  mha.config = c;
  mha.config.name = c.name + " as mha";
  mha.config.attention = AttentionKind::mha;
  mha.config.n_kv_heads = heads;
  std::vector<int64_t> rows;  // query head h reads kv head h / group
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < d; ++i) rows.push_back((h / group) * d + i);
  copy_projection(gqa, "q_proj", mha.weights);
  permute_projection(gqa, "k_proj", rows, mha.weights);
  permute_projection(gqa, "v_proj", rows, mha.weights);
  copy_projection(gqa, "o_proj", mha.weights);
  put_norms_and_sinks(gqa, row_range(0, d), row_range(0, heads), mha.weights);
  return finish(kName, std::move(mha));
}

Layer gqa_as_mla(const Layer& gqa) {
  const char* kName = "gqa_as_mla";
  check_input(kName, gqa);
  const LayerConfig& c = gqa.config;
  require_standard_kind(kName, c);
  if (c.rope_layout != RopeLayout::none)
    fail(kName, c,
         std::string("needs rope layout 'none' (RoPE on the full head cannot be moved into a "
                     "shared latent), got '") +
             to_string(c.rope_layout) + "'");
  if (c.qk_norm || c.attention_sinks)
    fail(kName, c,
         std::string("needs no ") + (c.qk_norm ? "qk_norm" : "attention_sinks") +
             " (MLA has neither)");
  const int64_t heads = c.n_heads, n_kv = c.n_kv_heads, d = c.head_dim, group = heads / n_kv;
  const int64_t d_c = 2 * n_kv * d;

  Layer mla;
  LayerConfig& m = mla.config;
  m = c;
  m.name = c.name + " as mla";
  m.attention = AttentionKind::mla;
  m.n_kv_heads = 0;
  m.head_dim = 0;
  m.q_lora_rank = 0;
  m.kv_lora_rank = d_c;
  m.qk_nope_head_dim = d;
  m.qk_rope_head_dim = 0;
  m.v_head_dim = d;
  m.latent_norms = false;
  m.rope_layout = RopeLayout::none;
  m.partial_rotary_factor = 1;
  // MLA's default scale is 1/sqrt(d_nope + d_rope) = 1/sqrt(d): the same as the source's default.
  m.softmax_scale = c.softmax_scale;
  m.biases.clear();
  if (c.has_bias("q_proj")) m.biases.insert("q_proj");
  if (c.has_bias("k_proj") || c.has_bias("v_proj")) m.biases.insert("kv_a_proj_with_mqa");
  if (c.has_bias("o_proj")) m.biases.insert("o_proj");

  copy_projection(gqa, "q_proj", mla.weights);
  // kv_a_proj_with_mqa = [k_proj; v_proj]: the latent of a token is [k | v] (no rope part).
  const Tensor<double>& wk = weight(gqa, "k_proj");
  const Tensor<double>& wv = weight(gqa, "v_proj");
  Tensor<double> kv_a({d_c, c.hidden_size});
  std::copy(wk.data.begin(), wk.data.end(), kv_a.data.begin());
  std::copy(wv.data.begin(), wv.data.end(), kv_a.data.begin() + wk.numel());
  put(mla.weights, "kv_a_proj_with_mqa.weight", std::move(kv_a));
  if (m.has_bias("kv_a_proj_with_mqa")) {
    Tensor<double> b({d_c});  // zeros where the source projection has no bias
    if (const Tensor<double>* bk = bias(gqa, "k_proj"))
      std::copy(bk->data.begin(), bk->data.end(), b.data.begin());
    if (const Tensor<double>* bv = bias(gqa, "v_proj"))
      std::copy(bv->data.begin(), bv->data.end(), b.data.begin() + n_kv * d);
    put(mla.weights, "kv_a_proj_with_mqa.bias", std::move(b));
  }
  // kv_b_proj head h = [W_UK_h; W_UV_h], each a d x d_c selector of group g's k (or v) block.
  Tensor<double> kv_b({heads * 2 * d, d_c});
  for (int64_t h = 0; h < heads; ++h) {
    const int64_t g = h / group;
    for (int64_t i = 0; i < d; ++i) {
      kv_b.data[(h * 2 * d + i) * d_c + g * d + i] = 1.0;
      kv_b.data[(h * 2 * d + d + i) * d_c + n_kv * d + g * d + i] = 1.0;
    }
  }
  put(mla.weights, "kv_b_proj.weight", std::move(kv_b));
  copy_projection(gqa, "o_proj", mla.weights);
  return finish(kName, std::move(mla));
}

Layer mla_as_mha(const Layer& mla) {
  const char* kName = "mla_as_mha";
  check_input(kName, mla);
  const LayerConfig& c = mla.config;
  if (!c.is_mla())
    fail(kName, c, std::string("needs attention 'mla', got '") + to_string(c.attention) + "'");
  if (c.latent_norms)
    fail(kName, c, "needs latent_norms false (an RMSNorm'd latent is not a linear map of x)");
  if (c.qk_rope_head_dim != 0)
    fail(kName, c,
         "needs qk_rope_head_dim 0 (the shared rope key has no per-head MHA form), got " +
             std::to_string(c.qk_rope_head_dim));
  if (c.qk_nope_head_dim != c.v_head_dim)
    fail(kName, c,
         "needs qk_nope_head_dim (" + std::to_string(c.qk_nope_head_dim) + ") == v_head_dim (" +
             std::to_string(c.v_head_dim) + ")");
  const int64_t heads = c.n_heads, d = c.qk_nope_head_dim;

  Layer mha;
  LayerConfig& m = mha.config;
  m = c;
  m.name = c.name + " as mha";
  m.attention = AttentionKind::mha;
  m.n_kv_heads = heads;
  m.head_dim = d;
  m.q_lora_rank = m.kv_lora_rank = m.qk_nope_head_dim = m.qk_rope_head_dim = m.v_head_dim = 0;
  m.latent_norms = true;  // the struct default; irrelevant to MHA
  m.rope_layout = RopeLayout::none;
  m.softmax_scale = c.softmax_scale;  // default 1/sqrt(d_nope) on both sides
  m.biases.clear();
  const bool q_bias =
      c.q_lora_rank == 0 ? c.has_bias("q_proj") : c.has_bias("q_a_proj") || c.has_bias("q_b_proj");
  const bool kv_bias = c.has_bias("kv_a_proj_with_mqa") || c.has_bias("kv_b_proj");
  if (q_bias) m.biases.insert("q_proj");
  if (kv_bias) m.biases.insert("k_proj"), m.biases.insert("v_proj");
  if (c.has_bias("o_proj")) m.biases.insert("o_proj");

  // q_proj, or W_qb W_qa with bias W_qb b_qa + b_qb.
  if (c.q_lora_rank == 0) {
    copy_projection(mla, "q_proj", mha.weights);
  } else {
    const Tensor<double>& w_qb = weight(mla, "q_b_proj");
    put(mha.weights, "q_proj.weight", matmul(w_qb, weight(mla, "q_a_proj")));
    if (q_bias) {
      Tensor<double> b({heads * d});
      if (const Tensor<double>* b_qa = bias(mla, "q_a_proj")) b = matvec(w_qb, *b_qa);
      if (const Tensor<double>* b_qb = bias(mla, "q_b_proj")) add_in_place(b, *b_qb);
      put(mha.weights, "q_proj.bias", std::move(b));
    }
  }
  // k_h = W_UK_h (W_DKV x + b_DKV) + b_UK_h, v_h likewise with W_UV_h.
  const Tensor<double>& w_dkv = weight(mla, "kv_a_proj_with_mqa");  // [d_c, hidden] (rope dim 0)
  const Tensor<double>* b_dkv = bias(mla, "kv_a_proj_with_mqa");
  const Tensor<double>& w_ukv = weight(mla, "kv_b_proj");
  const Tensor<double>* b_ukv = bias(mla, "kv_b_proj");
  std::vector<int64_t> k_rows, v_rows;
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < d; ++i) {
      k_rows.push_back(h * 2 * d + i);
      v_rows.push_back(h * 2 * d + d + i);
    }
  for (const auto& [projection, rows] :
       {std::pair{"k_proj", k_rows}, std::pair{"v_proj", v_rows}}) {
    const Tensor<double> w_up = select_rows(w_ukv, rows);  // [H * d, d_c]
    put(mha.weights, std::string(projection) + ".weight", matmul(w_up, w_dkv));
    if (kv_bias) {
      Tensor<double> b({heads * d});
      if (b_dkv) b = matvec(w_up, *b_dkv);
      if (b_ukv) add_in_place(b, select_rows(*b_ukv, rows));
      put(mha.weights, std::string(projection) + ".bias", std::move(b));
    }
  }
  copy_projection(mla, "o_proj", mha.weights);
  return finish(kName, std::move(mha));
}

Layer gla_from_mla(const Layer& mla) {
  const char* kName = "gla_from_mla";
  check_input(kName, mla);
  const LayerConfig& c = mla.config;
  if (!c.is_mla())
    fail(kName, c, std::string("needs attention 'mla', got '") + to_string(c.attention) + "'");
  if (c.q_lora_rank == 0)
    fail(kName, c, "needs q_lora_rank > 0 (GLA's W_dQ), got 0 (a plain q_proj)");
  if (c.n_latent_heads != 1)
    fail(kName, c,
         "needs one latent head (n_latent_heads 1), got " + std::to_string(c.n_latent_heads));

  Layer gla;
  LayerConfig& g = gla.config;
  g = c;
  g.name = c.name + " as gla";
  g.attention = AttentionKind::gla;
  g.n_latent_heads = 1;
  g.rope_key_per_latent_head = true;
  g.biases.clear();
  for (const auto& [from, to] : {std::pair{"q_a_proj", "W_dQ"}, std::pair{"q_b_proj", "W_uQ_rope"},
                                 std::pair{"kv_a_proj_with_mqa", "W_dKV"},
                                 std::pair{"kv_b_proj", "W_ukv_1"}, std::pair{"o_proj", "o_proj"}})
    rename_projection(mla, from, to, gla.weights, g.biases);
  if (c.latent_norms) {
    put(gla.weights, "q_norm.weight", mla.weights.get("q_a_layernorm.weight"));
    put(gla.weights, "kv_norm_1.weight", mla.weights.get("kv_a_layernorm.weight"));
  }
  return finish(kName, std::move(gla));
}

Layer gta_as_gqa(const Layer& gta) {
  const char* kName = "gta_as_gqa";
  check_input(kName, gta);
  const LayerConfig& c = gta.config;
  if (!c.is_gta())
    fail(kName, c, std::string("needs attention 'gta', got '") + to_string(c.attention) + "'");
  const int64_t heads = c.n_heads, n_kv = c.n_kv_heads, d = c.head_dim, r = c.qk_rope_head_dim;

  Layer gqa;
  LayerConfig& q = gqa.config;
  q = c;
  q.name = c.name + " as gqa";
  q.attention = n_kv == heads ? AttentionKind::mha : AttentionKind::gqa;
  q.qk_rope_head_dim = 0;
  // GQA rotates the first int(d * factor) elements (Hugging Face's truncation): the factor r / d,
  // nudged up one ulp where d * (r / d) rounds below r.
  q.partial_rotary_factor = static_cast<double>(r) / static_cast<double>(d);
  if (static_cast<int64_t>(static_cast<double>(d) * q.partial_rotary_factor) < r)
    q.partial_rotary_factor = std::nextafter(q.partial_rotary_factor, 2.0);
  if (q.rope_dim() != r)
    throw std::logic_error("gta_as_gqa: no partial_rotary_factor gives the rotary width");
  q.biases.clear();

  // Query head h: [q_rope_h | q_nope_h], GQA's rotated part first.
  std::vector<int64_t> q_rows, k_rows;
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t i = 0; i < r; ++i) q_rows.push_back(h * d + d - r + i);
    for (int64_t i = 0; i < d - r; ++i) q_rows.push_back(h * d + i);
  }
  permute_projection(gta, "q_proj", q_rows, gqa.weights);
  if (c.has_bias("q_proj")) q.biases.insert("q_proj");
  // Key head g: [k_rope (W_rope_k's r rows) ; tied_g[0, d - r) (kv_proj's rows of head g)].
  const Tensor<double>& w_rope = weight(gta, "W_rope_k");
  const Tensor<double>& w_kv = weight(gta, "kv_proj");
  const Tensor<double>* b_rope = bias(gta, "W_rope_k");
  const Tensor<double>* b_kv = bias(gta, "kv_proj");
  Tensor<double> k_weight({n_kv * d, c.hidden_size});
  Tensor<double> k_bias({n_kv * d});
  for (int64_t g = 0; g < n_kv; ++g) {
    const Tensor<double> tied_rows = select_rows(w_kv, row_range(g * d, d - r));
    const Tensor<double> head = stack(&w_rope, r, &tied_rows, d - r, c.hidden_size);
    std::copy(head.data.begin(), head.data.end(), k_weight.data.begin() + g * d * c.hidden_size);
    const Tensor<double> tied_bias =
        b_kv ? select_rows(*b_kv, row_range(g * d, d - r)) : Tensor<double>({d - r});
    const Tensor<double> head_bias = stack(b_rope, r, &tied_bias, d - r, 0);
    std::copy(head_bias.data.begin(), head_bias.data.end(), k_bias.data.begin() + g * d);
  }
  put(gqa.weights, "k_proj.weight", std::move(k_weight));
  if (b_rope || b_kv) {
    put(gqa.weights, "k_proj.bias", std::move(k_bias));
    q.biases.insert("k_proj");
  }
  // The value is the whole tied state.
  put(gqa.weights, "v_proj.weight", w_kv);
  if (b_kv) {
    put(gqa.weights, "v_proj.bias", *b_kv);
    q.biases.insert("v_proj");
  }
  rename_projection(gta, "o_proj", "o_proj", gqa.weights, q.biases);
  return finish(kName, std::move(gqa));
}

Layer swap_rope_layout(const Layer& layer) {
  const char* kName = "swap_rope_layout";
  check_input(kName, layer);
  const LayerConfig& c = layer.config;
  if (c.rope_layout == RopeLayout::none)
    fail(kName, c, "needs rope layout 'interleaved' or 'half_split', got 'none'");
  const std::vector<int64_t> perm = rope_permutation(c.rope_dim(), c.rope_layout);

  Layer out;
  out.config = c;
  out.config.rope_layout =
      c.rope_layout == RopeLayout::interleaved ? RopeLayout::half_split : RopeLayout::interleaved;
  out.config.name = c.name + " as " + to_string(out.config.rope_layout);
  out.weights = layer.weights;
  if (c.is_gta()) {
    // Each query head's rope part is its last r rows; W_rope_k is the rope key.
    const int64_t d = c.head_dim, r = c.qk_rope_head_dim;
    permute_projection(layer, "q_proj", permuted_rows(c.n_heads, d, d - r, perm), out.weights);
    permute_projection(layer, "W_rope_k", permuted_rows(1, r, 0, perm), out.weights);
  } else if (c.is_gla()) {
    const int64_t qk = c.qk_head_dim(), latents = c.n_latent_heads * c.kv_lora_rank;
    permute_projection(layer, "W_uQ_rope", permuted_rows(c.n_heads, qk, c.qk_nope_head_dim, perm),
                       out.weights);
    // The rope key is the last qk_rope_head_dim rows of W_dKV, after the latent heads.
    permute_projection(layer, "W_dKV",
                       permuted_rows(1, latents + c.qk_rope_head_dim, latents, perm), out.weights);
  } else if (!c.is_mla()) {
    const int64_t d = c.head_dim;
    permute_projection(layer, "q_proj", permuted_rows(c.n_heads, d, 0, perm), out.weights);
    permute_projection(layer, "k_proj", permuted_rows(c.n_kv_heads, d, 0, perm), out.weights);
    // The q/k norms scale element j of a head by weight[j]: their weights move with the rows.
    put_norms_and_sinks(layer, permuted_rows(1, d, 0, perm), row_range(0, c.n_heads), out.weights);
  } else {
    const int64_t qk = c.qk_head_dim(), d_nope = c.qk_nope_head_dim;
    const std::string q = c.q_lora_rank == 0 ? "q_proj" : "q_b_proj";
    permute_projection(layer, q, permuted_rows(c.n_heads, qk, d_nope, perm), out.weights);
    // The shared rope key is the last qk_rope_head_dim rows of kv_a_proj_with_mqa.
    const int64_t kv_a_rows = c.kv_lora_rank + c.qk_rope_head_dim;
    permute_projection(layer, "kv_a_proj_with_mqa",
                       permuted_rows(1, kv_a_rows, c.kv_lora_rank, perm), out.weights);
  }
  return finish(kName, std::move(out));
}

namespace {

// Rank `rank` of a GLA layer over `world` ranks (world divides h_c): latent heads
// [rank * h_c / world, (rank + 1) * h_c / world) and their query heads. W_dQ and q_norm are
// replicated; W_uQ_rope keeps its heads' rows; W_dKV the rows of its latent slices and the rope
// key's rows; kv_norm_j / W_ukv_j of its latent heads, numbered from 1 again. o_proj (columns) and
// the config's head counts are left to the caller (shard.config arrives as a copy of the layer's
// with n_heads already local).
void shard_gla(const Layer& layer, int64_t rank, int64_t world, Layer& shard) {
  const LayerConfig& c = layer.config;
  LayerConfig& s = shard.config;
  const int64_t local_latents = c.n_latent_heads / world, first_latent = rank * local_latents;
  const int64_t d_c = c.kv_lora_rank, local_heads = c.n_heads / world;
  s.n_latent_heads = local_latents;
  for (int64_t j = 1; j <= c.n_latent_heads; ++j) s.biases.erase("W_ukv_" + std::to_string(j));
  copy_projection(layer, "W_dQ", shard.weights);
  if (c.latent_norms) put(shard.weights, "q_norm.weight", layer.weights.get("q_norm.weight"));
  permute_projection(layer, "W_uQ_rope",
                     head_rows(rank * local_heads, local_heads, c.qk_head_dim()), shard.weights);
  std::vector<int64_t> kv_rows = row_range(first_latent * d_c, local_latents * d_c);
  for (int64_t i = 0; i < c.qk_rope_head_dim; ++i) kv_rows.push_back(c.n_latent_heads * d_c + i);
  permute_projection(layer, "W_dKV", kv_rows, shard.weights);
  for (int64_t k = 1; k <= local_latents; ++k) {
    const std::string from = std::to_string(first_latent + k), to = std::to_string(k);
    if (c.latent_norms)
      put(shard.weights, "kv_norm_" + to + ".weight",
          layer.weights.get("kv_norm_" + from + ".weight"));
    rename_projection(layer, "W_ukv_" + from, "W_ukv_" + to, shard.weights, s.biases);
  }
}

}  // namespace

std::vector<Layer> shard_heads(const Layer& layer, int64_t world_size) {
  const char* kName = "shard_heads";
  check_input(kName, layer);
  const LayerConfig& c = layer.config;
  if (world_size < 1) fail(kName, c, "world_size must be >= 1, got " + std::to_string(world_size));
  if (c.n_heads % world_size != 0)
    fail(kName, c,
         "n_heads (" + std::to_string(c.n_heads) + ") must be divisible by world_size (" +
             std::to_string(world_size) + ")");
  if (!c.has_latent() && c.n_kv_heads != 1 && c.n_kv_heads % world_size != 0)
    fail(kName, c,
         "n_kv_heads (" + std::to_string(c.n_kv_heads) +
             ") must be 1 or divisible by world_size (" + std::to_string(world_size) + ")");
  if (c.is_gla() && c.n_latent_heads % world_size != 0)
    fail(kName, c,
         "n_latent_heads (" + std::to_string(c.n_latent_heads) +
             ") must be divisible by world_size (" + std::to_string(world_size) + ")");
  if (c.is_mla() && c.n_latent_heads != 1)
    fail(kName, c,
         "needs one latent head (a GLA/GTA layer lowered to MLA is sharded before lowering), got " +
             std::to_string(c.n_latent_heads));
  const int64_t local_heads = c.n_heads / world_size;

  std::vector<Layer> ranks;
  for (int64_t r = 0; r < world_size; ++r) {
    Layer shard;
    LayerConfig& s = shard.config;
    s = c;
    s.name = c.name + " rank " + std::to_string(r) + "/" + std::to_string(world_size);
    s.n_heads = local_heads;
    if (r != 0) s.biases.erase("o_proj");  // the bias is added once, by rank 0
    const int64_t first = r * local_heads;
    if (c.is_gla()) {
      shard_gla(layer, r, world_size, shard);
    } else if (c.is_gta()) {
      // As GQA: each rank its query heads and their tied heads (all of them when there is one);
      // the one rope key's projection on every rank.
      const int64_t d = c.head_dim;
      const bool replicate_kv = c.n_kv_heads == 1;
      const int64_t local_kv = replicate_kv ? 1 : c.n_kv_heads / world_size;
      s.n_kv_heads = local_kv;
      permute_projection(layer, "q_proj", head_rows(first, local_heads, d), shard.weights);
      permute_projection(layer, "kv_proj", head_rows(replicate_kv ? 0 : r * local_kv, local_kv, d),
                         shard.weights);
      copy_projection(layer, "W_rope_k", shard.weights);
    } else if (!c.is_mla()) {
      const int64_t d = c.head_dim;
      const bool replicate_kv = c.n_kv_heads == 1;
      const int64_t local_kv = replicate_kv ? 1 : c.n_kv_heads / world_size;
      const int64_t first_kv = replicate_kv ? 0 : r * local_kv;
      s.n_kv_heads = c.attention == AttentionKind::mha ? local_heads : local_kv;
      permute_projection(layer, "q_proj", head_rows(first, local_heads, d), shard.weights);
      permute_projection(layer, "k_proj", head_rows(first_kv, local_kv, d), shard.weights);
      permute_projection(layer, "v_proj", head_rows(first_kv, local_kv, d), shard.weights);
      put_norms_and_sinks(layer, row_range(0, d), head_rows(first, local_heads, 1), shard.weights);
    } else {
      const int64_t qk = c.qk_head_dim(), kv_b = c.qk_nope_head_dim + c.v_head_dim;
      if (c.q_lora_rank == 0) {
        permute_projection(layer, "q_proj", head_rows(first, local_heads, qk), shard.weights);
      } else {
        copy_projection(layer, "q_a_proj", shard.weights);
        if (c.latent_norms)
          put(shard.weights, "q_a_layernorm.weight", layer.weights.get("q_a_layernorm.weight"));
        permute_projection(layer, "q_b_proj", head_rows(first, local_heads, qk), shard.weights);
      }
      copy_projection(layer, "kv_a_proj_with_mqa", shard.weights);
      if (c.latent_norms)
        put(shard.weights, "kv_a_layernorm.weight", layer.weights.get("kv_a_layernorm.weight"));
      permute_projection(layer, "kv_b_proj", head_rows(first, local_heads, kv_b), shard.weights);
    }
    const int64_t v = c.value_head_dim();
    put(shard.weights, "o_proj.weight",
        select_columns(weight(layer, "o_proj"), first * v, local_heads * v));
    if (s.has_bias("o_proj")) put(shard.weights, "o_proj.bias", layer.weights.get("o_proj.bias"));
    ranks.push_back(finish(kName, std::move(shard)));
  }
  return ranks;
}

}  // namespace attnlab
