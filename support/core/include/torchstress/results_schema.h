// The results schema: every line the suite writes (process, start, test, round, bench) is one JSON
// object built with JsonLine and marked "schema": kResultsSchema; tools/report reads these names.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <utility>

namespace torchstress {

// Version 2: typed error records, numeric counts, a declared report section per test.
inline constexpr const char* kResultsSchema = "torchstress-results/2";

// Report sections a test declares (TORCHSTRESS_SECTION in results.h); the report groups by them.
namespace section {
inline constexpr const char* kParallel = "parallel";
inline constexpr const char* kSoak = "soak";
inline constexpr const char* kStress = "stress";
inline constexpr const char* kIsolation = "isolation";
inline constexpr const char* kBench = "bench";
inline constexpr const char* kRegression = "regression";
inline constexpr const char* kSelftest = "selftest";
inline constexpr const char* kSweep = "sweep";  // the op sweep (tests/sweep)
inline constexpr const char* kKnownBugs = "known_bugs";  // known upstream bugs (tests/known_bugs)
inline constexpr const char* kOther = "other";
}  // namespace section

using Json = nlohmann::ordered_json;

// One results line, field by field, in insertion order. NaN and Inf become null; invalid UTF-8
// (an exception text copied byte for byte) is replaced, so every line stays valid JSON.
class JsonLine {
 public:
  template <typename T>
  JsonLine& add(const std::string& key, T&& value) {
    obj_[key] = std::forward<T>(value);
    return *this;
  }
  // A nested object or array given as JSON text (e.g. provenance_json()).
  JsonLine& add_raw(const std::string& key, const std::string& json_text);
  const Json& json() const { return obj_; }
  std::string str() const;

 private:
  Json obj_ = Json::object();
};

// Text of `j` as one line of valid JSON, whatever bytes its strings hold.
std::string dump_line(const Json& j);

}  // namespace torchstress
