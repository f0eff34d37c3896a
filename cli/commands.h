// The subcommands of the attnlab CLI. Each cmd_*.cpp adds one subcommand to the root CLI11 app
// and returns the action to run when it is chosen. Actions return the process exit code:
// 0 success, 1 a check failed (verify), and they throw attnlab::Error for bad input (exit 2).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace attnlab::cli {

struct Command {
  CLI::App* app;
  std::function<int()> run;
};

Command add_info_command(CLI::App& root);
Command add_kv_command(CLI::App& root);
Command add_run_command(CLI::App& root);
Command add_verify_command(CLI::App& root);
Command add_sweep_command(CLI::App& root);
Command add_merge_command(CLI::App& root);
Command add_report_command(CLI::App& root);
Command add_golden_command(CLI::App& root);
Command add_compare_command(CLI::App& root);

}  // namespace attnlab::cli
