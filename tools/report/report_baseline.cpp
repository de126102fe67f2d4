// The release gate: this run's report compared with a baseline report.json. A test the baseline
// passed must still pass here: failed, stalled, ended midway, skipped or absent is a regression,
// so a run cannot go green by losing tests.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "report.h"
#include "report_internal.h"

namespace tsreport {
namespace {

using detail::pct;

// Throughput with no measured spread in either run must drop by more than this to count.
constexpr double kDefaultNoise = 0.10;

struct Changes {
  Json regressions = Json::array(), improvements = Json::array(), notes = Json::array();
};

// Why a test the baseline passed does not count as passing now.
std::string lost_test_line(const Json& t) {
  const std::string now = t["status"].str();
  const std::string name = t["name"].str();
  if (now == "skipped") {
    const std::string why = t["skip_reason"].str();
    return fmt::format("{}: passed in the baseline, skipped now: {}", name, why.empty() ? "no reason given" : why);
  }
  std::string line = fmt::format("{}: passed in the baseline, {} now", name, now);
  if (now == "stalled") line += " (hung: the watchdog fired)";
  if (now == "incomplete") line += " (started, never ended)";
  if (t["runs"].num() > 1) line += fmt::format(" ({})", t["runs_text"].str());
  return line;
}

void compare_test(const Json& t, const Json* old, Changes& c) {
  const std::string name = t["name"].str(), now = t["status"].str();
  if (!old) {
    if (now != "passed" && now != "skipped")
      c.regressions.push(fmt::format("{}: new test {} ({})", name, now, "not in the baseline"));
    return;
  }
  const std::string was = (*old)["status"].str();
  if (was == "passed" && now != "passed") {
    c.regressions.push(lost_test_line(t));
  } else if (was != "passed" && was != "skipped" && now == "passed") {
    c.improvements.push(fmt::format("{}: {} in the baseline, passes now", name, was));
  } else if (was != "skipped" && now == "skipped") {
    c.notes.push(fmt::format("{}: ran in the baseline ({}), skipped now: {}", name, was, t["skip_reason"].str()));
  }
  std::set<std::string> old_kinds;
  for (const auto& k : (*old)["error_kinds"].elements()) old_kinds.insert(k.str());
  for (const auto& k : t["error_kinds"].elements()) {
    if (!old_kinds.count(k.str())) c.regressions.push(fmt::format("{}: new error kind '{}'", name, k.str()));
  }
}

void compare_tests(const Json& report, const Json& base, Changes& c) {
  std::map<std::string, const Json*> old_tests;
  for (const auto& t : base["tests"].elements()) old_tests[t["name"].str()] = &t;
  std::set<std::string> now_names;
  for (const auto& t : report["tests"].elements()) {
    now_names.insert(t["name"].str());
    auto it = old_tests.find(t["name"].str());
    compare_test(t, it == old_tests.end() ? nullptr : it->second, c);
  }
  for (const auto& [name, t] : old_tests) {
    if (now_names.count(name)) continue;
    const std::string was = (*t)["status"].str();
    if (was == "passed")
      c.regressions.push(fmt::format("{}: passed in the baseline, missing now (no result at all)", name));
    else
      c.notes.push(fmt::format("{}: in the baseline ({}), not in this run", name, was));
  }
}

void compare_pass_rates(const Json& report, const Json& base, Changes& c) {
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
      c.regressions.push(line);
    else if (now > was + 1e-12)
      c.improvements.push(line);
  }
}

std::string spread_text(const Json& s) { return s.is_number() ? pct(s.num()) : "not measured"; }

// A change is real only beyond the noise of BOTH runs (their larger robust spread). A figure too
// noisy in either run is not compared, and the report says so.
void compare_metric(const Json& m, const Json& o, Changes& c) {
  const double was = o["value"].num(), now = m["value"].num();
  if (was <= 0) return;
  const Json &s_now = m["spread"], &s_was = o["spread"];
  if (s_now.num() > kTooNoisySpread || s_was.num() > kTooNoisySpread) {
    c.notes.push(fmt::format("{}: not compared: too noisy (robust spread {} in the baseline, {} now; above {})",
                             m["key"].str(), spread_text(s_was), spread_text(s_now), pct(kTooNoisySpread)));
    return;
  }
  const bool measured = s_now.is_number() || s_was.is_number();
  const double noise = measured ? std::max(s_now.num(), s_was.num()) : kDefaultNoise;
  const double change = (now - was) / was;
  const std::string line =
      fmt::format("{}: {:.1f} -> {:.1f} {} ({:+.1f}%, {} {})", m["key"].str(), was, now, m["unit"].str(),
                  100.0 * change, measured ? "measured spread" : "no spread measured, threshold", pct(noise));
  if (change < -noise)
    c.regressions.push("throughput down: " + line);
  else if (change > noise)
    c.improvements.push("throughput up: " + line);
}

void compare_metrics(const Json& report, const Json& base, Changes& c) {
  std::map<std::string, const Json*> old_metrics;
  for (const auto& m : base["metrics"].elements()) old_metrics[m["key"].str()] = &m;
  for (const auto& m : report["metrics"].elements()) {
    auto it = old_metrics.find(m["key"].str());
    if (it != old_metrics.end()) compare_metric(m, *it->second, c);
  }
}

}  // namespace

void validate_baseline(const Json& b, const std::string& path) {
  if (!b.is_object() || b["schema"].str() != kReportSchema || !b["tests"].is_array()) {
    throw InputError(
        fmt::format("{}: not a report.json written by torchstress_report (schema {})", path, kReportSchema));
  }
}

int compare_with_baseline(Json& report, const Json& base, const std::string& baseline_path) {
  Changes c;
  compare_tests(report, base, c);
  compare_pass_rates(report, base, c);
  compare_metrics(report, base, c);
  Json changes = Json::object();
  changes.set("baseline", baseline_path);
  changes.set("baseline_date", base["run"]["date"].str());
  changes.set("baseline_device", base["run"]["device"].str());
  const int n = static_cast<int>(c.regressions.size());
  changes.set("regressions", std::move(c.regressions));
  changes.set("improvements", std::move(c.improvements));
  changes.set("notes", std::move(c.notes));
  report.set("changes", changes);
  return n;
}

}  // namespace tsreport
