// Checked reading of JSON input, shared by every attnlab reader (layer configs, sweep and verify
// configs, results files and journals, safetensors headers). Parsing turns every nlohmann
// exception into an attnlab::Error naming the input — a number too large for a double names the
// field it belongs to — and the field readers check type, range and finiteness, each failure a
// one-line message in the style of the layer-config rules:
//   "configs/x.json: n_heads must be an integer, got 2.5"
//   "configs/x.json: cases[0].seq (0) must be in [1, 4096]"
//   "configs/x.json: rope.theta (1e3084) overflows a double"
// `origin` names the input (a file path, "preset 'x'"); `field` is the value's path in the
// document ("rope.theta", "models[2]", "cases[0].seed"), built with member_path/element_path.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"

namespace attnlab {

struct JsonParseOptions {
  // A syntax error reads "<origin>: <invalid> (<the parser's reason>)".
  std::string invalid = "not valid JSON";
  // Reject an object that names a key twice ("<origin>: <path> names 'k' twice"); without
  // this the last value silently wins.
  bool unique_keys = false;
  // What messages call the top level ("header" for a safetensors header).
  std::string top_level = "the top level";
};

nlohmann::json parse_json(const std::string& text, const std::string& origin,
                          const JsonParseOptions& options = {});
nlohmann::ordered_json parse_ordered_json(const std::string& text, const std::string& origin,
                                          const JsonParseOptions& options = {});

// "parent.key" ("key" at the top level) and "parent[index]".
std::string member_path(const std::string& parent, const std::string& key);
std::string element_path(const std::string& parent, size_t index);

// Text quoted from an input, safe in a one-line message: control characters become '?', and
// anything past `limit` bytes is cut (at a UTF-8 character boundary) and marked "...".
std::string printable(const std::string& text, size_t limit = 80);
// `'text'` with printable() applied.
std::string single_quoted(const std::string& text);

// Throws attnlab::Error("<origin>: <field> <problem>").
[[noreturn]] void fail_field(const std::string& origin, const std::string& field,
                             const std::string& problem);

// A short description of a value for messages: the JSON of a scalar (cut to a line), "an
// object" or "an array" for containers.
template <class Json>
std::string describe_value(const Json& value) {
  if (value.is_object()) return "an object";
  if (value.is_array()) return "an array";
  return printable(value.dump(-1, ' ', false, Json::error_handler_t::replace), 60);
}

namespace json_fields_detail {
std::string number_text(double value);
[[noreturn]] void fail_range(const std::string& origin, const std::string& field,
                             const std::string& value, const std::string& min,
                             const std::string& max);
}  // namespace json_fields_detail

// An integer in [min, max]. Floats (2.0 included), strings and integers beyond int64 fail.
template <class Json>
int64_t read_int(const Json& value, const std::string& origin, const std::string& field,
                 int64_t min, int64_t max) {
  if (!value.is_number_integer())
    fail_field(origin, field, "must be an integer, got " + describe_value(value));
  if (value.is_number_unsigned()) {
    const uint64_t u = value.template get<uint64_t>();
    if (max < 0 || u > static_cast<uint64_t>(max) || (min > 0 && u < static_cast<uint64_t>(min)))
      json_fields_detail::fail_range(origin, field, std::to_string(u), std::to_string(min),
                                     std::to_string(max));
    return static_cast<int64_t>(u);
  }
  const int64_t x = value.template get<int64_t>();
  if (x < min || x > max)
    json_fields_detail::fail_range(origin, field, std::to_string(x), std::to_string(min),
                                   std::to_string(max));
  return x;
}

// A non-negative integer in [min, max] that may use the whole uint64 range (seeds, offsets).
template <class Json>
uint64_t read_uint(const Json& value, const std::string& origin, const std::string& field,
                   uint64_t min = 0, uint64_t max = std::numeric_limits<uint64_t>::max()) {
  if (!value.is_number_integer())
    fail_field(origin, field, "must be an integer, got " + describe_value(value));
  if (!value.is_number_unsigned())
    json_fields_detail::fail_range(origin, field, std::to_string(value.template get<int64_t>()),
                                   std::to_string(min), std::to_string(max));
  const uint64_t u = value.template get<uint64_t>();
  if (u < min || u > max)
    json_fields_detail::fail_range(origin, field, std::to_string(u), std::to_string(min),
                                   std::to_string(max));
  return u;
}

// A finite number (integer or not) in [min, max].
template <class Json>
double read_number(const Json& value, const std::string& origin, const std::string& field,
                   double min = -std::numeric_limits<double>::max(),
                   double max = std::numeric_limits<double>::max()) {
  if (!value.is_number())
    fail_field(origin, field, "must be a number, got " + describe_value(value));
  const double x = value.template get<double>();
  if (!(x >= min && x <= max))  // NaN fails too
    json_fields_detail::fail_range(origin, field, json_fields_detail::number_text(x),
                                   json_fields_detail::number_text(min),
                                   json_fields_detail::number_text(max));
  return x;
}

// A finite number > 0.
template <class Json>
double read_positive_number(const Json& value, const std::string& origin,
                            const std::string& field) {
  if (!value.is_number())
    fail_field(origin, field, "must be a number, got " + describe_value(value));
  const double x = value.template get<double>();
  if (!(x > 0 && x <= std::numeric_limits<double>::max()))
    fail_field(origin, field,
               "(" + json_fields_detail::number_text(x) + ") must be a finite number > 0");
  return x;
}

template <class Json>
bool read_bool(const Json& value, const std::string& origin, const std::string& field) {
  if (!value.is_boolean())
    fail_field(origin, field, "must be true or false, got " + describe_value(value));
  return value.template get<bool>();
}

template <class Json>
std::string read_string(const Json& value, const std::string& origin, const std::string& field) {
  if (!value.is_string())
    fail_field(origin, field, "must be a string, got " + describe_value(value));
  return value.template get<std::string>();
}

// The member `key` of an object, or nullptr when absent. Throws when `object` is not an object.
template <class Json>
const Json* find_member(const Json& object, const std::string& origin, const std::string& path,
                        const std::string& key) {
  if (!object.is_object())
    fail_field(origin, path.empty() ? "the top level" : path,
               "must be a JSON object, got " + describe_value(object));
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

}  // namespace attnlab
