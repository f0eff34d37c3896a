// report.md from a Document; see render.h.
#include <sstream>
#include <variant>

#include "reports/render.h"

namespace attnlab::reports {

namespace {

std::string cell(const std::string& text) {
  std::string out;
  for (char ch : text) {
    if (ch == '|') out += '\\';
    out += ch == '\n' ? ' ' : ch;
  }
  return out.empty() ? " " : out;
}

void write_table(std::ostream& out, const Table& t) {
  out << "|";
  for (const std::string& h : t.header) out << " " << cell(h) << " |";
  out << "\n|";
  for (size_t i = 0; i < t.header.size(); ++i)
    out << (i < t.align.size() && t.align[i] == 'r' ? "---:|" : "---|");
  out << "\n";
  for (const auto& row : t.rows) {
    out << "|";
    for (const std::string& c : row) out << " " << cell(c) << " |";
    out << "\n";
  }
  out << "\n";
}

}  // namespace

std::string render_markdown(const Document& doc) {
  std::ostringstream out;
  out << "# " << doc.title << "\n\n";
  for (const std::string& p : doc.intro) out << p << "\n\n";
  int figure = 0;
  for (const Section& s : doc.sections) {
    out << "## " << s.title << "\n\n";
    for (const Block& b : s.blocks) {
      if (const auto* p = std::get_if<Paragraph>(&b)) {
        out << (p->note ? "> " : "") << p->text << "\n\n";
      } else if (const auto* t = std::get_if<Table>(&b)) {
        write_table(out, *t);
      } else if (const auto* f = std::get_if<Figure>(&b)) {
        ++figure;
        if (f->svg.empty()) {
          out << "> Figure " << figure << " (" << f->spec.title << ") skipped: " << f->skipped
              << ".\n\n";
        } else {
          out << "![" << f->spec.title << "](" << f->file() << ")\n\n";
          out << "*Figure " << figure << ": " << f->caption << "*\n\n";
        }
      }
    }
  }
  return out.str();
}

}  // namespace attnlab::reports
