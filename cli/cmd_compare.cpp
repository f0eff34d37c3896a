// `attnlab compare EXPECTED ACTUAL [--dtype fp32|bf16|fp16|fp64] [--json]`: judges the output of
// an implementation outside attnlab against golden files (`attnlab golden`) with verify's own
// judge() and tolerance table. EXPECTED is a case directory (ACTUAL: a safetensors file with
// attn_output and optional lse) or a golden root (ACTUAL: a directory holding
// <case directory name>.safetensors per case). One row per case; exit 0 all pass, 1 any
// failure, 2 bad input.
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "cli/text_table.h"
#include "verify/golden.h"
#include "verify/verify_report.h"

namespace attnlab::cli {

namespace {

struct CompareOptions {
  std::string expected;
  std::string actual;
  std::string dtype = "fp32";
  bool json = false;
};

std::string cell(bool ran, const char* format, double value) {
  return ran ? format_number(format, value) : "-";
}

int run_compare(const CompareOptions& o) {
  const DType dtype =
      parse_dtype(o.dtype, {DType::fp64, DType::fp32, DType::bf16, DType::fp16}, "--dtype");
  const std::vector<std::string> dirs = golden_case_dirs(o.expected);
  const bool many = is_golden_root(o.expected);
  if (many && !std::filesystem::is_directory(o.actual))
    throw Error(o.actual +
                ": EXPECTED is a golden root, so ACTUAL must be a directory of "
                "<case>.safetensors files");
  std::vector<CaseResult> results;
  std::vector<std::string> dir_names;
  for (const std::string& dir : dirs) {
    const GoldenCase golden = read_golden_case(dir);
    const std::string actual = std::filesystem::is_directory(o.actual)
                                   ? o.actual + "/" + golden.dir_name + ".safetensors"
                                   : o.actual;
    results.push_back(compare_golden(golden, actual, dtype));
    dir_names.push_back(golden.dir_name);
  }
  int passed = 0, failed = 0, skipped = 0;
  for (const CaseResult& r : results)
    (r.status == CaseStatus::pass ? passed : r.status == CaseStatus::fail ? failed : skipped)++;
  if (o.json) {
    std::cout << verify_rows_json(results).dump(2) << "\n";
  } else {
    TextTable table({"case", "phase", "dtype", "max abs", "max rel", "NMSE", "bound", "lse err",
                     "bias", "result"});
    for (size_t i = 0; i < results.size(); ++i) {
      const CaseResult& r = results[i];
      const bool ran = r.status != CaseStatus::skip && r.max_abs_error >= 0 && r.nmse_bound > 0;
      std::string result = to_string(r.status);
      if (!r.detail.empty()) result += ": " + r.detail;
      table.add_row({dir_names[i], r.check, r.dtype, cell(ran, "%.2e", r.max_abs_error),
                     cell(ran, "%.2e", r.max_rel_error), cell(ran, "%.2e", r.nmse),
                     cell(ran, "%.0e", r.nmse_bound), cell(ran, "%.1e", r.lse_max_abs_error),
                     cell(ran, "%+.1e", r.bias), result});
    }
    table.print(std::cout);
    std::cout << "\ncompare: " << passed << " passed, " << failed << " failed, " << skipped
              << " skipped (" << o.dtype << " tolerance)\n";
  }
  return failed == 0 && passed > 0 ? 0 : 1;
}

}  // namespace

Command add_compare_command(CLI::App& root) {
  auto* app = root.add_subcommand(
      "compare", "Judge an outside implementation's output against golden files (exit 1 on FAIL)");
  auto o = std::make_shared<CompareOptions>();
  app->add_option("expected", o->expected, "A golden case directory, or a golden root (all cases)")
      ->required();
  app->add_option("actual", o->actual,
                  "Output safetensors (attn_output, optional lse); for a golden root a directory "
                  "of <case directory name>.safetensors")
      ->required();
  app->add_option("--dtype", o->dtype,
                  "Tolerance of this cache dtype: fp32 (default), bf16, fp16 or fp64");
  app->add_flag("--json", o->json, "Print the rows as JSON instead of a table");
  return {app, [o]() { return run_compare(*o); }};
}

}  // namespace attnlab::cli
