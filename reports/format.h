// Number and text formatting shared by the report sections: thousands separators, byte sizes,
// latencies and significant figures, so every table prints numbers the same way.
#pragma once

#include <cstdint>
#include <string>

namespace attnlab::reports {

// printf-style formatting of one double, e.g. format("%.3g", x).
std::string format(const char* spec, double value);
// 1234567 -> "1,234,567".
std::string thousands(long long value);
// 70272 -> "68.6 KiB"; exact below 1 KiB ("576 B").
std::string human_bytes(double bytes);
// Three significant figures (more for large numbers), no exponent between 1e-3 and 1e6:
// 0.00379, 4.09, 62.2, 731, 1230; else 1.23e+07.
std::string sig3(double value);
// A signed percentage with one decimal: "+12.3%", "-4.0%".
std::string signed_percent(double percent);
// "-" for NaN (a missing value), else sig3.
std::string or_dash(double value);

}  // namespace attnlab::reports
