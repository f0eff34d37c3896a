// "MLA and GLA naive vs absorb": for every MLA or GLA model measured in both forms under the
// same settings, the latency ratio absorb / naive against the context (decode) and the sequence
// length (prefill), and the length where absorb starts to win (crossover.h). See sections.h.
#include <map>

#include "reports/crossover.h"
#include "reports/format.h"
#include "reports/sections.h"
#include "reports/series_naming.h"

namespace attnlab::reports {

namespace {

struct Pair {
  const ResultCase* naive = nullptr;
  const ResultCase* absorb = nullptr;
};

struct PairSeries {
  std::string name;
  std::map<int64_t, Pair> by_length;
};

}  // namespace

Section mla_section(const std::vector<ResultsFile>& files) {
  Section s{"mla", "MLA and GLA: naive vs absorb", {}};
  s.paragraph(
      "MLA and GLA (MLA with grouped latent heads) can each run in two forms that compute the "
      "same function: naive up-projects the cached "
      "latent to full per-head keys and values; absorb folds the up-projections into the query "
      "and the output and attends over the compressed latent directly (less memory traffic, "
      "more arithmetic per cached token). The ratio is absorb latency / naive latency of the "
      "same model, settings and length: below 1, absorb is faster.");
  const auto cases = select_cases(files, [](const ResultCase& c) {
    return c.ok() && (c.impl() == "naive" || c.impl() == "absorb");
  });
  bool any = false;
  for (const std::string phase : {"decode", "prefill"}) {
    std::vector<CaseRef> in_phase;
    for (const CaseRef& r : cases)
      if (r.c->phase() == phase) in_phase.push_back(r);
    const SeriesNamer namer(in_phase);
    std::map<std::string, PairSeries> series;  // by series key without the form
    std::vector<std::string> order;
    for (const CaseRef& r : in_phase) {
      const std::string form = r.c->impl();
      std::string key = namer.key(r);
      key.replace(key.find("|" + form + "|"), form.size() + 2, "|");
      if (!series.count(key)) {
        order.push_back(key);
        std::string name = namer.name(r);
        name.replace(name.find(" " + form), form.size() + 1, "");
        series[key].name = name;
      }
      const int64_t length = phase == "decode" ? r.c->context() : r.c->new_tokens();
      Pair& p = series[key].by_length[length];
      (form == "naive" ? p.naive : p.absorb) = r.c;
    }
    const std::string what = phase == "decode" ? "context" : "sequence length";
    ChartSpec chart;
    chart.id = "mla-ratio-" + phase;
    chart.title = "Latent attention absorb / naive latency, " + phase;
    chart.xlabel = phase == "decode" ? "context (cached tokens)" : "sequence length (tokens)";
    chart.ylabel = "latency ratio absorb / naive";
    chart.logx = chart.logy = true;
    chart.logx_base = 2;
    Table t{{"series", what, "naive ms", "absorb ms", "absorb / naive", "faster"}, "lrrrrl", {}};
    std::vector<std::string> verdicts;
    for (const std::string& key : order) {
      const PairSeries& ps = series[key];
      Series points{ps.name, {}, 0, 0};
      std::vector<RatioPoint> ratios;
      for (const auto& [length, p] : ps.by_length) {
        if (!p.naive || !p.absorb) continue;
        const double naive = p.naive->number("/latency_ms_median");
        const double absorb = p.absorb->number("/latency_ms_median");
        if (!(naive > 0) || !(absorb > 0)) continue;
        ratios.push_back({double(length), absorb / naive});
        points.points.push_back({double(length), absorb / naive});
        t.rows.push_back({ps.name, thousands(length), sig3(naive), sig3(absorb),
                          format("%.3f", absorb / naive), absorb < naive ? "absorb" : "naive"});
      }
      if (ratios.empty()) continue;
      verdicts.push_back(ps.name + ", " + phase + ": " + describe(find_crossover(ratios), what));
      chart.series.push_back(std::move(points));
    }
    if (chart.series.empty()) continue;
    any = true;
    double lo = 1, hi = 1;
    for (const Series& se : chart.series)
      for (const auto& [x, y] : se.points) lo = std::min(lo, y), hi = std::max(hi, y);
    chart.yrange = std::make_pair(lo / 1.5, hi * 1.5);
    chart.curves.push_back({"1", "equal (ratio 1)"});
    s.figure(std::move(chart),
             "Latency of the absorb form divided by the naive form (MLA, GLA) against the " + what +
                 " (" + phase +
                 "), log-log; below the dashed line at 1 absorb is faster. Where a series crosses "
                 "the line is the crossover " +
                 what + ".");
    for (const std::string& v : verdicts) s.paragraph(v);
    s.table(std::move(t));
  }
  if (!any)
    s.note(
        "No MLA or GLA model was timed in both forms under the same settings in these results, so "
        "there "
        "is no ratio to show.");
  return s;
}

}  // namespace attnlab::reports
