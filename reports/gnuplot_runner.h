// Draws charts with gnuplot (Debian's gnuplot-nox) as a child process: the data files and the
// script go to a private temporary directory, gnuplot writes the SVG there, and the SVG text comes
// back. When gnuplot is not on PATH, fails or hangs, the chart is skipped and the reason kept, so
// a report always has its tables.
#pragma once

#include <filesystem>
#include <string>

#include "reports/document.h"

namespace attnlab::reports {

class GnuplotRunner {
 public:
  GnuplotRunner();  // looks gnuplot up on PATH; creates the temporary directory lazily
  ~GnuplotRunner();
  GnuplotRunner(const GnuplotRunner&) = delete;
  GnuplotRunner& operator=(const GnuplotRunner&) = delete;

  bool available() const { return !executable_.empty(); }
  const std::string& executable() const { return executable_; }
  // Fills figure.svg, or figure.skipped with the reason.
  void draw(Figure& figure);

 private:
  std::string executable_;
  std::filesystem::path dir_;
  int charts_ = 0;
};

// The full path of an executable named `name` on PATH, or "" when there is none.
std::string find_on_path(const std::string& name);

}  // namespace attnlab::reports
