#include "torchstress/results.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <utility>
#include <cstring>

#include "torchstress/crash_record.h"
#include "torchstress/log.h"
#include "torchstress/subprocess.h"

namespace torchstress {

namespace {

// The process that opened the results file (one file per process: the report reads it so).
pid_t& opener_pid() {
  static pid_t pid = -1;
  return pid;
}

// Suite -> declared section ("*": the binary's default).
std::map<std::string, std::string>& sections() {
  static std::map<std::string, std::string> s;
  return s;
}

}  // namespace

bool declare_section(const std::string& suite, const std::string& section) {
  sections()[suite] = section;
  return true;
}

std::string section_of(const std::string& suite) {
  const auto& s = sections();
  if (auto it = s.find(suite); it != s.end()) return it->second;
  if (auto it = s.find("*"); it != s.end()) return it->second;
  return section::kOther;
}

Json to_json(const ErrorRecord& e) {
  Json j = {{"kind", to_string(e.kind)}, {"thread", e.thread},   {"iteration", e.iteration},
            {"op", e.op},                {"device", e.device},   {"message", e.message}};
  j["max_abs_diff"] = e.kind == ErrorKind::kWrongValue ? Json(e.max_abs_diff) : Json(nullptr);
  return j;
}

ResultsLog& results_log() {
  static ResultsLog log;
  return log;
}

std::shared_ptr<ResultsSink> shared_results_log() {
  return std::shared_ptr<ResultsSink>(std::shared_ptr<void>(), &results_log());  // aliasing: not owned
}

void ResultsLog::open(const std::string& dir, const std::string& binary, const std::string& device) {
  device_ = device;
  make_directories(dir);
  path_ = fmt::format("{}/results-{}-{}.jsonl", dir, binary, ::getpid());
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    logger("results")->error("cannot write results to {}: {}", path_, std::strerror(errno));
    return;
  }
  binary_ = binary;
  opener_pid() = ::getpid();
  enabled_ = true;
  set_crash_record_fd(fd_, device_);
}

namespace {

// The leading fields of a test's "crashed" line, as the crash handler needs them: the JSON text of
// the line's common fields with its closing brace left off (the handler appends the rest).
std::string crash_prefix(const std::string& test, const std::string& section, const std::string& device,
                         const std::string& binary) {
  Json out = {{"schema", kResultsSchema}};
  out["type"] = "test";
  out["name"] = test;
  out["section"] = section;
  out["device"] = device;
  out["binary"] = binary;
  std::string text = dump_line(out);
  if (!text.empty() && text.back() == '}') text.pop_back();
  return text;
}

}  // namespace

void ResultsLog::append(JsonLine line) {
  if (!enabled_) return;
  // A forked child (a cold round forked from this process) shares the file but is not the process
  // it belongs to: its words reach the parent through its output, never as lines of its own.
  if (::getpid() != opener_pid()) return;
  const auto now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  Json out = {{"schema", kResultsSchema}};
  out.update(line.json());
  out["binary"] = binary_;
  out["time"] = now;
  const std::string text = dump_line(out) + "\n";
  std::lock_guard<std::mutex> lock(mu_);
  // One write() per line: O_APPEND keeps concurrent writers (ctest -j) from interleaving.
  const ssize_t n = ::write(fd_, text.data(), text.size());
  (void)n;
}

void ResultsLog::append_stall(const std::string& test, const ErrorRecord& stall) {
  append_stall_with_workers(test, stall, "");
}

void ResultsLog::append_stall_with_workers(const std::string& test, const ErrorRecord& stall,
                                           const std::string& workers_json) {
  ErrorRecord e = stall;
  if (e.device.empty()) e.device = device_;
  const auto dot = test.find('.');
  append(JsonLine()
             .add("type", "test")
             .add("name", test)
             .add("section", section_of(test.substr(0, dot)))
             .add("status", "stalled")
             .add("failures", Json::array({e.message}))
             .add("errors", Json::array({to_json(e)}))
             .add("error_counts", Json{{"stall", 1}})
             .add("device", device_)
             .add_raw("workers", workers_json.empty() ? "[]" : workers_json));
}

void ResultsLog::record(const std::string& key, const std::string& value) {
  ::testing::Test::RecordProperty(key, value);
  std::lock_guard<std::mutex> lock(mu_);
  properties_[key] = value;
}

void ResultsLog::record(const std::string& key, double value) {
  ::testing::Test::RecordProperty(key, fmt::format("{:.6g}", value));
  std::lock_guard<std::mutex> lock(mu_);
  properties_[key] = value;  // NaN/Inf are written as null
}

Json ResultsLog::take_properties() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(properties_, Json::object());
}

void ResultsLog::attach_errors(const std::vector<ErrorRecord>& errors, const std::map<std::string, size_t>& counts) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& e : errors) errors_.push_back(to_json(e));
  for (const auto& [kind, n] : counts) error_counts_[kind] = error_counts_.value(kind, size_t{0}) + n;
}

Json ResultsLog::take_errors() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(errors_, Json::array());
}

Json ResultsLog::take_error_counts() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(error_counts_, Json::object());
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

void ResultsListener::OnTestStart(const ::testing::TestInfo& info) {
  failures_.clear();
  skip_reason_.clear();
  results_log().take_properties();
  results_log().take_backtraces();
  results_log().take_errors();
  results_log().take_error_counts();
  const std::string name = fmt::format("{}.{}", info.test_suite_name(), info.name());
  results_log().append(JsonLine()
                           .add("type", "start")
                           .add("name", name)
                           .add("section", section_of(info.test_suite_name())));
  // From here until the test ends, a fatal signal writes this test's "crashed" line.
  auto& log = results_log();
  set_crash_record_test(
      name, log.enabled() ? crash_prefix(name, section_of(info.test_suite_name()), log.device(), log.binary()) : "");
}

void ResultsListener::OnTestPartResult(const ::testing::TestPartResult& r) {
  if (r.skipped()) {
    skip_reason_ = r.message();
  } else if (r.failed()) {
    failures_.push_back(r.message());
  }
}

void ResultsListener::OnTestEnd(const ::testing::TestInfo& info) {
  set_crash_record_test("", "");  // a crash from here on belongs to no test
  const auto* result = info.result();
  const char* status = result->Skipped() ? "skipped" : (result->Failed() ? "failed" : "passed");
  auto& log = results_log();
  log.append(JsonLine()
                 .add("type", "test")
                 .add("name", fmt::format("{}.{}", info.test_suite_name(), info.name()))
                 .add("section", section_of(info.test_suite_name()))
                 .add("status", status)
                 .add("duration_s", static_cast<double>(result->elapsed_time()) / 1000.0)
                 .add("device", log.device())
                 .add("skip_reason", skip_reason_)
                 .add("properties", log.take_properties())
                 .add("failures", failures_)
                 .add("backtraces", log.take_backtraces())
                 .add("errors", log.take_errors())
                 .add("error_counts", log.take_error_counts()));
}

}  // namespace torchstress
