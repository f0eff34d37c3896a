// `attnlab report RESULTS.json... [--out DIR] [--baseline OLD.json] [--fail-on-regression PCT]
// [--context N]`: a Markdown summary, a self-contained HTML page and SVG charts (gnuplot) from
// sweep results files, optionally compared with an older run (docs/REPORTS.md). Reads results
// files only; exit 1 when --fail-on-regression finds a significant regression above PCT.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "reports/report.h"

namespace attnlab::cli {

Command add_report_command(CLI::App& root) {
  auto* app = root.add_subcommand(
      "report", "Markdown + HTML report with charts from sweep results files (runs nothing)");
  auto o = std::make_shared<reports::ReportOptions>();
  auto fail_pct = std::make_shared<double>(0);
  app->add_option("results", o->inputs, "Results files written by `attnlab sweep` or `merge`")
      ->required();
  app->add_option("--out", o->out_dir,
                  "Output directory (default reports/out/<name of the first results file>)");
  app->add_option("--baseline", o->baseline,
                  "Older results file: per-case change with a Mann-Whitney U test");
  auto* fail = app->add_option("--fail-on-regression", *fail_pct,
                               "Exit 1 when a significant regression is slower by more than "
                               "PCT percent (needs --baseline)")
                   ->check(CLI::Range(0.0, 1e9));
  app->add_option("--context", o->kv_context,
                  "Context of the KV-cache table's 'at N tokens' column (default 32768)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  return {app, [o, fail, fail_pct]() {
            if (fail->count() > 0) o->fail_on_regression_pct = *fail_pct;
            return reports::run_report(*o, std::cout);
          }};
}

}  // namespace attnlab::cli
