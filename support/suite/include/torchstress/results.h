// Results that survive: the suite's ResultsSink. Every test appends JSON lines to a results folder
// as it goes (one write() per line, O_APPEND), so a run killed midway leaves every completed result
// readable. The report tool (tools/report) reads these files.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "torchstress/error_sink.h"
#include "torchstress/results_schema.h"
#include "torchstress/results_sink.h"

namespace torchstress {

class ResultsLog : public ResultsSink {
 public:
  // Opens <dir>/results-<binary>-<pid>.jsonl; `device` (the device under test) goes into test and
  // stall lines. Never opened (no file) in death-test children. The open file is also where the
  // crash handler (crash_record.h) writes a test's "crashed" line; the listener below keeps its
  // preformatted prefix current as tests start and end.
  void open(const std::string& dir, const std::string& binary, const std::string& device);
  void disable() { enabled_ = false; }
  bool enabled() const { return enabled_; }
  const std::string& path() const { return path_; }
  const std::string& device() const { return device_; }
  const std::string& binary() const { return binary_; }

  // Appends one line; common fields (binary, time) are added here.
  void append(JsonLine line) override;
  // The watchdog's record of a stuck thread: a "test" line with status "stalled" (with every
  // worker's op, iteration and input in "workers", as a crash record has them).
  void append_stall(const std::string& test, const ErrorRecord& stall) override;
  void append_stall_with_workers(const std::string& test, const ErrorRecord& stall,
                                 const std::string& workers_json) override;

  // Test-facing: a named figure for the current test (also a gtest property, so it appears in
  // gtest's XML/JSON output). Collected into the test's record when it ends.
  void record(const std::string& key, const std::string& value) override;
  void record(const std::string& key, double value) override;
  Json take_properties();

  // A worker failure's C++ backtrace (`what` is its one-line description), written with the
  // current test's result as "backtraces"; at most kMaxBacktraces per test.
  void attach_backtrace(const std::string& what, const std::string& backtrace) override;
  std::vector<std::string> take_backtraces();

  // A run's typed errors and per-kind counts, written with the current test's result ("errors",
  // "error_counts"); several runs of one test add up.
  void attach_errors(const std::vector<ErrorRecord>& errors, const std::map<std::string, size_t>& counts) override;
  Json take_errors();
  Json take_error_counts();
  static constexpr size_t kMaxBacktraces = 5;

 private:
  bool enabled_ = false;
  int fd_ = -1;
  std::string path_;
  std::string binary_;
  std::string device_;
  std::mutex mu_;
  Json properties_ = Json::object();
  Json errors_ = Json::array();
  Json error_counts_ = Json::object();
  std::vector<std::string> backtraces_;
};

// The suite's one results file (opened by test_main), and the same as a spec's sink (not owned).
ResultsLog& results_log();
std::shared_ptr<ResultsSink> shared_results_log();

// Shortcuts for tests.
inline void record(const std::string& key, const std::string& value) { results_log().record(key, value); }
inline void record(const std::string& key, double value) { results_log().record(key, value); }

// Writes a "test" line when each test ends (status, duration, properties, failure texts); while a
// test runs, a fatal signal writes its "crashed" line instead (crash_record.h).
class ResultsListener : public ::testing::EmptyTestEventListener {
 public:
  void OnTestStart(const ::testing::TestInfo& info) override;
  void OnTestPartResult(const ::testing::TestPartResult& result) override;
  void OnTestEnd(const ::testing::TestInfo& info) override;

 private:
  std::vector<std::string> failures_;
  std::string skip_reason_;
};

// The report section of a test, declared as data by its test file: per suite, or for every suite
// of the binary that declares none (see section:: in results_schema.h for the names):
//   TORCHSTRESS_SECTION(Soak, soak);            TORCHSTRESS_BINARY_SECTION(regression);
bool declare_section(const std::string& suite, const std::string& section);
std::string section_of(const std::string& suite);
#define TORCHSTRESS_SECTION(Suite, name) \
  [[maybe_unused]] static const bool torchstress_section_##Suite = ::torchstress::declare_section(#Suite, #name)
#define TORCHSTRESS_BINARY_SECTION(name) \
  [[maybe_unused]] static const bool torchstress_binary_section = ::torchstress::declare_section("*", #name)

// One error as a results record: kind, thread, iteration, op, device, message, max_abs_diff.
Json to_json(const ErrorRecord& e);

}  // namespace torchstress
