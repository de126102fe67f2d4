// The report tool's JSON: nlohmann::ordered_json (objects keep their key order, so report.json
// lists fields in the order the builder sets them), plus lenient reads. The results and baselines
// the tool reads are written by other programs, so a missing key or a value of another type reads
// as a fallback ("" / 0 / false / an empty list) instead of throwing: at() never inserts and never
// asserts, unlike nlohmann's const operator[].
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace tsreport {

using Json = nlohmann::ordered_json;

namespace json_detail {
inline const Json& null_value() {
  static const Json n;
  return n;
}
inline const Json::array_t& empty_array() {
  static const Json::array_t a;
  return a;
}
inline const Json& step(const Json& j, std::string_view key) {
  if (!j.is_object()) return null_value();
  const auto it = j.find(key);
  return it == j.end() ? null_value() : *it;
}
}  // namespace json_detail

// j["a"]["b"]... read-only: a null value when any step is absent or not an object.
inline const Json& at(const Json& j) { return j; }
template <typename... Keys>
const Json& at(const Json& j, std::string_view key, const Keys&... rest) {
  return at(json_detail::step(j, key), rest...);
}

// A string, number, bool or array at a key path, or the fallback when absent or of another type.
template <typename... Keys>
std::string str(const Json& j, const Keys&... keys) {
  const Json& v = at(j, keys...);
  return v.is_string() ? v.get<std::string>() : std::string();
}
template <typename... Keys>
double num(const Json& j, const Keys&... keys) {
  const Json& v = at(j, keys...);
  return v.is_number() ? v.get<double>() : 0.0;
}
inline double num_or(const Json& v, double fallback) { return v.is_number() ? v.get<double>() : fallback; }
inline std::string str_or(const Json& v, const std::string& fallback) {
  return v.is_string() ? v.get<std::string>() : fallback;
}
template <typename... Keys>
bool flag(const Json& j, const Keys&... keys) {
  const Json& v = at(j, keys...);
  return v.is_boolean() && v.get<bool>();
}
inline bool flag_or(const Json& v, bool fallback) { return v.is_boolean() ? v.get<bool>() : fallback; }
template <typename... Keys>
const Json::array_t& elems(const Json& j, const Keys&... keys) {
  const Json& v = at(j, keys...);
  return v.is_array() ? v.get_ref<const Json::array_t&>() : json_detail::empty_array();
}
// An object's entries, or none.
inline const Json& object_or_empty(const Json& v) {
  static const Json empty = Json::object();
  return v.is_object() ? v : empty;
}

// Text of a value for a file: invalid UTF-8 in a message (a worker's exception text is not
// checked) is replaced by U+FFFD, so the output is always valid JSON.
inline std::string dump_text(const Json& j, int indent = -1) {
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace tsreport
