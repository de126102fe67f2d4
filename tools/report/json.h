// A small JSON value, reader and writer for the report tool: enough for the suite's JSON-lines
// results and the report's own report.json (objects keep their key order). Written here so the
// tool needs no third-party JSON library and no LibTorch.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tsreport {

// Thrown by parse_json: `what()` names the byte offset and what was expected there.
struct JsonError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Json {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  using Object = std::vector<std::pair<std::string, Json>>;
  using Array = std::vector<Json>;

  Json() = default;
  Json(std::nullptr_t) {}
  Json(bool b) : type_(Type::kBool), bool_(b) {}
  Json(double d) : type_(Type::kNumber), num_(d) {}
  Json(int i) : type_(Type::kNumber), num_(i) {}
  Json(long i) : type_(Type::kNumber), num_(static_cast<double>(i)) {}
  Json(long long i) : type_(Type::kNumber), num_(static_cast<double>(i)) {}
  Json(size_t i) : type_(Type::kNumber), num_(static_cast<double>(i)) {}
  Json(const char* s) : type_(Type::kString), str_(s) {}
  Json(std::string s) : type_(Type::kString), str_(std::move(s)) {}

  static Json object() {
    Json j;
    j.type_ = Type::kObject;
    return j;
  }
  static Json array() {
    Json j;
    j.type_ = Type::kArray;
    return j;
  }

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_number() const { return type_ == Type::kNumber; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  // Lenient reads: the fallback when the value is absent or of another type.
  std::string str(const std::string& fallback = "") const { return is_string() ? str_ : fallback; }
  double num(double fallback = 0.0) const { return is_number() ? num_ : fallback; }
  bool boolean(bool fallback = false) const { return is_bool() ? bool_ : fallback; }

  // Object access: a null value when the key is absent (or this is not an object).
  const Json& operator[](const std::string& key) const;
  bool has(const std::string& key) const;
  // Sets (or replaces) `key`; turns a null value into an object.
  Json& set(const std::string& key, Json value);
  const Object& items() const { return obj_; }

  // Array access.
  const Array& elements() const { return arr_; }
  size_t size() const { return is_array() ? arr_.size() : obj_.size(); }
  Json& push(Json value);

  // Compact (indent < 0) or pretty text.
  std::string dump(int indent = -1) const;

 private:
  void dump_to(std::string& out, int indent, int depth) const;

  Type type_ = Type::kNull;
  bool bool_ = false;
  double num_ = 0.0;
  std::string str_;
  Array arr_;
  Object obj_;
};

// Parses one JSON text (trailing whitespace allowed, nothing else). Throws JsonError.
Json parse_json(const std::string& text);

// "a\"b" -> "\"a\\\"b\"" (with the quotes).
std::string json_quote(const std::string& s);

}  // namespace tsreport
