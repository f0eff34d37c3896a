// The report as data: sections of paragraphs, tables and figures. The sections build it from
// results files; render_markdown and render_html turn the same document into report.md and
// report.html, so both say the same thing. A figure holds its chart specification (series of
// points, axes, titles) and, once gnuplot has drawn it, the SVG or the reason it was skipped.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace attnlab::reports {

struct Series {
  std::string title;
  std::vector<std::pair<double, double>> points;  // (x, y)
  int colour = 0;  // 1-based index into the report's palette; 0: the series' own position
  int symbol = 0;  // gnuplot point type; 0: one per series position
};

// A line drawn from a gnuplot expression in x (a roofline ceiling, the ratio-1 line).
struct Curve {
  std::string expression;
  std::string title;
};

struct ChartSpec {
  enum class Kind { lines, points, bars };
  std::string id;  // file stem and HTML anchor, e.g. "decode-latency"
  std::string title, xlabel, ylabel;
  Kind kind = Kind::lines;
  bool logx = false, logy = false;
  int logx_base = 10;  // 2 for token counts (powers of two), 10 otherwise
  std::vector<Series> series;
  std::vector<std::string> bar_labels;  // bars: one per point of series[0], whose x is its index
  std::vector<std::string> bar_values;  // bars: text printed above each bar
  std::vector<Curve> curves;
  std::optional<std::pair<double, double>> xrange, yrange;  // default: fit the data (y from 0)
  std::string yformat = "%g";                               // gnuplot tic format of the y axis

  // Whether a point can be drawn: finite, and positive on a log axis.
  bool plottable(double x, double y) const;
  size_t data_points() const;  // plottable points over all series
};

struct Paragraph {
  std::string text;
  bool note = false;  // a remark set apart (a warning, a skipped chart, a caveat)
};

struct Table {
  std::vector<std::string> header;
  std::string align;  // one character per column: 'l' or 'r'
  std::vector<std::vector<std::string>> rows;
};

struct Figure {
  ChartSpec spec;
  std::string caption;  // the sentence under the chart saying what it shows
  std::string svg;      // filled by gnuplot; empty when skipped
  std::string skipped;  // why there is no chart
  std::string file() const { return "charts/" + spec.id + ".svg"; }
};

using Block = std::variant<Paragraph, Table, Figure>;

struct Section {
  std::string id;  // HTML anchor
  std::string title;
  std::vector<Block> blocks;

  void paragraph(std::string text) { blocks.push_back(Paragraph{std::move(text), false}); }
  void note(std::string text) { blocks.push_back(Paragraph{std::move(text), true}); }
  void table(Table t) { blocks.push_back(std::move(t)); }
  void figure(ChartSpec spec, std::string caption) {
    blocks.push_back(Figure{std::move(spec), std::move(caption), "", ""});
  }
};

struct Document {
  std::string title;
  std::vector<std::string> intro;  // paragraphs above the sections
  std::vector<Section> sections;
};

}  // namespace attnlab::reports
