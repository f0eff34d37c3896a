// `attnlab sweep [CONFIG] [--out FILE] [--shard i/n] [--resume] [--filter REGEX] [--dry-run]`:
// runs a benchmark sweep (a file, or a built-in: default, decode-context, prefill, models,
// variants, ci) and writes Google Benchmark JSON with attnlab's per-case records (docs/SWEEPS.md).
// `attnlab merge SHARD.json... --out FILE` joins the shards of one sweep.
#include <unistd.h>

#include <regex>

#include "cli/commands.h"
#include "core/error.h"
#include "sweep/sweep_results.h"
#include "sweep/sweep_runner.h"

namespace attnlab::cli {

namespace {

struct SweepCommandOptions {
  std::string config = "default";
  std::string out;
  std::string shard = "1/1";
  bool resume = false;
  std::string filter;
  bool dry_run = false;
};

int run_sweep_command(const SweepCommandOptions& o) {
  static const std::regex shard_form(R"((\d{1,6})/(\d{1,6}))");
  std::smatch m;
  if (!std::regex_match(o.shard, m, shard_form))
    throw Error("--shard '" + o.shard + "' must look like i/n, e.g. 2/4");
  SweepOptions options;
  options.shard_index = std::stoi(m[1]);
  options.shard_count = std::stoi(m[2]);
  options.resume = o.resume;
  options.filter = o.filter;
  options.dry_run = o.dry_run;
  options.progress = isatty(STDERR_FILENO) != 0;
  const SweepSpec spec = load_sweep(o.config);
  options.out_path = o.out;
  if (options.out_path.empty()) {
    options.out_path = "results/" + spec.name;
    if (options.shard_count > 1) options.out_path += ".shard-" + m[1].str() + "-of-" + m[2].str();
    options.out_path += ".json";
  }
  return run_sweep(spec, options);
}

}  // namespace

Command add_sweep_command(CLI::App& root) {
  auto* app = root.add_subcommand("sweep", "Run a benchmark sweep (Google Benchmark) from JSON");
  auto o = std::make_shared<SweepCommandOptions>();
  app->add_option("config", o->config,
                  "Sweep config: a JSON file or a built-in name (default, decode-context, "
                  "prefill, models, variants, ci)");
  app->add_option("--out", o->out, "Results file (default results/<sweep name>.json)");
  app->add_option("--shard", o->shard, "Run every n-th case: i/n, 1 <= i <= n");
  app->add_flag("--resume", o->resume, "Continue an interrupted run of the same --out");
  app->add_option("--filter", o->filter, "Only cases whose name matches this regular expression");
  app->add_flag("--dry-run", o->dry_run, "List the cases and their modelled memory; run nothing");
  return {app, [o]() { return run_sweep_command(*o); }};
}

Command add_merge_command(CLI::App& root) {
  auto* app = root.add_subcommand("merge", "Join the shard results of one sweep into one file");
  auto inputs = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  app->add_option("shards", *inputs, "Shard results files")->required()->check(CLI::ExistingFile);
  app->add_option("--out", *out, "Merged results file")->required();
  return {app, [inputs, out]() {
            merge_results(*inputs, *out);
            return 0;
          }};
}

}  // namespace attnlab::cli
