// The tolerance policy: one table keyed by the implementation's compute dtype, each bound with
// its reason. A case passes when NMSE <= nmse_bound AND every element satisfies
// |actual - ref| <= atol + |ref| * rtol, and the LSE is within lse_atol.
#pragma once

#include "core/dtype.h"

namespace attnlab {

struct Tolerance {
  double nmse_bound;  // normalised MSE sum (a - r)^2 / sum r^2
  double atol;        // element-wise absolute part
  double rtol;        // element-wise relative part
  double lse_atol;    // absolute bound on log-sum-exp
  const char* reason;
};

// Throws attnlab::Error for a dtype without a bound (fp8, i64: no implementation stores them).
const Tolerance& tolerance_for(DType dtype);

}  // namespace attnlab
