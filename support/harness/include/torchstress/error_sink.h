// Error capture: workers never assert; they record what went wrong here (with thread, iteration,
// op and device), and the main thread asserts once (see matchers.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace torchstress {

enum class ErrorKind { kException, kWrongValue, kNonFinite, kStall, kGate };

const char* to_string(ErrorKind kind);

struct ErrorRecord {
  ErrorKind kind = ErrorKind::kException;
  int thread = -1;
  long iteration = -1;
  std::string op;
  std::string device;
  std::string message;    // one line, no backtrace
  std::string backtrace;  // c10::Error backtrace, kept apart from the message
  double max_abs_diff = 0.0;

  // The one way to make a record: every field that says where it happened, at once.
  static ErrorRecord at(ErrorKind kind, int thread, long iteration, std::string op, std::string device,
                        std::string message) {
    ErrorRecord e;
    e.kind = kind;
    e.thread = thread;
    e.iteration = iteration;
    e.op = std::move(op);
    e.device = std::move(device);
    e.message = std::move(message);
    return e;
  }

  // "wrong value in thread 5, iteration 12 (op layernorm on cpu): max abs diff 1 ..."
  std::string describe() const;
};

struct WarningRecord {
  int thread = -1;
  long iteration = -1;
  std::string message;
};

class ResultsSink;

class ErrorSink {
 public:
  // Keeps the first `keep_per_kind` records of each kind and counts the rest; the first few worker
  // failures' backtraces go to `results` (none: kept only in the records).
  explicit ErrorSink(size_t keep_per_kind = 50, ResultsSink* results = nullptr)
      : keep_per_kind_(keep_per_kind), results_(results) {}

  void add(ErrorRecord record);
  void add_warning(WarningRecord record);

  std::vector<ErrorRecord> errors() const;
  std::vector<WarningRecord> warnings() const;
  size_t total_errors() const;
  // When the first error was added (time to detect); nullopt while there is none.
  std::optional<std::chrono::steady_clock::time_point> first_error_time() const;
  std::map<std::string, size_t> counts_by_kind() const;

 private:
  const size_t keep_per_kind_;
  ResultsSink* const results_;
  mutable std::mutex mu_;
  std::vector<ErrorRecord> errors_;
  std::vector<WarningRecord> warnings_;
  std::map<std::string, size_t> counts_;
  size_t total_ = 0;
  std::optional<std::chrono::steady_clock::time_point> first_at_;
};

// The exception being handled, as an error record: call it inside a catch block. A c10::Error
// keeps its message without the backtrace (which goes to `backtrace`); any message is cut to its
// first line. The one path from an exception to a record (runner, rounds, regression helpers).
ErrorRecord current_exception_record(int thread, long iteration, const std::string& op, const std::string& device);
// The same, added to `sink`.
void record_current_exception(ErrorSink& sink, int thread, long iteration, const std::string& op,
                              const std::string& device);

// Groups errors by kind: a header per kind with its count, then one line per error.
std::string format_grouped(const std::vector<ErrorRecord>& errors, size_t max_lines_per_kind = 20);

}  // namespace torchstress
