// `attnlab verify [CONFIG] [--json OUT] [--junit OUT]`: the CI gate. Runs every registered
// implementation on every case of CONFIG (a file, or a built-in config: "default", "ci") through
// every check of verify/checks.h against the fp64 reference, prints one row per (case, check,
// implementation), and exits 0 when all pass, 1 on any failure, 2 on bad usage or input.
// --plugin lib.so adds the implementations of a shared library (include/attnlab/plugin.h).
// --inject-fault NAME runs the CPU backend with a deliberate bug instead, to watch the gate fail.
#include <omp.h>

#include <algorithm>
#include <iostream>

#include "cli/commands.h"
#include "cli/text_table.h"
#include "core/error.h"
#include "registry/plugin_loader.h"
#include "verify/conformance.h"
#include "verify/verify_report.h"

namespace attnlab::cli {

namespace {

struct VerifyOptions {
  std::string config = "default";
  std::string json_path;
  std::string junit_path;
  std::string filter;  // substring of Implementation::id()
  std::string fault;
  std::vector<std::string> plugins;  // shared libraries implementing include/attnlab/plugin.h
  bool show_skipped = false;
  int threads = 0;
};

std::vector<Implementation> chosen_implementations(const VerifyOptions& o) {
  std::vector<Implementation> impls;
  if (!o.fault.empty()) {
    for (ImplForm form : {ImplForm::standard, ImplForm::naive, ImplForm::absorb})
      impls.push_back(faulty_cpu_implementation(form, o.fault));
  } else {
    impls = implementations();
  }
  std::vector<Implementation> kept;
  for (const Implementation& impl : impls)
    if (impl.id().find(o.filter) != std::string::npos) kept.push_back(impl);
  if (kept.empty()) throw Error("--filter '" + o.filter + "' matches no implementation");
  return kept;
}

std::string cell(bool ran, const char* format, double value) {
  return ran ? format_number(format, value) : "-";
}

int run_verify(const VerifyOptions& o) {
  if (o.threads > 0) omp_set_num_threads(o.threads);
  for (const std::string& plugin : o.plugins) load_plugin(plugin);
  const std::vector<VerifyCase> cases = load_verify_cases(o.config);
  const std::vector<Implementation> impls = chosen_implementations(o);
  const std::vector<CaseResult> results = run_conformance(cases, impls);

  TextTable table({"case", "check", "variant", "impl", "backend", "dtype", "max abs", "max rel",
                   "NMSE", "bound", "lse err", "bias", "result"});
  int passed = 0, failed = 0, skipped = 0;
  for (const CaseResult& r : results) {
    (r.status == CaseStatus::pass ? passed : r.status == CaseStatus::fail ? failed : skipped)++;
    if (r.status == CaseStatus::skip && !o.show_skipped) continue;
    const bool ran = r.status != CaseStatus::skip;
    std::string result = to_string(r.status);
    if (r.status != CaseStatus::pass && !r.detail.empty()) result += ": " + r.detail;
    table.add_row({r.case_name, r.check, r.variant, r.form, r.backend, r.dtype,
                   cell(ran, "%.2e", r.max_abs_error), cell(ran, "%.2e", r.max_rel_error),
                   cell(ran, "%.2e", r.nmse), cell(ran, "%.0e", r.nmse_bound),
                   cell(ran, "%.1e", r.lse_max_abs_error), cell(ran, "%+.1e", r.bias), result});
  }
  table.print(std::cout);
  std::cout << "\nverify: " << passed << " passed, " << failed << " failed, " << skipped
            << " skipped (" << cases.size() << " cases x " << impls.size()
            << " implementations x every check; skipped = check or form does not apply"
            << (o.show_skipped ? "" : ", listed with --show-skipped") << ")\n";
  // Backends that cannot run here (no CUDA device): their rows are all SKIP; say so once.
  std::vector<std::string> unavailable;
  for (const Implementation& impl : impls) {
    const std::string reason = impl.unavailable_reason();
    const std::string line = "verify: backend " + impl.backend + " unavailable: " + reason;
    if (!reason.empty() &&
        std::find(unavailable.begin(), unavailable.end(), line) == unavailable.end())
      unavailable.push_back(line);
  }
  for (const std::string& line : unavailable) std::cout << line << " (its checks are SKIP)\n";
  if (!o.json_path.empty()) write_verify_json(o.json_path, results);
  if (!o.junit_path.empty()) write_verify_junit(o.junit_path, results);
  return failed == 0 ? 0 : 1;
}

}  // namespace

Command add_verify_command(CLI::App& root) {
  auto* app = root.add_subcommand(
      "verify", "Check every implementation against the fp64 reference (exit 1 on any failure)");
  auto o = std::make_shared<VerifyOptions>();
  app->add_option("config", o->config,
                  "Verify config: a JSON file {\"cases\": [...]} or a built-in name (default, ci)");
  app->add_option("--json", o->json_path, "Also write every row as JSON to this file");
  app->add_option("--junit", o->junit_path, "Also write JUnit XML to this file");
  app->add_option("--filter", o->filter,
                  "Only implementations whose id (backend/form/dtype) contains this text");
  app->add_option("--inject-fault", o->fault,
                  "Run the CPU backend with a deliberate bug instead (softmax_scale, rope_pairs, "
                  "rope_query_only, causal_off_by_one, value_bias_unfolded, heads_permuted, "
                  "cache_offset_ignored, sink_ignored, qk_norm_skipped, window_ignored, "
                  "latent_group_swapped): the gate must fail");
  app->add_option("--plugin", o->plugins,
                  "Also verify the implementations of this shared library (include/attnlab/"
                  "plugin.h); repeatable. --filter NAME keeps only its rows");
  app->add_flag("--show-skipped", o->show_skipped, "Also list the skipped rows and why");
  app->add_option("--threads", o->threads, "OpenMP threads (default: all cores)")
      ->check(CLI::Range(1, 1024));
  return {app, [o]() { return run_verify(*o); }};
}

}  // namespace attnlab::cli
