// `attnlab golden [--model M] [--cases ci|default|FILE] [--phase P]... --out DIR`: writes verify's
// cases as files any language can read (weights, inputs, the fp64 truth and per-head LSE, and a
// case.json with the config, form, phase, chunking and tolerance per dtype; verify/golden.h), so
// an implementation outside attnlab can be judged by `attnlab compare`.
#include <iostream>

#include "cli/commands.h"
#include "core/presets.h"
#include "verify/checks.h"
#include "verify/golden.h"

namespace attnlab::cli {

namespace {

struct GoldenOptions {
  std::string model;
  std::string cases = "ci";
  std::vector<std::string> phases{"prefill", "decode"};
  std::string out_dir;
};

int run_golden(const GoldenOptions& o) {
  GoldenRequest request;
  request.cases = load_verify_cases(o.cases);
  if (!o.model.empty()) {
    request.model = resolve_model(o.model);
    request.model_label = o.model;
  }
  request.phases = o.phases;
  const std::vector<std::string> names = write_golden(request, o.out_dir);
  std::cerr << "attnlab: wrote " << names.size() << " golden cases to " << o.out_dir
            << " (one directory each: case.json, weights, inputs, expected)\n";
  return 0;
}

}  // namespace

Command add_golden_command(CLI::App& root) {
  auto* app = root.add_subcommand(
      "golden", "Write verify cases as files (weights, inputs, fp64 truth) for outside code");
  auto o = std::make_shared<GoldenOptions>();
  app->add_option("--model", o->model,
                  "Run every case on this layer (preset name or layer-config JSON) instead of "
                  "each case's own model");
  app->add_option("--cases", o->cases,
                  "Verify config: a built-in name (ci, default) or a JSON file (default: ci)");
  app->add_option("--phase", o->phases,
                  "prefill, decode, prompt_decode or chunked; repeatable (default: prefill and "
                  "decode)")
      ->check(CLI::IsMember(phase_names()));
  app->add_option("--out", o->out_dir, "Output directory (replaced if it is an earlier golden one)")
      ->required();
  return {app, [o]() { return run_golden(*o); }};
}

}  // namespace attnlab::cli
