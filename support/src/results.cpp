#include "torchstress/results.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>

#include "torchstress/device.h"
#include "torchstress/log.h"
#include "torchstress/subprocess.h"

namespace torchstress {

namespace {
std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  return fmt::format("{:.10g}", v);
}

std::string json_string_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const auto& item : items) {
    if (out.size() > 1) out += ',';
    out.append("\"").append(json_escape(item)).append("\"");
  }
  return out + "]";
}
}  // namespace

JsonLine& JsonLine::add(const std::string& key, const std::string& value) {
  return add_raw(key, "\"" + json_escape(value) + "\"");
}
JsonLine& JsonLine::add(const std::string& key, double value) { return add_raw(key, json_number(value)); }
JsonLine& JsonLine::add(const std::string& key, long long value) { return add_raw(key, std::to_string(value)); }
JsonLine& JsonLine::add(const std::string& key, bool value) { return add_raw(key, value ? "true" : "false"); }
JsonLine& JsonLine::add_raw(const std::string& key, const std::string& json) {
  if (!body_.empty()) body_ += ",";
  body_ += "\"" + json_escape(key) + "\":" + json;
  return *this;
}

ResultsLog& results_log() {
  static ResultsLog log;
  return log;
}

void ResultsLog::open(const std::string& dir, const std::string& binary) {
  make_directories(dir);
  path_ = fmt::format("{}/results-{}-{}.jsonl", dir, binary, ::getpid());
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    logger("results")->error("cannot write results to {}: {}", path_, std::strerror(errno));
    return;
  }
  binary_ = binary;
  enabled_ = true;
}

void ResultsLog::append(JsonLine line) {
  if (!enabled_) return;
  const auto now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  line.add("binary", binary_).add("time", now);
  const std::string text = line.str() + "\n";
  std::lock_guard<std::mutex> lock(mu_);
  // One write() per line: O_APPEND keeps concurrent writers (ctest -j) from interleaving.
  const ssize_t n = ::write(fd_, text.data(), text.size());
  (void)n;
}

void ResultsLog::append_stall(const std::string& test, const std::string& message) {
  append(JsonLine()
             .add("type", "test")
             .add("name", test)
             .add("status", "stalled")
             .add_raw("failures", "[\"" + json_escape(message) + "\"]")
             .add("device", device_label(device_under_test())));
}

void ResultsLog::record(const std::string& key, const std::string& value) {
  ::testing::Test::RecordProperty(key, value);
  std::lock_guard<std::mutex> lock(mu_);
  properties_[key] = "\"" + json_escape(value) + "\"";
}

void ResultsLog::record(const std::string& key, double value) {
  ::testing::Test::RecordProperty(key, fmt::format("{:.6g}", value));
  std::lock_guard<std::mutex> lock(mu_);
  properties_[key] = json_number(value);
}

std::map<std::string, std::string> ResultsLog::take_properties() {
  std::lock_guard<std::mutex> lock(mu_);
  auto out = std::move(properties_);
  properties_.clear();
  return out;
}

void ResultsLog::attach_backtrace(const std::string& what, const std::string& backtrace) {
  std::lock_guard<std::mutex> lock(mu_);
  if (backtraces_.size() < kMaxBacktraces) backtraces_.push_back(what + "\n" + backtrace);
}

std::vector<std::string> ResultsLog::take_backtraces() {
  std::lock_guard<std::mutex> lock(mu_);
  auto out = std::move(backtraces_);
  backtraces_.clear();
  return out;
}

std::string current_test_name() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return info ? fmt::format("{}.{}", info->test_suite_name(), info->name()) : "";
}

void ResultsListener::OnTestStart(const ::testing::TestInfo& info) {
  failures_.clear();
  skip_reason_.clear();
  results_log().take_properties();
  results_log().take_backtraces();
  results_log().append(
      JsonLine().add("type", "start").add("name", fmt::format("{}.{}", info.test_suite_name(), info.name())));
}

void ResultsListener::OnTestPartResult(const ::testing::TestPartResult& r) {
  if (r.skipped()) {
    skip_reason_ = r.message();
  } else if (r.failed()) {
    failures_.push_back(r.message());
  }
}

void ResultsListener::OnTestEnd(const ::testing::TestInfo& info) {
  const auto* result = info.result();
  const char* status = result->Skipped() ? "skipped" : (result->Failed() ? "failed" : "passed");
  // Built with appends only: gcc 12's -Wrestrict misfires on `const char* + std::string` here.
  std::string props = "{";
  for (const auto& [k, v] : results_log().take_properties()) {
    if (props.size() > 1) props += ',';
    props.append("\"").append(json_escape(k)).append("\":").append(v);
  }
  props += '}';
  const std::string failures = json_string_array(failures_);
  const std::string backtraces = json_string_array(results_log().take_backtraces());
  results_log().append(JsonLine()
                           .add("type", "test")
                           .add("name", fmt::format("{}.{}", info.test_suite_name(), info.name()))
                           .add("status", status)
                           .add("duration_s", static_cast<double>(result->elapsed_time()) / 1000.0)
                           .add("device", device_label(device_under_test()))
                           .add("skip_reason", skip_reason_)
                           .add_raw("properties", props)
                           .add_raw("failures", failures)
                           .add_raw("backtraces", backtraces));
}

}  // namespace torchstress
