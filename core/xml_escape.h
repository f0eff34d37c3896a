// xml_escape: text made safe inside XML/HTML element content and quoted attributes (& < > " ').
// Shared by the JUnit writer (verify/verify_report.cpp) and the HTML report (reports/).
#pragma once

#include <string>

namespace attnlab {

inline std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace attnlab
