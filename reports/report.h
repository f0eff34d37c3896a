// `attnlab report`: reads results files (never runs a benchmark), builds the report's sections,
// has gnuplot draw the charts, and writes <out>/report.md, <out>/report.html and
// <out>/charts/*.svg, each through a temporary file and a rename (io/atomic_file.h).
// docs/REPORTS.md describes what a report shows.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace attnlab::reports {

struct ReportOptions {
  std::vector<std::string> inputs;  // results files
  std::string out_dir;              // default reports/out/<stem of the first input>
  std::string baseline;             // older results file to compare with ("" = none)
  std::optional<double> fail_on_regression_pct;
  int64_t kv_context = 32768;  // the context of the KV table's "at N tokens" column
};

// Writes the report and says what it wrote on `log`. Returns the exit code: 0, or 1 when
// --fail-on-regression is given and a significant regression exceeds it. Throws attnlab::Error
// (naming the input) for a missing, unreadable or foreign file and for bad options, before
// anything is written.
int run_report(const ReportOptions& options, std::ostream& log);

// "reports/out/<stem>" for the first input.
std::string default_out_dir(const std::string& first_input);

}  // namespace attnlab::reports
