// "Arithmetic intensity of decode": per variant, the attention core's multiply-adds per cached
// element a decode step reads (variants/cost_model.h: exact from the stored layer shape, and the
// paper's 2 g_q / m_kv for L >> d), next to what the timed decode cases achieved: the core's
// modelled FLOPs and KV bytes divided by the measured step latency, and the whole layer's
// GFLOP/s and GB/s as the sweep recorded them. See sections.h.
#include <algorithm>
#include <cmath>
#include <map>

#include "core/dtype.h"
#include "core/error.h"
#include "core/layer_config.h"
#include "reports/format.h"
#include "reports/sections.h"
#include "reports/series_naming.h"
#include "variants/cost_model.h"
#include "variants/variant_spec.h"

namespace attnlab::reports {

namespace {

struct IntensityRow {
  std::string model, variant, dtype;
  LayerConfig config;
  ImplForm form = ImplForm::standard;
  double element_bytes = 4;
  const ResultCase* longest = nullptr;  // the ok decode case of the longest context
  std::vector<const ResultCase*> decode;
};

double element_bytes_of(const ResultCase& c, const std::string& where) {
  try {
    return double(bytes_per_element(
        parse_dtype(c.dtype(), {DType::fp64, DType::fp32, DType::bf16, DType::fp16})));
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
}

// The core's modelled FLOPs and KV bytes of a decode case over its measured median latency.
double core_gflops(const ResultCase& c) {
  return c.number("/cost/attention_flops") / (c.number("/latency_ms_median") * 1e-3) / 1e9;
}
double kv_gbytes(const ResultCase& c) {
  return c.number("/cost/cache_read_bytes") / (c.number("/latency_ms_median") * 1e-3) / 1e9;
}

}  // namespace

Section intensity_section(const std::vector<ResultsFile>& files) {
  Section s{"intensity", "Arithmetic intensity of decode", {}};
  s.paragraph(
      "How much work a decode step does per element of KV cache it reads: the attention core's "
      "multiply-adds (scores and value mixture of every query head) per cached element, from "
      "the layer shape stored with each case (variants/cost_model). Decode is memory-bound "
      "while this is below the machine's ridge point (Roofline section), so a variant that "
      "does more work per cached element turns the same bandwidth into more useful FLOPs. The "
      "paper's approximation for contexts much longer than the head size is 2 g_q / m_kv, g_q "
      "query heads per distinct cached head and m_kv = 2 when K and V are cached apart, 1 when "
      "one state serves both (GTA's tied state, the absorbed latent of MLA and GLA): MHA 1, "
      "GQA h_q / g, MQA h_q, GTA up to twice its GQA, MLA absorb 2 h_q, GLA absorb 2 h_q / h_c "
      "(Zadouri, Strauss, Dao 2025). The exact figure is below it by the rope key's share of the "
      "cache; a speculative step with 2 query tokens nearly doubles it.");
  std::map<std::string, IntensityRow> rows;  // by model|impl|dtype
  std::vector<std::string> order;
  for (const ResultsFile& f : files)
    for (const ResultCase& c : f.cases) {
      const std::string where = f.path + ": case " + c.name;
      if (!c.info.contains("config"))
        throw Error(where + ": no layer config stored in the case record");
      const std::string key = c.model() + "|" + c.impl() + "|" + c.dtype();
      if (!rows.count(key)) {
        order.push_back(key);
        IntensityRow& row = rows[key];
        row.model = c.model();
        row.variant = variant_name(c);
        row.dtype = c.dtype();
        row.config = parse_layer_config(c.info["config"], where + ": config");
        row.form = parse_impl_form(c.impl());
        row.element_bytes = element_bytes_of(c, where);
      }
      IntensityRow& row = rows[key];
      if (!c.ok() || c.phase() != "decode" || !(c.number("/latency_ms_median") > 0)) continue;
      row.decode.push_back(&c);
      if (!row.longest || c.context() > row.longest->context()) row.longest = &c;
    }
  if (rows.empty()) {
    s.note("No case in these results.");
    return s;
  }
  Table t{{"model", "variant", "g_q", "m_kv", "paper 2 g_q / m_kv", "MACs / cached element",
           "speculative (2 queries)", "FLOP / KV byte", "longest decode context",
           "FLOP / byte moved (with q, o)", "core GFLOP/s (measured)", "KV GB/s (measured)",
           "layer GFLOP/s", "layer GB/s"},
          "llrrrrrrrrrrrr",
          {}};
  ChartSpec bars;
  bars.id = "decode-intensity";
  bars.title = "Decode: multiply-adds per cached element (log scale)";
  bars.xlabel = "model and variant";
  bars.ylabel = "MACs per cached element read";
  bars.kind = ChartSpec::Kind::bars;
  bars.logy = true;
  bars.series.push_back({"MACs per cached element", {}, 0, 0});
  ChartSpec achieved;
  achieved.id = "decode-intensity-achieved";
  achieved.title = "Decode: achieved attention GFLOP/s vs modelled intensity";
  achieved.xlabel = "attention FLOP per KV-cache byte (modelled)";
  achieved.ylabel = "attention GFLOP/s achieved (modelled FLOPs / median latency)";
  achieved.kind = ChartSpec::Kind::points;
  achieved.logx = achieved.logy = true;
  bool several_dtypes = false;
  for (const auto& [key, r] : rows) several_dtypes |= r.dtype != rows.begin()->second.dtype;
  double lo = INFINITY, hi = 0;
  for (const std::string& key : order) {
    const IntensityRow& r = rows.at(key);
    const KvSharing sharing = kv_sharing(r.config, r.form);
    // The longest measured context, else a long one (the figure barely depends on it).
    const int64_t context = r.longest ? r.longest->context() : 8192;
    const CoreIntensity decode = core_intensity(r.config, r.form, context, 1);
    const CoreIntensity speculative = core_intensity(r.config, r.form, context, 2);
    const double macs = decode.macs_per_cached_element();
    const ResultCase* m = r.longest;
    t.rows.push_back(
        {r.model, r.variant + (several_dtypes ? " " + r.dtype : ""),
         std::to_string(sharing.query_heads_per_kv_head), std::to_string(sharing.kv_copies),
         sig3(paper_intensity(r.config, r.form)), sig3(macs),
         sig3(speculative.macs_per_cached_element()),
         sig3(decode.flops_per_cache_byte(r.element_bytes)), m ? thousands(m->context()) : "-",
         sig3(decode.flops_per_byte(r.element_bytes)), m ? or_dash(core_gflops(*m)) : "-",
         m ? or_dash(kv_gbytes(*m)) : "-", m ? or_dash(m->number("/gflop_per_s")) : "-",
         m ? or_dash(m->number("/gbyte_per_s")) : "-"});
    bars.series[0].points.push_back({double(bars.series[0].points.size()), macs});
    bars.bar_labels.push_back(r.model + " " + r.variant + (several_dtypes ? " " + r.dtype : ""));
    bars.bar_values.push_back(sig3(macs) + " (" + sig3(paper_intensity(r.config, r.form)) + ")");
    lo = std::min(lo, macs), hi = std::max(hi, macs);
    if (r.decode.empty()) continue;
    Series points{r.model + " " + r.variant + (several_dtypes ? " " + r.dtype : ""), {}, 0, 0};
    for (const ResultCase* c : r.decode) {
      const CoreIntensity at = core_intensity(r.config, r.form, c->context(), 1);
      points.points.push_back({at.flops_per_cache_byte(r.element_bytes), core_gflops(*c)});
    }
    achieved.series.push_back(std::move(points));
  }
  s.table(std::move(t));
  bars.yrange = std::make_pair(lo / 3, hi * 6);
  s.figure(std::move(bars),
           "Multiply-adds of the attention core per cached element a decode step reads, exact "
           "from each layer's shape at the longest measured context; in brackets the paper's "
           "2 g_q / m_kv. Every step up the axis is that much more work per byte of KV cache.");
  if (achieved.data_points() > 0)
    s.figure(std::move(achieved),
             "Each timed decode case at its modelled intensity (attention FLOPs per KV-cache "
             "byte) against the attention FLOP/s it achieved (modelled attention FLOPs / median "
             "latency of the whole layer step, projections included, so a lower bound), "
             "log-log: while decode is memory-bound, achieved FLOP/s grows with intensity.");
  else
    s.note("No decode case ran in these results: no measured figures.");
  return s;
}

}  // namespace attnlab::reports
