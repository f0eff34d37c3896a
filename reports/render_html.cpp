// report.html from a Document: one self-contained page; see render.h.
#include <cctype>
#include <set>
#include <sstream>
#include <variant>

#include "core/xml_escape.h"
#include "reports/render.h"

namespace attnlab::reports {

namespace {

std::string escape(const std::string& text) {
  return xml_escape(text);
}

// Escaped text with `code spans` as <code>.
std::string inline_text(const std::string& text) {
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t open = text.find('`', pos);
    const size_t close = open == std::string::npos ? open : text.find('`', open + 1);
    if (close == std::string::npos) break;
    out += escape(text.substr(pos, open - pos)) + "<code>" +
           escape(text.substr(open + 1, close - open - 1)) + "</code>";
    pos = close + 1;
  }
  return out + escape(text.substr(pos));
}

bool id_char(char ch) {
  return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.';
}

const char* kStyle = R"(
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d1d1f;
       max-width: 1180px; margin: 0 auto; padding: 24px 32px 64px; background: #fff; }
h1 { font-size: 28px; margin: 8px 0 4px; }
h2 { font-size: 21px; margin: 40px 0 8px; padding-top: 8px; border-top: 2px solid #e4e4e7; }
nav ol { columns: 2; margin: 8px 0 0; }
p { margin: 8px 0; max-width: 960px; }
p.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 6px 12px; }
code { background: #f2f2f4; padding: 0 4px; border-radius: 3px; font-size: 90%; }
table { border-collapse: collapse; margin: 12px 0 20px; font-size: 13px; }
th, td { border: 1px solid #d4d4d8; padding: 3px 8px; vertical-align: top; }
th { background: #f4f4f5; text-align: left; }
td.r { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr:nth-child(even) td { background: #fafafa; }
figure { margin: 16px 0 24px; }
figure svg { width: 100%; max-width: 900px; height: auto; display: block;
             border: 1px solid #e4e4e7; }
figcaption { font-size: 14px; color: #3f3f46; max-width: 900px; margin-top: 6px; }
div.chart-skipped { border: 1px dashed #a1a1aa; background: #fafafa; padding: 10px 14px;
                    margin: 16px 0; max-width: 880px; }
)";

// Checks every drawn chart: gnuplot puts each plotted series in <g id="...gnuplot_plot_N">, a
// point as <use> and a bar as <polygon>; a chart must show at least as many marks as the data
// points the report gave it (data-points). The outcome goes to <body data-chart-check>, and any
// problem to the console, so a headless browser can tell.
const char* kCheckScript = R"(
(function () {
  var problems = [];
  var charts = document.querySelectorAll('figure.chart');
  charts.forEach(function (figure) {
    var expected = Number(figure.getAttribute('data-points'));
    var svg = figure.querySelector('svg');
    if (!svg) { problems.push(figure.id + ': no SVG'); return; }
    var marks = svg.querySelectorAll(
        'g[id*="gnuplot_plot_"] use, g[id*="gnuplot_plot_"] polygon').length;
    if (!(expected > 0) || marks < expected)
      problems.push(figure.id + ': ' + marks + ' of ' + expected + ' data points drawn');
  });
  document.body.setAttribute('data-charts', String(charts.length));
  document.body.setAttribute('data-chart-check', problems.length ? 'failed' : 'ok');
  if (problems.length) console.error('attnlab report: charts without data: ' + problems.join('; '));
})();
)";

void write_table(std::ostream& out, const Table& t) {
  out << "<table>\n<tr>";
  for (const std::string& h : t.header) out << "<th>" << escape(h) << "</th>";
  out << "</tr>\n";
  for (const auto& row : t.rows) {
    out << "<tr>";
    for (size_t i = 0; i < row.size(); ++i)
      out << (i < t.align.size() && t.align[i] == 'r' ? "<td class=\"r\">" : "<td>")
          << escape(row[i]) << "</td>";
    out << "</tr>\n";
  }
  out << "</table>\n";
}

}  // namespace

std::string inline_svg(const std::string& svg, const std::string& prefix) {
  const size_t start = svg.find("<svg");
  const std::string body = start == std::string::npos ? svg : svg.substr(start);
  std::set<std::string> ids;
  for (size_t pos = body.find("id="); pos != std::string::npos; pos = body.find("id=", pos + 3)) {
    if (pos > 0 && id_char(body[pos - 1])) continue;  // e.g. "gid=", not an id attribute
    const char quote = pos + 3 < body.size() ? body[pos + 3] : 0;
    if (quote != '\'' && quote != '"') continue;
    const size_t end = body.find(quote, pos + 4);
    if (end != std::string::npos) ids.insert(body.substr(pos + 4, end - pos - 4));
  }
  std::string out;
  out.reserve(body.size() + body.size() / 8);
  for (size_t i = 0; i < body.size(); ++i) {
    out += body[i];
    // An id attribute value, or a reference '#id' / "#id" / url(#id), starts after this char.
    const bool id_value = (body[i] == '\'' || body[i] == '"') && i >= 3 &&
                          body.compare(i - 3, 3, "id=") == 0 && (i < 4 || !id_char(body[i - 4]));
    const bool reference = body[i] == '#' && i > 0 &&
                           (body[i - 1] == '\'' || body[i - 1] == '"' || body[i - 1] == '(');
    if (!id_value && !reference) continue;
    size_t end = i + 1;
    while (end < body.size() && id_char(body[end])) ++end;
    if (ids.count(body.substr(i + 1, end - i - 1))) out += prefix;
  }
  return out;
}

std::string render_html(const Document& doc) {
  std::ostringstream out;
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      << "<title>" << escape(doc.title) << "</title>\n<style>" << kStyle << "</style>\n"
      << "</head>\n<body>\n<header>\n<h1>" << escape(doc.title) << "</h1>\n";
  for (const std::string& p : doc.intro) out << "<p>" << inline_text(p) << "</p>\n";
  out << "<nav><strong>Contents</strong><ol>\n";
  for (const Section& s : doc.sections)
    out << "<li><a href=\"#" << escape(s.id) << "\">" << escape(s.title) << "</a></li>\n";
  out << "</ol></nav>\n</header>\n";
  int figure = 0;
  for (const Section& s : doc.sections) {
    out << "<section id=\"" << escape(s.id) << "\">\n<h2>" << escape(s.title) << "</h2>\n";
    for (const Block& b : s.blocks) {
      if (const auto* p = std::get_if<Paragraph>(&b)) {
        out << (p->note ? "<p class=\"note\">" : "<p>") << inline_text(p->text) << "</p>\n";
      } else if (const auto* t = std::get_if<Table>(&b)) {
        write_table(out, *t);
      } else if (const auto* f = std::get_if<Figure>(&b)) {
        ++figure;
        const std::string id = "figure-" + f->spec.id;
        if (f->svg.empty()) {
          out << "<div class=\"chart-skipped\" id=\"" << escape(id) << "\"><strong>Figure "
              << figure << " (" << escape(f->spec.title) << ") skipped:</strong> "
              << escape(f->skipped) << ".</div>\n";
          continue;
        }
        out << "<figure class=\"chart\" id=\"" << escape(id) << "\" data-points=\""
            << f->spec.data_points() << "\">\n"
            << inline_svg(f->svg, "f" + std::to_string(figure) + "-") << "\n<figcaption><strong>"
            << "Figure " << figure << ".</strong> " << inline_text(f->caption)
            << "</figcaption>\n</figure>\n";
      }
    }
    out << "</section>\n";
  }
  out << "<script>" << kCheckScript << "</script>\n</body>\n</html>\n";
  return out.str();
}

}  // namespace attnlab::reports
