// What failed, how, and how to run it again: classification of failure texts, per-test repeat
// counts with their binomial bound, and the one-line repro built from the failing process's line.
#include <fmt/format.h>

#include <algorithm>

#include "report_internal.h"
#include "torchstress/crash_signatures.h"
#include "torchstress/stats.h"

namespace tsreport::detail {
namespace {

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

// Where a failure came from: the repeat (only numbered when the test ran more than once), its file.
struct Origin {
  const TestRecord& test;
  const TestResult& result;
  int run;  // 1-based index into test.results
};

// What one failure entry says: its kind, text, where (round, thread, iteration) and signature.
struct What {
  std::string classification, text;
  int round = -1;
  Json thread, iteration;
  std::string crash_signature;
  Json max_abs_diff;
};

Json failure_entry(const Origin& o, const What& w) {
  Json e = Json::object();
  e["test"] = o.test.name;
  e["classification"] = w.classification;
  e["kind"] = display_kind(w.classification);
  e["round"] = w.round > 0 ? Json(w.round) : Json();
  e["thread"] = w.thread.is_number() ? w.thread : Json();
  e["iteration"] = w.iteration.is_number() ? w.iteration : Json();
  e["max_abs_diff"] = w.max_abs_diff.is_number() ? w.max_abs_diff : Json();
  e["run"] = o.test.runs() > 1 ? Json(o.run) : Json();
  e["text"] = one_line(w.text, 400);
  e["crash_signature"] = w.crash_signature.empty() ? torchstress::describe_crash_match(w.text) : w.crash_signature;
  e["file"] = o.result.file;
  const int numbered_run = o.test.runs() > 1 ? o.run : 0;
  e["anchor"] = w.round > 0 ? anchor_of(o.test.name, numbered_run, w.round) : anchor_of(o.test.name);
  return e;
}

What plain(const std::string& classification, const std::string& text) {
  What w;
  w.classification = classification;
  w.text = text;
  return w;
}

// One typed worker error as a failure.
What what_of_error(const Json& err) {
  What w;
  w.classification = str(err, "kind").empty() ? "assertion" : str(err, "kind");
  w.text = error_text(err);
  w.thread = at(err, "thread");
  w.iteration = at(err, "iteration");
  w.max_abs_diff = at(err, "max_abs_diff");
  return w;
}

Json round_entry(const Origin& o, const RoundRecord& r) {
  What w;
  const Json& first = r.errors.empty() ? Json() : r.errors.front();
  if (r.status == "crashed")
    w.classification = "crash";
  else if (r.status == "timed out")
    w.classification = "timed out";
  else
    w.classification = str(first, "kind").empty() ? "round failed" : str(first, "kind");
  w.text = r.detail.empty() ? r.status : r.detail;
  w.round = r.round;
  w.thread = at(first, "thread");
  w.iteration = at(first, "iteration");
  w.crash_signature = r.crash_signature;
  Json e = failure_entry(o, w);
  e["stderr_tail"] = r.stderr_tail;
  return e;
}

// A crash or stall entry carries every worker's state from its record (details.md lists them).
Json with_workers(Json e, const Origin& o) {
  const std::string kind = str(e, "classification");
  if ((kind == "crash" || kind == "stall") && !o.result.workers.empty()) e["workers"] = o.result.workers;
  if (kind == "crash" && !o.result.signal.empty()) e["signal"] = o.result.signal;
  return e;
}

// A repeat that did not pass: one entry per typed worker error; without any, one per failure text
// (a gtest assertion, or the watchdog's words for a stall).
void classify_errors(const Origin& o, std::vector<Json>& out) {
  for (const auto& err : elems(o.result.errors)) out.push_back(with_workers(failure_entry(o, what_of_error(err)), o));
  if (!o.result.errors.empty()) return;
  const std::string fallback = o.result.status == "stalled" ? "stall" : "assertion";
  for (const auto& f : o.result.failures) out.push_back(failure_entry(o, plain(fallback, f)));
  if (o.result.failures.empty()) out.push_back(failure_entry(o, plain(fallback, o.result.status)));
}

void classify_result(const Origin& o, const std::vector<RoundRecord>& rounds, std::vector<Json>& out) {
  bool from_rounds = false;
  for (const auto& r : rounds) {
    if (r.test != o.test.name || r.run != o.run || r.status == "passed") continue;
    from_rounds = true;
    out.push_back(round_entry(o, r));
  }
  if (o.result.status == "incomplete") {
    out.push_back(
        failure_entry(o, plain("incomplete", o.result.failures.empty() ? "no result" : o.result.failures.front())));
    return;
  }
  if (from_rounds) return;  // the rounds say more than the test's summary assertion
  classify_errors(o, out);
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
  std::string m = first_line(str(f, "text"), 200);
  if (at(f, "round").is_number()) m = fmt::format("round {}: {}", num(f, "round"), m);
  if (!str(f, "crash_signature").empty()) m += " (" + str(f, "crash_signature") + ")";
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

std::string error_text(const Json& err) {
  const std::string kind = str(err, "kind"), op = str(err, "op"), device = str(err, "device");
  const std::string message = str(err, "message");
  if (!at(err, "thread").is_number()) return message.empty() ? kind : kind + ": " + message;
  const std::string where = op.empty()       ? ""
                            : device.empty() ? " (op " + op + ")"
                                             : " (op " + op + " on " + device + ")";
  if (kind == "crash") {  // the handler's words: "SIGSEGV in thread 3 at iteration 5 in relu (input 1); ..."
    return message.empty() ? "crash" : message;
  }
  if (kind == "stall" && message.rfind("thread ", 0) == 0) return message;  // the watchdog's whole sentence
  if (kind == "stall") {
    return fmt::format("thread {} stuck at iteration {}{}{}", num(err, "thread"), num(err, "iteration"),
                       op.empty() ? "" : " in " + op,
                       message.empty() ? "" : (message.front() == '(' ? " " : ": ") + message);
  }
  return fmt::format("{} in thread {}, iteration {}{}: {}", kind, num(err, "thread"), num(err, "iteration"), where,
                     message);
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
    cmd += fmt::format("ctest --test-dir {} -R {} --no-tests=error --output-on-failure", shell_quote(p->build_dir),
                       shell_quote("^" + t.name + "$"));
    if (intermittent) cmd += fmt::format(" --repeat until-fail:{}", t.runs());
    return cmd;
  }
  std::string exe = p && !p->executable.empty() ? p->executable : t.binary;
  if (exe.empty()) exe = "<test binary>";
  // The gtest case, not a CTest name it was counted under (TORCHSTRESS_CTEST_NAME).
  cmd += fmt::format("{} --gtest_filter={}", shell_quote(exe), shell_quote(t.gtest_name.empty() ? t.name : t.gtest_name));
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
  e["runs"] = t.runs();
  e["passed_runs"] = passed;
  e["failed_runs"] = ran - passed - t.count("stalled") - t.count("incomplete");
  e["stalled_runs"] = t.count("stalled");
  e["incomplete_runs"] = t.count("incomplete");
  e["skipped_runs"] = skipped;
  e["failure_rate_upper_bound_95"] = ran > 0 ? Json(torchstress::failure_rate_upper_bound(ran - passed, ran)) : Json();
  e["runs_text"] = runs_text(t);
  std::vector<std::string> kinds;
  for (const auto& f : failures) {
    if (std::find(kinds.begin(), kinds.end(), str(f, "kind")) == kinds.end()) kinds.push_back(str(f, "kind"));
  }
  std::string kind_list;
  for (const auto& k : kinds) kind_list += (kind_list.empty() ? "" : ", ") + k;
  e["kinds"] = kind_list;
  e["first_message"] = failures.empty() ? "" : message_of(failures.front());
  e["repro"] = repro_command(run, t);
  e["anchor"] = anchor_of(t.name);
  Json bt = Json::array();
  for (const auto& b : t.backtraces) bt.emplace_back(b);
  e["backtraces"] = bt;
}

}  // namespace tsreport::detail
