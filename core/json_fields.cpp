// Checked JSON parsing and the message helpers of the field readers; see json_fields.h.
//
// nlohmann reports a number too large for a double (1e3084) as out_of_range 406 while parsing,
// with no hint of where it was. The parser callback below tracks the path of the value being
// parsed (keys of objects, indices of arrays) so the error can name the field.
#include "core/json_fields.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <vector>

namespace attnlab {

namespace {

// nlohmann's messages start with "[json.exception.parse_error.101] "; the rest is the reason.
std::string without_exception_tag(const std::string& what) {
  const size_t end = what.find("] ");
  return what.rfind("[json.exception", 0) == 0 && end != std::string::npos ? what.substr(end + 2)
                                                                           : what;
}

// The parser's reason quotes raw input bytes, which need not be UTF-8: keep ASCII only.
std::string printable_reason(const std::string& what) {
  std::string ascii;
  for (unsigned char c : without_exception_tag(what)) ascii += c < 0x80 ? char(c) : '?';
  return printable(ascii, 200);
}

// Where the parser is: one frame per open object or array.
struct PathFrame {
  bool array = false;
  std::string key;             // object: the key of the member being parsed
  size_t index = 0;            // array: the index of the element being parsed
  std::set<std::string> keys;  // object, with unique_keys: the keys seen so far
};

// The path of the value being parsed, through the first `depth` frames (all by default).
std::string path_of(const std::vector<PathFrame>& frames, size_t depth = SIZE_MAX) {
  std::string path;
  for (size_t i = 0; i < frames.size() && i < depth; ++i)
    path = frames[i].array ? element_path(path, frames[i].index) : member_path(path, frames[i].key);
  return path;
}

// The token of an out_of_range 406 message: "number overflow parsing '1e3084'".
std::string overflowing_token(const std::string& what) {
  const size_t open = what.find('\'');
  const size_t close = what.rfind('\'');
  return open != std::string::npos && close > open ? what.substr(open + 1, close - open - 1)
                                                   : std::string("?");
}

template <class Json>
Json parse_checked(const std::string& text, const std::string& origin,
                   const JsonParseOptions& options) {
  std::vector<PathFrame> frames;
  std::string duplicate_path, duplicate_key;
  // Called after each value is complete: the enclosing array moves to its next element.
  const auto value_done = [&frames]() {
    if (!frames.empty() && frames.back().array) ++frames.back().index;
  };
  const auto callback = [&](int /*depth*/, nlohmann::json::parse_event_t event, Json& parsed) {
    using E = nlohmann::json::parse_event_t;
    switch (event) {
      case E::object_start:
        frames.push_back(PathFrame{});
        break;
      case E::array_start:
        frames.push_back(PathFrame{true, "", 0, {}});
        break;
      case E::key:
        if (!frames.empty() && parsed.is_string()) {
          PathFrame& top = frames.back();
          top.key = parsed.template get_ref<const std::string&>();
          if (options.unique_keys && !top.keys.insert(top.key).second && duplicate_key.empty()) {
            duplicate_path = path_of(frames, frames.size() - 1);  // the object's own path
            duplicate_key = top.key;
          }
        }
        break;
      case E::object_end:
      case E::array_end:
        if (!frames.empty()) frames.pop_back();
        value_done();
        break;
      case E::value:
        value_done();
        break;
    }
    return true;
  };
  Json result;
  try {
    result = Json::parse(text, callback);
  } catch (const nlohmann::json::out_of_range& e) {
    if (e.id != 406)
      throw Error(origin + ": " + options.invalid + " (" + printable_reason(e.what()) + ")");
    const std::string path = path_of(frames);
    fail_field(origin, path.empty() ? options.top_level : path,
               "(" + printable(overflowing_token(e.what()), 40) + ") overflows a double");
  } catch (const nlohmann::json::exception& e) {
    throw Error(origin + ": " + options.invalid + " (" + printable_reason(e.what()) + ")");
  }
  if (!duplicate_key.empty())
    throw Error(origin + ": " + (duplicate_path.empty() ? options.top_level : duplicate_path) +
                " names " + single_quoted(duplicate_key) + " twice");
  return result;
}

}  // namespace

nlohmann::json parse_json(const std::string& text, const std::string& origin,
                          const JsonParseOptions& options) {
  return parse_checked<nlohmann::json>(text, origin, options);
}

nlohmann::ordered_json parse_ordered_json(const std::string& text, const std::string& origin,
                                          const JsonParseOptions& options) {
  return parse_checked<nlohmann::ordered_json>(text, origin, options);
}

std::string member_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string element_path(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

std::string printable(const std::string& text, size_t limit) {
  std::string out;
  for (unsigned char c : text) out += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
  if (out.size() <= limit) return out;
  size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xc0) == 0x80) --cut;
  return out.substr(0, cut) + "...";
}

std::string single_quoted(const std::string& text) {
  std::string s = "'";
  s += printable(text);
  s += "'";
  return s;
}

void fail_field(const std::string& origin, const std::string& field, const std::string& problem) {
  throw Error(origin + ": " + printable(field, 120) + " " + problem);
}

namespace json_fields_detail {

std::string number_text(double value) {
  char buf[32];
  if (value == std::trunc(value) && std::fabs(value) < 1e15) {  // 60, not 6e+01
    std::snprintf(buf, sizeof buf, "%.0f", value);
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%.17g", value);
  // The shortest form that reads back the same: 0.1 rather than 0.10000000000000001.
  for (int digits = 1; digits < 17; ++digits) {
    char shorter[32];
    std::snprintf(shorter, sizeof shorter, "%.*g", digits, value);
    if (std::strtod(shorter, nullptr) == value) return shorter;
  }
  return buf;
}

void fail_range(const std::string& origin, const std::string& field, const std::string& value,
                const std::string& min, const std::string& max) {
  fail_field(origin, field, "(" + value + ") must be in [" + min + ", " + max + "]");
}

}  // namespace json_fields_detail

}  // namespace attnlab
