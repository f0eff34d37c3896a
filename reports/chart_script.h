// Turns a chart specification into what gnuplot reads: one data file per series (for a bar
// chart one file of index, value, label, value text) and a script that draws them as SVG
// (`set terminal svg`). Pure text, no files or processes: gnuplot_runner does those.
#pragma once

#include <string>
#include <vector>

#include "reports/document.h"

namespace attnlab::reports {

// The data file contents, one per series (a bar chart has one), plottable points only.
std::vector<std::string> gnuplot_data(const ChartSpec& spec);

// The script: draws data file i (at data_paths[i]) as series i and writes the SVG to svg_path.
std::string gnuplot_script(const ChartSpec& spec, const std::vector<std::string>& data_paths,
                           const std::string& svg_path);

// A gnuplot single-quoted string literal ('' for a quote).
std::string gnuplot_quote(const std::string& text);

}  // namespace attnlab::reports
