// Turning a report Document into files: Markdown (report.md, charts linked as charts/*.svg) and
// one self-contained HTML page (report.html: inline CSS, inline SVG charts, and a small inline
// script that checks every chart drew all its data points and marks <body> with the result —
// nothing is loaded from the network or from another file).
#pragma once

#include <string>

#include "reports/document.h"

namespace attnlab::reports {

std::string render_markdown(const Document& doc);
std::string render_html(const Document& doc);

// gnuplot's SVG ready to inline into HTML: no XML prologue, and every id (and every reference
// to it) prefixed with `prefix`, so that several charts on one page do not share ids.
std::string inline_svg(const std::string& svg, const std::string& prefix);

}  // namespace attnlab::reports
