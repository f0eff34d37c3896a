// MLA naive vs absorb: where along the context (or sequence length) the absorb form starts to
// beat the naive form. Input is the latency ratio absorb / naive at each measured length (below
// 1: absorb is faster); crossings are interpolated linearly in log(length), the scale the
// sweeps space their lengths on.
#pragma once

#include <string>
#include <vector>

namespace attnlab::reports {

struct RatioPoint {
  double length = 0;  // context (decode) or sequence length (prefill), tokens
  double ratio = 0;   // absorb latency / naive latency
};

struct Crossing {
  double length = 0;            // interpolated length where the ratio passes 1
  bool absorb_starts = false;   // true: absorb wins from here on; false: naive wins again from here
  double below = 0, above = 0;  // the measured lengths either side
};

struct CrossoverResult {
  enum class Kind { no_data, absorb_always, absorb_never, crosses } kind = Kind::no_data;
  std::vector<Crossing> crossings;  // in increasing length (kind == crosses)
  double first_length = 0, last_length = 0;
};

// Points in any order; lengths must be positive. A ratio of exactly 1 is not a win.
CrossoverResult find_crossover(std::vector<RatioPoint> points);

// One sentence, e.g. "absorb starts to win at about 3,100 tokens of context (interpolated
// between the measured 2,048 and 4,096)." `what` names the length ("context", "sequence length").
std::string describe(const CrossoverResult& result, const std::string& what);

}  // namespace attnlab::reports
