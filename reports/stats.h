// Statistics for comparing two runs: the median, and the two-sided Mann-Whitney U test over the
// repetitions of one case in each run — the test Google Benchmark's tools/compare.py applies.
// Normal approximation with tie correction and continuity correction (scipy's
// mannwhitneyu(..., alternative="two-sided", method="asymptotic")).
#pragma once

#include <vector>

namespace attnlab::reports {

double median(std::vector<double> values);  // NaN for an empty list

struct MannWhitney {
  bool possible = false;  // false when a side has fewer than the minimum repetitions
  int n1 = 0, n2 = 0;
  double u = 0;        // U statistic of the first sample (ranks of `a` minus n1(n1+1)/2)
  double z = 0;        // standardised max(U1, U2), continuity-corrected
  double p_value = 1;  // two-sided; 1 when every value is tied
};

constexpr int kMinRepetitionsForTest = 3;
constexpr double kSignificanceAlpha = 0.05;

MannWhitney mann_whitney_u(const std::vector<double>& a, const std::vector<double>& b,
                           int min_per_side = kMinRepetitionsForTest);

}  // namespace attnlab::reports
