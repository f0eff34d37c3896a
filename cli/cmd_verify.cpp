// `attnlab verify [CONFIG] [--json OUT]`: the CI gate. Runs every registered implementation on
// every case of CONFIG (default: the built-in cases — every tiny preset, sequential and random
// positions) in both phases against the fp64 reference, prints one row per (case, impl, phase),
// and exits 0 when all pass, 1 on any failure, 2 on bad usage or input.
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/text_table.h"
#include "core/error.h"
#include "core/presets.h"
#include "io/atomic_file.h"
#include "verify/conformance.h"

namespace attnlab::cli {

namespace {

struct VerifyOptions {
  std::string config_path;
  std::string json_path;
  std::string impl_filter;  // substring of Implementation::id()
};

std::vector<VerifyCase> builtin_cases() {
  std::vector<VerifyCase> cases;
  for (const std::string& name : preset_names("tiny")) {
    cases.push_back({name, 2, 9, 1, false});
    cases.push_back({name, 1, 13, 2, true});
  }
  return cases;
}

void write_json(const std::string& path, const std::vector<CaseResult>& results) {
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  for (const CaseResult& r : results)
    j.push_back({{"case", r.case_name},
                 {"model", r.model},
                 {"impl", r.impl},
                 {"phase", to_string(r.phase)},
                 {"status", to_string(r.status)},
                 {"max_abs_error", r.max_abs_error},
                 {"max_rel_error", r.max_rel_error},
                 {"nmse", r.nmse},
                 {"cosine", r.cosine},
                 {"lse_max_abs_error", r.lse_max_abs_error},
                 {"worst_index", r.worst_index},
                 {"detail", r.detail}});
  AtomicFile file(path);
  file.stream() << j.dump(2) << "\n";
  file.commit();
}

int run_verify(const VerifyOptions& o) {
  const std::vector<VerifyCase> cases =
      o.config_path.empty() ? builtin_cases() : load_verify_cases(o.config_path);
  std::vector<Implementation> impls;
  for (const Implementation& impl : implementations())
    if (impl.id().find(o.impl_filter) != std::string::npos) impls.push_back(impl);
  if (impls.empty()) throw Error("--impl '" + o.impl_filter + "' matches no implementation");
  const std::vector<CaseResult> results = run_conformance(cases, impls);

  TextTable table(
      {"case", "impl", "phase", "max abs", "max rel", "NMSE", "NMSE bound", "lse err", "result"});
  int passed = 0, failed = 0, skipped = 0;
  for (const CaseResult& r : results) {
    const bool ran = r.status != CaseStatus::skip;
    const std::string bound =
        format_number("%.0e", tolerance_for(r.impl.substr(r.impl.rfind('/') + 1)).nmse_bound);
    table.add_row({r.case_name, r.impl, to_string(r.phase),
                   ran ? format_number("%.2e", r.max_abs_error) : "-",
                   ran ? format_number("%.2e", r.max_rel_error) : "-",
                   ran ? format_number("%.2e", r.nmse) : "-", ran ? bound : "-",
                   ran ? format_number("%.1e", r.lse_max_abs_error) : "-",
                   std::string(to_string(r.status)) +
                       (r.detail.empty() || r.status == CaseStatus::skip ? "" : ": " + r.detail)});
    (r.status == CaseStatus::pass ? passed : r.status == CaseStatus::fail ? failed : skipped)++;
  }
  table.print(std::cout);
  std::cout << "\nverify: " << passed << " passed, " << failed << " failed, " << skipped
            << " skipped (skipped = form does not apply to the variant)\n";
  if (!o.json_path.empty()) write_json(o.json_path, results);
  return failed == 0 ? 0 : 1;
}

}  // namespace

Command add_verify_command(CLI::App& root) {
  auto* app = root.add_subcommand(
      "verify", "Check every implementation against the fp64 reference (exit 1 on any failure)");
  auto o = std::make_shared<VerifyOptions>();
  app->add_option("config", o->config_path,
                  "Verify config JSON {\"cases\": [...]}; default: built-in cases over the tiny "
                  "presets")
      ->check(CLI::ExistingFile);
  app->add_option("--json", o->json_path, "Also write the results as JSON to this file");
  app->add_option("--impl", o->impl_filter, "Only implementations whose id contains this text");
  return {app, [o]() { return run_verify(*o); }};
}

}  // namespace attnlab::cli
