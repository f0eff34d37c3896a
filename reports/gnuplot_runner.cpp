// gnuplot as a child process; see gnuplot_runner.h.
#include "reports/gnuplot_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "reports/chart_script.h"

extern char** environ;

namespace attnlab::reports {

namespace fs = std::filesystem;

namespace {

constexpr auto kTimeout = std::chrono::seconds(60);

bool write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out.flush());
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string first_line(const std::string& text) {
  std::istringstream in(text);
  std::string line, last;
  // gnuplot prints the offending script line, a caret line, then the message: keep the message.
  while (std::getline(in, line))
    if (line.find_first_not_of(" \t^") != std::string::npos) last = line;
  return last.empty() ? "no message" : last;
}

// Runs `exe script` with stdout and stderr to `log`; returns the exit status, or -1 on a spawn
// failure or timeout (the child is then killed), with `why` saying which.
int run_child(const std::string& exe, const std::string& script, const std::string& log,
              std::string& why) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::string arg0 = exe, arg1 = script;
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    why = std::string("cannot start ") + exe + ": " + std::strerror(rc);
    return -1;
  }
  const auto deadline = std::chrono::steady_clock::now() + kTimeout;
  int status = 0;
  while (true) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) {
      why = std::string("waiting for gnuplot failed: ") + std::strerror(errno);
      return -1;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      why = "gnuplot did not finish within 60 s";
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  why = "gnuplot was killed by signal " + std::to_string(WTERMSIG(status));
  return -1;
}

}  // namespace

std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (!path) return "";
  std::istringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    const fs::path candidate = fs::path(dir) / name;
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate.string();
  }
  return "";
}

GnuplotRunner::GnuplotRunner() : executable_(find_on_path("gnuplot")) {}

GnuplotRunner::~GnuplotRunner() {
  if (dir_.empty()) return;
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void GnuplotRunner::draw(Figure& figure) {
  figure.svg.clear();
  figure.skipped.clear();
  if (!available()) {
    figure.skipped =
        "gnuplot is not installed (not found on PATH); install Debian's gnuplot-nox to draw it";
    return;
  }
  if (figure.spec.data_points() == 0) {
    figure.skipped = "there is nothing to plot (no measured point)";
    return;
  }
  if (dir_.empty()) {
    std::string pattern = (fs::temp_directory_path() / "attnlab-report-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) {
      figure.skipped = std::string("cannot create a temporary directory: ") + std::strerror(errno);
      return;
    }
    dir_ = pattern;
  }
  const fs::path dir = dir_ / ("chart-" + std::to_string(charts_++));
  std::error_code ec;
  fs::create_directories(dir, ec);
  const std::vector<std::string> data = gnuplot_data(figure.spec);
  std::vector<std::string> data_paths;
  bool written = !ec;
  for (size_t i = 0; i < data.size() && written; ++i) {
    data_paths.push_back((dir / ("series-" + std::to_string(i) + ".dat")).string());
    written = write_text(data_paths.back(), data[i]);
  }
  const fs::path svg = dir / "chart.svg", script = dir / "chart.gp", log = dir / "gnuplot.log";
  written = written && write_text(script, gnuplot_script(figure.spec, data_paths, svg.string()));
  if (!written) {
    figure.skipped = "cannot write gnuplot's input files under " + dir.string();
    return;
  }
  std::string why;
  const int status = run_child(executable_, script.string(), log.string(), why);
  if (status != 0) {
    figure.skipped = status < 0 ? why : "gnuplot failed: " + first_line(read_text(log));
    return;
  }
  figure.svg = read_text(svg);
  if (figure.svg.find("<svg") == std::string::npos) {
    figure.svg.clear();
    figure.skipped = "gnuplot wrote no SVG";
  }
}

}  // namespace attnlab::reports
