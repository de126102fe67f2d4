// Builds the report tree from a run's results, one function per part of the report. The baseline
// comparison lives in report_baseline.cpp, failure classification and repro lines in
// report_failures.cpp, provenance in report_provenance.cpp.
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
  const Json& v = t.properties[key];
  if (v.is_number()) return v.num();
  return std::nullopt;
}

Json opt(std::optional<double> v) { return v ? Json(*v) : Json(); }

std::string scalar_text(const Json& v) {
  if (v.is_string()) return v.str();
  if (v.is_number()) {
    const double d = v.num();
    return d == std::floor(d) && std::fabs(d) < 1e15 ? fmt::format("{:.0f}", d) : fmt::format("{:g}", d);
  }
  if (v.is_bool()) return v.boolean() ? "true" : "false";
  return v.is_null() ? "" : v.dump();
}

}  // namespace detail

namespace {

using detail::first_line;
using detail::join_distinct;
using detail::opt;
using detail::pct;
using detail::prop;

// What the seed report covers, by suite; every other test goes to the "Regression and other tests"
// section. The label names what to run when a section is missing.
struct Expected {
  const char* name;
  const char* label;
};
constexpr Expected kExpected[] = {
    {"ParallelCPU.TwoThreads", "quick"},  {"ParallelCPU.FourThreads", "quick"},
    {"ParallelMPS.TwoThreads", "quick"},  {"ParallelMPS.FourThreads", "quick"},
    {"ParallelCUDA.TwoThreads", "quick"}, {"ParallelCUDA.FourThreads", "quick"},
    {"Soak.EightThreads60s", "soak"},     {"Stress.LayerNorm", "stress"},
    {"Stress.Transformer", "stress"},     {"Bench.ScalingCurves", "bench"},
    {"Bench.Batching", "bench"},          {"TransformerEncoder.IsolatedRounds", "isolation"},
};
const std::set<std::string> kCoveredSuites = {"ParallelMPS", "ParallelCUDA", "ParallelCPU",       "Soak",
                                              "Stress",      "Bench",        "TransformerEncoder"};

// More skipped tests than this under one reason are counted, not named.
constexpr size_t kSkipNamesListed = 5;
// Characters of one failure text kept for details.md.
constexpr size_t kMaxFailureText = 20000;

// "400/400" -> {400, 400}
std::optional<std::pair<long, long>> ratio(const std::string& s) {
  long a = 0, b = 0;
  if (std::sscanf(s.c_str(), "%ld/%ld", &a, &b) == 2) return std::make_pair(a, b);
  return std::nullopt;
}

std::string format_time(double t) {
  if (t <= 0) return "unknown";
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  localtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M %Z", &tm);
  return buf;
}

// Kinds named by the runner's "error_kinds" property ("wrong value: 3, exception: 1" or "none").
std::set<std::string> property_kinds(const TestRecord& t) {
  std::set<std::string> kinds;
  const std::string s = t.properties["error_kinds"].str();
  size_t pos = 0;
  while (pos < s.size()) {
    size_t end = s.find(", ", pos);
    if (end == std::string::npos) end = s.size();
    const std::string item = s.substr(pos, end - pos);
    pos = end + 2;
    const auto colon = item.rfind(':');
    if (colon != std::string::npos) kinds.insert(item.substr(0, colon));
  }
  return kinds;
}

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
  meta.set("date", format_time(run.last_time));
  meta.set("first_time", run.first_time);
  meta.set("last_time", run.last_time);
  meta.set("torch", join_distinct(torch));
  meta.set("device", join_distinct(device));
  meta.set("hardware", join_distinct(hardware));
  meta.set("host", join_distinct(hosts).empty() ? host : join_distinct(hosts));
  meta.set("inventory", run.processes.empty() ? "" : run.processes.front().inventory);
  meta.set("cuda_streams", join_distinct(streams));
  meta.set("sync", join_distinct(sync));
  meta.set("inject", join_distinct(inject));
  meta.set("results_dir", run.dir);
  meta.set("files", run.files.size());
  meta.set("binaries", join_distinct(binaries));
  detail::add_provenance(meta, run);
  return meta;
}

// ---- every test -------------------------------------------------------------------------------

// One test's entry: its status over all repeats, its failures classified (appended to
// `failures`), and what the Failures table and the gate need.
Json test_entry(const RunData& run, const TestRecord& t, Json& failures) {
  Json e = Json::object();
  e.set("name", t.name);
  e.set("suite", t.suite);
  e.set("binary", t.binary);
  e.set("status", t.status);
  e.set("device", t.device);
  e.set("duration_s", t.duration_s);
  e.set("skip_reason", t.skip_reason);
  Json fl = Json::array();
  for (const auto& f : t.failures) fl.push(first_line(f, 1000));
  e.set("failures", fl);
  // The whole texts (multi-line matcher output) for details.md, capped so one runaway message
  // cannot swell report.json.
  Json texts = Json::array();
  for (const auto& f : t.failures) texts.push(f.size() > kMaxFailureText ? f.substr(0, kMaxFailureText) + "\n..." : f);
  e.set("failure_texts", texts);
  std::set<std::string> kinds = property_kinds(t);
  const std::vector<Json> classified = detail::classify(t, run.rounds);
  for (const auto& c : classified) {
    kinds.insert(c["classification"].str());
    failures.push(c);
  }
  Json k = Json::array();
  for (const auto& s : kinds) k.push(s);
  e.set("error_kinds", k);
  detail::add_repeat_fields(e, run, t, classified);
  return e;
}

Json summary_counts(const Json& tests, const RunData& run) {
  std::map<std::string, long> counts;
  for (const auto& t : tests.elements()) ++counts[t["status"].str()];
  Json summary = Json::object();
  summary.set("tests", tests.size());
  for (const char* s : {"passed", "failed", "skipped", "stalled", "incomplete"}) summary.set(s, counts[s]);
  const bool incomplete = !run.incomplete.empty() || !run.warnings.empty();
  const long bad = counts["failed"] + counts["stalled"] + counts["incomplete"];
  // A stall or a missing result leaves the run incomplete; a failed check fails it outright.
  summary.set("verdict", counts["failed"] > 0 ? "FAIL" : (incomplete || bad > 0 ? "INCOMPLETE" : "PASS"));
  summary.set("complete", !incomplete);
  summary.set("incomplete_tests", static_cast<long>(run.incomplete.size()));
  long repeated = 0;
  for (const auto& t : run.tests) repeated += t.runs() > 1 ? 1 : 0;
  summary.set("repeated_tests", repeated);
  return summary;
}

// ---- sections ---------------------------------------------------------------------------------

Json test_status(const RunData& run, const std::string& name) {
  Json e = Json::object();
  e.set("name", name);
  const TestRecord* t = run.find(name);
  e.set("status", t ? t->status : "not run");
  e.set("skip_reason", t ? t->skip_reason : "");
  return e;
}

// Figures of the representative repeat; status and run counts of all repeats.
Json run_figures(const TestRecord& t) {
  Json e = Json::object();
  e.set("name", t.name);
  e.set("status", t.status);
  e.set("runs", t.runs());
  e.set("runs_text", detail::runs_text(t));
  e.set("threads", opt(prop(t, "threads")));
  e.set("total_ops", opt(prop(t, "total_ops")));
  const auto threads = prop(t, "threads");
  const auto total = prop(t, "total_ops");
  e.set("iterations", threads && total && *threads > 0 ? Json(std::round(*total / *threads)) : Json());
  e.set("successes", t.properties["successes"].str());
  e.set("errors", opt(prop(t, "errors")));
  e.set("error_kinds", t.properties["error_kinds"].str());
  e.set("duration_s", opt(prop(t, "duration_s")));
  e.set("ops_per_s", opt(prop(t, "ops_per_s")));
  e.set("min_thread_ops", opt(prop(t, "min_thread_ops")));
  e.set("max_thread_ops", opt(prop(t, "max_thread_ops")));
  return e;
}

Json parallel_section(const RunData& run) {
  Json parallel = Json::array();
  for (const char* backend : {"MPS", "CUDA", "CPU"}) {
    Json b = Json::object();
    b.set("backend", backend);
    Json ts = Json::array();
    for (const char* n : {"TwoThreads", "FourThreads"}) {
      const std::string name = fmt::format("Parallel{}.{}", backend, n);
      Json e = test_status(run, name);
      e.set("threads", std::string(n) == "TwoThreads" ? 2 : 4);
      if (const TestRecord* t = run.find(name)) {
        const auto th = prop(*t, "threads");
        const auto ops = prop(*t, "total_ops");
        e.set("iterations", th && ops && *th > 0 ? Json(std::round(*ops / *th)) : Json());
        e.set("successes", t->properties["successes"].str());
      }
      ts.push(std::move(e));
    }
    b.set("tests", ts);
    parallel.push(std::move(b));
  }
  return parallel;
}

Json soak_section(const RunData& run) {
  Json soak = Json::array();
  for (const char* n : {"Soak.EightThreads60s", "Soak.EightThreads60sPoolStreamPerThread", "Soak.EightThreadsShort"}) {
    // The pool-stream soak applies to CUDA only; elsewhere it is a (listed) skip, not a column.
    if (const TestRecord* t = run.find(n); t && t->status != "skipped") soak.push(run_figures(*t));
  }
  return soak;
}

Json stress_section(const RunData& run) {
  Json stress = Json::array();
  for (const auto& t : run.tests) {
    if (t.suite == "Stress") stress.push(run_figures(t));
  }
  return stress;
}

Json bench_section(const RunData& run, const std::string& kind, const std::string& full_test) {
  Json out = Json::array();
  bool have_full = false;
  for (const auto& b : run.bench) {
    if (b["bench"].str() == kind && b["test"].str() == full_test) have_full = true;
  }
  for (const auto& b : run.bench) {
    if (b["bench"].str() != kind) continue;
    const bool smoke = b["test"].str() != full_test;
    if (smoke && have_full) continue;  // smoke sizes only stand in when the full benchmark did not run
    Json e = b;
    e.set("smoke", smoke);
    const TestRecord* t = run.find(b["test"].str());
    e.set("status", t ? t->status : "incomplete");
    out.push(std::move(e));
  }
  return out;
}

Json round_json(const RoundRecord& rr, const TestRecord& t) {
  Json x = Json::object();
  x.set("round", rr.round);
  x.set("run", t.runs() > 1 ? Json(rr.run) : Json());
  x.set("status", rr.status);
  x.set("detail", rr.detail);
  x.set("crash_signature", rr.crash_signature);
  x.set("stderr_tail", rr.stderr_tail);
  x.set("anchor", detail::anchor_of(t.name, t.runs() > 1 ? rr.run : 0, rr.round));
  return x;
}

// Rounds of every repeat count: two repeats of 10 rounds are 20 trials for the bound.
Json isolated_section(const RunData& run) {
  Json isolated = Json::array();
  for (const auto& t : run.tests) {
    if (t.suite != "TransformerEncoder") continue;
    Json e = Json::object();
    e.set("name", t.name);
    e.set("status", t.status);
    int passed = 0, n = 0;
    Json rounds = Json::array();
    for (const auto& rr : run.rounds) {
      if (rr.test != t.name) continue;
      ++n;
      if (rr.status == "passed") ++passed;
      rounds.push(round_json(rr, t));
    }
    const auto planned = prop(t, "rounds_total");
    e.set("passed", passed);
    e.set("total", n);
    e.set("planned", planned ? Json(*planned * std::max(1, t.ran())) : Json(n));
    e.set("pass_rate", n > 0 ? Json(static_cast<double>(passed) / n) : Json());
    e.set("failure_rate_upper_bound_95", torchstress::failure_rate_upper_bound(n - passed, n));
    e.set("rounds", rounds);
    isolated.push(std::move(e));
  }
  return isolated;
}

Json build_sections(const RunData& run) {
  Json sections = Json::object();
  sections.set("parallel", parallel_section(run));
  sections.set("soak", soak_section(run));
  sections.set("stress", stress_section(run));
  sections.set("scaling", bench_section(run, "scaling", "Bench.ScalingCurves"));
  sections.set("batching", bench_section(run, "batching", "Bench.Batching"));
  sections.set("isolated_rounds", isolated_section(run));
  return sections;
}

// Tests no section covers (regression suites, self-tests), by binary.
Json other_tests(const Json& tests) {
  Json other = Json::array();
  for (const auto& t : tests.elements()) {
    if (kCoveredSuites.count(t["suite"].str())) continue;
    Json e = Json::object();
    e.set("name", t["name"]);
    e.set("binary", t["binary"]);
    e.set("status", t["status"]);
    e.set("duration_s", t["duration_s"]);
    e.set("skip_reason", t["skip_reason"]);
    e.set("runs_text", t["runs_text"]);
    e.set("runs", t["runs"]);
    const auto& fl = t["failures"].elements();
    e.set("failure", fl.empty() ? "" : first_line(fl.front().str()));
    other.push(std::move(e));
  }
  return other;
}

// ---- figures a later run is compared against --------------------------------------------------

struct Figures {
  Json metrics = Json::array(), pass_rates = Json::array();

  void metric(const std::string& key, std::optional<double> value, const Json& spread, const char* unit) {
    if (!value) return;
    Json m = Json::object();
    m.set("key", key);
    m.set("value", *value);
    m.set("spread", spread.is_number() ? spread : Json());
    m.set("spread_measure", "iqr/median");
    m.set("too_noisy", spread.num() > kTooNoisySpread);
    m.set("unit", unit);
    metrics.push(std::move(m));
  }
  void pass_rate(const std::string& key, long passed, long n) {
    if (n <= 0) return;
    Json p = Json::object();
    p.set("key", key);
    p.set("passed", passed);
    p.set("total", n);
    pass_rates.push(std::move(p));
  }
};

void run_figures_of(const Json& sections, Figures& f) {
  for (const char* list : {"soak", "stress"}) {
    for (const auto& e : sections[list].elements()) {
      if (e["status"].str() == "skipped") continue;
      f.metric(e["name"].str() + " ops/s",
               e["ops_per_s"].is_number() ? std::optional<double>(e["ops_per_s"].num()) : std::nullopt, Json(),
               "ops/s");
      if (auto q = ratio(e["successes"].str())) f.pass_rate(e["name"].str() + " ops", q->first, q->second);
    }
  }
}

void bench_figures_of(const Json& sections, Figures& f) {
  for (const auto& e : sections["scaling"].elements()) {
    if (e["smoke"].boolean()) continue;
    const std::string policy =
        fmt::format("[{}, streams {}, sync {}]", e["device"].str(), e["cuda_streams"].str(), e["sync"].str());
    f.metric(e["test"].str() + " pipelined " + policy, e["pipelined"]["ops_per_s"].num(), e["pipelined"]["spread"],
             "ops/s");
    for (const auto& row : e["rows"].elements()) {
      f.metric(fmt::format("{} threads={} {}", e["test"].str(), row["threads"].num(), policy), row["ops_per_s"].num(),
               row["spread"], "ops/s");
    }
  }
  for (const auto& e : sections["batching"].elements()) {
    if (e["smoke"].boolean()) continue;
    for (const auto& row : e["rows"].elements()) {
      f.metric(fmt::format("{} batch={} [{}]", e["test"].str(), row["batch"].num(), e["device"].str()),
               row["samples_per_s"].num(), row["spread"], "samples/s");
    }
  }
}

void add_figures(Json& r) {
  Figures f;
  run_figures_of(r["sections"], f);
  bench_figures_of(r["sections"], f);
  for (const auto& e : r["sections"]["isolated_rounds"].elements())
    f.pass_rate(e["name"].str() + " rounds", static_cast<long>(e["passed"].num()), static_cast<long>(e["total"].num()));
  const Json& s = r["summary"];
  f.pass_rate("tests", static_cast<long>(s["passed"].num()), static_cast<long>(s["tests"].num() - s["skipped"].num()));
  r.set("metrics", f.metrics);
  r.set("pass_rates", f.pass_rates);
}

// ---- what did not run -------------------------------------------------------------------------

// One entry per distinct skip reason: a reason shared by many tests is said once, with its count.
Json skip_groups(const Json& tests) {
  Json groups = Json::array();
  std::vector<std::pair<std::string, std::vector<std::string>>> by_reason;
  for (const auto& t : tests.elements()) {
    if (t["status"].str() != "skipped") continue;
    const std::string why = t["skip_reason"].str().empty() ? "no reason given" : first_line(t["skip_reason"].str());
    auto it = std::find_if(by_reason.begin(), by_reason.end(), [&](const auto& g) { return g.first == why; });
    if (it == by_reason.end()) it = by_reason.insert(by_reason.end(), {why, {}});
    it->second.push_back(t["name"].str());
  }
  for (const auto& [why, names] : by_reason) {
    Json g = Json::object();
    g.set("reason", why);
    g.set("count", names.size());
    Json list = Json::array();
    for (const auto& n : names) list.push(n);
    g.set("tests", list);
    groups.push(std::move(g));
  }
  return groups;
}

std::string skip_group_names(const Json& g) {
  if (g["tests"].size() > kSkipNamesListed) return fmt::format("{} tests", g["tests"].size());
  std::string names;
  for (const auto& n : g["tests"].elements()) names += (names.empty() ? "" : ", ") + n.str();
  return names;
}

Json build_blockers(const RunData& run, const Json& r) {
  Json blockers = Json::array();
  auto blocker = [&](const std::string& kind, const std::string& name, const std::string& why) -> Json& {
    Json b = Json::object();
    b.set("kind", kind);
    b.set("name", name);
    b.set("reason", why);
    return blockers.push(std::move(b));
  };
  for (const auto& g : r["skip_groups"].elements()) {
    Json& b = blocker("skipped", skip_group_names(g), g["reason"].str());
    b.set("count", g["count"]);
    b.set("tests", g["tests"]);
    b.set("listed", g["tests"].size() <= kSkipNamesListed);
  }
  for (const auto& i : run.incomplete) blocker("incomplete", i.name, i.why);
  for (const auto& w : run.warnings) blocker("incomplete", "results file", w);
  for (const auto& e : kExpected) {
    if (!run.find(e.name))
      blocker("missing", e.name, fmt::format("not in these results (run CTest label '{}')", e.label));
  }
  for (const char* kind : {"scaling", "batching"}) {
    for (const auto& e : r["sections"][kind].elements()) {
      if (e["smoke"].boolean()) {
        blocker("missing", e["test"].str(),
                fmt::format("only the smoke-size {} benchmark ran: its figures are not a measurement", kind));
      }
    }
  }
  return blockers;
}

// ---- findings ---------------------------------------------------------------------------------

void run_findings(const Json& r, Json& findings) {
  const Json& s = r["summary"];
  findings.push(fmt::format("{} of {} tests passed; {} failed, {} stalled, {} incomplete, {} skipped.",
                            s["passed"].num(), s["tests"].num(), s["failed"].num(), s["stalled"].num(),
                            s["incomplete"].num(), s["skipped"].num()));
  for (const auto& e : r["sections"]["soak"].elements()) {
    if (!e["total_ops"].is_number()) continue;  // stalled or never ended: listed with the failures
    findings.push(fmt::format(
        "{}: {} ops in {:.1f} s ({} ops/s) on {} threads, {} errors; per-thread ops min {} max {}.", e["name"].str(),
        thousands(e["total_ops"].num()), e["duration_s"].num(), thousands(e["ops_per_s"].num(), 1), e["threads"].num(),
        e["errors"].num(), thousands(e["min_thread_ops"].num()), thousands(e["max_thread_ops"].num())));
  }
  for (const auto& e : r["sections"]["stress"].elements()) {
    if (!e["total_ops"].is_number()) continue;
    findings.push(fmt::format("{}: {} successes at {} ops/s ({} threads x {} iterations).", e["name"].str(),
                              e["successes"].str(), thousands(e["ops_per_s"].num()), e["threads"].num(),
                              e["iterations"].num()));
  }
  for (const auto& e : r["sections"]["isolated_rounds"].elements()) {
    const int n = static_cast<int>(e["total"].num());
    const int p = static_cast<int>(e["passed"].num());
    findings.push(
        fmt::format("{}: {}/{} rounds passed: per-round failure rate below {:.0f}% at 95% confidence{}.",
                    e["name"].str(), p, n, 100.0 * e["failure_rate_upper_bound_95"].num(),
                    n < static_cast<int>(e["planned"].num()) ? fmt::format(" ({} planned)", e["planned"].num()) : ""));
  }
}

// A spread as the report states it: too noisy to compare beyond kTooNoisySpread.
std::string spread_clause(const Json& row) {
  if (!row["spread"].is_number()) return "";
  if (row["spread"].num() > kTooNoisySpread)
    return fmt::format("; the {}-thread rate is too noisy to compare (robust spread {} > {})", row["threads"].num(),
                       pct(row["spread"].num()), pct(kTooNoisySpread));
  return fmt::format("; spread of the {}-thread rate {}", row["threads"].num(), pct(row["spread"].num()));
}

// Returns the best thread speedup seen (and its thread count), for the batching comparison.
std::pair<double, long> scaling_findings(const Json& r, Json& findings) {
  double best = 0.0;
  long best_threads = 0;
  for (const auto& e : r["sections"]["scaling"].elements()) {
    const Json* at8 = nullptr;
    for (const auto& row : e["rows"].elements()) {
      if (row["threads"].num() <= 8 && (!at8 || row["threads"].num() > (*at8)["threads"].num())) at8 = &row;
      if (row["speedup_vs_1thread"].num() > best) {
        best = row["speedup_vs_1thread"].num();
        best_threads = static_cast<long>(row["threads"].num());
      }
    }
    if (!at8) continue;
    findings.push(fmt::format(
        "Threading efficiency ceiling{}: {} at {} threads ({:.2f}x) against the pipelined single-thread baseline, {} "
        "({:.2f}x) against the 1-thread threaded rate (streams {}, sync {}){}.",
        e["smoke"].boolean() ? " (smoke size, not a measurement)" : "", pct((*at8)["efficiency_vs_pipelined"].num()),
        (*at8)["threads"].num(), (*at8)["speedup_vs_pipelined"].num(), pct((*at8)["efficiency_vs_1thread"].num()),
        (*at8)["speedup_vs_1thread"].num(), e["cuda_streams"].str(), e["sync"].str(), spread_clause(*at8)));
  }
  return {best, best_threads};
}

void batching_findings(const Json& r, std::pair<double, long> best, Json& findings) {
  for (const auto& e : r["sections"]["batching"].elements()) {
    const auto& rows = e["rows"].elements();
    if (rows.empty()) continue;
    const Json& last = rows.back();
    std::string line =
        fmt::format("Batching{}: {:.2f}x samples/s at batch {} over batch 1",
                    e["smoke"].boolean() ? " (smoke size)" : "", last["speedup"].num(), last["batch"].num());
    if (best.first > 0) {
      line += fmt::format(
          ", against at best {:.2f}x from threading ({} thread(s) over 1): batching gains {:.1f} times as much",
          best.first, best.second, last["speedup"].num() / best.first);
    }
    findings.push(line + ".");
  }
}

void failure_findings(const RunData& run, const Json& r, Json& findings) {
  std::set<std::string> sigs;
  for (const auto& f : r["failures"].elements()) {
    std::string where;
    auto add = [&](const char* what, const Json& v) {
      if (v.is_number()) where += fmt::format("{}{} {}", where.empty() ? "" : ", ", what, v.num());
    };
    add("run", f["run"]);
    add("round", f["round"]);
    add("thread", f["thread"]);
    add("iteration", f["iteration"]);
    findings.push(fmt::format("FAILURE {} [{}{}]: {}{}", f["test"].str(), f["classification"].str(),
                              where.empty() ? "" : "; " + where, f["text"].str(),
                              f["crash_signature"].str().empty() ? "" : " -- " + f["crash_signature"].str()));
    if (!f["crash_signature"].str().empty()) sigs.insert(f["crash_signature"].str());
  }
  for (const auto& rr : run.rounds) {
    if (!rr.crash_signature.empty()) sigs.insert(rr.crash_signature);
  }
  if (sigs.empty()) findings.push("No known upstream crash signature matched.");
  for (const auto& s : sigs) findings.push("Crash signature " + s + ".");
}

void context_findings(const RunData& run, const Json& r, Json& findings) {
  if (!run.injected_files.empty()) {
    findings.push(
        fmt::format("{} results file(s) written by fault-injection child runs of the self-tests were left out.",
                    run.injected_files.size()));
  }
  if (!r["run"]["inject"].str().empty()) {
    findings.push("Fault injection was active (TORCHSTRESS_INJECT=" + r["run"]["inject"].str() +
                  "): failures are expected.");
  }
  if (r["run"]["device"].str().find(" / ") != std::string::npos) {
    findings.push("The results mix devices (" + r["run"]["device"].str() + "): several runs share this folder.");
  }
  for (const auto& d : r["run"]["provenance_disagreements"].elements()) {
    findings.push("The processes disagree on " + d.str() + ": several builds share this folder.");
  }
}

Json build_findings(const RunData& run, const Json& r) {
  Json findings = Json::array();
  run_findings(r, findings);
  batching_findings(r, scaling_findings(r, findings), findings);
  failure_findings(run, r, findings);
  context_findings(run, r, findings);
  return findings;
}

// ---- the verdict in words ---------------------------------------------------------------------

std::string summary_text(const RunData& run, const Json& r) {
  const Json& s = r["summary"];
  std::string text;
  if (s["verdict"].str() == "PASS") {
    text = fmt::format("All {} tests that ran passed ({} skipped).", s["tests"].num() - s["skipped"].num(),
                       s["skipped"].num());
  } else if (s["verdict"].str() == "INCOMPLETE") {
    // A test that stalled in several repeats is named once.
    std::vector<std::string> what;
    for (const auto& i : run.incomplete) {
      if (std::find(what.begin(), what.end(), i.name) == what.end()) what.push_back(i.name);
    }
    for (size_t i = 0; i < run.warnings.size(); ++i) what.push_back("a truncated results file");
    std::string names;
    for (const auto& n : what) names += (names.empty() ? "" : ", ") + n;
    text = fmt::format(
        "The run is INCOMPLETE: {} stalled or never wrote a result (the process ended midway); "
        "{} test(s) passed, none failed a check.",
        names, s["passed"].num());
  } else {
    text = fmt::format("{} test(s) did not pass: {} failed, {} stalled, {} incomplete.",
                       s["failed"].num() + s["stalled"].num() + s["incomplete"].num(), s["failed"].num(),
                       s["stalled"].num(), s["incomplete"].num());
  }
  for (const auto& t : r["tests"].elements()) {
    const std::string st = t["status"].str();
    if (t["runs"].num() > 1 && st != "passed" && st != "skipped")
      text += fmt::format(" {}: {}.", t["name"].str(), t["runs_text"].str());
  }
  for (const auto& e : r["sections"]["isolated_rounds"].elements()) {
    if (e["name"].str() == "TransformerEncoder.IsolatedRounds")
      text +=
          fmt::format(" TransformerEncoderLayer: {}/{} isolated rounds passed.", e["passed"].num(), e["total"].num());
  }
  return text;
}

}  // namespace

// ---- the report -------------------------------------------------------------------------------

Json build_report(const RunData& run, const std::string& host) {
  Json r = Json::object();
  r.set("schema", kReportSchema);
  r.set("title", "Verification Report");
  r.set("run", run_meta(run, host));
  Json tests = Json::array(), failures = Json::array();
  for (const auto& t : run.tests) tests.push(test_entry(run, t, failures));
  r.set("tests", tests);
  r.set("summary", summary_counts(tests, run));
  r.set("sections", build_sections(run));
  r.set("regression", other_tests(tests));
  r.set("failures", failures);
  add_figures(r);
  r.set("skip_groups", skip_groups(tests));
  r.set("blockers", build_blockers(run, r));
  r.set("findings", build_findings(run, r));
  Json summary = r["summary"];
  summary.set("text", summary_text(run, r));
  r.set("summary", summary);
  return r;
}

}  // namespace tsreport
