// Building and writing a report; see report.h.
#include "reports/report.h"

#include <cmath>
#include <filesystem>
#include <variant>

#include "core/error.h"
#include "io/atomic_file.h"
#include "reports/baseline.h"
#include "reports/format.h"
#include "reports/gnuplot_runner.h"
#include "reports/render.h"
#include "reports/sections.h"

namespace attnlab::reports {

namespace fs = std::filesystem;

namespace {

void write_file(const fs::path& path, const std::string& text) {
  AtomicFile file(path.string());
  file.stream() << text;
  file.commit();
}

void make_directory(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    throw Error(dir.string() + ": cannot create the report directory (" +
                (ec ? ec.message() : std::string("exists and is not a directory")) + ")");
}

}  // namespace

std::string default_out_dir(const std::string& first_input) {
  return (fs::path("reports") / "out" / fs::path(first_input).stem()).string();
}

namespace {

Document build_document(const std::vector<ResultsFile>& files,
                        const std::optional<ResultsFile>& baseline,
                        const std::optional<BaselineComparison>& comparison,
                        const ReportOptions& o) {
  Document doc;
  doc.title = "attnlab report: ";
  for (size_t i = 0; i < files.size(); ++i) doc.title += (i ? ", " : "") + files[i].sweep();
  std::string inputs;
  for (const ResultsFile& f : files)
    inputs += (inputs.empty() ? "" : ", ") + f.label + " " + f.path;
  doc.intro.push_back(
      "Attention variants (MHA, GQA, MQA, GTA, and MLA and GLA naive and absorb) measured by "
      "`attnlab sweep`: "
      "what each caches, how fast each runs against the limits of the machine, and how close "
      "each is to the fp64 reference. Every time is of one layer (projections and attention), "
      "on the CPU threads given. Results: " +
      inputs + ".");
  if (baseline)
    doc.intro.push_back("Compared with the baseline " + baseline->path + " (last section).");
  std::vector<ResultsFile> described = files;  // the runs section describes the baseline too
  if (baseline) described.push_back(*baseline);
  doc.sections.push_back(runs_section(described));
  doc.sections.push_back(kv_section(files, o.kv_context));
  doc.sections.push_back(decode_section(files));
  doc.sections.push_back(prefill_section(files));
  doc.sections.push_back(roofline_section(files));
  doc.sections.push_back(intensity_section(files));
  doc.sections.push_back(mla_section(files));
  doc.sections.push_back(accuracy_section(files));
  if (comparison) doc.sections.push_back(baseline_section(*comparison, o.fail_on_regression_pct));
  return doc;
}

// Says what was compared; returns the exit code (1: a regression above --fail-on-regression).
int judge_baseline(const BaselineComparison& cmp, const ReportOptions& o, std::ostream& log) {
  using V = CaseChange::Verdict;
  log << "attnlab: vs baseline " << cmp.baseline_path << ": " << cmp.count(V::regression)
      << " regression(s), " << cmp.count(V::improvement) << " improvement(s), "
      << cmp.count(V::no_change) << " unchanged, " << cmp.count(V::untestable)
      << " with too few repetitions to test\n";
  if (!o.fail_on_regression_pct) return 0;
  if (const int untested = cmp.count(V::untestable))
    log << "attnlab: warning: " << untested << " case(s) have fewer than " << kMinRepetitionsForTest
        << " repetitions on a side; --fail-on-regression cannot judge them\n";
  const auto failing = cmp.regressions_over(*o.fail_on_regression_pct);
  for (const CaseChange* c : failing)
    log << "attnlab: REGRESSION " << c->label << " " << c->name << ": "
        << signed_percent(c->change_pct) << " (p = " << format("%.4f", c->test.p_value) << ")\n";
  return failing.empty() ? 0 : 1;
}

}  // namespace

int run_report(const ReportOptions& o, std::ostream& log) {
  if (o.inputs.empty()) throw Error("report needs at least one results file");
  if (o.fail_on_regression_pct && o.baseline.empty())
    throw Error("--fail-on-regression needs --baseline OLD.json to compare with");
  if (o.fail_on_regression_pct &&
      (!std::isfinite(*o.fail_on_regression_pct) || *o.fail_on_regression_pct < 0))
    throw Error("--fail-on-regression must be a percentage >= 0");
  if (o.kv_context < 1) throw Error("--context must be at least 1");

  // Everything is read and checked before anything is written.
  std::vector<ResultsFile> files;
  for (size_t i = 0; i < o.inputs.size(); ++i)
    files.push_back(load_results_file(o.inputs[i], "[" + std::to_string(i + 1) + "]"));
  std::optional<ResultsFile> baseline;
  if (!o.baseline.empty()) baseline = load_results_file(o.baseline, "[baseline]");
  std::optional<BaselineComparison> comparison;
  if (baseline) comparison = compare_with_baseline(files, *baseline);
  Document doc = build_document(files, baseline, comparison, o);

  GnuplotRunner gnuplot;
  std::vector<const Figure*> figures;
  for (Section& s : doc.sections)
    for (Block& b : s.blocks)
      if (auto* f = std::get_if<Figure>(&b)) {
        gnuplot.draw(*f);
        figures.push_back(f);
      }

  const fs::path out = o.out_dir.empty() ? default_out_dir(o.inputs.front()) : o.out_dir;
  make_directory(out);
  int drawn = 0;
  for (const Figure* f : figures)
    if (!f->svg.empty()) {
      if (drawn++ == 0) make_directory(out / "charts");
      write_file(out / f->file(), f->svg);
    }
  write_file(out / "report.md", render_markdown(doc));
  write_file(out / "report.html", render_html(doc));

  log << "attnlab: report written to " << (out / "report.html").string() << " and "
      << (out / "report.md").string() << " (" << drawn << " of " << figures.size()
      << " charts drawn" << (gnuplot.available() ? "" : "; gnuplot not found on PATH") << ")\n";
  for (const Figure* f : figures)
    if (f->svg.empty())
      log << "attnlab: chart '" << f->spec.title << "' skipped: " << f->skipped << "\n";
  return comparison ? judge_baseline(*comparison, o, log) : 0;
}

}  // namespace attnlab::reports
