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
  const std::string now = str(t, "status");
  const std::string name = str(t, "name");
  if (now == "skipped") {
    const std::string why = str(t, "skip_reason");
    return fmt::format("{}: passed in the baseline, skipped now: {}", name, why.empty() ? "no reason given" : why);
  }
  std::string line = fmt::format("{}: passed in the baseline, {} now", name, now);
  if (now == "stalled") line += " (hung: the watchdog fired)";
  if (now == "incomplete") line += " (started, never ended)";
  if (num(t, "runs") > 1) line += fmt::format(" ({})", str(t, "runs_text"));
  return line;
}

void compare_test(const Json& t, const Json* old, Changes& c) {
  const std::string name = str(t, "name"), now = str(t, "status");
  if (!old) {
    if (now != "passed" && now != "skipped")
      c.regressions.emplace_back(fmt::format("{}: new test {} ({})", name, now, "not in the baseline"));
    return;
  }
  const std::string was = str((*old), "status");
  if (was == "passed" && now != "passed") {
    c.regressions.emplace_back(lost_test_line(t));
  } else if (was != "passed" && was != "skipped" && now == "passed") {
    c.improvements.emplace_back(fmt::format("{}: {} in the baseline, passes now", name, was));
  } else if (was != "skipped" && now == "skipped") {
    c.notes.emplace_back(
        fmt::format("{}: ran in the baseline ({}), skipped now: {}", name, was, str(t, "skip_reason")));
  }
  std::set<std::string> old_kinds;
  for (const auto& k : elems((*old), "error_kinds")) old_kinds.insert(str(k));
  for (const auto& k : elems(t, "error_kinds")) {
    if (!old_kinds.count(str(k))) c.regressions.emplace_back(fmt::format("{}: new error kind '{}'", name, str(k)));
  }
}

void compare_tests(const Json& report, const Json& base, Changes& c) {
  std::map<std::string, const Json*> old_tests;
  for (const auto& t : elems(base, "tests")) old_tests[str(t, "name")] = &t;
  std::set<std::string> now_names;
  // A test of an older baseline that is a control now (a detection test) is not missing.
  for (const auto& c : elems(report, "controls")) now_names.insert(str(c, "name"));
  for (const auto& t : elems(report, "tests")) {
    now_names.insert(str(t, "name"));
    auto it = old_tests.find(str(t, "name"));
    compare_test(t, it == old_tests.end() ? nullptr : it->second, c);
  }
  for (const auto& [name, t] : old_tests) {
    if (now_names.count(name)) continue;
    const std::string was = str((*t), "status");
    if (was == "passed")
      c.regressions.emplace_back(fmt::format("{}: passed in the baseline, missing now (no result at all)", name));
    else
      c.notes.emplace_back(fmt::format("{}: in the baseline ({}), not in this run", name, was));
  }
}

// A control that does not catch what it must is a regression whatever the baseline says (the
// checks are blind); one the baseline ran and this run lost (skipped or absent) is one too.
void compare_controls(const Json& report, const Json& base, Changes& c) {
  for (const auto& ctl : elems(report, "controls")) {
    if (str(ctl, "verdict") == "missed")
      c.regressions.emplace_back(fmt::format("control {}: {}; saw {}", str(ctl, "name"), str(ctl, "text"),
                                             str(ctl, "observed")));
  }
  for (const auto& old : elems(base, "controls")) {
    if (str(old, "verdict") != "caught") continue;
    const std::string name = str(old, "name");
    const Json* match = nullptr;
    for (const auto& ctl : elems(report, "controls")) {
      if (str(ctl, "name") == name) match = &ctl;
    }
    if (!match)
      c.regressions.emplace_back(fmt::format("control {}: caught in the baseline, missing now (no result at all)", name));
    else if (str((*match), "verdict") == "skipped")
      c.regressions.emplace_back(fmt::format("control {}: caught in the baseline, {} now", name, str((*match), "text")));
  }
}

// A known upstream bug caught on a LibTorch it affects is expected (a note); one that is not caught
// there, caught where it was declared fixed, a control that flags, or a broken repro is a
// regression whatever the baseline says.
void compare_known_bugs(const Json& report, Changes& c) {
  for (const auto& e : elems(report, "sections", "known_bugs")) {
    const std::string v = str(e, "verdict"), name = str(e, "name");
    const std::string where = fmt::format("{} on LibTorch {} (affected: {})", str(e, "upstream"), str(e, "libtorch"),
                                          str(e, "affected"));
    if (v == "caught")
      c.notes.emplace_back(fmt::format("known bug {}: caught as expected ({}): {}", name, str(e, "symptom"), where));
    else if (v == "missed")
      c.regressions.emplace_back(fmt::format("known bug {}: NOT caught on an affected version: {}; the repro saw: {}",
                                             name, where, str(e, "detail")));
    else if (v == "unexpected" || v == "broken")
      c.regressions.emplace_back(fmt::format("known bug {}: {}: {}; {}", name,
                                             v == "broken" ? "repro broken" : "caught where not expected", where,
                                             str(e, "detail")));
  }
}

void compare_pass_rates(const Json& report, const Json& base, Changes& c) {
  std::map<std::string, const Json*> old_rates;
  for (const auto& p : elems(base, "pass_rates")) old_rates[str(p, "key")] = &p;
  for (const auto& p : elems(report, "pass_rates")) {
    auto it = old_rates.find(str(p, "key"));
    if (it == old_rates.end()) continue;
    const Json& o = *it->second;
    const double now = num(p, "passed") / std::max(1.0, num(p, "total"));
    const double was = num(o, "passed") / std::max(1.0, num(o, "total"));
    const std::string line =
        fmt::format("{}: pass rate {} ({}/{}) -> {} ({}/{})", str(p, "key"), pct(was), num(o, "passed"),
                    num(o, "total"), pct(now), num(p, "passed"), num(p, "total"));
    if (now < was - 1e-12)
      c.regressions.emplace_back(line);
    else if (now > was + 1e-12)
      c.improvements.emplace_back(line);
  }
}

std::string spread_text(const Json& s) { return s.is_number() ? pct(num(s)) : "not measured"; }

// A change is real only beyond the noise of BOTH runs (their larger robust spread). A figure too
// noisy in either run is not compared, and the report says so.
void compare_metric(const Json& m, const Json& o, Changes& c) {
  const double was = num(o, "value"), now = num(m, "value");
  if (was <= 0) return;
  const Json &s_now = at(m, "spread"), &s_was = at(o, "spread");
  if (num(s_now) > kTooNoisySpread || num(s_was) > kTooNoisySpread) {
    c.notes.emplace_back(fmt::format("{}: not compared: too noisy (robust spread {} in the baseline, {} now; above {})",
                                     str(m, "key"), spread_text(s_was), spread_text(s_now), pct(kTooNoisySpread)));
    return;
  }
  const bool measured = s_now.is_number() || s_was.is_number();
  const double noise = measured ? std::max(num(s_now), num(s_was)) : kDefaultNoise;
  const double change = (now - was) / was;
  const std::string line =
      fmt::format("{}: {:.1f} -> {:.1f} {} ({:+.1f}%, {} {})", str(m, "key"), was, now, str(m, "unit"), 100.0 * change,
                  measured ? "measured spread" : "no spread measured, threshold", pct(noise));
  if (change < -noise)
    c.regressions.emplace_back("throughput down: " + line);
  else if (change > noise)
    c.improvements.emplace_back("throughput up: " + line);
}

void compare_metrics(const Json& report, const Json& base, Changes& c) {
  std::map<std::string, const Json*> old_metrics;
  for (const auto& m : elems(base, "metrics")) old_metrics[str(m, "key")] = &m;
  for (const auto& m : elems(report, "metrics")) {
    auto it = old_metrics.find(str(m, "key"));
    if (it != old_metrics.end()) compare_metric(m, *it->second, c);
  }
}

}  // namespace

void validate_baseline(const Json& b, const std::string& path) {
  if (!b.is_object() || str(b, "schema") != kReportSchema || !at(b, "tests").is_array()) {
    throw InputError(
        fmt::format("{}: not a report.json written by torchstress_report (schema {})", path, kReportSchema));
  }
}

int compare_with_baseline(Json& report, const Json& base, const std::string& baseline_path) {
  Changes c;
  compare_tests(report, base, c);
  compare_controls(report, base, c);
  compare_known_bugs(report, c);
  compare_pass_rates(report, base, c);
  compare_metrics(report, base, c);
  Json changes = Json::object();
  changes["baseline"] = baseline_path;
  changes["baseline_date"] = str(base, "run", "date");
  changes["baseline_device"] = str(base, "run", "device");
  const int n = static_cast<int>(c.regressions.size());
  changes["regressions"] = std::move(c.regressions);
  changes["improvements"] = std::move(c.improvements);
  changes["notes"] = std::move(c.notes);
  report["changes"] = changes;
  return n;
}

}  // namespace tsreport
