// "Accuracy": the verification the sweep ran before timing each implementation — NMSE and
// largest absolute error of the layer output against the fp64 reference — per model, variant,
// backend and KV dtype. See sections.h.
#include <cmath>
#include <map>

#include "reports/format.h"
#include "reports/sections.h"
#include "reports/series_naming.h"

namespace attnlab::reports {

Section accuracy_section(const std::vector<ResultsFile>& files) {
  Section s{"accuracy", "Accuracy against the fp64 reference", {}};
  s.paragraph(
      "Before timing an implementation the sweep runs it on a reduced shape of the same layer "
      "(prefill and decode) with the same weights and inputs as the fp64 reference and compares "
      "the outputs: NMSE = sum (out - ref)^2 / sum ref^2, and the largest absolute difference; "
      "the worse of prefill and decode is shown. PASS means within the tolerance of the KV dtype "
      "(docs/VERIFICATION.md); a FAIL is not timed.");
  struct Row {
    std::string label, model, variant, backend, dtype, status, shape, detail;
    double nmse = NAN, max_abs = NAN;
  };
  std::map<std::string, Row> rows;
  std::vector<std::string> order;
  const bool several_files = files.size() > 1;
  int unverified = 0;
  for (const ResultsFile& f : files)
    for (const ResultCase& c : f.cases) {
      if (!c.info.contains("verify") || !c.info["verify"].is_object()) {
        ++unverified;
        continue;
      }
      const std::string key =
          f.label + "|" + c.model() + "|" + c.impl() + "|" + c.backend() + "|" + c.dtype();
      if (rows.count(key)) continue;
      const nlohmann::json& v = c.info["verify"];
      order.push_back(key);
      rows[key] = {f.label,
                   c.model(),
                   variant_name(c),
                   c.backend(),
                   c.dtype(),
                   v.value("status", "?"),
                   v.value("shape", "-"),
                   v.value("detail", ""),
                   c.number("/verify/nmse"),
                   c.number("/verify/max_abs_error")};
    }
  if (rows.empty()) {
    s.note("These results hold no verification (the sweeps ran with \"verify\": false).");
    return s;
  }
  Table t{{"model", "variant", "backend", "KV dtype", "verify", "NMSE", "max abs error",
           "checked on", "detail"},
          "lllllrrll",
          {}};
  if (several_files) {
    t.header.insert(t.header.begin(), "results");
    t.align.insert(t.align.begin(), 'l');
  }
  ChartSpec chart;
  chart.id = "accuracy-nmse";
  chart.title = "NMSE against the fp64 reference (log scale)";
  chart.xlabel = "implementation";
  chart.ylabel = "NMSE of the layer output";
  chart.kind = ChartSpec::Kind::bars;
  chart.logy = true;
  chart.series.push_back({"NMSE", {}, 0, 0});
  int zero = 0;
  double lo = INFINITY, hi = 0;
  for (const std::string& key : order) {
    const Row& r = rows[key];
    std::vector<std::string> cells = {r.model,  r.variant,       r.backend,          r.dtype,
                                      r.status, or_dash(r.nmse), or_dash(r.max_abs), r.shape,
                                      r.detail};
    if (several_files) cells.insert(cells.begin(), r.label);
    t.rows.push_back(std::move(cells));
    if (r.nmse > 0 && std::isfinite(r.nmse)) {
      chart.series[0].points.push_back({double(chart.series[0].points.size()), r.nmse});
      chart.bar_labels.push_back((several_files ? r.label + " " : "") + r.model + " " + r.variant +
                                 " " + r.backend + " " + r.dtype);
      chart.bar_values.push_back(format("%.1e", r.nmse));
      lo = std::min(lo, r.nmse), hi = std::max(hi, r.nmse);
    } else if (r.nmse == 0) {
      ++zero;
    }
  }
  s.table(std::move(t));
  if (!chart.series[0].points.empty()) {
    chart.yrange = std::make_pair(lo / 10, hi * 30);
    s.figure(
        std::move(chart),
        "Normalised mean squared error of each implementation's output against the fp64 "
        "reference, one bar per model, variant, backend and KV dtype, on a log scale; lower is "
        "closer to exact, and each step down the axis is 10x smaller. Whether it is within "
        "the tolerance of its dtype is the table's verify column.");
  }
  if (zero > 0)
    s.note(std::to_string(zero) +
           " implementation(s) matched the reference exactly (NMSE 0) and have no bar on the log "
           "scale.");
  if (unverified > 0) s.note(std::to_string(unverified) + " case(s) carry no verification record.");
  return s;
}

}  // namespace attnlab::reports
