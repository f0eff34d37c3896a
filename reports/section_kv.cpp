// "KV cache": bytes each variant caches per token (per layer and for the whole model) and at a
// given context, with the reduction against an MHA of the same heads (DeepSeek-V2, Table 1),
// computed by variants/variant_spec.h from the layer config stored in each case. See sections.h.
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "core/dtype.h"
#include "core/error.h"
#include "core/layer_config.h"
#include "reports/format.h"
#include "reports/sections.h"
#include "reports/series_naming.h"
#include "sweep/sweep_config.h"
#include "variants/kv_tensor_parallel.h"
#include "variants/variant_spec.h"

namespace attnlab::reports {

namespace {

struct KvRow {
  std::string model, variant, dtype, detail;
  LayerConfig config;
  ImplForm form = ImplForm::standard;
  KvFigures figures;
  int64_t n_layers = 0;
  int allocated_checked = 0, allocated_mismatch = 0;
};

// "8 kv heads x 128", "latent 512 + rope 64", "32 heads x (128 + 64)".
// ", window W on s/n layers" for a model with sliding layers.
std::string window_detail(const LayerConfig& c) {
  int64_t sliding = 0;
  for (int64_t layer = 0; layer < c.n_layers; ++layer)
    sliding += c.type_of_layer(layer) == LayerType::sliding_attention;
  if (sliding == 0) return "";
  return ", window " + std::to_string(*c.sliding_window) + " on " + std::to_string(sliding) + "/" +
         std::to_string(c.n_layers) + " layers";
}

std::string cache_detail(const LayerConfig& c, ImplForm form) {
  const std::string rope = std::to_string(c.qk_rope_head_dim);
  if (c.is_gta())
    return std::to_string(c.n_kv_heads) + " tied KV head" + (c.n_kv_heads == 1 ? "" : "s") + " x " +
           std::to_string(c.head_dim) + " + rope key " + rope + window_detail(c);
  if (!c.has_latent())
    return std::to_string(c.n_kv_heads) + " KV head" + (c.n_kv_heads == 1 ? "" : "s") + " x " +
           std::to_string(c.head_dim) + window_detail(c);
  if (form == ImplForm::absorb && c.is_gla())
    return std::to_string(c.n_latent_heads) + " latent heads x (" + std::to_string(c.kv_lora_rank) +
           " + rope key " + rope + ")" + window_detail(c);
  if (form == ImplForm::absorb)
    return "latent " + std::to_string(c.kv_lora_rank) + " + rope key " + rope + window_detail(c);
  return std::to_string(c.n_heads) + " heads x K " +
         std::to_string(c.qk_nope_head_dim + c.qk_rope_head_dim) + " + V " +
         std::to_string(c.v_head_dim) + window_detail(c);
}

// The tensor-parallel degree the sweep configs name ("tp", 1 when none); the largest if several.
int64_t report_tp(const std::vector<ResultsFile>& files) {
  int64_t tp = 1;
  for (const ResultsFile& f : files) {
    const nlohmann::json v = f.attnlab.value("tp", nlohmann::json(1));
    if (v.is_number_integer()) tp = std::max<int64_t>(tp, v.get<int64_t>());
  }
  return tp;
}

// The per-rank columns of a row: elements per token per layer, bytes per token (all layers), how
// the cache splits; "-" and the reason where the degree cannot split the layer's heads.
std::vector<std::string> per_rank_cells(const LayerConfig& c, ImplForm form, const KvFigures& k,
                                        int64_t tp) {
  try {
    const KvPerRank r = kv_per_rank(c, form, tp, "tp");
    return {thousands(r.elements_per_token_layer),
            thousands(std::llround(k.bytes_per_token * r.fraction())), r.split + ": " + r.note};
  } catch (const Error& e) {
    return {"-", "-", e.what()};
  }
}

std::string reduction(double fraction_of_mha) {
  const double pct = 100.0 * (1.0 - fraction_of_mha);
  if (std::fabs(pct) < 0.05) return "0% (is MHA)";
  return pct > 0 ? format("%.1f%%", pct) : format("%.1f%% larger", -pct);
}

}  // namespace

Section kv_section(const std::vector<ResultsFile>& files, int64_t context) {
  Section s{"kv-cache", "KV cache per token", {}};
  std::map<std::string, KvRow> rows;  // by model|impl|dtype
  std::vector<std::string> order;     // keys in the order the results list them
  for (const ResultsFile& f : files)
    for (const ResultCase& c : f.cases) {
      const std::string where = f.path + ": case " + c.name;
      if (!c.info.contains("config"))
        throw Error(where + ": no layer config stored in the case record");
      const LayerConfig config = parse_layer_config(c.info["config"], where + ": config");
      const ImplForm form = parse_impl_form(c.impl());
      double element_bytes = 0;
      try {
        element_bytes = double(bytes_per_element(
            parse_dtype(c.dtype(), {DType::fp64, DType::fp32, DType::bf16, DType::fp16})));
      } catch (const Error& e) {
        throw Error(where + ": " + e.what());
      }
      const std::string key = c.model() + "|" + c.impl() + "|" + c.dtype();
      if (!rows.count(key)) order.push_back(key);
      KvRow& row = rows[key];
      if (row.model.empty()) {
        row.model = c.model();
        row.variant = variant_name(c);
        row.dtype = c.dtype();
        row.detail = cache_detail(config, form);
        row.figures = kv_figures(config, form, context, 1, element_bytes);
        row.n_layers = config.n_layers;
        row.config = config;
        row.form = form;
      }
      // The cache the timed case allocated must equal the analytic size of its tokens, or on a
      // sliding layer of a ring-cache backend that of its ring (variants/variant_spec.h).
      const double allocated = c.number("/kv_bytes_allocated");
      const int64_t tokens = c.context() + c.new_tokens();
      const double per_slot = double(row.figures.bytes_per_token_layer) * double(c.batch());
      const bool expected_size = allocated == per_slot * double(tokens) ||
                                 allocated == per_slot * double(cache_slots(config, tokens));
      if (c.ok() && std::isfinite(allocated)) {
        ++row.allocated_checked;
        row.allocated_mismatch += !expected_size;
      }
    }
  s.paragraph(
      "How many bytes of keys and values each variant keeps per token, from the layer shape "
      "stored with each case (the DeepSeek-V2 paper's Table 1 formulas, variants/variant_spec). "
      "\"vs MHA\" compares with a multi-head attention of the same number of heads and head "
      "size, which caches 2 x heads x head size elements per token per layer; MLA absorb caches "
      "only the compressed latent and the shared RoPE key, GLA absorb one latent and RoPE key "
      "per latent head, GTA one tied key-value state per KV head and one shared RoPE key, and "
      "the naive forms of MLA and GLA the up-projected per-head K and V. A model with "
      "sliding-window layers keeps min(context, window) tokens in each of "
      "them, so its whole-model size at a context is less than bytes per token x context.");
  if (rows.empty()) {
    s.note("No case in these results.");
    return s;
  }
  const std::string at = "at " + thousands(context) + " tokens (whole model, batch 1)";
  Table t{{"model", "variant", "cached per token per layer", "KV dtype", "elements / token / layer",
           "bytes / token / layer", "bytes / token (all layers)", at, "size vs MHA",
           "reduction vs MHA"},
          "llllrrrrrr",
          {}};
  const int64_t tp = report_tp(files);
  if (tp > 1) {
    t.header.push_back("elements / token / layer per rank");
    t.header.push_back("bytes / token per rank (all layers)");
    t.header.push_back("split at TP " + std::to_string(tp));
    t.align += "rrl";
  }
  ChartSpec chart;
  chart.id = "kv-per-token";
  chart.title = "KV cache per token, whole model (log scale)";
  chart.xlabel = "model and variant";
  chart.ylabel = "bytes per token (all layers)";
  chart.kind = ChartSpec::Kind::bars;
  chart.logy = true;
  chart.yformat = "%.0s%cB";  // 10kB, 100kB, 1MB
  chart.series.push_back({"bytes per token", {}, 0, 0});
  bool several_dtypes = false;
  for (const auto& [key, r] : rows) several_dtypes |= r.dtype != rows.begin()->second.dtype;
  int checked = 0, mismatched = 0;
  double lo = INFINITY, hi = 0;
  for (const std::string& key : order) {
    const KvRow& r = rows.at(key);
    const KvFigures& k = r.figures;
    t.rows.push_back({r.model, r.variant, r.detail, r.dtype, thousands(k.elements_per_token_layer),
                      thousands(std::llround(k.bytes_per_token_layer)),
                      thousands(std::llround(k.bytes_per_token)) + " (" +
                          std::to_string(r.n_layers) + " layers)",
                      human_bytes(k.bytes_at_context), format("%.1f%%", 100 * k.fraction_of_mha),
                      reduction(k.fraction_of_mha)});
    if (tp > 1)
      for (std::string& cell : per_rank_cells(r.config, r.form, k, tp))
        t.rows.back().push_back(std::move(cell));
    const double x = double(chart.series[0].points.size());
    chart.series[0].points.push_back({x, k.bytes_per_token});
    chart.bar_labels.push_back(r.model + " " + r.variant + (several_dtypes ? " " + r.dtype : ""));
    chart.bar_values.push_back(human_bytes(k.bytes_per_token));
    lo = std::min(lo, k.bytes_per_token);
    hi = std::max(hi, k.bytes_per_token);
    checked += r.allocated_checked;
    mismatched += r.allocated_mismatch;
  }
  s.table(std::move(t));
  if (tp > 1)
    s.paragraph("Per rank at tensor-parallel degree " + std::to_string(tp) +
                " (the sweep config's \"tp\"; nothing was run in parallel): the query heads "
                "split over the ranks, and with them what is cached per KV, tied or latent head; "
                "what every head reads is on every rank (MQA's one KV head, MLA's latent, GTA's "
                "rope key), and a KV head is replicated when there are more ranks than heads.");
  chart.yrange = std::make_pair(lo / 3, hi * 6);
  s.figure(std::move(chart),
           "Bytes of KV cache each generated token adds to the whole model (every layer), one "
           "bar per model and variant, on a log scale: each step down the axis is 10x less "
           "memory per token, so 10x more context (or batch) fits in the same memory.");
  if (checked > 0)
    s.paragraph(mismatched == 0
                    ? "The caches allocated by the " + std::to_string(checked) +
                          " timed cases have exactly these sizes (per token, or per ring slot "
                          "where a backend keeps a sliding layer's window in a ring)."
                    : std::to_string(mismatched) + " of " + std::to_string(checked) +
                          " timed cases allocated a cache of another size than the analytic one.");
  return s;
}

}  // namespace attnlab::reports
