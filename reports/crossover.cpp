// Crossover of the absorb/naive latency ratio; see crossover.h.
#include "reports/crossover.h"

#include <algorithm>
#include <cmath>

#include "reports/format.h"

namespace attnlab::reports {

CrossoverResult find_crossover(std::vector<RatioPoint> points) {
  CrossoverResult r;
  if (points.empty()) return r;
  std::sort(points.begin(), points.end(),
            [](const RatioPoint& a, const RatioPoint& b) { return a.length < b.length; });
  r.first_length = points.front().length;
  r.last_length = points.back().length;
  const auto wins = [](const RatioPoint& p) { return p.ratio < 1; };
  if (std::all_of(points.begin(), points.end(), wins)) {
    r.kind = CrossoverResult::Kind::absorb_always;
    return r;
  }
  if (std::none_of(points.begin(), points.end(), wins)) {
    r.kind = CrossoverResult::Kind::absorb_never;
    return r;
  }
  r.kind = CrossoverResult::Kind::crosses;
  for (size_t i = 1; i < points.size(); ++i) {
    const RatioPoint& a = points[i - 1];
    const RatioPoint& b = points[i];
    if (wins(a) == wins(b)) continue;
    // ratio - 1 is linear in log(length) between the two measurements; find its zero.
    const double t = (a.ratio - 1) / (a.ratio - b.ratio);
    const double log_length = std::log(a.length) + t * (std::log(b.length) - std::log(a.length));
    r.crossings.push_back({std::exp(log_length), wins(b), a.length, b.length});
  }
  return r;
}

std::string describe(const CrossoverResult& r, const std::string& what) {
  const auto tokens = [](double n) { return thousands(std::llround(n)); };
  const std::string span =
      r.first_length == r.last_length
          ? "at " + tokens(r.first_length) + " tokens"
          : tokens(r.first_length) + " to " + tokens(r.last_length) + " tokens";
  switch (r.kind) {
    case CrossoverResult::Kind::no_data:
      return "No naive/absorb pair was measured.";
    case CrossoverResult::Kind::absorb_always:
      return "absorb wins at every measured " + what + " (" + span + ").";
    case CrossoverResult::Kind::absorb_never:
      return "absorb never wins: naive is faster at every measured " + what + " (" + span + ").";
    case CrossoverResult::Kind::crosses:
      break;
  }
  std::string text;
  for (const Crossing& c : r.crossings) {
    if (!text.empty()) text += "; ";
    text += std::string(c.absorb_starts ? "absorb starts to win" : "naive wins again") +
            " at about " + tokens(c.length) + " tokens of " + what +
            " (interpolated between the measured " + tokens(c.below) + " and " + tokens(c.above) +
            ")";
  }
  if (!r.crossings.empty() && !r.crossings.front().absorb_starts)
    text = "absorb wins at the shortest measured " + what + " (" + tokens(r.first_length) +
           " tokens); " + text;
  return text + ".";
}

}  // namespace attnlab::reports
