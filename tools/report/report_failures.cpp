// What failed, how, and how to run it again: classification of failure texts, per-test repeat
// counts with their binomial bound, and the one-line repro built from the failing process's line.
#include <fmt/format.h>

#include <algorithm>
#include <regex>

#include "report_internal.h"
#include "torchstress/crash_signatures.h"
#include "torchstress/stats.h"

namespace tsreport::detail {
namespace {

std::string kind_of_text(const std::string& s) {
  if (starts_with(s, "wrong value")) return "wrong value";
  if (starts_with(s, "NaN/Inf")) return "NaN/Inf";
  if (starts_with(s, "exception")) return "exception";
  if (starts_with(s, "start gate")) return "start gate";
  if (s.find(" stuck at iteration ") != std::string::npos) return "stall";
  return "";
}

// A multi-line message as one line: gtest's "Expected equality of these values:\n  code\n ..."
// says nothing in its first line alone.
std::string one_line(const std::string& s, size_t max) {
  std::string out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t end = s.find('\n', pos);
    if (end == std::string::npos) end = s.size();
    const std::string line = first_line(s.substr(pos, end - pos), s.size());
    pos = end + 1;
    if (!line.empty()) out += (out.empty() ? "" : " ") + line;
  }
  return out.size() > max ? out.substr(0, max) + "..." : out;
}

int find_int(const std::string& s, const char* pattern) {
  std::smatch m;
  if (std::regex_search(s, m, std::regex(pattern))) return std::stoi(m[1].str());
  return -1;
}

// Where a failure came from: the repeat (only numbered when the test ran more than once), its file.
struct Origin {
  const TestRecord& test;
  const TestResult& result;
  int run;  // 1-based index into test.results
};

Json failure_entry(const Origin& o, const std::string& classification, const std::string& text, int round,
                   const std::string& crash_signature) {
  Json e = Json::object();
  e.set("test", o.test.name);
  e.set("classification", classification);
  e.set("kind", display_kind(classification));
  e.set("round", round > 0 ? Json(round) : Json());
  const int thread = find_int(text, R"(thread (\d+))");
  const int iteration = find_int(text, R"(iteration (\d+))");
  e.set("thread", thread >= 0 ? Json(thread) : Json());
  e.set("iteration", iteration >= 0 ? Json(iteration) : Json());
  e.set("run", o.test.runs() > 1 ? Json(o.run) : Json());
  e.set("text", one_line(text, 400));
  std::string sig = crash_signature;
  if (sig.empty()) sig = torchstress::describe_crash_match(text);
  e.set("crash_signature", sig);
  e.set("file", o.result.file);
  const int numbered_run = o.test.runs() > 1 ? o.run : 0;
  e.set("anchor", round > 0 ? anchor_of(o.test.name, numbered_run, round) : anchor_of(o.test.name));
  return e;
}

Json round_entry(const Origin& o, const RoundRecord& r) {
  std::string cls = r.status == "crashed" ? "crash" : (r.status == "timed out" ? "timed out" : "");
  if (cls.empty()) {
    cls = kind_of_text(r.detail);
    if (cls.empty()) cls = "round failed";
  }
  Json e = failure_entry(o, cls, r.detail.empty() ? r.status : r.detail, r.round, r.crash_signature);
  e.set("stderr_tail", r.stderr_tail);
  return e;
}

// The "- wrong value in thread ..." items of a HasNoErrors() failure, one entry each; a failure
// text without such items is one entry.
void classify_texts(const Origin& o, std::vector<Json>& out) {
  for (const auto& f : o.result.failures) {
    bool any = false;
    size_t pos = 0;
    while (pos < f.size()) {
      size_t end = f.find('\n', pos);
      if (end == std::string::npos) end = f.size();
      const std::string line = f.substr(pos, end - pos);
      pos = end + 1;
      const auto dash = line.find("- ");
      if (dash == std::string::npos || line.find_first_not_of(' ') != dash) continue;
      const std::string item = line.substr(dash + 2);
      const std::string k = kind_of_text(item);
      if (k.empty()) continue;
      any = true;
      out.push_back(failure_entry(o, k, item, -1, ""));
    }
    if (!any) {
      const std::string k = o.result.status == "stalled" ? "stall" : kind_of_text(f);
      out.push_back(failure_entry(o, k.empty() ? "assertion" : k, f, -1, ""));
    }
  }
}

void classify_result(const Origin& o, const std::vector<RoundRecord>& rounds, std::vector<Json>& out) {
  const size_t before = out.size();
  bool from_rounds = false;
  for (const auto& r : rounds) {
    if (r.test != o.test.name || r.run != o.run || r.status == "passed") continue;
    from_rounds = true;
    out.push_back(round_entry(o, r));
  }
  const std::string& status = o.result.status;
  if (status == "incomplete") {
    out.push_back(
        failure_entry(o, "incomplete", o.result.failures.empty() ? "no result" : o.result.failures.front(), -1, ""));
    return;
  }
  if (from_rounds) return;  // the rounds say more than the test's summary assertion
  classify_texts(o, out);
  if (out.size() == before)
    out.push_back(failure_entry(o, status == "stalled" ? "stall" : "assertion", status, -1, ""));
}

// Environment assignments for the knobs a process overrode; keys that are not plain variable names
// are left out rather than pasted into a shell line.
std::string knob_prefix(const ProcessRecord* p) {
  if (!p) return "";
  std::string out;
  for (const auto& [key, value] : p->knobs.items()) {
    const bool plain = !key.empty() && key.find_first_not_of(
                                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                           "abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos;
    if (plain) out += key + "=" + shell_quote(scalar_text(value)) + " ";
  }
  return out;
}

// The repeat a repro should rerun: the first that did not pass (its process's knobs), else the
// representative one.
const std::string& repro_file(const TestRecord& t) {
  for (const auto& r : t.results) {
    if (r.status != "passed" && r.status != "skipped") return r.file;
  }
  return t.file;
}

std::string slug(const std::string& s) {
  std::string out;
  for (char c : s) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (alnum)
      out += c;
    else if (c >= 'A' && c <= 'Z')
      out += static_cast<char>(c - 'A' + 'a');
    else if (!out.empty() && out.back() != '-')
      out += '-';
  }
  return out;
}

// One line for the Failures table: where (round), what, and a known crash signature.
std::string message_of(const Json& f) {
  std::string m = first_line(f["text"].str(), 200);
  if (f["round"].is_number()) m = fmt::format("round {}: {}", f["round"].num(), m);
  if (!f["crash_signature"].str().empty()) m += " (" + f["crash_signature"].str() + ")";
  return m;
}

}  // namespace

std::vector<Json> classify(const TestRecord& t, const std::vector<RoundRecord>& rounds) {
  std::vector<Json> out;
  for (int i = 0; i < t.runs(); ++i) {
    const TestResult& r = t.results[static_cast<size_t>(i)];
    if (r.status == "passed" || r.status == "skipped") continue;
    classify_result({t, r, i + 1}, rounds, out);
  }
  return out;
}

std::string display_kind(const std::string& c) {
  if (c == "NaN/Inf") return "non-finite (NaN/Inf)";
  if (c == "stall") return "hang (stalled)";
  if (c == "start gate") return "gate";
  if (c == "incomplete") return "incomplete (ended midway)";
  return c;
}

std::string shell_quote(const std::string& s) {
  const char* safe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_@%+=:,./-";
  if (!s.empty() && s.find_first_not_of(safe) == std::string::npos) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string repro_command(const RunData& run, const TestRecord& t) {
  const ProcessRecord* p = run.process_of(repro_file(t));
  // A test that failed only some of its repeats may need as many runs again to show the failure.
  const bool intermittent = t.runs() > 1 && t.count("passed") > 0 && t.not_passed() > 0;
  std::string cmd = knob_prefix(p);
  if (p && !p->build_dir.empty()) {
    cmd += fmt::format("ctest --test-dir {} -R {} --output-on-failure", shell_quote(p->build_dir),
                       shell_quote("^" + t.name + "$"));
    if (intermittent) cmd += fmt::format(" --repeat until-fail:{}", t.runs());
    return cmd;
  }
  std::string exe = p && !p->executable.empty() ? p->executable : t.binary;
  if (exe.empty()) exe = "<test binary>";
  cmd += fmt::format("{} --gtest_filter={}", shell_quote(exe), shell_quote(t.name));
  if (intermittent) cmd += fmt::format(" --gtest_repeat={}", t.runs());
  return cmd;
}

std::string anchor_of(const std::string& test, int run, int round) {
  std::string a = slug(test);
  if (run > 0) a += fmt::format("-run-{}", run);
  if (round > 0) a += fmt::format("-round-{}", round);
  return a;
}

std::string runs_text(const TestRecord& t) {
  // Skipped repeats are not trials: "19 of 19 passed, 1 skipped", never "20 passed".
  const int ran = t.ran(), passed = t.count("passed"), skipped = t.count("skipped");
  if (ran == 0) return fmt::format("{} skipped", skipped);
  return fmt::format("{} of {} passed{}", passed, ran, skipped ? fmt::format(", {} skipped", skipped) : "");
}

void add_repeat_fields(Json& e, const RunData& run, const TestRecord& t, const std::vector<Json>& failures) {
  const int ran = t.ran(), passed = t.count("passed"), skipped = t.count("skipped");
  e.set("runs", t.runs());
  e.set("passed_runs", passed);
  e.set("failed_runs", ran - passed - t.count("stalled") - t.count("incomplete"));
  e.set("stalled_runs", t.count("stalled"));
  e.set("incomplete_runs", t.count("incomplete"));
  e.set("skipped_runs", skipped);
  e.set("failure_rate_upper_bound_95",
        ran > 0 ? Json(torchstress::failure_rate_upper_bound(ran - passed, ran)) : Json());
  e.set("runs_text", runs_text(t));
  std::vector<std::string> kinds;
  for (const auto& f : failures) {
    if (std::find(kinds.begin(), kinds.end(), f["kind"].str()) == kinds.end()) kinds.push_back(f["kind"].str());
  }
  std::string kind_list;
  for (const auto& k : kinds) kind_list += (kind_list.empty() ? "" : ", ") + k;
  e.set("kinds", kind_list);
  e.set("first_message", failures.empty() ? "" : message_of(failures.front()));
  e.set("repro", repro_command(run, t));
  e.set("anchor", anchor_of(t.name));
  Json bt = Json::array();
  for (const auto& b : t.backtraces) bt.push(b);
  e.set("backtraces", bt);
}

}  // namespace tsreport::detail
