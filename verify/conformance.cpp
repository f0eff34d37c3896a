// Implementation of the conformance matrix; see conformance.h.
#include "verify/conformance.h"

#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "verify/checks.h"

namespace attnlab {

const char* to_string(CaseStatus status) {
  switch (status) {
    case CaseStatus::pass:
      return "PASS";
    case CaseStatus::fail:
      return "FAIL";
    case CaseStatus::skip:
      return "SKIP";
  }
  return "?";
}

void judge(const RunOutput& actual, const RunOutput& expected, const Tolerance& tol,
           CaseResult& r) {
  r.nmse_bound = tol.nmse_bound;
  r.status = CaseStatus::fail;
  if (actual.out.shape != expected.out.shape || actual.lse.shape != expected.lse.shape) {
    r.detail = "output shape " + shape_to_string(actual.out.shape) + ", expected " +
               shape_to_string(expected.out.shape);
    return;
  }
  const std::vector<double>& a = actual.out.data;
  const std::vector<double>& ref = expected.out.data;
  double err2 = 0, ref2 = 0, act2 = 0, dot = 0, err_dot_ref = 0, worst_excess = -INFINITY;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(a[i])) {
      r.worst_index = static_cast<int64_t>(i);
      r.max_abs_error = r.max_rel_error = r.nmse = INFINITY;
      r.detail = "non-finite output at flat index " + std::to_string(i);
      return;
    }
    const double e = std::abs(a[i] - ref[i]);
    r.max_abs_error = std::max(r.max_abs_error, e);
    r.max_rel_error = std::max(r.max_rel_error, e / std::max(std::abs(ref[i]), 1e-30));
    err2 += e * e;
    ref2 += ref[i] * ref[i];
    act2 += a[i] * a[i];
    dot += a[i] * ref[i];
    err_dot_ref += (a[i] - ref[i]) * ref[i];
    const double excess = e - (tol.atol + std::abs(ref[i]) * tol.rtol);
    if (excess > worst_excess) {
      worst_excess = excess;
      r.worst_index = static_cast<int64_t>(i);
    }
  }
  r.nmse = ref2 > 0 ? err2 / ref2 : err2;
  r.cosine = (act2 > 0 && ref2 > 0) ? dot / std::sqrt(act2 * ref2) : 0;
  r.bias = ref2 > 0 ? err_dot_ref / ref2 : 0;
  // Independent errors: at most one per output element, and at most one per cached element
  // (when the run says how large its cache was). Below tol.bias_min_samples of them the bias is
  // reported but not judged: a few rounding errors can carry most of a small layer's output.
  double independent = double(ref.size());
  if (actual.cache_bytes > 0)
    independent =
        std::min(independent, double(actual.cache_bytes) / double(bytes_per_element(tol.dtype)));
  r.bias_bound = independent >= tol.bias_min_samples
                     ? std::max(tol.bias_floor, tol.bias_coeff / std::sqrt(independent))
                     : INFINITY;
  double lse_excess = -INFINITY;
  r.lse_bound = tol.lse_atol;
  for (size_t i = 0; i < expected.lse.data.size(); ++i) {
    const double e = std::abs(actual.lse.data[i] - expected.lse.data[i]);
    const double bound = tol.lse_atol + std::abs(expected.lse.data[i]) * tol.lse_rtol;
    r.lse_max_abs_error = std::max(r.lse_max_abs_error, std::isfinite(e) ? e : INFINITY);
    if (!(e - bound <= lse_excess)) {
      lse_excess = std::isfinite(e) ? e - bound : INFINITY;
      r.lse_bound = bound;
    }
  }
  // The NMSE bound is relative to the reference's energy; an absolute floor of atol per element
  // keeps outputs that cancel to ~1e-4 (where fp32 rounding of 1e-8 is already 1e-8 relative
  // NMSE) from failing a correct kernel. Found by props/prop_regressions.cpp. The bias is judged
  // against the same floored energy: outputs far below atol say nothing about a rounding bias.
  const double nmse_floor = double(ref.size()) * tol.atol * tol.atol;
  if (err2 > tol.nmse_bound * ref2 + nmse_floor) {
    r.detail = "NMSE above bound; worst element " + std::to_string(r.worst_index);
  } else if (worst_excess > 0) {
    r.detail = "element " + std::to_string(r.worst_index) + " off by " +
               std::to_string(std::abs(a[r.worst_index] - ref[r.worst_index])) + " (ref " +
               std::to_string(ref[r.worst_index]) + ")";
  } else if (lse_excess > 0) {
    r.detail = "log-sum-exp off by " + std::to_string(r.lse_max_abs_error) + " (bound " +
               std::to_string(r.lse_bound) + ")";
  } else if (std::abs(err_dot_ref) > r.bias_bound * (ref2 + nmse_floor)) {
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "biased: signed error along the reference %.2e, bound +-%.2e (rounding toward "
                  "zero?)",
                  r.bias, r.bias_bound);
    r.detail = buf;
  } else {
    r.status = CaseStatus::pass;
  }
}

std::vector<CaseResult> run_conformance(const std::vector<VerifyCase>& cases,
                                        const std::vector<Implementation>& impls) {
  std::vector<CaseResult> results;
  for (const VerifyCase& spec : cases) {
    const CaseData data = prepare_case(spec);
    for (const Implementation& impl : impls) {
      for (const Check& check : verify_checks()) {
        CaseResult r;
        r.case_name = spec.name();
        r.check = check.name;
        r.variant = to_string(data.config.attention);
        r.impl = impl.id();
        r.form = to_string(impl.form);
        r.backend = impl.backend;
        r.dtype = to_string(impl.dtype);
        // An implementation that cannot run here (no CUDA device) skips every check, saying why.
        r.detail = impl.unavailable_reason();
        if (r.detail.empty()) r.detail = spec.dtype_excluded(impl.dtype);
        if (r.detail.empty()) r.detail = spec.check_excluded(check.name);
        if (r.detail.empty()) r.detail = check.not_applicable(data, impl);
        if (!r.detail.empty()) {
          results.push_back(r);
          continue;
        }
        run_and_judge(check, data, impl, r);
        results.push_back(r);
      }
    }
  }
  return results;
}

void run_and_judge(const Check& check, const CaseData& data, const Implementation& impl,
                   CaseResult& r) {
  try {
    const CheckRun run = check.run(data, impl);
    judge(run.actual, run.expected, tolerance_for(impl.dtype), r);
  } catch (const std::exception& e) {
    r.status = CaseStatus::fail;
    r.detail = std::string("threw: ") + e.what();
  }
}

}  // namespace attnlab
