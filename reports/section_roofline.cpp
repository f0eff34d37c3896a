// "Roofline": every timed case as a point at its arithmetic intensity (modelled FLOPs / modelled
// bytes, variants/cost_model) against the FLOP/s it achieved, under the ceilings of the machine
// it ran on: bandwidth x intensity up to the GEMM peak, both measured by the sweep's calibration.
// See sections.h.
#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "reports/format.h"
#include "reports/sections.h"
#include "reports/series_naming.h"

namespace attnlab::reports {

namespace {

struct Ceiling {
  std::string label;  // "[1]"
  int64_t threads = 0;
  double gbps = 0, gflops = 0;
  double ridge() const { return gflops / gbps; }  // FLOP/byte where the two ceilings meet
};

double intensity_of(const ResultCase& c) {
  const double stored = c.number("/cost/intensity_flop_per_byte");
  if (std::isfinite(stored)) return stored;
  const double flops = c.number("/cost/attention_flops") + c.number("/cost/projection_flops");
  const double bytes = c.number("/cost/cache_read_bytes") + c.number("/cost/cache_write_bytes") +
                       c.number("/cost/weight_bytes");
  return flops / bytes;
}

// The calibration block of each file, plus any case whose own ceilings differ from it (a merged
// file keeps the first shard's calibration; each case keeps the one it was timed under).
std::vector<Ceiling> ceilings_of(const std::vector<ResultsFile>& files) {
  std::vector<Ceiling> out;
  const auto add = [&](const std::string& label, int64_t threads, double gbps, double gflops) {
    if (!(gbps > 0) || !(gflops > 0)) return;
    for (const Ceiling& c : out)
      if (c.label == label && c.threads == threads && std::fabs(c.gbps - gbps) < 1e-9 * gbps &&
          std::fabs(c.gflops - gflops) < 1e-9 * gflops)
        return;
    out.push_back({label, threads, gbps, gflops});
  };
  for (const ResultsFile& f : files) {
    const nlohmann::json cal = f.attnlab.value("calibration", nlohmann::json::object());
    for (auto it = cal.begin(); it != cal.end(); ++it)
      if (it->is_object())
        add(f.label, std::atoll(it.key().c_str()), it->value("dram_read_gbps", 0.0),
            it->value("gemm_gflops", 0.0));
    for (const ResultCase& c : f.cases)
      if (c.ok())
        add(f.label, c.threads(), c.number("/roofline/dram_read_gbps"),
            c.number("/roofline/gemm_gflops"));
  }
  return out;
}

}  // namespace

Section roofline_section(const std::vector<ResultsFile>& files) {
  Section s{"roofline", "Roofline", {}};
  s.paragraph(
      "Each timed case is a point: across, its arithmetic intensity (the modelled FLOPs of the "
      "step divided by the modelled bytes it must move: KV cache read and written, fp32 weights); "
      "up, the FLOP/s it achieved. The dashed roof is what the machine allows: a point under the "
      "sloped part (bandwidth x intensity) is memory-bound, under the flat part (the GEMM peak) "
      "compute-bound. The closer a point is to its roof, the less there is left to gain; the "
      "table gives that fraction.");
  const auto cases = select_cases(files, [](const ResultCase& c) {
    return c.ok() && std::isfinite(intensity_of(c)) && c.number("/gflop_per_s") > 0;
  });
  const std::vector<Ceiling> ceilings = ceilings_of(files);
  if (cases.empty()) {
    s.note("No timed case with a cost model in these results.");
    return s;
  }
  ChartSpec chart;
  chart.id = "roofline";
  chart.title = "Roofline: achieved GFLOP/s vs arithmetic intensity";
  chart.xlabel = "arithmetic intensity (FLOP per byte moved, modelled)";
  chart.ylabel = "achieved GFLOP/s";
  chart.kind = ChartSpec::Kind::points;
  chart.logx = chart.logy = true;
  std::map<std::string, size_t> series_of;   // phase + variant -> index
  std::map<std::string, int> variant_index;  // one colour and shape per variant
  const int filled[] = {7, 5, 9, 13, 11}, open[] = {6, 4, 8, 12, 10};
  double xlo = INFINITY, xhi = 0, ylo = INFINITY, yhi = 0;
  const bool several_files = files.size() > 1;
  Table t{
      {"case", "intensity FLOP/B", "GFLOP/s", "GB/s", "bound", "attainable GFLOP/s", "of roofline"},
      "lrrrlrr",
      {}};
  for (const CaseRef& r : cases) {
    const ResultCase& c = *r.c;
    const std::string name =
        (several_files ? r.file->label + " " : "") + c.phase() + " " + variant_name(c);
    if (!series_of.count(name)) {
      const std::string variant = (several_files ? r.file->label : "") + variant_name(c);
      if (!variant_index.count(variant)) variant_index[variant] = int(variant_index.size());
      const int v = variant_index[variant];
      series_of[name] = chart.series.size();
      chart.series.push_back(
          {name, {}, v % 10 + 1, c.phase() == "decode" ? filled[v / 10 % 5] : open[v / 10 % 5]});
    }
    const double x = intensity_of(c), y = c.number("/gflop_per_s");
    chart.series[series_of[name]].points.push_back({x, y});
    xlo = std::min(xlo, x), xhi = std::max(xhi, x), ylo = std::min(ylo, y), yhi = std::max(yhi, y);
    const double gbps = c.number("/roofline/dram_read_gbps");
    const double peak = c.number("/roofline/gemm_gflops");
    t.rows.push_back(
        {(several_files ? r.file->label + " " : "") + c.name, sig3(x), sig3(y),
         or_dash(c.number("/gbyte_per_s")),
         c.info.value(nlohmann::json::json_pointer("/roofline/bound"), std::string("-")),
         or_dash(std::min(peak, gbps * x)),
         format("%.0f%%", 100 * c.number("/roofline_fraction"))});
  }
  for (const Ceiling& c : ceilings) {
    xlo = std::min(xlo, c.ridge()), xhi = std::max(xhi, c.ridge());
    yhi = std::max(yhi, c.gflops);
    const std::string gb = format("%.10g", c.gbps), peak = format("%.10g", c.gflops);
    chart.curves.push_back({"(x*" + gb + " < " + peak + " ? x*" + gb + " : " + peak + ")",
                            (several_files ? c.label + " " : "") + "roof (" +
                                std::to_string(c.threads) +
                                (c.threads == 1 ? " thread" : " threads") + "): " + sig3(c.gbps) +
                                " GB/s, " + sig3(c.gflops) + " GFLOP/s"});
  }
  chart.xrange = std::make_pair(xlo / 3, xhi * 3);
  chart.yrange = std::make_pair(ylo / 3, yhi * 3);
  s.figure(std::move(chart),
           "Every timed case (one colour per variant; filled symbols decode, open prefill) at its "
           "modelled arithmetic "
           "intensity against the FLOP/s it achieved, log-log, under the roof of the machine "
           "and thread count it ran on: the measured DRAM read bandwidth (sloped) and fp32 GEMM "
           "peak (flat).");
  Table roofs{
      {"results", "threads", "DRAM read GB/s", "GEMM GFLOP/s", "ridge point FLOP/B"}, "lrrrr", {}};
  for (const Ceiling& c : ceilings)
    roofs.rows.push_back(
        {c.label, std::to_string(c.threads), sig3(c.gbps), sig3(c.gflops), sig3(c.ridge())});
  s.paragraph(
      "The ceilings, as calibrated; a case whose intensity is below the ridge point cannot reach "
      "the GEMM peak on this machine, however good its kernel:");
  s.table(std::move(roofs));
  s.table(std::move(t));
  return s;
}

}  // namespace attnlab::reports
