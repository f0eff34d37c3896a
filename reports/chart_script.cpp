// gnuplot data and scripts from chart specifications; see chart_script.h.
#include "reports/chart_script.h"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace attnlab::reports {

namespace {

std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

// A double-quoted column of a data file; gnuplot has no escape for '"' there.
std::string data_text(std::string text) {
  for (char& ch : text)
    if (ch == '"') ch = '\'';
  return "\"" + text + "\"";
}

std::string range(const std::pair<double, double>& r) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "[%.10g:%.10g]", r.first, r.second);
  return buf;
}

const int kPointTypes[] = {7, 5, 9, 13, 11, 15, 6, 4, 8, 12};
// Ten well-separated colours (the Tableau 10 palette).
const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                          "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};

}  // namespace

bool ChartSpec::plottable(double x, double y) const {
  if (!std::isfinite(x) || !std::isfinite(y)) return false;
  if (logx && x <= 0) return false;
  if (logy && y <= 0) return false;
  return true;
}

size_t ChartSpec::data_points() const {
  size_t n = 0;
  for (const Series& s : series)
    for (const auto& [x, y] : s.points) n += plottable(x, y);
  return n;
}

std::string gnuplot_quote(const std::string& text) {
  std::string out = "'";
  for (char ch : text) {
    if (ch == '\'') out += '\'';
    if (ch != '\n') out += ch;
  }
  return out + "'";
}

std::vector<std::string> gnuplot_data(const ChartSpec& spec) {
  std::vector<std::string> files;
  for (size_t s = 0; s < spec.series.size(); ++s) {
    std::ostringstream out;
    const auto& points = spec.series[s].points;
    for (size_t i = 0; i < points.size(); ++i) {
      const auto [x, y] = points[i];
      if (!spec.plottable(x, y)) continue;
      out << number(x) << ' ' << number(y);
      if (spec.kind == ChartSpec::Kind::bars && s == 0) {
        out << ' ' << data_text(i < spec.bar_labels.size() ? spec.bar_labels[i] : "");
        out << ' ' << data_text(i < spec.bar_values.size() ? spec.bar_values[i] : "");
      }
      out << '\n';
    }
    files.push_back(out.str());
  }
  return files;
}

std::string gnuplot_script(const ChartSpec& spec, const std::vector<std::string>& data_paths,
                           const std::string& svg_path) {
  std::ostringstream g;
  const bool bars = spec.kind == ChartSpec::Kind::bars;
  // Up to 12 legend entries fit beside the plot; more go below it, three to a row.
  const size_t entries = spec.series.size() + spec.curves.size();
  const bool key_below = !bars && entries > 12;
  const size_t height = bars ? 560 : key_below ? 460 + 22 * ((entries + 2) / 3) : 500;
  g << "set terminal svg size 900," << height
    << " dynamic noenhanced font 'sans,12' background rgb 'white'\n"
    << "set output " << gnuplot_quote(svg_path) << "\n"
    << "set encoding utf8\n"
    << "set title " << gnuplot_quote(spec.title) << " font 'sans,14'\n"
    << "set xlabel " << gnuplot_quote(spec.xlabel) << "\n"
    << "set ylabel " << gnuplot_quote(spec.ylabel) << "\n"
    << "set border lc rgb '#555555'\n"
    << "set grid xtics ytics mytics lc rgb '#d8d8d8' lw 1, lc rgb '#eeeeee' lw 1\n"
    << (key_below ? "set key outside below center horizontal maxcols 3 Left reverse"
                  : "set key outside right top vertical Left reverse")
    << " noautotitle samplen 2 spacing 1.2\n"
    << "set samples 400\n";
  for (size_t i = 0; i < 10; ++i)
    g << "set linetype " << i + 1 << " lc rgb '" << kPalette[i] << "' lw 2\n";
  g << "set linetype cycle 10\n";
  if (spec.logx) g << "set logscale x " << spec.logx_base << "\n";
  if (spec.logy) g << "set logscale y 10\n";
  g << "set format x '%g'\nset format y " << gnuplot_quote(spec.yformat) << "\n";
  if (spec.xrange) g << "set xrange " << range(*spec.xrange) << "\n";
  if (spec.yrange)
    g << "set yrange " << range(*spec.yrange) << "\n";
  else if (!spec.logy)
    g << "set yrange [0:*]\n";

  std::vector<std::string> plots;
  if (bars) {
    const size_t n = spec.series.empty() ? 0 : spec.series[0].points.size();
    g << "set style fill solid 0.85 border rgb '#333333'\n"
      << "set boxwidth 0.7\n"
      << "set xtics rotate by -35 left nomirror font 'sans,11'\n"
      << "set xrange [-0.6:" << number(double(n) - 0.4) << "]\n"
      << "set key off\n";
    const std::string file = gnuplot_quote(data_paths.at(0));
    plots.push_back(file + " using 1:2:xtic(3) with boxes lc rgb '#1f77b4' notitle");
    plots.push_back(file + " using 1:2:4 with labels offset 0,0.8 font 'sans,10' notitle");
  } else {
    for (size_t s = 0; s < spec.series.size(); ++s) {
      const Series& series = spec.series[s];
      bool any = false;
      for (const auto& [x, y] : series.points) any = any || spec.plottable(x, y);
      if (!any) continue;  // gnuplot refuses a file without a point
      const int pt =
          series.symbol ? series.symbol : kPointTypes[(s + s / 10) % 10];  // past 10: new pairs
      const size_t colour = series.colour ? size_t(series.colour) : s + 1;
      std::string style = spec.kind == ChartSpec::Kind::points
                              ? "with points pt " + std::to_string(pt) + " ps 1.2"
                              : "with linespoints lw 2 pt " + std::to_string(pt) + " ps 1.0";
      plots.push_back(gnuplot_quote(data_paths.at(s)) + " using 1:2 " + style + " lc " +
                      std::to_string(colour) + " title " + gnuplot_quote(series.title));
    }
  }
  const char* curve_colours[] = {"#444444", "#b22222", "#2e7d32", "#6a1b9a", "#ef6c00"};
  for (size_t i = 0; i < spec.curves.size(); ++i)
    plots.push_back(spec.curves[i].expression + " with lines lw 1.5 dt " +
                    std::to_string(2 + i / 5 % 3) + " lc rgb '" + curve_colours[i % 5] +
                    "' title " + gnuplot_quote(spec.curves[i].title));
  g << "plot ";
  for (size_t i = 0; i < plots.size(); ++i) g << (i ? ", \\\n     " : "") << plots[i];
  g << "\n";
  return g.str();
}

}  // namespace attnlab::reports
