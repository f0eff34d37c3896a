// "Decode" and "Prefill": median latency and throughput of the timed cases against context
// (decode, log-log) and sequence length (prefill), one series per model, variant and setting.
// See sections.h.
#include <algorithm>
#include <cmath>
#include <map>

#include "reports/format.h"
#include "reports/sections.h"
#include "reports/series_naming.h"

namespace attnlab::reports {

namespace {

struct Grouped {
  std::vector<std::string> order;                     // series keys in first-seen order
  std::map<std::string, std::string> names;           // key -> legend name
  std::map<std::string, std::vector<CaseRef>> cases;  // key -> cases, by length
};

int64_t length_of(const ResultCase& c) {
  return c.phase() == "decode" ? c.context() : c.new_tokens();
}

Grouped group(const std::vector<CaseRef>& cases, const SeriesNamer& namer) {
  Grouped g;
  for (const CaseRef& r : cases) {
    const std::string key = namer.key(r);
    if (!g.cases.count(key)) {
      g.order.push_back(key);
      g.names[key] = namer.name(r);
    }
    g.cases[key].push_back(r);
  }
  for (auto& [key, list] : g.cases)
    std::stable_sort(list.begin(), list.end(), [](const CaseRef& a, const CaseRef& b) {
      return length_of(*a.c) < length_of(*b.c);
    });
  return g;
}

// A chart of `pointer` (a field of info) against the length, one series per group.
ChartSpec chart_of(const Grouped& g, const std::string& pointer) {
  ChartSpec chart;
  chart.kind = ChartSpec::Kind::lines;
  chart.logx = true;
  chart.logx_base = 2;
  for (const std::string& key : g.order) {
    Series s{g.names.at(key), {}, 0, 0};
    for (const CaseRef& r : g.cases.at(key))
      s.points.push_back({double(length_of(*r.c)), r.c->number(pointer)});
    chart.series.push_back(std::move(s));
  }
  return chart;
}

// Log scale on y when the values span more than a factor 20.
bool wide_range(const ChartSpec& chart) {
  double lo = INFINITY, hi = 0;
  for (const Series& s : chart.series)
    for (const auto& [x, y] : s.points)
      if (y > 0 && std::isfinite(y)) lo = std::min(lo, y), hi = std::max(hi, y);
  return hi > 20 * lo;
}

std::string shared_sentence(const SeriesNamer& namer) {
  const std::string shared = namer.shared();
  return shared.empty() ? "" : " All cases: " + shared + ".";
}

}  // namespace

Section decode_section(const std::vector<ResultsFile>& files) {
  Section s{"decode", "Decode: latency and tokens/s vs context", {}};
  const auto cases =
      select_cases(files, [](const ResultCase& c) { return c.ok() && c.phase() == "decode"; });
  s.paragraph(
      "One decode step of one layer: one new token per sequence attends over `context` cached "
      "tokens, including the layer's projections (Q, K/V or latent, output). Latency is the "
      "median over the repetitions; p10 and p90 show the spread. tokens/s = batch / latency.");
  if (cases.empty()) {
    s.note("No decode case ran in these results.");
    return s;
  }
  const SeriesNamer namer(cases);
  const Grouped g = group(cases, namer);
  ChartSpec latency = chart_of(g, "/latency_ms_median");
  latency.id = "decode-latency";
  latency.title = "Decode step latency vs context (log-log)";
  latency.xlabel = "context (cached tokens)";
  latency.ylabel = "median latency per step (ms)";
  latency.logy = true;
  s.figure(std::move(latency),
           "Median time of one decode step against the number of cached tokens, both axes "
           "logarithmic: a flat line means the step is dominated by the projections (weights), a "
           "line rising with slope 1 means it is dominated by reading the KV cache." +
               shared_sentence(namer));
  ChartSpec throughput = chart_of(g, "/tokens_per_s");
  throughput.id = "decode-tokens-per-s";
  throughput.title = "Decode throughput vs context";
  throughput.xlabel = "context (cached tokens)";
  throughput.ylabel = "tokens per second (one layer)";
  throughput.logy = wide_range(throughput);
  s.figure(std::move(throughput),
           "Tokens generated per second by one layer (batch / median step latency) against the "
           "context; higher is better." +
               shared_sentence(namer));
  Table t{{"series", "context", "median ms", "p10 ms", "p90 ms", "tokens/s", "GB/s", "GFLOP/s"},
          "lrrrrrrr",
          {}};
  for (const std::string& key : g.order)
    for (const CaseRef& r : g.cases.at(key))
      t.rows.push_back(
          {g.names.at(key), thousands(r.c->context()), or_dash(r.c->number("/latency_ms_median")),
           or_dash(r.c->number("/latency_ms_p10")), or_dash(r.c->number("/latency_ms_p90")),
           or_dash(r.c->number("/tokens_per_s")), or_dash(r.c->number("/gbyte_per_s")),
           or_dash(r.c->number("/gflop_per_s"))});
  s.table(std::move(t));
  return s;
}

Section prefill_section(const std::vector<ResultsFile>& files) {
  Section s{"prefill", "Prefill: throughput vs sequence length", {}};
  const auto cases =
      select_cases(files, [](const ResultCase& c) { return c.ok() && c.phase() == "prefill"; });
  s.paragraph(
      "A prefill of one layer: `seq` new tokens per sequence on an empty cache, causal, with the "
      "projections. Throughput is batch x seq / median latency.");
  if (cases.empty()) {
    s.note("No prefill case ran in these results.");
    return s;
  }
  const SeriesNamer namer(cases);
  const Grouped g = group(cases, namer);
  ChartSpec throughput = chart_of(g, "/tokens_per_s");
  throughput.id = "prefill-tokens-per-s";
  throughput.title = "Prefill throughput vs sequence length";
  throughput.xlabel = "sequence length (tokens)";
  throughput.ylabel = "tokens per second (one layer)";
  throughput.logy = wide_range(throughput);
  s.figure(std::move(throughput),
           "Tokens processed per second by one layer in a prefill against the sequence length "
           "(log scale); higher is better. Throughput falls at long sequences when the causal "
           "attention (quadratic in the length) overtakes the projections (linear)." +
               shared_sentence(namer));
  Table t{{"series", "seq", "median ms", "p10 ms", "p90 ms", "tokens/s", "GFLOP/s"}, "lrrrrrr", {}};
  for (const std::string& key : g.order)
    for (const CaseRef& r : g.cases.at(key))
      t.rows.push_back(
          {g.names.at(key), thousands(r.c->new_tokens()),
           or_dash(r.c->number("/latency_ms_median")), or_dash(r.c->number("/latency_ms_p10")),
           or_dash(r.c->number("/latency_ms_p90")), or_dash(r.c->number("/tokens_per_s")),
           or_dash(r.c->number("/gflop_per_s"))});
  s.table(std::move(t));
  return s;
}

}  // namespace attnlab::reports
