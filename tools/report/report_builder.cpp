// Builds the report tree from a run's results, and compares it with a baseline report.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <optional>
#include <regex>
#include <set>

#include "report.h"
#include "torchstress/crash_signatures.h"
#include "torchstress/stats.h"

namespace tsreport {
namespace {

// Throughput with no measured spread must drop by more than this to count as a regression.
constexpr double kDefaultNoise = 0.10;

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

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

std::optional<double> prop(const TestRecord& t, const std::string& key) {
  const Json& v = t.properties[key];
  if (v.is_number()) return v.num();
  return std::nullopt;
}

Json opt(std::optional<double> v) { return v ? Json(*v) : Json(); }

// "400/400" -> {400, 400}
std::optional<std::pair<long, long>> ratio(const std::string& s) {
  long a = 0, b = 0;
  if (std::sscanf(s.c_str(), "%ld/%ld", &a, &b) == 2) return std::make_pair(a, b);
  return std::nullopt;
}

std::string first_line(const std::string& s, size_t max = 300) {
  std::string l = s.substr(0, s.find('\n'));
  if (l.size() > max) l = l.substr(0, max) + "...";
  return l;
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

std::string format_time(double t) {
  if (t <= 0) return "unknown";
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  localtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M %Z", &tm);
  return buf;
}

// ---- failures ---------------------------------------------------------------------------------

std::string kind_of_text(const std::string& s) {
  if (starts_with(s, "wrong value")) return "wrong value";
  if (starts_with(s, "NaN/Inf")) return "NaN/Inf";
  if (starts_with(s, "exception")) return "exception";
  if (starts_with(s, "start gate")) return "start gate";
  if (s.find(" stuck at iteration ") != std::string::npos) return "stall";
  return "";
}

int find_int(const std::string& s, const char* pattern) {
  std::smatch m;
  if (std::regex_search(s, m, std::regex(pattern))) return std::stoi(m[1].str());
  return -1;
}

Json failure_entry(const std::string& test, const std::string& classification, const std::string& text, int round,
                   const std::string& crash_signature) {
  Json e = Json::object();
  e.set("test", test);
  e.set("classification", classification);
  e.set("round", round > 0 ? Json(round) : Json());
  const int thread = find_int(text, R"(thread (\d+))");
  const int iteration = find_int(text, R"(iteration (\d+))");
  e.set("thread", thread >= 0 ? Json(thread) : Json());
  e.set("iteration", iteration >= 0 ? Json(iteration) : Json());
  e.set("text", first_line(text, 400));
  std::string sig = crash_signature;
  if (sig.empty()) sig = torchstress::describe_crash_match(text);
  e.set("crash_signature", sig);
  return e;
}

// Every failure of a test, classified, with its round, thread and iteration where the text says.
std::vector<Json> classify(const TestRecord& t, const std::vector<RoundRecord>& rounds) {
  std::vector<Json> out;
  if (t.status == "passed" || t.status == "skipped") return out;
  bool from_rounds = false;
  for (const auto& r : rounds) {
    if (r.test != t.name || r.status == "passed") continue;
    from_rounds = true;
    std::string cls = r.status == "crashed" ? "crash" : (r.status == "timed out" ? "timed out" : "");
    if (cls.empty()) {
      cls = kind_of_text(r.detail);
      if (cls.empty()) cls = "round failed";
    }
    out.push_back(failure_entry(t.name, cls, r.detail.empty() ? r.status : r.detail, r.round, r.crash_signature));
  }
  if (t.status == "incomplete") {
    out.push_back(failure_entry(t.name, "incomplete", t.failures.empty() ? "no result" : t.failures.front(), -1, ""));
    return out;
  }
  if (from_rounds) return out;
  for (const auto& f : t.failures) {
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
      out.push_back(failure_entry(t.name, k, item, -1, ""));
    }
    if (!any) {
      const std::string k = t.status == "stalled" ? "stall" : kind_of_text(f);
      out.push_back(failure_entry(t.name, k.empty() ? "assertion" : k, f, -1, ""));
    }
  }
  if (out.empty())
    out.push_back(failure_entry(t.name, t.status == "stalled" ? "stall" : "assertion", t.status, -1, ""));
  return out;
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

// ---- sections ---------------------------------------------------------------------------------

Json test_status(const RunData& run, const std::string& name) {
  Json e = Json::object();
  e.set("name", name);
  const TestRecord* t = run.find(name);
  e.set("status", t ? t->status : "not run");
  e.set("skip_reason", t ? t->skip_reason : "");
  return e;
}

Json run_figures(const TestRecord& t) {
  Json e = Json::object();
  e.set("name", t.name);
  e.set("status", t.status);
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

std::string pct(double v) { return fmt::format("{:.1f}%", 100.0 * v); }

}  // namespace

// ---- the report -------------------------------------------------------------------------------

Json build_report(const RunData& run, const std::string& host) {
  Json r = Json::object();
  r.set("schema", kReportSchema);
  r.set("title", "Verification Report");

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
  r.set("run", meta);

  // Every test, its failures classified.
  std::map<std::string, long> counts;
  Json tests = Json::array();
  Json failures = Json::array();
  for (const auto& t : run.tests) {
    ++counts[t.status];
    Json e = Json::object();
    e.set("name", t.name);
    e.set("suite", t.suite);
    e.set("binary", t.binary);
    e.set("status", t.status);
    e.set("duration_s", t.duration_s);
    e.set("skip_reason", t.skip_reason);
    Json fl = Json::array();
    for (const auto& f : t.failures) fl.push(first_line(f, 1000));
    e.set("failures", fl);
    std::set<std::string> kinds = property_kinds(t);
    for (auto& c : classify(t, run.rounds)) {
      kinds.insert(c["classification"].str());
      failures.push(std::move(c));
    }
    Json k = Json::array();
    for (const auto& s : kinds) k.push(s);
    e.set("error_kinds", k);
    tests.push(std::move(e));
  }
  r.set("tests", tests);

  const long total = static_cast<long>(run.tests.size());
  const long bad = counts["failed"] + counts["stalled"] + counts["incomplete"];
  Json summary = Json::object();
  summary.set("tests", total);
  for (const char* s : {"passed", "failed", "skipped", "stalled", "incomplete"}) summary.set(s, counts[s]);
  const bool incomplete = !run.incomplete.empty() || !run.warnings.empty();
  // A stall or a missing result leaves the run incomplete; a failed check fails it outright.
  summary.set("verdict", counts["failed"] > 0 ? "FAIL" : (incomplete || bad > 0 ? "INCOMPLETE" : "PASS"));
  summary.set("complete", !incomplete);

  // Sections in the seed's order.
  Json sections = Json::object();
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
  sections.set("parallel", parallel);

  Json soak = Json::array();
  for (const char* n : {"Soak.EightThreads60s", "Soak.EightThreads60sPoolStreamPerThread", "Soak.EightThreadsShort"}) {
    // The pool-stream soak applies to CUDA only; elsewhere it is a (listed) skip, not a column.
    if (const TestRecord* t = run.find(n); t && t->status != "skipped") soak.push(run_figures(*t));
  }
  sections.set("soak", soak);

  Json stress = Json::array();
  for (const auto& t : run.tests) {
    if (t.suite == "Stress") stress.push(run_figures(t));
  }
  sections.set("stress", stress);
  sections.set("scaling", bench_section(run, "scaling", "Bench.ScalingCurves"));
  sections.set("batching", bench_section(run, "batching", "Bench.Batching"));

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
      Json x = Json::object();
      x.set("round", rr.round);
      x.set("status", rr.status);
      x.set("detail", rr.detail);
      x.set("crash_signature", rr.crash_signature);
      rounds.push(std::move(x));
    }
    const auto planned = prop(t, "rounds_total");
    e.set("passed", passed);
    e.set("total", n);
    e.set("planned", planned ? Json(*planned) : Json(n));
    e.set("pass_rate", n > 0 ? Json(static_cast<double>(passed) / n) : Json());
    e.set("failure_rate_upper_bound_95", torchstress::failure_rate_upper_bound(n - passed, n));
    e.set("rounds", rounds);
    isolated.push(std::move(e));
  }
  sections.set("isolated_rounds", isolated);
  r.set("sections", sections);

  // Tests no section covers (regression suites, self-tests), by binary.
  Json other = Json::array();
  for (const auto& t : run.tests) {
    if (kCoveredSuites.count(t.suite)) continue;
    Json e = Json::object();
    e.set("name", t.name);
    e.set("binary", t.binary);
    e.set("status", t.status);
    e.set("duration_s", t.duration_s);
    e.set("skip_reason", t.skip_reason);
    e.set("failure", t.failures.empty() ? "" : first_line(t.failures.front()));
    other.push(std::move(e));
  }
  r.set("regression", other);
  r.set("failures", failures);

  // Figures a later run is compared against.
  Json metrics = Json::array();
  auto metric = [&](const std::string& key, std::optional<double> value, std::optional<double> spread,
                    const char* unit) {
    if (!value) return;
    Json m = Json::object();
    m.set("key", key);
    m.set("value", *value);
    m.set("spread", opt(spread));
    m.set("unit", unit);
    metrics.push(std::move(m));
  };
  Json pass_rates = Json::array();
  auto pass_rate = [&](const std::string& key, long passed, long n) {
    if (n <= 0) return;
    Json p = Json::object();
    p.set("key", key);
    p.set("passed", passed);
    p.set("total", n);
    pass_rates.push(std::move(p));
  };
  for (const auto* list : {&soak, &stress}) {
    for (const auto& e : list->elements()) {
      if (e["status"].str() == "skipped") continue;
      metric(e["name"].str() + " ops/s",
             e["ops_per_s"].is_number() ? std::optional<double>(e["ops_per_s"].num()) : std::nullopt, std::nullopt,
             "ops/s");
      if (auto q = ratio(e["successes"].str())) pass_rate(e["name"].str() + " ops", q->first, q->second);
    }
  }
  for (const auto& e : sections["scaling"].elements()) {
    if (e["smoke"].boolean()) continue;
    const std::string policy =
        fmt::format("[{}, streams {}, sync {}]", e["device"].str(), e["cuda_streams"].str(), e["sync"].str());
    metric(e["test"].str() + " pipelined " + policy, e["pipelined"]["ops_per_s"].num(), e["pipelined"]["spread"].num(),
           "ops/s");
    for (const auto& row : e["rows"].elements()) {
      metric(fmt::format("{} threads={} {}", e["test"].str(), row["threads"].num(), policy), row["ops_per_s"].num(),
             row["spread"].num(), "ops/s");
    }
  }
  for (const auto& e : sections["batching"].elements()) {
    if (e["smoke"].boolean()) continue;
    for (const auto& row : e["rows"].elements()) {
      metric(fmt::format("{} batch={} [{}]", e["test"].str(), row["batch"].num(), e["device"].str()),
             row["samples_per_s"].num(), row["spread"].num(), "samples/s");
    }
  }
  for (const auto& e : isolated.elements())
    pass_rate(e["name"].str() + " rounds", static_cast<long>(e["passed"].num()), static_cast<long>(e["total"].num()));
  {
    const long ran = total - counts["skipped"];
    pass_rate("tests", counts["passed"], ran);
  }
  r.set("metrics", metrics);
  r.set("pass_rates", pass_rates);

  // Blockers: what did not run, and why.
  Json blockers = Json::array();
  auto blocker = [&](const std::string& kind, const std::string& name, const std::string& why) {
    Json b = Json::object();
    b.set("kind", kind);
    b.set("name", name);
    b.set("reason", why);
    blockers.push(std::move(b));
  };
  for (const auto& t : run.tests) {
    if (t.status == "skipped") blocker("skipped", t.name, t.skip_reason.empty() ? "no reason given" : t.skip_reason);
  }
  for (const auto& i : run.incomplete) blocker("incomplete", i.name, i.why);
  for (const auto& w : run.warnings) blocker("incomplete", "results file", w);
  for (const auto& e : kExpected) {
    if (!run.find(e.name)) {
      blocker("missing", e.name, fmt::format("not in these results (run CTest label '{}')", e.label));
    }
  }
  for (const char* kind : {"scaling", "batching"}) {
    for (const auto& e : sections[kind].elements()) {
      if (e["smoke"].boolean()) {
        blocker("missing", e["test"].str(),
                fmt::format("only the smoke-size {} benchmark ran: its figures are not a measurement", kind));
      }
    }
  }
  r.set("blockers", blockers);
  summary.set("incomplete_tests", static_cast<long>(run.incomplete.size()));

  // Findings, from the figures above.
  Json findings = Json::array();
  {
    findings.push(fmt::format("{} of {} tests passed; {} failed, {} stalled, {} incomplete, {} skipped.",
                              counts["passed"], total, counts["failed"], counts["stalled"], counts["incomplete"],
                              counts["skipped"]));
    for (const auto& e : soak.elements()) {
      if (!e["total_ops"].is_number()) continue;  // stalled or never ended: listed with the failures
      findings.push(
          fmt::format("{}: {} ops in {:.1f} s ({} ops/s) on {} threads, {} errors; per-thread ops min {} max {}.",
                      e["name"].str(), thousands(e["total_ops"].num()), e["duration_s"].num(),
                      thousands(e["ops_per_s"].num(), 1), e["threads"].num(), e["errors"].num(),
                      thousands(e["min_thread_ops"].num()), thousands(e["max_thread_ops"].num())));
    }
    for (const auto& e : stress.elements()) {
      if (!e["total_ops"].is_number()) continue;
      findings.push(fmt::format("{}: {} successes at {} ops/s ({} threads x {} iterations).", e["name"].str(),
                                e["successes"].str(), thousands(e["ops_per_s"].num()), e["threads"].num(),
                                e["iterations"].num()));
    }
    for (const auto& e : isolated.elements()) {
      const int n = static_cast<int>(e["total"].num());
      const int p = static_cast<int>(e["passed"].num());
      findings.push(fmt::format(
          "{}: {}/{} rounds passed: per-round failure rate below {:.0f}% at 95% confidence{}.", e["name"].str(), p, n,
          100.0 * e["failure_rate_upper_bound_95"].num(),
          n < static_cast<int>(e["planned"].num()) ? fmt::format(" ({} planned)", e["planned"].num()) : ""));
    }
    double best_thread_speedup = 0.0;
    long best_threads = 0;
    for (const auto& e : sections["scaling"].elements()) {
      const Json* at8 = nullptr;
      for (const auto& row : e["rows"].elements()) {
        if (row["threads"].num() <= 8 && (!at8 || row["threads"].num() > (*at8)["threads"].num())) at8 = &row;
        if (row["speedup_vs_1thread"].num() > best_thread_speedup) {
          best_thread_speedup = row["speedup_vs_1thread"].num();
          best_threads = static_cast<long>(row["threads"].num());
        }
      }
      if (!at8) continue;
      findings.push(fmt::format(
          "Threading efficiency ceiling{}: {} at {} threads ({:.2f}x) against the pipelined single-thread baseline, {} "
          "({:.2f}x) "
          "against the 1-thread threaded rate (streams {}, sync {}){}.",
          e["smoke"].boolean() ? " (smoke size, not a measurement)" : "", pct((*at8)["efficiency_vs_pipelined"].num()),
          (*at8)["threads"].num(), (*at8)["speedup_vs_pipelined"].num(), pct((*at8)["efficiency_vs_1thread"].num()),
          (*at8)["speedup_vs_1thread"].num(), e["cuda_streams"].str(), e["sync"].str(),
          (*at8)["spread"].is_number()
              ? fmt::format("; spread of the {}-thread rate {}", (*at8)["threads"].num(), pct((*at8)["spread"].num()))
              : ""));
    }
    for (const auto& e : sections["batching"].elements()) {
      const auto& rows = e["rows"].elements();
      if (rows.empty()) continue;
      const Json& last = rows.back();
      std::string line =
          fmt::format("Batching{}: {:.2f}x samples/s at batch {} over batch 1",
                      e["smoke"].boolean() ? " (smoke size)" : "", last["speedup"].num(), last["batch"].num());
      if (best_thread_speedup > 0) {
        line += fmt::format(
            ", against at best {:.2f}x from threading ({} thread(s) over 1): batching gains {:.1f} times as much",
            best_thread_speedup, best_threads, last["speedup"].num() / best_thread_speedup);
      }
      findings.push(line + ".");
    }
    std::set<std::string> sigs;
    for (const auto& f : failures.elements()) {
      std::string where;
      if (f["round"].is_number()) where += fmt::format("round {}", f["round"].num());
      if (f["thread"].is_number()) where += fmt::format("{}thread {}", where.empty() ? "" : ", ", f["thread"].num());
      if (f["iteration"].is_number())
        where += fmt::format("{}iteration {}", where.empty() ? "" : ", ", f["iteration"].num());
      findings.push(fmt::format("FAILURE {} [{}{}]: {}{}", f["test"].str(), f["classification"].str(),
                                where.empty() ? "" : "; " + where, f["text"].str(),
                                f["crash_signature"].str().empty() ? "" : " -- " + f["crash_signature"].str()));
      if (!f["crash_signature"].str().empty()) sigs.insert(f["crash_signature"].str());
    }
    for (const auto& rr : run.rounds) {
      if (!rr.crash_signature.empty()) sigs.insert(rr.crash_signature);
    }
    if (sigs.empty()) {
      findings.push("No known upstream crash signature matched.");
    } else {
      for (const auto& s : sigs) findings.push("Crash signature " + s + ".");
    }
    if (!run.injected_files.empty()) {
      findings.push(
          fmt::format("{} results file(s) written by fault-injection child runs of the self-tests were left out.",
                      run.injected_files.size()));
    }
    if (!join_distinct(inject).empty()) {
      findings.push("Fault injection was active (TORCHSTRESS_INJECT=" + join_distinct(inject) +
                    "): failures are expected.");
    }
    if (device.size() > 1 && join_distinct(device).find(" / ") != std::string::npos) {
      findings.push("The results mix devices (" + join_distinct(device) + "): several runs share this folder.");
    }
  }
  r.set("findings", findings);

  std::string text;
  if (summary["verdict"].str() == "PASS") {
    text = fmt::format("All {} tests that ran passed ({} skipped).", total - counts["skipped"], counts["skipped"]);
  } else if (summary["verdict"].str() == "INCOMPLETE") {
    std::string what;
    for (const auto& i : run.incomplete) what += (what.empty() ? "" : ", ") + i.name;
    for (size_t i = 0; i < run.warnings.size(); ++i)
      what += (what.empty() ? "" : ", ") + std::string("a truncated results file");
    text = fmt::format(
        "The run is INCOMPLETE: {} stalled or never wrote a result (the process ended midway); "
        "{} test(s) passed, none failed a check.",
        what, counts["passed"]);
  } else {
    text = fmt::format("{} test(s) did not pass: {} failed, {} stalled, {} incomplete.", bad, counts["failed"],
                       counts["stalled"], counts["incomplete"]);
  }
  for (const auto& e : isolated.elements()) {
    if (e["name"].str() == "TransformerEncoder.IsolatedRounds") {
      text +=
          fmt::format(" TransformerEncoderLayer: {}/{} isolated rounds passed.", e["passed"].num(), e["total"].num());
    }
  }
  summary.set("text", text);
  r.set("summary", summary);
  return r;
}

// ---- baseline ---------------------------------------------------------------------------------

void validate_baseline(const Json& b, const std::string& path) {
  if (!b.is_object() || b["schema"].str() != kReportSchema || !b["tests"].is_array()) {
    throw InputError(
        fmt::format("{}: not a report.json written by torchstress_report (schema {})", path, kReportSchema));
  }
}

int compare_with_baseline(Json& report, const Json& base, const std::string& baseline_path) {
  Json regressions = Json::array(), improvements = Json::array(), notes = Json::array();

  std::map<std::string, const Json*> old_tests;
  for (const auto& t : base["tests"].elements()) old_tests[t["name"].str()] = &t;
  std::set<std::string> now_names;
  for (const auto& t : report["tests"].elements()) {
    const std::string name = t["name"].str();
    now_names.insert(name);
    const std::string now = t["status"].str();
    auto it = old_tests.find(name);
    if (it == old_tests.end()) {
      if (now != "passed" && now != "skipped")
        regressions.push(fmt::format("{}: new test {} ({})", name, now, "not in the baseline"));
      continue;
    }
    const std::string was = (*it->second)["status"].str();
    if (was == "passed" && now != "passed" && now != "skipped") {
      regressions.push(fmt::format("{}: passed in the baseline, {} now", name, now));
    } else if (was != "passed" && was != "skipped" && now == "passed") {
      improvements.push(fmt::format("{}: {} in the baseline, passes now", name, was));
    } else if (was != "skipped" && now == "skipped") {
      notes.push(fmt::format("{}: ran in the baseline ({}), skipped now: {}", name, was, t["skip_reason"].str()));
    }
    std::set<std::string> old_kinds;
    for (const auto& k : (*it->second)["error_kinds"].elements()) old_kinds.insert(k.str());
    for (const auto& k : t["error_kinds"].elements()) {
      if (!old_kinds.count(k.str())) regressions.push(fmt::format("{}: new error kind '{}'", name, k.str()));
    }
  }
  for (const auto& [name, t] : old_tests) {
    if (!now_names.count(name))
      notes.push(fmt::format("{}: in the baseline ({}), not in this run", name, (*t)["status"].str()));
  }

  std::map<std::string, const Json*> old_rates;
  for (const auto& p : base["pass_rates"].elements()) old_rates[p["key"].str()] = &p;
  for (const auto& p : report["pass_rates"].elements()) {
    auto it = old_rates.find(p["key"].str());
    if (it == old_rates.end()) continue;
    const Json& o = *it->second;
    const double now = p["passed"].num() / std::max(1.0, p["total"].num());
    const double was = o["passed"].num() / std::max(1.0, o["total"].num());
    const std::string line =
        fmt::format("{}: pass rate {} ({}/{}) -> {} ({}/{})", p["key"].str(), pct(was), o["passed"].num(),
                    o["total"].num(), pct(now), p["passed"].num(), p["total"].num());
    if (now < was - 1e-12)
      regressions.push(line);
    else if (now > was + 1e-12)
      improvements.push(line);
  }

  std::map<std::string, const Json*> old_metrics;
  for (const auto& m : base["metrics"].elements()) old_metrics[m["key"].str()] = &m;
  for (const auto& m : report["metrics"].elements()) {
    auto it = old_metrics.find(m["key"].str());
    if (it == old_metrics.end()) continue;
    const Json& o = *it->second;
    const double was = o["value"].num(), now = m["value"].num();
    if (was <= 0) continue;
    // The noise a change must exceed: the larger measured spread, else 10%.
    const bool measured = m["spread"].is_number() || o["spread"].is_number();
    const double noise = measured ? std::max(m["spread"].num(), o["spread"].num()) : kDefaultNoise;
    const double change = (now - was) / was;
    const std::string line =
        fmt::format("{}: {:.1f} -> {:.1f} {} ({:+.1f}%, {} {})", m["key"].str(), was, now, m["unit"].str(),
                    100.0 * change, measured ? "measured spread" : "no spread measured, threshold", pct(noise));
    if (change < -noise)
      regressions.push("throughput down: " + line);
    else if (change > noise)
      improvements.push("throughput up: " + line);
  }

  Json changes = Json::object();
  changes.set("baseline", baseline_path);
  changes.set("baseline_date", base["run"]["date"].str());
  changes.set("baseline_device", base["run"]["device"].str());
  changes.set("regressions", regressions);
  changes.set("improvements", improvements);
  changes.set("notes", notes);
  const int n = static_cast<int>(regressions.size());
  report.set("changes", changes);
  return n;
}

}  // namespace tsreport
