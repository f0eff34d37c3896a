// TextTable: aligned plain-text tables for the CLI's human-readable output (numbers right-
// aligned, text left-aligned, a rule under the header). Machine output uses --json instead.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace attnlab::cli {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) : header_(std::move(header)) {}
  void add_row(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::ostream& out) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// 1234567 -> "1,234,567".
std::string with_thousands(long long value);
// 70272 -> "68.6 KiB"; exact below 1 KiB ("576 B").
std::string human_bytes(double bytes);
// printf-style "%.3g"-like formatting of a double with the given format.
std::string format_number(const char* format, double value);

}  // namespace attnlab::cli
