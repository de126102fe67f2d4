// Results that survive: every test appends JSON lines to TORCHSTRESS_RESULTS_DIR as it goes (one
// write() per line, O_APPEND), so a run killed midway leaves every completed result readable.
// The report tool (tools/report) reads these files.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "torchstress/json_escape.h"

namespace torchstress {

// A flat JSON object built field by field; values are escaped.
class JsonLine {
 public:
  JsonLine& add(const std::string& key, const std::string& value);
  JsonLine& add(const std::string& key, const char* value) { return add(key, std::string(value)); }
  JsonLine& add(const std::string& key, double value);
  JsonLine& add(const std::string& key, long long value);
  JsonLine& add(const std::string& key, int value) { return add(key, static_cast<long long>(value)); }
  JsonLine& add(const std::string& key, long value) { return add(key, static_cast<long long>(value)); }
  JsonLine& add(const std::string& key, bool value);
  JsonLine& add_raw(const std::string& key, const std::string& json);  // nested object/array
  std::string str() const { return "{" + body_ + "}"; }

 private:
  std::string body_;
};

class ResultsLog {
 public:
  // Opens <dir>/results-<pid>.jsonl. Disabled (no file) in death-test children.
  void open(const std::string& dir, const std::string& binary);
  void disable() { enabled_ = false; }
  bool enabled() const { return enabled_; }
  const std::string& path() const { return path_; }

  // Appends one line; common fields (binary, device, torch, time) are added here.
  void append(JsonLine line);
  void append_stall(const std::string& test, const std::string& message);

  // Test-facing: a named figure for the current test (also a gtest property, so it appears in
  // gtest's XML/JSON output). Collected into the test's record when it ends.
  void record(const std::string& key, const std::string& value);
  void record(const std::string& key, double value);
  std::map<std::string, std::string> take_properties();

  // A worker failure's C++ backtrace (`what` is its one-line description), written with the
  // current test's result as "backtraces"; at most kMaxBacktraces per test.
  void attach_backtrace(const std::string& what, const std::string& backtrace);
  std::vector<std::string> take_backtraces();
  static constexpr size_t kMaxBacktraces = 5;

 private:
  bool enabled_ = false;
  int fd_ = -1;
  std::string path_;
  std::string binary_;
  std::mutex mu_;
  std::map<std::string, std::string> properties_;  // raw JSON values by key
  std::vector<std::string> backtraces_;
};

ResultsLog& results_log();

// Shortcuts for tests.
inline void record(const std::string& key, const std::string& value) { results_log().record(key, value); }
inline void record(const std::string& key, double value) { results_log().record(key, value); }

// Writes a "test" line when each test ends (status, duration, properties, failure texts).
class ResultsListener : public ::testing::EmptyTestEventListener {
 public:
  void OnTestStart(const ::testing::TestInfo& info) override;
  void OnTestPartResult(const ::testing::TestPartResult& result) override;
  void OnTestEnd(const ::testing::TestInfo& info) override;

 private:
  std::vector<std::string> failures_;
  std::string skip_reason_;
};

// Name of the running test ("Suite.Name"), or "" outside a test.
std::string current_test_name();

}  // namespace torchstress
