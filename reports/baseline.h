// Comparison with an older run (`attnlab report ... --baseline OLD.json`): cases matched by name,
// the change of the median real time, and a two-sided Mann-Whitney U test over the repetitions
// of each side (stats.h) deciding whether the change is significant, as Google Benchmark's
// compare.py does. A significant slowdown is a regression, a significant speedup an
// improvement; `--fail-on-regression PCT` fails on regressions larger than PCT percent.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "reports/document.h"
#include "reports/results_file.h"
#include "reports/stats.h"

namespace attnlab::reports {

struct CaseChange {
  enum class Verdict { regression, improvement, no_change, untestable };
  std::string label;  // the results file of the new side
  std::string name;
  double old_ms = 0, new_ms = 0;  // medians of the repetitions
  double change_pct = 0;          // (new - old) / old * 100: positive is slower
  MannWhitney test;
  Verdict verdict = Verdict::untestable;
};

struct BaselineComparison {
  std::string baseline_path;
  std::vector<CaseChange> changes;     // every case that ran on both sides
  std::vector<std::string> only_new;   // "[1] name": no counterpart in the baseline
  std::vector<std::string> only_old;   // in the baseline but in no new file
  std::vector<std::string> not_timed;  // matched, but not timed on one side (its status)
  int count(CaseChange::Verdict verdict) const;
  // Significant regressions whose slowdown exceeds `percent`.
  std::vector<const CaseChange*> regressions_over(double percent) const;
};

BaselineComparison compare_with_baseline(const std::vector<ResultsFile>& files,
                                         const ResultsFile& baseline);

std::string to_string(CaseChange::Verdict verdict);

Section baseline_section(const BaselineComparison& comparison,
                         std::optional<double> fail_on_regression_pct);

}  // namespace attnlab::reports
