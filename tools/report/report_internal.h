// Shared by the report's builder files (report_builder, report_failures, report_provenance,
// report_baseline): small helpers and the pieces each file builds for the others. Not installed.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "report_json.h"
#include "results_reader.h"

namespace tsreport::detail {

bool starts_with(const std::string& s, const std::string& p);
// The first line of `s`, cut to `max` characters ("..." appended when cut), spaces trimmed.
std::string first_line(const std::string& s, size_t max = 300);
std::string pct(double v);
// Seconds since the epoch as local time in strftime `format`.
std::string local_time(double t, const char* format);
// Distinct non-empty values joined with " / ", in order of first appearance.
std::string join_distinct(const std::vector<std::string>& values);
std::optional<double> prop(const TestRecord& t, const std::string& key);
Json opt(std::optional<double> v);
// A JSON scalar as text: strings as they are, whole numbers without a decimal point.
std::string scalar_text(const Json& v);

// ---- report_failures.cpp: what failed, how, and how to run it again ----

// Every failure of every repeat of `t` that did not pass, classified (wrong value, NaN/Inf,
// exception, start gate, stall, crash, timed out, incomplete, assertion), with its round, thread,
// iteration and run where known. Empty for a test whose repeats all passed or skipped.
std::vector<Json> classify(const TestRecord& t, const std::vector<RoundRecord>& rounds);
// A typed worker error as one line: "wrong value in thread 5, iteration 12 (op layernorm on mps):
// max abs diff 1.5", "start gate: worker 3 of 8 did not arrive", "thread 3 stuck at iteration 47 in mm".
std::string error_text(const Json& err);
// The Failures table's word for a classification ("NaN/Inf" -> "non-finite (NaN/Inf)").
std::string display_kind(const std::string& classification);
// One shell line that reruns `t` as the failing process ran it (its knobs, its build folder).
std::string repro_command(const RunData& run, const TestRecord& t);
// `s` as one shell word: as it is when safe, else in single quotes.
std::string shell_quote(const std::string& s);
// Anchors of details.md: a test, or one round of one repeat (run 0: the test has one repeat).
std::string anchor_of(const std::string& test, int run = 0, int round = 0);
// "19 of 20 passed", "10 of 10 passed, 10 skipped", "20 skipped".
std::string runs_text(const TestRecord& t);
// Per-test fields the Failures table and the baseline gate read: runs, passed/failed/... counts,
// the 95% bound, kinds, first message, repro, anchor, backtraces.
void add_repeat_fields(Json& entry, const RunData& run, const TestRecord& t, const std::vector<Json>& failures);

// ---- report_sections.cpp: the Test Results sections, one function each ----

// The CTest label that runs a section's tests ("quick" for parallel and selftest).
const char* label_of_section(const std::string& section);
Json parallel_section(const RunData& run);
Json soak_section(const RunData& run);
Json stress_section(const RunData& run);
Json bench_section(const RunData& run, const std::string& kind);  // "scaling" or "batching"
Json isolation_section(const RunData& run);
// Tests of no battery section (regression, selftest, other), from the report's test entries.
Json other_tests(const Json& tests);
// The op sweep: one entry per Op/Sweep.<Mode>/<case> test (case, mode, verdict: pass, wrong value,
// exception, crash, hang, skipped, failed; detail: the first failure line or the skip reason).
Json sweep_section(const RunData& run);
// A control (a test that must see a failure, TestRecord::control): name, the gtest case, expected
// kind, runs, caught (repeats that failed with the expected kind; a self-judged control: that
// passed), observed kinds, verdict (caught, missed, skipped), text ("caught k of n, expected KIND").
Json control_entry(const RunData& run, const TestRecord& t);
// Known upstream bugs (tests/known_bugs): one entry per test that recorded a known_bug_verdict
// (name, role: bug or control, upstream, affected, libtorch, affected_here, verdict: caught, passed,
// skipped, missed, unexpected, broken; symptom, detail, status).
Json known_bugs_section(const RunData& run);
// Pressure applied: budget_seconds (TORCHSTRESS_BUDGET_SECONDS of the listed tests' processes, ""
// where unset), tests (one row per non-sweep test that recorded pressure figures: calls, seconds,
// warm/soak calls and seconds, cold rounds and seconds, threads, variety_seed) and sweep (null, or
// cases, min/median/max of calls, seconds, cold rounds, cold seconds and threads, and its rows).
Json pressure_section(const RunData& run);
// Detection power: every detection cell as its results line reads (torchstress::to_json), for
// report.json's "detection"; the Markdown is rebuilt from these by detection_markdown().
Json detection_section(const RunData& run);

// ---- report_provenance.cpp ----

// Sets run["provenance"] (essentials, distinct values joined), run["provenance_disagreements"],
// run["knobs"] and run["processes"] (every process line in full, show_config included).
void add_provenance(Json& meta, const RunData& run);

}  // namespace tsreport::detail
