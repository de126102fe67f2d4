#include "torchstress/error_sink.h"

#include <c10/util/Backtrace.h>
#include <c10/util/Exception.h>
#include <fmt/format.h>

#include "torchstress/results_sink.h"

namespace torchstress {
namespace {
constexpr size_t kBacktracesPerSink = 3;  // symbolising a stack costs milliseconds: only the first few
}  // namespace

const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kException:
      return "exception";
    case ErrorKind::kWrongValue:
      return "wrong value";
    case ErrorKind::kNonFinite:
      return "NaN/Inf";
    case ErrorKind::kStall:
      return "stall";
    case ErrorKind::kGate:
      return "start gate";
  }
  return "unknown";
}

std::string ErrorRecord::describe() const {
  const std::string where = fmt::format("in thread {}, iteration {} (op {} on {})", thread, iteration, op, device);
  switch (kind) {
    case ErrorKind::kWrongValue:
      return fmt::format("wrong value {}: max abs diff {:.6g}; {}", where, max_abs_diff, message);
    case ErrorKind::kNonFinite:
      return fmt::format("NaN/Inf {}: {}", where, message);
    case ErrorKind::kException:
      return fmt::format("exception {}: {}", where, message);
    case ErrorKind::kStall:
      return message;
    case ErrorKind::kGate:
      return fmt::format("start gate broken: {}", message);
  }
  return message;
}

void ErrorSink::add(ErrorRecord record) {
  size_t seen = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    seen = ++total_;
    if (seen == 1) first_at_ = std::chrono::steady_clock::now();
  }
  // The first few failures of a run carry the C++ stack of the thread that recorded them (the
  // worker's, for wrong values; the throw site's, for c10::Error), into the results for the report.
  const bool from_worker = record.kind != ErrorKind::kStall && record.kind != ErrorKind::kGate;
  if (from_worker && seen <= kBacktracesPerSink) {
    if (record.backtrace.empty()) record.backtrace = c10::get_backtrace(/*frames_to_skip=*/1, /*max_frames=*/32);
    if (results_) results_->attach_backtrace(record.describe(), record.backtrace);
  }
  std::lock_guard<std::mutex> lock(mu_);
  size_t& n = counts_[to_string(record.kind)];
  ++n;
  if (n <= keep_per_kind_) errors_.push_back(std::move(record));
}

void ErrorSink::add_warning(WarningRecord record) {
  std::lock_guard<std::mutex> lock(mu_);
  if (warnings_.size() < keep_per_kind_) warnings_.push_back(std::move(record));
}

std::vector<ErrorRecord> ErrorSink::errors() const {
  std::lock_guard<std::mutex> lock(mu_);
  return errors_;
}

std::vector<WarningRecord> ErrorSink::warnings() const {
  std::lock_guard<std::mutex> lock(mu_);
  return warnings_;
}

size_t ErrorSink::total_errors() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

std::optional<std::chrono::steady_clock::time_point> ErrorSink::first_error_time() const {
  std::lock_guard<std::mutex> lock(mu_);
  return first_at_;
}

std::map<std::string, size_t> ErrorSink::counts_by_kind() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_;
}

ErrorRecord current_exception_record(int thread, long iteration, const std::string& op, const std::string& device) {
  ErrorRecord e = ErrorRecord::at(ErrorKind::kException, thread, iteration, op, device, "");
  try {
    throw;
  } catch (const c10::Error& err) {
    const std::string what = err.what();
    e.message = err.what_without_backtrace();
    if (what.size() > e.message.size()) e.backtrace = what.substr(e.message.size());
  } catch (const std::exception& err) {
    e.message = err.what();
  } catch (...) {
    e.message = "unknown exception";
  }
  const auto newline = e.message.find('\n');
  if (newline != std::string::npos) e.message.resize(newline);
  return e;
}

void record_current_exception(ErrorSink& sink, int thread, long iteration, const std::string& op,
                              const std::string& device) {
  sink.add(current_exception_record(thread, iteration, op, device));
}

std::string format_grouped(const std::vector<ErrorRecord>& errors, size_t max_lines_per_kind) {
  std::map<std::string, std::vector<const ErrorRecord*>> groups;
  for (const auto& e : errors) groups[to_string(e.kind)].push_back(&e);
  std::string out;
  for (const auto& [kind, list] : groups) {
    out += fmt::format("  {} ({}):\n", kind, list.size());
    for (size_t i = 0; i < list.size() && i < max_lines_per_kind; ++i) {
      out += fmt::format("    - {}\n", list[i]->describe());
    }
    if (list.size() > max_lines_per_kind) out += fmt::format("    ... and {} more\n", list.size() - max_lines_per_kind);
  }
  return out;
}

}  // namespace torchstress
