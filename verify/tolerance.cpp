// The tolerance table; see tolerance.h. Anchors (../shared/FACTS.md): llama.cpp test-backend-ops
// uses NMSE 1e-7 by default and 5e-4 for flash attention; llm.c uses atol + |ref| * eps with
// eps = FLT_EPSILON for fp32; FlashMLA checks LSE to 1e-6 absolute in bf16.
#include "verify/tolerance.h"

#include "core/error.h"

namespace attnlab {

namespace {

// fp64 against fp64: the only differences are summation order (absorb reassociates the
// W_UK / W_UV products; conversions materialise weight products), so errors are ~1e-15
// relative. Measured over `attnlab verify` (default cases, every check): NMSE <= 1.7e-28, max
// abs 6.6e-14, LSE 6.9e-14. 1e-20 NMSE leaves room for longer contractions without letting
// any real bug (element errors >= 1e-8) through.
const Tolerance kFp64{1e-20, 1e-11, 1e-9, 1e-10,
                      "fp64 vs fp64: reassociation only, ~1e-15 relative per element"};

// fp32 compute and storage: each dot product of length n accumulates ~sqrt(n) * 6e-8 relative
// error; the layer chains three projections and a softmax. Measured over `attnlab verify`
// (default cases, every check): NMSE <= 5.7e-14, max abs 1.3e-6, LSE 1.3e-6; the CPU tests'
// medium shapes reach 1.7e-13. 1e-10 is three orders above that and still a thousand times
// tighter than llama.cpp's default 1e-7, so a mis-scaled softmax or a wrong RoPE pair
// (NMSE >= 1e-3) fails. Element-wise: 1e-5 absolute (outputs are O(1)) plus 1e-4 relative.
const Tolerance kFp32{1e-10, 1e-5, 1e-4, 1e-4,
                      "fp32 compute: ~1e-7 relative per op, NMSE measured ~1e-14"};

}  // namespace

const Tolerance& tolerance_for(const std::string& dtype) {
  if (dtype == "fp64") return kFp64;
  if (dtype == "fp32") return kFp32;
  throw Error("no tolerance defined for dtype '" + dtype + "'");
}

}  // namespace attnlab
