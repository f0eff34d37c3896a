// JSON and JUnit writers for verify results; see verify_report.h.
#include "verify/verify_report.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/xml_escape.h"
#include "io/atomic_file.h"

namespace attnlab {

namespace {

std::string metrics(const CaseResult& r) {
  char buf[300];
  std::snprintf(buf, sizeof buf,
                "max_abs %.3e, max_rel %.3e, nmse %.3e (bound %.0e), lse %.2e (bound %.2e), bias "
                "%.2e (bound +-%.2e)",
                r.max_abs_error, r.max_rel_error, r.nmse, r.nmse_bound, r.lse_max_abs_error,
                r.lse_bound, r.bias, r.bias_bound);
  return buf;
}

}  // namespace

nlohmann::ordered_json verify_rows_json(const std::vector<CaseResult>& results) {
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  for (const CaseResult& r : results) {
    nlohmann::ordered_json row = {{"case", r.case_name},           {"check", r.check},
                                  {"variant", r.variant},          {"impl", r.form},
                                  {"backend", r.backend},          {"dtype", r.dtype},
                                  {"status", to_string(r.status)}, {"detail", r.detail}};
    if (r.status != CaseStatus::skip) {
      // JSON has no infinity: a non-finite error is written as null.
      auto finite = [](double v) { return std::isfinite(v) ? nlohmann::ordered_json(v) : nullptr; };
      row["max_abs_error"] = finite(r.max_abs_error);
      row["max_rel_error"] = finite(r.max_rel_error);
      row["nmse"] = finite(r.nmse);
      row["nmse_bound"] = r.nmse_bound;
      row["cosine"] = finite(r.cosine);
      row["lse_max_abs_error"] = finite(r.lse_max_abs_error);
      row["lse_bound"] = r.lse_bound;
      row["bias"] = finite(r.bias);
      row["bias_bound"] = finite(r.bias_bound);  // null: too few independent errors to judge
      row["worst_index"] = r.worst_index;
    }
    j.push_back(row);
  }
  return j;
}

void write_verify_json(const std::string& path, const std::vector<CaseResult>& results) {
  AtomicFile file(path);
  file.stream() << verify_rows_json(results).dump(2) << "\n";
  file.commit();
}

void write_verify_junit(const std::string& path, const std::vector<CaseResult>& results) {
  int failures = 0, skipped = 0;
  for (const CaseResult& r : results) {
    failures += r.status == CaseStatus::fail;
    skipped += r.status == CaseStatus::skip;
  }
  AtomicFile file(path);
  std::ostream& out = file.stream();
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<testsuite name=\"attnlab verify\" tests=\"" << results.size() << "\" failures=\""
      << failures << "\" skipped=\"" << skipped << "\">\n";
  for (const CaseResult& r : results) {
    out << "  <testcase classname=\"" << xml_escape(r.impl) << "\" name=\""
        << xml_escape(r.case_name + " / " + r.check) << "\">";
    if (r.status == CaseStatus::fail)
      out << "<failure message=\"" << xml_escape(r.detail) << "\">" << xml_escape(metrics(r))
          << "</failure>";
    else if (r.status == CaseStatus::skip)
      out << "<skipped message=\"" << xml_escape(r.detail) << "\"/>";
    else
      out << "<system-out>" << xml_escape(metrics(r)) << "</system-out>";
    out << "</testcase>\n";
  }
  out << "</testsuite>\n";
  file.commit();
}

}  // namespace attnlab
