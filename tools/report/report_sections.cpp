// The Test Results sections of the report tree, one function per section, mirroring the renderer's
// md_* functions. Which tests a section holds comes from the section each test declares in its
// results ("section": parallel, soak, stress, isolation, bench, regression, selftest, other),
// which benchmark tables exist from the bench lines and the detection table from the detection
// lines: no test names are known here.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "report.h"
#include "report_internal.h"
#include "torchstress/detection_table.h"
#include "torchstress/stats.h"

namespace tsreport::detail {
namespace {

// Figures of the representative repeat; status and run counts of all repeats.
Json run_figures(const TestRecord& t) {
  Json e = Json::object();
  e["name"] = t.name;
  e["status"] = t.status;
  e["skip_reason"] = t.skip_reason;
  e["device"] = t.device;
  e["workload"] = str(t.properties, "workload");
  e["runs"] = t.runs();
  e["runs_text"] = runs_text(t);
  const auto threads = prop(t, "threads");
  const auto total = prop(t, "total_ops");
  e["threads"] = opt(threads);
  e["total_ops"] = opt(total);
  e["iterations"] = threads && total && *threads > 0 ? Json(std::round(*total / *threads)) : Json();
  e["successes"] = opt(prop(t, "successes"));
  e["errors"] = opt(prop(t, "errors"));
  e["duration_s"] = opt(prop(t, "duration_s"));
  e["ops_per_s"] = opt(prop(t, "ops_per_s"));
  e["min_thread_ops"] = opt(prop(t, "min_thread_ops"));
  e["max_thread_ops"] = opt(prop(t, "max_thread_ops"));
  return e;
}

// Every test of one section, in order of first appearance; skipped ones too unless `ran_only`.
Json figures_of_section(const RunData& run, const std::string& section, bool ran_only) {
  Json out = Json::array();
  for (const auto& t : run.tests) {
    if (t.section != section || (ran_only && t.status == "skipped")) continue;
    out.push_back(run_figures(t));
  }
  return out;
}

Json round_json(const RoundRecord& rr, const TestRecord& t) {
  Json x = Json::object();
  x["round"] = rr.round;
  x["run"] = t.runs() > 1 ? Json(rr.run) : Json();
  x["status"] = rr.status;
  x["detail"] = rr.detail;
  x["crash_signature"] = rr.crash_signature;
  x["stderr_tail"] = rr.stderr_tail;
  x["anchor"] = anchor_of(t.name, t.runs() > 1 ? rr.run : 0, rr.round);
  return x;
}

// Rounds of every repeat count: two repeats of 10 rounds are 20 trials for the bound.
Json isolation_entry(const RunData& run, const TestRecord& t) {
  Json e = Json::object();
  e["name"] = t.name;
  e["status"] = t.status;
  int passed = 0, n = 0;
  Json rounds = Json::array();
  for (const auto& rr : run.rounds) {
    if (rr.test != t.name) continue;
    ++n;
    if (rr.status == "passed") ++passed;
    rounds.push_back(round_json(rr, t));
  }
  const auto planned = prop(t, "rounds_total");
  e["passed"] = passed;
  e["total"] = n;
  e["planned"] = planned ? Json(*planned * std::max(1, t.ran())) : Json(n);
  e["pass_rate"] = n > 0 ? Json(static_cast<double>(passed) / n) : Json();
  e["failure_rate_upper_bound_95"] = torchstress::failure_rate_upper_bound(n - passed, n);
  e["rounds"] = rounds;
  return e;
}

bool is_battery_section(const std::string& s) {
  return s == "parallel" || s == "soak" || s == "stress" || s == "isolation" || s == "bench" || s == "sweep" ||
         s == "known_bugs";
}

// "Op/Sweep.Threaded/add_Tensor_int64_strided" -> mode "threaded", case "add_Tensor_int64_strided".
bool split_sweep_name(const std::string& name, std::string* mode, std::string* case_name) {
  static const std::string kPrefix = "Op/Sweep.";
  const auto slash = name.find('/', kPrefix.size());
  if (name.rfind(kPrefix, 0) != 0 || slash == std::string::npos) return false;
  *mode = name.substr(kPrefix.size(), slash - kPrefix.size());
  std::transform(mode->begin(), mode->end(), mode->begin(), [](unsigned char c) { return std::tolower(c); });
  *case_name = name.substr(slash + 1);
  return true;
}

// A sweep case's verdict in the words: pass, wrong value, exception, crash, hang, skipped
// (or failed, for a failure of no known kind). A cold case's rounds say whether a child crashed.
std::string sweep_verdict(const RunData& run, const TestRecord& t) {
  if (t.status == "passed") return "pass";
  if (t.status == "skipped") return "skipped";
  if (t.status == "stalled") return "hang";
  if (t.status == "incomplete") return "crash";  // started and never ended: the process died
  for (const auto& rr : run.rounds) {
    if (rr.test == t.name && rr.status == "crashed") return "crash";
    if (rr.test == t.name && rr.status == "timed out") return "hang";
  }
  const std::string text = t.failures.empty() ? "" : t.failures.front();
  if (text.find("wrong value") != std::string::npos || text.find("NaN/Inf") != std::string::npos)
    return "wrong value";
  if (text.find("exception") != std::string::npos) return "exception";
  return "failed";
}

}  // namespace

const char* label_of_section(const std::string& section) {
  for (const char* label : {"soak", "stress", "isolation", "bench", "regression", "sweep"}) {
    if (section == label) return label;
  }
  return "quick";  // parallel, selftest
}

Json parallel_section(const RunData& run) { return figures_of_section(run, "parallel", false); }

// A soak that does not apply here (say, a CUDA-only policy) is a listed skip, not a column.
Json soak_section(const RunData& run) { return figures_of_section(run, "soak", true); }

Json stress_section(const RunData& run) { return figures_of_section(run, "stress", false); }

// The bench lines of one kind ("scaling", "batching"). Smoke-size lines (a bench line's "smoke")
// only stand in when no full-size line of that kind is in the results.
Json bench_section(const RunData& run, const std::string& kind) {
  Json out = Json::array();
  const bool have_full = std::any_of(run.bench.begin(), run.bench.end(),
                                     [&](const Json& b) { return str(b, "bench") == kind && !flag(b, "smoke"); });
  for (const auto& b : run.bench) {
    if (str(b, "bench") != kind) continue;
    const bool smoke = flag(b, "smoke");
    if (smoke && have_full) continue;
    Json e = b;
    e["smoke"] = smoke;
    const TestRecord* t = run.find(str(b, "test"));
    e["status"] = t ? t->status : "incomplete";
    out.push_back(std::move(e));
  }
  return out;
}

Json isolation_section(const RunData& run) {
  Json isolated = Json::array();
  for (const auto& t : run.tests) {
    if (t.section == "isolation") isolated.push_back(isolation_entry(run, t));
  }
  return isolated;
}

// Tests of no battery section (regression repros, self-tests, anything else), from the test list.
Json other_tests(const Json& tests) {
  Json other = Json::array();
  for (const auto& t : elems(tests)) {
    // A sweep test that never wrote its result has no section: its name places it.
    if (is_battery_section(str(t, "section")) || str(t, "name").rfind("Op/Sweep.", 0) == 0) continue;
    Json e = Json::object();
    for (const char* k : {"name", "binary", "section", "status", "duration_s", "skip_reason", "runs_text", "runs"})
      e[k] = at(t, k);
    const auto& fl = elems(t, "failures");
    e["failure"] = fl.empty() ? "" : first_line(str(fl.front()));
    other.push_back(std::move(e));
  }
  return other;
}

// The failure text from its first typed error on ("wrong value in thread 3, ..."), not the
// assertion's opening line ("Value of: r.errors").
std::string failure_gist(const std::string& text) {
  for (const char* kind : {"wrong value in", "NaN/Inf in", "exception in"}) {
    const auto at = text.find(kind);
    if (at != std::string::npos) return first_line(text.substr(at), 240);
  }
  return first_line(text, 240);
}

Json sweep_section(const RunData& run) {
  Json cases = Json::array();
  for (const auto& t : run.tests) {
    std::string mode, name;
    if (!split_sweep_name(t.name, &mode, &name)) continue;
    Json e = Json::object();
    e["test"] = t.name;
    e["case"] = name;
    e["mode"] = mode;
    e["verdict"] = sweep_verdict(run, t);
    e["detail"] = t.failures.empty() ? t.skip_reason : failure_gist(t.failures.front());
    e["runs_text"] = runs_text(t);
    cases.push_back(std::move(e));
  }
  return cases;
}

// ---- controls ---------------------------------------------------------------------------------

namespace {

// The kinds one repeat of a control saw, in the words a control names: its typed worker errors
// (a NaN/Inf counts as a wrong value), a hang (stalled, or a round timed out) or a crash (it never
// ended, or a round crashed).
std::set<std::string> seen_kinds(const RunData& run, const TestRecord& t, const TestResult& r, int run_index) {
  std::set<std::string> kinds;
  for (const auto& [kind, count] : r.error_counts.items()) {
    if (!count.is_number() || count.get<double>() <= 0) continue;
    if (kind == "stall") kinds.insert("hang");
    else if (kind == "NaN/Inf") kinds.insert("wrong value");
    else kinds.insert(kind);
  }
  for (const auto& e : elems(r.errors)) {
    const std::string kind = str(e, "kind");
    if (kind == "wrong value" || kind == "exception") kinds.insert(kind);
  }
  if (r.status == "stalled") kinds.insert("hang");
  if (r.status == "incomplete") kinds.insert("crash");
  for (const auto& rr : run.rounds) {
    if (rr.test != t.gtest_name || rr.run != run_index) continue;
    if (rr.status == "crashed") kinds.insert("crash");
    if (rr.status == "timed out") kinds.insert("hang");
  }
  return kinds;
}

std::string joined(const std::set<std::string>& s) {
  std::string out;
  for (const auto& v : s) out += (out.empty() ? "" : ", ") + v;
  return out;
}

}  // namespace

Json control_entry(const RunData& run, const TestRecord& t) {
  Json e = Json::object();
  e["name"] = t.name;
  e["test"] = t.gtest_name.empty() ? t.name : t.gtest_name;
  e["expected"] = t.control;
  e["judged_by"] = t.control_self_judged ? "its own verdict (catches with the expected kind, its twin passes)"
                                         : "its failure's kind";
  int ran = 0, caught = 0, index = 0;
  std::set<std::string> observed;
  std::string missed_detail;
  for (const auto& r : t.results) {
    ++index;
    if (r.status == "skipped") continue;
    ++ran;
    bool ok = false;
    std::string saw;
    if (t.control_self_judged) {
      saw = str(r.properties, "control_observed");
      ok = r.status == "passed";
      if (saw.empty()) saw = ok ? t.control : r.status;
    } else {
      const auto kinds = seen_kinds(run, t, r, index);
      saw = kinds.empty() ? "no failure" : joined(kinds);
      ok = r.status != "passed" && kinds.count(t.control) > 0;
    }
    observed.insert(saw);
    if (ok) {
      ++caught;
    } else if (missed_detail.empty()) {
      missed_detail = fmt::format("run {}: {} (saw {}){}", index, r.status, saw,
                                  r.failures.empty() ? "" : ": " + failure_gist(r.failures.front()));
    }
  }
  e["runs"] = ran;
  e["caught"] = caught;
  e["skipped_runs"] = t.count("skipped");
  e["observed"] = joined(observed);
  e["verdict"] = ran == 0 ? "skipped" : (caught == ran ? "caught" : "missed");
  e["text"] = ran == 0 ? fmt::format("skipped: {}", t.skip_reason.empty() ? "no reason given" : first_line(t.skip_reason))
                       : fmt::format("caught {} of {}, expected {}", caught, ran, t.control);
  e["detail"] = missed_detail;
  e["repro"] = repro_command(run, t);
  return e;
}

Json known_bugs_section(const RunData& run) {
  Json out = Json::array();
  for (const auto& t : run.tests) {
    if (!t.properties.is_object() || !t.properties.contains("known_bug_verdict")) continue;
    Json e = Json::object();
    e["name"] = t.name;
    for (const char* k : {"role", "upstream", "affected", "reason", "libtorch", "affected_here", "verdict", "symptom",
                          "detail"})
      e[k] = str(t.properties, std::string("known_bug_") + k);
    e["status"] = t.status;
    e["runs_text"] = runs_text(t);
    // A test that failed for another reason than its verdict (an assertion of its own) says so.
    if (t.status == "failed" && (str(e, "verdict") == "caught" || str(e, "verdict") == "passed"))
      e["verdict"] = "broken";
    out.push_back(std::move(e));
  }
  return out;
}

// ---- pressure applied ---------------------------------------------------------------------------

namespace {

// What one test applied, as it recorded it (support/suite/src/pressure.cpp); null when it recorded
// no pressure figure: such a test is not listed.
Json pressure_row(const TestRecord& t) {
  if (!prop(t, "pressure_calls") && !prop(t, "cold_rounds")) return Json();
  Json e = Json::object();
  e["test"] = t.name;
  e["device"] = t.device;
  for (const auto& [field, key] :
       {std::pair{"calls", "pressure_calls"}, {"seconds", "pressure_seconds"}, {"warm_calls", "total_ops"},
        {"warm_seconds", "duration_s"}, {"free_calls", "free_total_ops"}, {"free_seconds", "free_duration_s"},
        {"soak_calls", "soak_total_ops"}, {"soak_seconds", "soak_duration_s"},
        {"cold_rounds", "cold_rounds"}, {"cold_seconds", "cold_seconds"}, {"threads", "threads"}})
    e[field] = opt(prop(t, key));
  e["variety_seed"] = str(t.properties, "variety_seed");
  return e;
}

// {cases, min, median, max} of one figure over the rows that recorded it; null when none did.
Json range_of(const Json& rows, const char* key) {
  std::vector<double> v;
  for (const auto& r : elems(rows)) {
    if (at(r, key).is_number()) v.push_back(num(r, key));
  }
  if (v.empty()) return Json();
  const torchstress::Summary s = torchstress::summarize(v);
  return Json{{"cases", v.size()}, {"min", s.min}, {"median", s.median}, {"max", s.max}};
}

// The sweep's ~700 cases as ranges (its rows kept for report.json); null without sweep rows.
Json sweep_pressure(const Json& rows) {
  if (rows.empty()) return Json();
  Json s = Json::object();
  s["cases"] = rows.size();
  for (const char* key : {"calls", "seconds", "cold_rounds", "cold_seconds", "threads"}) s[key] = range_of(rows, key);
  s["rows"] = rows;
  return s;
}

// TORCHSTRESS_BUDGET_SECONDS as each listed test's process had it; "" where unset (the default).
Json budgets_of(const RunData& run, const std::vector<const TestRecord*>& tests) {
  std::vector<std::string> values;
  for (const auto* t : tests) {
    const ProcessRecord* p = run.process_of(t->file);
    const std::string v = p ? scalar_text(at(p->knobs, "TORCHSTRESS_BUDGET_SECONDS")) : "";
    if (std::find(values.begin(), values.end(), v) == values.end()) values.push_back(v);
  }
  Json out = Json::array();
  for (const auto& v : values) out.emplace_back(v);
  return out;
}

}  // namespace

Json pressure_section(const RunData& run) {
  Json tests = Json::array(), sweep = Json::array();
  std::vector<const TestRecord*> listed;
  std::string mode, name;
  for (const auto& t : run.tests) {
    Json row = pressure_row(t);
    if (row.is_null()) continue;
    listed.push_back(&t);
    (split_sweep_name(t.name, &mode, &name) ? sweep : tests).push_back(std::move(row));
  }
  Json s = Json::object();
  s["budget_seconds"] = budgets_of(run, listed);
  s["tests"] = tests;
  s["sweep"] = sweep_pressure(sweep);
  return s;
}

Json detection_section(const RunData& run) {
  Json cells = Json::array();
  for (const auto& c : run.detection) cells.push_back(torchstress::to_json(c));
  return cells;
}

}  // namespace tsreport::detail
