// Matching cases with the baseline and testing each change; see baseline.h.
#include "reports/baseline.h"

#include <map>
#include <set>

namespace attnlab::reports {

namespace {

// The repetitions of a case, or its recorded median when the file holds no repetitions.
std::vector<double> times_of(const ResultCase& c) {
  if (!c.repetitions_ms.empty()) return c.repetitions_ms;
  const double m = c.number("/latency_ms_median");
  return m > 0 ? std::vector<double>{m} : std::vector<double>{};
}

}  // namespace

int BaselineComparison::count(CaseChange::Verdict verdict) const {
  int n = 0;
  for (const CaseChange& c : changes) n += c.verdict == verdict;
  return n;
}

std::vector<const CaseChange*> BaselineComparison::regressions_over(double percent) const {
  std::vector<const CaseChange*> out;
  for (const CaseChange& c : changes)
    if (c.verdict == CaseChange::Verdict::regression && c.change_pct > percent) out.push_back(&c);
  return out;
}

std::string to_string(CaseChange::Verdict verdict) {
  switch (verdict) {
    case CaseChange::Verdict::regression:
      return "REGRESSION";
    case CaseChange::Verdict::improvement:
      return "improvement";
    case CaseChange::Verdict::no_change:
      return "no significant change";
    case CaseChange::Verdict::untestable:
      return "too few repetitions to test";
  }
  return "?";
}

BaselineComparison compare_with_baseline(const std::vector<ResultsFile>& files,
                                         const ResultsFile& baseline) {
  BaselineComparison out;
  out.baseline_path = baseline.path;
  std::map<std::string, const ResultCase*> old_cases;
  for (const ResultCase& c : baseline.cases) old_cases.emplace(c.name, &c);
  std::set<std::string> matched;
  for (const ResultsFile& f : files)
    for (const ResultCase& c : f.cases) {
      const auto it = old_cases.find(c.name);
      if (it == old_cases.end()) {
        out.only_new.push_back(f.label + " " + c.name);
        continue;
      }
      matched.insert(c.name);
      const ResultCase& old = *it->second;
      const std::vector<double> before = times_of(old), after = times_of(c);
      if (!old.ok() || !c.ok() || before.empty() || after.empty()) {
        out.not_timed.push_back(f.label + " " + c.name + " (baseline: " + old.status +
                                ", new: " + c.status + ")");
        continue;
      }
      CaseChange change;
      change.label = f.label;
      change.name = c.name;
      change.old_ms = median(before);
      change.new_ms = median(after);
      change.change_pct = (change.new_ms - change.old_ms) / change.old_ms * 100;
      change.test = mann_whitney_u(before, after);
      if (!change.test.possible)
        change.verdict = CaseChange::Verdict::untestable;
      else if (change.test.p_value >= kSignificanceAlpha)
        change.verdict = CaseChange::Verdict::no_change;
      else if (change.new_ms > change.old_ms)
        change.verdict = CaseChange::Verdict::regression;
      else if (change.new_ms < change.old_ms)
        change.verdict = CaseChange::Verdict::improvement;
      else
        change.verdict = CaseChange::Verdict::no_change;
      out.changes.push_back(change);
    }
  for (const ResultCase& c : baseline.cases)
    if (!matched.count(c.name)) out.only_old.push_back(c.name);
  return out;
}

}  // namespace attnlab::reports
