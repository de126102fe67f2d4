#include "trial.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "torchstress/exit_codes.h"
#include "torchstress/subprocess.h"

namespace tsdetect {
namespace {

using Json = nlohmann::json;

// The battery test and knobs of each mode.
struct ModeRun {
  std::string filter;  // --gtest_filter
  std::map<std::string, std::string> env;
  bool runs(const std::string& test) const {  // the filter names this test (exactly, or Suite.*)
    if (filter.size() > 1 && filter.back() == '*') return test.rfind(filter.substr(0, filter.size() - 1), 0) == 0;
    return test == filter;
  }
};

ModeRun mode_run(const TrialSpec& s) {
  if (s.mode == "quick") return {"Workload.*", {}};
  if (s.mode == "release") return {"Workload.*", {{"TORCHSTRESS_BUDGET_SECONDS", fmt::format("{}", kReleaseBudgetSeconds)}}};
  if (s.mode == "threaded") return {"Workload.Threaded", {}};
  if (s.mode == "cold") return {"Workload.ColdRounds", {}};
  return {"Soak.EightThreadsShort", {{"TORCHSTRESS_SOAK_SHORT_SECONDS", fmt::format("{}", s.soak_seconds)}}};
}

std::vector<Json> read_lines(const std::string& dir) {
  std::vector<Json> lines;
  for (const auto& file : torchstress::list_files(dir)) {
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
      Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (j.is_object()) lines.push_back(std::move(j));  // a line cut by a crash is skipped
    }
  }
  return lines;
}

// A failed round's reason starts with its first error's kind ("wrong value in thread 3, ...").
std::string kind_of_round(const Json& round) {
  const std::string status = round.value("status", "");
  if (status == "crashed") return "crash";
  if (status == "timed out") return "hang";
  const std::string detail = round.value("detail", "");
  for (const char* kind : {"wrong value", "NaN/Inf", "exception", "stall"}) {
    if (detail.rfind(kind, 0) == 0) return kind == std::string("stall") ? "hang" : kind;
  }
  return "failed (unclassified)";
}

// The test line's verdict: a stall, or its most frequent error kind.
std::string kind_of_test(const Json& test) {
  if (test.value("status", "") == "stalled") return "hang";
  std::string best;
  size_t most = 0;
  const Json counts = test.value("error_counts", Json::object());  // kept: items() refers into it
  for (const auto& [kind, n] : counts.items()) {
    if (n.get<size_t>() > most) best = kind, most = n.get<size_t>();
  }
  return best;
}

bool sanitizer_reported(const std::string& output) {
  if (output.find("WARNING: ThreadSanitizer:") != std::string::npos) return true;
  if (output.find("ERROR: AddressSanitizer") != std::string::npos) return true;
  const auto summary = output.rfind("ERROR SUMMARY: ");  // compute-sanitizer's last line
  return summary != std::string::npos && output.compare(summary + 15, 2, "0 ") != 0;
}

// Fills kind and seconds from the results the child wrote, then from how it ended.
void classify(const TrialSpec& s, const ModeRun& m, const torchstress::ChildResult& child, TrialOutcome& o) {
  for (const auto& line : read_lines(s.scratch)) {
    const std::string type = line.value("type", "");
    if (type == "round" && line.value("status", "") != "passed" && o.kind.empty()) o.kind = kind_of_round(line);
    if (type != "test" || !m.runs(line.value("name", ""))) continue;
    if (const auto k = kind_of_test(line); !k.empty() && o.kind.empty()) o.kind = k;
    const auto props = line.value("properties", Json::object());
    if (props.contains("first_error_s") && props["first_error_s"].is_number()) o.seconds = props["first_error_s"];
  }
  if (child.signaled) o.kind = "crash";
  if (child.timed_out || (!child.signaled && child.exit_code == torchstress::kExitStalled)) o.kind = "hang";
  if (sanitizer_reported(child.output)) o.kind = "sanitizer report";
  if (o.kind.empty() && !o.caught) return;
  if (o.kind.empty()) o.kind = "failed (unclassified)";
  o.caught = true;
}

}  // namespace

bool CatalogueEntry::expects(const std::string& kind) const {
  std::stringstream alternatives(expected);
  for (std::string k; std::getline(alternatives, k, '|');) {
    if (k == kind) return true;
  }
  return false;
}

std::vector<CatalogueEntry> read_catalogue(const std::string& path) {
  std::ifstream in(path);
  const Json j = Json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) throw std::runtime_error("'" + path + "' is not readable as a JSON array of ops");
  std::vector<CatalogueEntry> out;
  for (const auto& e : j) {
    CatalogueEntry c{e.value("op", ""),       e.value("twin", ""),     e.value("device", "cpu"),
                     e.value("bug_class", ""), e.value("expected", ""), e.value("test_mode", "threaded"), {}};
    const Json env = e.value("env", Json::object());  // kept: items() refers into it
    for (const auto& [k, v] : env.items()) c.env[k] = v.get<std::string>();
    out.push_back(std::move(c));
  }
  return out;
}

bool is_mode(const std::string& mode) {
  return std::find(std::begin(kModes), std::end(kModes), mode) != std::end(kModes);
}

TrialOutcome run_trial(const TrialSpec& s) {
  const ModeRun m = mode_run(s);
  std::map<std::string, std::string> env = {{"TORCHSTRESS_DEVICE", s.device},
                                            {"TORCHSTRESS_OP_LIBRARY", s.op_library},
                                            {"TORCHSTRESS_WORKLOAD", "op:" + s.op},
                                            {"TORCHSTRESS_RESULTS_DIR", s.scratch},
                                            {"TORCHSTRESS_INJECT", ""},
                                            {"TORCHSTRESS_REQUIRE", ""}};
  if (s.stall_seconds > 0) env["TORCHSTRESS_STALL_SECONDS"] = fmt::format("{}", s.stall_seconds);
  for (const auto& [k, v] : m.env) env[k] = v;
  for (const auto& [k, v] : s.env) env[k] = v;
  torchstress::remove_tree(s.scratch);
  std::vector<std::string> argv = s.wrapper;
  argv.push_back(s.battery);
  argv.push_back("--gtest_filter=" + m.filter);
  argv.push_back("--gtest_fail_fast");  // a caught bug needs no more of the budget
  // The deadline only backs up the watchdog: a wrapped (sanitizer) child runs many times slower.
  const double deadline = (s.wrapper.empty() ? 240.0 : 1200.0) + s.soak_seconds + 2 * kReleaseBudgetSeconds;
  const auto child = torchstress::run_child(argv, env, std::chrono::duration<double>(deadline));
  TrialOutcome o;
  o.seconds = child.seconds;
  o.caught = !child.signaled && child.exit_code != 0 && child.exit_code != torchstress::kExitUsage;
  if (!child.signaled && child.exit_code == torchstress::kExitUsage) {
    throw std::runtime_error(fmt::format("the battery refused its input: {}", child.output));
  }
  classify(s, m, child, o);
  o.detail = child.describe();
  return o;
}

}  // namespace tsdetect
