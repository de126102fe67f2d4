// Builds the report tree from a run's typed results, one function per part of the report (run
// info, tests and failures, summary, figures, blockers, findings). The Test Results sections live
// in report_sections.cpp, the baseline comparison in report_baseline.cpp, failure classification
// and repro lines in report_failures.cpp, provenance in report_provenance.cpp.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <optional>
#include <set>

#include "report.h"
#include "report_internal.h"
#include "torchstress/stats.h"

namespace tsreport {

// ---- shared helpers (report_internal.h) -------------------------------------------------------

namespace detail {

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

std::string first_line(const std::string& s, size_t max) {
  std::string l = s.substr(0, s.find('\n'));
  const auto b = l.find_first_not_of(" \t\r");
  l = b == std::string::npos ? "" : l.substr(b, l.find_last_not_of(" \t\r") - b + 1);
  if (l.size() > max) l = l.substr(0, max) + "...";
  return l;
}

std::string pct(double v) { return fmt::format("{:.1f}%", 100.0 * v); }

std::string local_time(double t, const char* format) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  localtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

std::string join_distinct(const std::vector<std::string>& values) {
  std::vector<std::string> seen;
  for (const auto& v : values) {
    if (!v.empty() && std::find(seen.begin(), seen.end(), v) == seen.end()) seen.push_back(v);
  }
  std::string out;
  for (const auto& v : seen) out += (out.empty() ? "" : " / ") + v;
  return out;
}

std::optional<double> prop(const TestRecord& t, const std::string& key) {
  const Json& v = at(t.properties, key);
  if (v.is_number()) return num(v);
  return std::nullopt;
}

Json opt(std::optional<double> v) { return v ? Json(*v) : Json(); }

std::string scalar_text(const Json& v) {
  if (v.is_string()) return str(v);
  if (v.is_number()) {
    const double d = num(v);
    return d == std::floor(d) && std::fabs(d) < 1e15 ? fmt::format("{:.0f}", d) : fmt::format("{:g}", d);
  }
  if (v.is_boolean()) return flag(v) ? "true" : "false";
  return v.is_null() ? "" : dump_text(v);
}

}  // namespace detail

namespace {

using detail::first_line;
using detail::join_distinct;
using detail::opt;
using detail::local_time;
using detail::pct;
using detail::prop;

// More skipped tests than this under one reason are counted, not named.
constexpr size_t kSkipNamesListed = 5;
// Characters of one failure text kept for details.md.
constexpr size_t kMaxFailureText = 20000;

std::string format_time(double t) { return t <= 0 ? "unknown" : local_time(t, "%Y-%m-%d %H:%M %Z"); }

// ---- run metadata -----------------------------------------------------------------------------

Json run_meta(const RunData& run, const std::string& host) {
  std::vector<std::string> torch, device, hardware, streams, sync, inject, hosts, binaries;
  for (const auto& p : run.processes) {
    torch.push_back(p.torch);
    device.push_back(p.device);
    hardware.push_back(p.hardware);
    streams.push_back(p.cuda_streams);
    sync.push_back(p.sync);
    inject.push_back(p.inject);
    hosts.push_back(p.host);
    binaries.push_back(p.binary);
  }
  Json meta = Json::object();
  meta["date"] = format_time(run.last_time);
  meta["first_time"] = run.first_time;
  meta["last_time"] = run.last_time;
  meta["torch"] = join_distinct(torch);
  meta["device"] = join_distinct(device);
  meta["hardware"] = join_distinct(hardware);
  meta["host"] = join_distinct(hosts).empty() ? host : join_distinct(hosts);
  meta["inventory"] = run.processes.empty() ? "" : run.processes.front().inventory;
  meta["cuda_streams"] = join_distinct(streams);
  meta["sync"] = join_distinct(sync);
  meta["inject"] = join_distinct(inject);
  meta["results_dir"] = run.dir;
  meta["files"] = run.files.size();
  meta["binaries"] = join_distinct(binaries);
  detail::add_provenance(meta, run);
  return meta;
}

// ---- every test -------------------------------------------------------------------------------

// The first line of each failure text (for tables) and the whole texts (multi-line matcher output,
// for details.md), capped so one runaway message cannot swell report.json.
void add_failure_texts(Json& e, const TestRecord& t) {
  Json first = Json::array(), texts = Json::array();
  for (const auto& f : t.failures) {
    first.push_back(first_line(f, 1000));
    texts.push_back(f.size() > kMaxFailureText ? f.substr(0, kMaxFailureText) + "\n..." : f);
  }
  e["failures"] = first;
  e["failure_texts"] = texts;
}

// One test's entry: its status over all repeats, its failures classified (appended to
// `failures`), and what the Failures table and the gate need.
Json test_entry(const RunData& run, const TestRecord& t, Json& failures) {
  Json e = Json::object();
  e["name"] = t.name;
  e["suite"] = t.suite;
  e["section"] = t.section;
  e["binary"] = t.binary;
  e["status"] = t.status;
  e["device"] = t.device;
  e["duration_s"] = t.duration_s;
  e["skip_reason"] = t.skip_reason;
  add_failure_texts(e, t);
  // Kinds counted by the workers (over every repeat) and those of the classified failures.
  std::set<std::string> kinds;
  for (const auto& r : t.results) {
    for (const auto& [kind, count] : r.error_counts.items()) {
      if (count.is_number() && count.get<double>() > 0) kinds.insert(kind);
    }
  }
  const std::vector<Json> classified = detail::classify(t, run.rounds);
  for (const auto& c : classified) {
    kinds.insert(str(c, "classification"));
    failures.emplace_back(c);
  }
  Json k = Json::array();
  for (const auto& s : kinds) k.emplace_back(s);
  e["error_kinds"] = k;
  detail::add_repeat_fields(e, run, t, classified);
  return e;
}

Json summary_counts(const Json& tests, const Json& controls, const RunData& run) {
  std::map<std::string, long> counts;
  for (const auto& t : elems(tests)) ++counts[str(t, "status")];
  std::map<std::string, long> control_counts;
  for (const auto& c : elems(controls)) ++control_counts[str(c, "verdict")];
  Json summary = Json::object();
  summary["tests"] = tests.size();
  for (const char* s : {"passed", "failed", "skipped", "stalled", "incomplete"}) summary[s] = counts[s];
  const bool incomplete = !run.incomplete.empty() || !run.warnings.empty();
  const long bad = counts["failed"] + counts["stalled"] + counts["incomplete"];
  summary["controls"] = controls.size();
  summary["controls_caught"] = control_counts["caught"];
  summary["controls_missed"] = control_counts["missed"];
  summary["controls_skipped"] = control_counts["skipped"];
  // A stall or a missing result leaves the run incomplete; a failed check, or a control that no
  // longer catches what it must, fails it outright.
  summary["verdict"] = counts["failed"] > 0 || control_counts["missed"] > 0
                           ? "FAIL"
                           : (incomplete || bad > 0 ? "INCOMPLETE" : "PASS");
  summary["complete"] = !incomplete;
  summary["incomplete_tests"] = static_cast<long>(run.incomplete.size());
  long repeated = 0;
  for (const auto& t : run.tests) repeated += t.runs() > 1 ? 1 : 0;
  summary["repeated_tests"] = repeated;
  return summary;
}

// ---- what CTest ran, against what the results hold ---------------------------------------------

// Every CTest test is counted: as a test of the report, as a control, or named as one that wrote
// no results line under its name (a script, or a binary stopped before its tests: bad input).
Json ctest_accounting(const RunData& run, const std::vector<CtestCase>& ctest) {
  Json c = Json::object();
  std::set<std::string> tests, controls;
  for (const auto& t : run.tests) (t.control.empty() ? tests : controls).insert(t.name);
  long as_tests = 0, as_controls = 0, skipped = 0, failed = 0;
  Json without = Json::array();
  std::set<std::string> ctest_names;
  for (const auto& k : ctest) {
    ctest_names.insert(k.name);
    if (k.status == "notrun" || k.status == "disabled") ++skipped;
    if (k.status == "fail") ++failed;
    if (controls.count(k.name)) {
      ++as_controls;
    } else if (tests.count(k.name)) {
      ++as_tests;
    } else {
      Json w = Json::object();
      w["name"] = k.name;
      w["status"] = k.status == "run" ? "passed" : (k.status == "fail" ? "failed" : "not run");
      without.push_back(std::move(w));
    }
  }
  Json extra = Json::array();  // results of no CTest test of these files (the binary run by hand, a child)
  for (const auto& t : run.tests) {
    if (!ctest_names.count(t.name)) extra.push_back(t.name);
  }
  c["tests"] = static_cast<long>(ctest.size());
  c["failed"] = failed;
  c["not_run"] = skipped;
  c["counted_as_tests"] = as_tests;
  c["counted_as_controls"] = as_controls;
  c["without_results"] = without;
  c["results_outside_ctest"] = extra;
  return c;
}

std::string ctest_text(const Json& c) {
  if (!at(c, "tests").is_number()) return "";
  std::string text = fmt::format(" CTest ran {} test(s): {} counted here as tests, {} as controls", num(c, "tests"),
                                 num(c, "counted_as_tests"), num(c, "counted_as_controls"));
  const auto& without = elems(c, "without_results");
  if (!without.empty()) {
    std::string names;
    size_t listed = 0;
    for (const auto& w : without) {
      if (++listed > 8) break;
      names += (names.empty() ? "" : ", ") + str(w, "name");
    }
    if (without.size() > 8) names += fmt::format(" and {} more", without.size() - 8);
    text += fmt::format(
        ", {} wrote no results line of their own name (binaries without the suite's main, such as the report "
        "tool's own tests; scripts; checks that stop a binary before its tests: {})",
        without.size(), names);
  }
  const auto& extra = elems(c, "results_outside_ctest");
  if (!extra.empty()) text += fmt::format("; {} result(s) here are of no CTest test of this run", extra.size());
  return text + ".";
}

// ---- sections ---------------------------------------------------------------------------------

Json build_sections(const RunData& run) {
  Json sections = Json::object();
  sections["parallel"] = detail::parallel_section(run);
  sections["soak"] = detail::soak_section(run);
  sections["stress"] = detail::stress_section(run);
  sections["scaling"] = detail::bench_section(run, "scaling");
  sections["batching"] = detail::bench_section(run, "batching");
  sections["isolated_rounds"] = detail::isolation_section(run);
  sections["sweep"] = detail::sweep_section(run);
  sections["known_bugs"] = detail::known_bugs_section(run);
  sections["pressure"] = detail::pressure_section(run);
  return sections;
}

// ---- figures a later run is compared against --------------------------------------------------

struct Figures {
  Json metrics = Json::array(), pass_rates = Json::array();

  void metric(const std::string& key, std::optional<double> value, const Json& spread, const char* unit) {
    if (!value) return;
    Json m = Json::object();
    m["key"] = key;
    m["value"] = *value;
    m["spread"] = spread.is_number() ? spread : Json();
    m["spread_measure"] = "iqr/median";
    m["too_noisy"] = num(spread) > kTooNoisySpread;
    m["unit"] = unit;
    metrics.emplace_back(std::move(m));
  }
  void pass_rate(const std::string& key, long passed, long n) {
    if (n <= 0) return;
    Json p = Json::object();
    p["key"] = key;
    p["passed"] = passed;
    p["total"] = n;
    pass_rates.emplace_back(std::move(p));
  }
};

void run_figures_of(const Json& sections, Figures& f) {
  for (const char* list : {"soak", "stress"}) {
    for (const auto& e : elems(sections, list)) {
      if (str(e, "status") == "skipped") continue;
      f.metric(str(e, "name") + " ops/s",
               at(e, "ops_per_s").is_number() ? std::optional<double>(num(e, "ops_per_s")) : std::nullopt, Json(),
               "ops/s");
      if (at(e, "successes").is_number() && at(e, "total_ops").is_number())
        f.pass_rate(str(e, "name") + " ops", static_cast<long>(num(e, "successes")),
                    static_cast<long>(num(e, "total_ops")));
    }
  }
}

void bench_figures_of(const Json& sections, Figures& f) {
  for (const auto& e : elems(sections, "scaling")) {
    if (flag(e, "smoke")) continue;
    const std::string policy =
        fmt::format("[{}, streams {}, sync {}]", str(e, "device"), str(e, "cuda_streams"), str(e, "sync"));
    f.metric(str(e, "test") + " pipelined " + policy, num(e, "pipelined", "ops_per_s"), at(e, "pipelined", "spread"),
             "ops/s");
    for (const auto& row : elems(e, "rows")) {
      f.metric(fmt::format("{} threads={} {}", str(e, "test"), num(row, "threads"), policy), num(row, "ops_per_s"),
               at(row, "spread"), "ops/s");
    }
  }
  for (const auto& e : elems(sections, "batching")) {
    if (flag(e, "smoke")) continue;
    for (const auto& row : elems(e, "rows")) {
      f.metric(fmt::format("{} batch={} [{}]", str(e, "test"), num(row, "batch"), str(e, "device")),
               num(row, "samples_per_s"), at(row, "spread"), "samples/s");
    }
  }
}

void add_figures(Json& r) {
  Figures f;
  run_figures_of(at(r, "sections"), f);
  bench_figures_of(at(r, "sections"), f);
  for (const auto& e : elems(r, "sections", "isolated_rounds"))
    f.pass_rate(str(e, "name") + " rounds", static_cast<long>(num(e, "passed")), static_cast<long>(num(e, "total")));
  const Json& s = at(r, "summary");
  f.pass_rate("tests", static_cast<long>(num(s, "passed")), static_cast<long>(num(s, "tests") - num(s, "skipped")));
  r["metrics"] = f.metrics;
  r["pass_rates"] = f.pass_rates;
}

// ---- what did not run -------------------------------------------------------------------------

// One entry per distinct skip reason: a reason shared by many tests is said once, with its count.
Json skip_groups(const Json& tests) {
  Json groups = Json::array();
  std::vector<std::pair<std::string, std::vector<std::string>>> by_reason;
  for (const auto& t : elems(tests)) {
    if (str(t, "status") != "skipped") continue;
    const std::string why = str(t, "skip_reason").empty() ? "no reason given" : first_line(str(t, "skip_reason"));
    auto it = std::find_if(by_reason.begin(), by_reason.end(), [&](const auto& g) { return g.first == why; });
    if (it == by_reason.end()) it = by_reason.insert(by_reason.end(), {why, {}});
    it->second.push_back(str(t, "name"));
  }
  for (const auto& [why, names] : by_reason) {
    Json g = Json::object();
    g["reason"] = why;
    g["count"] = names.size();
    Json list = Json::array();
    for (const auto& n : names) list.emplace_back(n);
    g["tests"] = list;
    groups.emplace_back(std::move(g));
  }
  return groups;
}

std::string skip_group_names(const Json& g) {
  if (at(g, "tests").size() > kSkipNamesListed) return fmt::format("{} tests", at(g, "tests").size());
  std::string names;
  for (const auto& n : elems(g, "tests")) names += (names.empty() ? "" : ", ") + str(n);
  return names;
}

Json build_blockers(const RunData& run, const Json& r) {
  Json blockers = Json::array();
  auto blocker = [&](const std::string& kind, const std::string& name, const std::string& why) -> Json& {
    Json b = Json::object();
    b["kind"] = kind;
    b["name"] = name;
    b["reason"] = why;
    return blockers.emplace_back(std::move(b));
  };
  for (const auto& g : elems(r, "skip_groups")) {
    Json& b = blocker("skipped", skip_group_names(g), str(g, "reason"));
    b["count"] = at(g, "count");
    b["tests"] = at(g, "tests");
    b["listed"] = at(g, "tests").size() <= kSkipNamesListed;
  }
  for (const auto& i : run.incomplete) blocker("incomplete", i.name, i.why);
  for (const auto& w : run.warnings) blocker("incomplete", "results file", w);
  for (const char* section : {"parallel", "soak", "stress", "bench", "isolation"}) {
    const bool any =
        std::any_of(run.tests.begin(), run.tests.end(), [&](const auto& t) { return t.section == section; });
    if (!any) {
      blocker("missing", fmt::format("{} section", section),
              fmt::format("no test of this section is in these results (run CTest label '{}')",
                          detail::label_of_section(section)));
    }
  }
  for (const char* kind : {"scaling", "batching"}) {
    for (const auto& e : elems(r, "sections", kind)) {
      if (flag(e, "smoke")) {
        blocker("missing", str(e, "test"),
                fmt::format("only the smoke-size {} benchmark ran: its figures are not a measurement", kind));
      }
    }
  }
  return blockers;
}

// ---- findings ---------------------------------------------------------------------------------

void run_findings(const Json& r, Json& findings) {
  const Json& s = at(r, "summary");
  findings.emplace_back(fmt::format("{} of {} tests passed; {} failed, {} stalled, {} incomplete, {} skipped.",
                                    num(s, "passed"), num(s, "tests"), num(s, "failed"), num(s, "stalled"),
                                    num(s, "incomplete"), num(s, "skipped")));
}

void soak_findings(const Json& r, Json& findings) {
  for (const auto& e : elems(r, "sections", "soak")) {
    if (!at(e, "total_ops").is_number()) continue;  // stalled or never ended: listed with the failures
    findings.emplace_back(fmt::format(
        "{}: {} ops in {:.1f} s ({} ops/s) on {} threads, {} errors; per-thread ops min {} max {}.", str(e, "name"),
        thousands(num(e, "total_ops")), num(e, "duration_s"), thousands(num(e, "ops_per_s"), 1), num(e, "threads"),
        num(e, "errors"), thousands(num(e, "min_thread_ops")), thousands(num(e, "max_thread_ops"))));
  }
}

void stress_findings(const Json& r, Json& findings) {
  for (const auto& e : elems(r, "sections", "stress")) {
    if (!at(e, "total_ops").is_number()) continue;
    findings.emplace_back(fmt::format("{}: {}/{} successes at {} ops/s ({} threads x {} iterations).", str(e, "name"),
                                      num(e, "successes"), num(e, "total_ops"), thousands(num(e, "ops_per_s")),
                                      num(e, "threads"), num(e, "iterations")));
  }
}

void isolation_findings(const Json& r, Json& findings) {
  for (const auto& e : elems(r, "sections", "isolated_rounds")) {
    const int n = static_cast<int>(num(e, "total"));
    const int p = static_cast<int>(num(e, "passed"));
    findings.emplace_back(
        fmt::format("{}: {}/{} rounds passed: per-round failure rate below {:.0f}% at 95% confidence{}.",
                    str(e, "name"), p, n, 100.0 * num(e, "failure_rate_upper_bound_95"),
                    n < static_cast<int>(num(e, "planned")) ? fmt::format(" ({} planned)", num(e, "planned")) : ""));
  }
}

// A spread as the report states it: too noisy to compare beyond kTooNoisySpread.
std::string spread_clause(const Json& row) {
  if (!at(row, "spread").is_number()) return "";
  if (num(row, "spread") > kTooNoisySpread)
    return fmt::format("; the {}-thread rate is too noisy to compare (robust spread {} > {})", num(row, "threads"),
                       pct(num(row, "spread")), pct(kTooNoisySpread));
  return fmt::format("; spread of the {}-thread rate {}", num(row, "threads"), pct(num(row, "spread")));
}

// Returns the best thread speedup seen (and its thread count), for the batching comparison.
std::pair<double, long> scaling_findings(const Json& r, Json& findings) {
  double best = 0.0;
  long best_threads = 0;
  for (const auto& e : elems(r, "sections", "scaling")) {
    const Json* at8 = nullptr;
    for (const auto& row : elems(e, "rows")) {
      if (num(row, "threads") <= 8 && (!at8 || num(row, "threads") > num((*at8), "threads"))) at8 = &row;
      if (num(row, "speedup_vs_1thread") > best) {
        best = num(row, "speedup_vs_1thread");
        best_threads = static_cast<long>(num(row, "threads"));
      }
    }
    if (!at8) continue;
    findings.emplace_back(fmt::format(
        "Threading efficiency ceiling{}: {} at {} threads ({:.2f}x) against the pipelined single-thread baseline, {} "
        "({:.2f}x) against the 1-thread threaded rate (streams {}, sync {}){}.",
        flag(e, "smoke") ? " (smoke size, not a measurement)" : "", pct(num((*at8), "efficiency_vs_pipelined")),
        num((*at8), "threads"), num((*at8), "speedup_vs_pipelined"), pct(num((*at8), "efficiency_vs_1thread")),
        num((*at8), "speedup_vs_1thread"), str(e, "cuda_streams"), str(e, "sync"), spread_clause(*at8)));
  }
  return {best, best_threads};
}

void batching_findings(const Json& r, std::pair<double, long> best, Json& findings) {
  for (const auto& e : elems(r, "sections", "batching")) {
    const auto& rows = elems(e, "rows");
    if (rows.empty()) continue;
    const Json& last = rows.back();
    std::string line = fmt::format("Batching{}: {:.2f}x samples/s at batch {} over batch 1",
                                   flag(e, "smoke") ? " (smoke size)" : "", num(last, "speedup"), num(last, "batch"));
    if (best.first > 0) {
      line += fmt::format(
          ", against at best {:.2f}x from threading ({} thread(s) over 1): batching gains {:.1f} times as much",
          best.first, best.second, num(last, "speedup") / best.first);
    }
    findings.emplace_back(line + ".");
  }
}

void failure_findings(const RunData& run, const Json& r, Json& findings) {
  std::set<std::string> sigs;
  for (const auto& f : elems(r, "failures")) {
    std::string where;
    auto add = [&](const char* what, const Json& v) {
      if (v.is_number()) where += fmt::format("{}{} {}", where.empty() ? "" : ", ", what, num(v));
    };
    add("run", at(f, "run"));
    add("round", at(f, "round"));
    add("thread", at(f, "thread"));
    add("iteration", at(f, "iteration"));
    findings.emplace_back(fmt::format("FAILURE {} [{}{}]: {}{}", str(f, "test"), str(f, "classification"),
                                      where.empty() ? "" : "; " + where, str(f, "text"),
                                      str(f, "crash_signature").empty() ? "" : " -- " + str(f, "crash_signature")));
    if (!str(f, "crash_signature").empty()) sigs.insert(str(f, "crash_signature"));
  }
  for (const auto& rr : run.rounds) {
    if (!rr.crash_signature.empty()) sigs.insert(rr.crash_signature);
  }
  for (const auto& c : elems(r, "controls")) {
    if (str(c, "verdict") != "missed") continue;
    findings.emplace_back(fmt::format("CONTROL MISSED {}: {}; saw {}{}", str(c, "name"), str(c, "text"),
                                      str(c, "observed"), str(c, "detail").empty() ? "" : " (" + str(c, "detail") + ")"));
  }
  if (sigs.empty()) findings.emplace_back("No known upstream crash signature matched.");
  for (const auto& s : sigs) findings.emplace_back("Crash signature " + s + ".");
}

void context_findings(const RunData& run, const Json& r, Json& findings) {
  if (!run.injected_files.empty()) {
    findings.emplace_back(
        fmt::format("{} results file(s) written by fault-injection child runs of the self-tests were left out.",
                    run.injected_files.size()));
  }
  if (!str(r, "run", "inject").empty()) {
    findings.emplace_back("Fault injection was active (TORCHSTRESS_INJECT=" + str(r, "run", "inject") +
                          "): failures are expected.");
  }
  if (str(r, "run", "device").find(" / ") != std::string::npos) {
    findings.emplace_back("The results mix devices (" + str(r, "run", "device") + "): several runs share this folder.");
  }
  for (const auto& d : elems(r, "run", "provenance_disagreements")) {
    findings.emplace_back("The processes disagree on " + str(d) + ": several builds share this folder.");
  }
}

Json build_findings(const RunData& run, const Json& r) {
  Json findings = Json::array();
  run_findings(r, findings);
  soak_findings(r, findings);
  stress_findings(r, findings);
  isolation_findings(r, findings);
  batching_findings(r, scaling_findings(r, findings), findings);
  failure_findings(run, r, findings);
  context_findings(run, r, findings);
  return findings;
}

// ---- the verdict in words ---------------------------------------------------------------------

std::string incomplete_text(const RunData& run, const Json& s) {
  // A test that stalled in several repeats is named once.
  std::vector<std::string> what;
  for (const auto& i : run.incomplete) {
    if (std::find(what.begin(), what.end(), i.name) == what.end()) what.push_back(i.name);
  }
  for (size_t i = 0; i < run.warnings.size(); ++i) what.push_back("a truncated results file");
  std::string names;
  for (const auto& n : what) names += (names.empty() ? "" : ", ") + n;
  return fmt::format(
      "The run is INCOMPLETE: {} stalled or never wrote a result (the process ended midway); "
      "{} test(s) passed, none failed a check.",
      names, num(s, "passed"));
}

// "; controls: 6 of 6 caught their expected kind" (or which missed).
std::string controls_text(const Json& r) {
  const Json& s = at(r, "summary");
  if (num(s, "controls") == 0) return "";
  std::string text = fmt::format(" Controls (tests that must see a failure): {} of {} caught their expected kind",
                                 num(s, "controls_caught"), num(s, "controls") - num(s, "controls_skipped"));
  if (num(s, "controls_skipped") > 0) text += fmt::format(" ({} skipped)", num(s, "controls_skipped"));
  std::string missed;
  for (const auto& c : elems(r, "controls")) {
    if (str(c, "verdict") == "missed")
      missed += fmt::format("{}{} ({}; saw {})", missed.empty() ? "" : ", ", str(c, "name"), str(c, "text"),
                            str(c, "observed"));
  }
  if (!missed.empty()) text += "; MISSED, so the checks cannot be trusted: " + missed;
  return text + ".";
}

std::string verdict_text(const RunData& run, const Json& s) {
  if (str(s, "verdict") == "PASS") {
    return fmt::format("All {} tests that ran passed ({} skipped).", num(s, "tests") - num(s, "skipped"),
                       num(s, "skipped"));
  }
  if (str(s, "verdict") == "INCOMPLETE") return incomplete_text(run, s);
  const double bad = num(s, "failed") + num(s, "stalled") + num(s, "incomplete");
  if (bad == 0) return fmt::format("All {} tests that ran passed ({} skipped), but a control missed.",
                                   num(s, "tests") - num(s, "skipped"), num(s, "skipped"));
  return fmt::format("{} test(s) did not pass: {} failed, {} stalled, {} incomplete.", bad, num(s, "failed"),
                     num(s, "stalled"), num(s, "incomplete"));
}

// The verdict, then each repeated test that did not pass every repeat and each isolated-rounds count.
std::string summary_text(const RunData& run, const Json& r) {
  std::string text = verdict_text(run, at(r, "summary")) + controls_text(r) + ctest_text(at(r, "ctest"));
  for (const auto& t : elems(r, "tests")) {
    const std::string st = str(t, "status");
    if (num(t, "runs") > 1 && st != "passed" && st != "skipped")
      text += fmt::format(" {}: {}.", str(t, "name"), str(t, "runs_text"));
  }
  for (const auto& e : elems(r, "sections", "isolated_rounds"))
    text += fmt::format(" {}: {}/{} isolated rounds passed.", str(e, "name"), num(e, "passed"), num(e, "total"));
  return text;
}

}  // namespace

// ---- the report -------------------------------------------------------------------------------

Json build_report(const RunData& run, const std::string& host, const std::vector<CtestCase>& ctest) {
  Json r = Json::object();
  r["schema"] = kReportSchema;
  r["title"] = "Verification Report";
  r["run"] = run_meta(run, host);
  // Controls (tests that must see a failure) are kept apart: their failures are their catches.
  Json tests = Json::array(), failures = Json::array(), controls = Json::array();
  for (const auto& t : run.tests) {
    if (t.control.empty())
      tests.emplace_back(test_entry(run, t, failures));
    else
      controls.emplace_back(detail::control_entry(run, t));
  }
  r["tests"] = tests;
  r["controls"] = controls;
  if (!ctest.empty()) r["ctest"] = ctest_accounting(run, ctest);
  r["summary"] = summary_counts(tests, controls, run);
  r["sections"] = build_sections(run);
  r["regression"] = detail::other_tests(tests);
  // Only where the results hold detection lines: a suite run's report.json keeps its shape.
  if (!run.detection.empty()) r["detection"] = detail::detection_section(run);
  r["failures"] = failures;
  add_figures(r);
  r["skip_groups"] = skip_groups(tests);
  r["blockers"] = build_blockers(run, r);
  r["findings"] = build_findings(run, r);
  std::string text = summary_text(run, r);
  r["summary"]["text"] = std::move(text);
  return r;
}

}  // namespace tsreport
