// The tolerance policy: one table keyed by the implementation's compute dtype, each bound with
// its reason. A case passes when NMSE <= nmse_bound AND every element satisfies
// |actual - ref| <= atol + |ref| * rtol, AND every LSE is within lse_atol + |lse| * lse_rtol,
// AND the signed error along the reference, bias = sum (a - r) r / sum r^2, is within
// +-max(bias_floor, bias_coeff / sqrt(n)), n the number of output elements or, when fewer, of
// cached elements (whose rounding errors are all the independent errors there are); not judged
// when n < bias_min_samples.
#pragma once

#include "core/dtype.h"

namespace attnlab {

struct Tolerance {
  DType dtype;        // the compute / cache dtype this row is for (its element size: core/dtype)
  double nmse_bound;  // normalised MSE sum (a - r)^2 / sum r^2
  double atol;        // element-wise absolute part
  double rtol;        // element-wise relative part
  double lse_atol;    // absolute part of the log-sum-exp bound
  double lse_rtol;    // relative part: the LSE's rounding grows with the score magnitude
  // Bias bound: |bias| <= max(bias_floor, bias_coeff / sqrt(n)). Rounding to nearest leaves no
  // systematic error: over n independent outputs the bias is ~0 +- (error spread) / sqrt(n), but
  // outputs that share most of their keys share their errors too, so a floor. A store that rounds
  // toward zero shrinks every output by ~0.7 of half an ulp of the storage type, whatever n.
  double bias_floor;
  double bias_coeff;
  const char* reason;
  // Fewer independent errors than this (min(outputs, cached elements)): the bias is not judged.
  double bias_min_samples = 1024;
};

// Throws attnlab::Error for a dtype without a bound (fp8, i64: no implementation stores them).
const Tolerance& tolerance_for(DType dtype);

}  // namespace attnlab
