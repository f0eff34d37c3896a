// Median and Mann-Whitney U; see stats.h.
#include "reports/stats.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace attnlab::reports {

double median(std::vector<double> values) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

MannWhitney mann_whitney_u(const std::vector<double>& a, const std::vector<double>& b,
                           int min_per_side) {
  MannWhitney r;
  r.n1 = static_cast<int>(a.size());
  r.n2 = static_cast<int>(b.size());
  if (r.n1 < min_per_side || r.n2 < min_per_side) return r;
  r.possible = true;

  // Pool both samples (value, from a?), sort, and give tied values their average rank.
  std::vector<std::pair<double, bool>> pooled;
  for (double v : a) pooled.push_back({v, true});
  for (double v : b) pooled.push_back({v, false});
  std::sort(pooled.begin(), pooled.end(),
            [](const auto& x, const auto& y) { return x.first < y.first; });
  const double n = static_cast<double>(pooled.size());
  double rank_sum_a = 0, tie_term = 0;
  for (size_t i = 0; i < pooled.size();) {
    size_t j = i;
    while (j < pooled.size() && pooled[j].first == pooled[i].first) ++j;
    const double t = static_cast<double>(j - i);
    const double average_rank = 0.5 * (static_cast<double>(i + 1) + static_cast<double>(j));
    for (size_t k = i; k < j; ++k)
      if (pooled[k].second) rank_sum_a += average_rank;
    tie_term += t * t * t - t;
    i = j;
  }
  const double n1 = r.n1, n2 = r.n2;
  r.u = rank_sum_a - n1 * (n1 + 1) / 2;
  const double u_max = std::max(r.u, n1 * n2 - r.u);
  const double mean = n1 * n2 / 2;
  const double variance = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)));
  if (variance <= 0) return r;  // every value tied: no evidence of a difference, p = 1
  r.z = (u_max - mean - 0.5) / std::sqrt(variance);
  r.p_value = std::min(1.0, std::erfc(r.z / std::sqrt(2.0)));  // 2 * (1 - Phi(z))
  return r;
}

}  // namespace attnlab::reports
