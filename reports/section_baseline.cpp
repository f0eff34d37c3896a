// "Change vs baseline": the table of per-case changes against an older run, regressions and
// improvements first, with the test's p-value and verdict. See baseline.h.
#include <algorithm>
#include <cmath>

#include "reports/baseline.h"
#include "reports/format.h"

namespace attnlab::reports {

namespace {

std::string list(const std::vector<std::string>& names, size_t shown = 8) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < shown; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > shown) out += " and " + std::to_string(names.size() - shown) + " more";
  return out;
}

int rank(CaseChange::Verdict v) {
  switch (v) {
    case CaseChange::Verdict::regression:
      return 0;
    case CaseChange::Verdict::improvement:
      return 1;
    case CaseChange::Verdict::no_change:
      return 2;
    case CaseChange::Verdict::untestable:
      return 3;
  }
  return 4;
}

}  // namespace

Section baseline_section(const BaselineComparison& cmp, std::optional<double> fail_pct) {
  Section s{"baseline", "Change vs baseline", {}};
  using V = CaseChange::Verdict;
  s.paragraph("Each case against the case of the same name in the baseline " + cmp.baseline_path +
              ": the change of the median real time over the repetitions (positive = slower), "
              "and a two-sided Mann-Whitney U test over the repetitions of both runs (normal "
              "approximation with tie and continuity correction, as Google Benchmark's "
              "compare.py). A change is significant when p < " +
              format("%.2f", kSignificanceAlpha) +
              "; a significant slowdown is a REGRESSION. "
              "The test needs at least " +
              std::to_string(kMinRepetitionsForTest) +
              " repetitions on each side, and with only 3 per side it can never reach p < 0.05: "
              "give the sweep \"repetitions\": 9 or more for a dependable verdict.");
  s.paragraph(std::to_string(cmp.changes.size()) +
              " case(s) compared: " + std::to_string(cmp.count(V::regression)) +
              " regression(s), " + std::to_string(cmp.count(V::improvement)) + " improvement(s), " +
              std::to_string(cmp.count(V::no_change)) + " without significant change, " +
              std::to_string(cmp.count(V::untestable)) + " with too few repetitions to test.");
  if (fail_pct) {
    const auto failing = cmp.regressions_over(*fail_pct);
    s.note(failing.empty()
               ? "--fail-on-regression " + format("%g", *fail_pct) +
                     ": no significant regression exceeds " + format("%g%%", *fail_pct) + "."
               : "--fail-on-regression " + format("%g", *fail_pct) + ": " +
                     std::to_string(failing.size()) + " significant regression(s) exceed " +
                     format("%g%%", *fail_pct) + "; the command exits 1.");
  }
  std::vector<const CaseChange*> rows;
  for (const CaseChange& c : cmp.changes) rows.push_back(&c);
  std::stable_sort(rows.begin(), rows.end(), [](const CaseChange* a, const CaseChange* b) {
    if (rank(a->verdict) != rank(b->verdict)) return rank(a->verdict) < rank(b->verdict);
    return std::fabs(a->change_pct) > std::fabs(b->change_pct);
  });
  Table t{
      {"results", "case", "baseline ms", "new ms", "change", "repetitions", "p-value", "verdict"},
      "llrrrrrl",
      {}};
  for (const CaseChange* c : rows)
    t.rows.push_back(
        {c->label, c->name, sig3(c->old_ms), sig3(c->new_ms), signed_percent(c->change_pct),
         std::to_string(c->test.n1) + " vs " + std::to_string(c->test.n2),
         c->test.possible ? format("%.4f", c->test.p_value) : "-", to_string(c->verdict)});
  if (!t.rows.empty()) s.table(std::move(t));
  if (!cmp.not_timed.empty())
    s.note("Not compared (not timed on one side): " + list(cmp.not_timed) + ".");
  if (!cmp.only_new.empty()) s.note("New cases, not in the baseline: " + list(cmp.only_new) + ".");
  if (!cmp.only_old.empty())
    s.note("Baseline cases missing from the new results: " + list(cmp.only_old) + ".");
  return s;
}

}  // namespace attnlab::reports
