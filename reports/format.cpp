// Formatting helpers; see format.h.
#include "reports/format.h"

#include <cmath>
#include <cstdio>

namespace attnlab::reports {

std::string format(const char* spec, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, spec, value);
  return buf;
}

std::string thousands(long long value) {
  std::string digits = std::to_string(value < 0 ? -value : value);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return value < 0 ? "-" + out : out;
}

std::string human_bytes(double bytes) {
  if (bytes < 1024) return format("%.0f B", bytes);
  const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = -1;
  while (bytes >= 1024 && u < 4) bytes /= 1024, ++u;
  return format(bytes < 10 ? "%.2f " : "%.1f ", bytes) + units[u];
}

std::string sig3(double value) {
  if (!std::isfinite(value)) return std::isnan(value) ? "-" : (value > 0 ? "inf" : "-inf");
  const double a = std::fabs(value);
  if (a == 0) return "0";
  if (a >= 1e-3 && a < 1e6) {
    const int decimals = std::max(0, 2 - static_cast<int>(std::floor(std::log10(a))));
    return format(("%." + std::to_string(decimals) + "f").c_str(), value);
  }
  return format("%.2e", value);
}

std::string signed_percent(double percent) {
  return format("%+.1f%%", percent);
}

std::string or_dash(double value) {
  return std::isnan(value) ? "-" : sig3(value);
}

}  // namespace attnlab::reports
