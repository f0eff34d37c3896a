// attnlab: entry point of the command-line tool. Parses the command line with CLI11, runs the
// chosen subcommand and turns every error into one line on stderr and an exit code:
//   0 ok · 1 a check failed (verify) · 2 bad usage or bad input · 3 internal error.
#include <iostream>
#include <vector>

#include "cli/commands.h"
#include "core/build_info.h"
#include "core/error.h"

int main(int argc, char** argv) {
  using namespace attnlab;
  CLI::App app{"attnlab: verify and measure attention variants (MHA, GQA, MQA, MLA)", "attnlab"};
  app.set_version_flag("--version",
                       std::string(build_info().version) + " (" + build_info().git_commit + ")");
  app.require_subcommand(1);
  std::vector<cli::Command> commands = {
      cli::add_verify_command(app), cli::add_sweep_command(app),  cli::add_merge_command(app),
      cli::add_run_command(app),    cli::add_kv_command(app),     cli::add_info_command(app),
      cli::add_report_command(app), cli::add_golden_command(app), cli::add_compare_command(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "attnlab: " << e.what() << " (see attnlab --help)\n";
    return 2;
  }
  try {
    for (const cli::Command& command : commands)
      if (command.app->parsed()) return command.run();
  } catch (const Error& e) {
    std::cerr << "attnlab: " << e.what() << "\n";
    return 2;
  } catch (const std::bad_alloc&) {
    std::cerr << "attnlab: out of memory (the shapes asked for do not fit in RAM)\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "attnlab: internal error: " << e.what() << "\n";
    return 3;
  }
  return 2;
}
