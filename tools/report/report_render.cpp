// Renders the report tree: report.md in the seed report's layout (with Mermaid charts) and
// chart.svg (hand-written SVG of the scaling and batching curves).
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <set>

#include "report.h"
#include "torchstress/detection_table.h"

namespace tsreport {

std::string thousands(double v, int decimals) {
  if (!std::isfinite(v)) return "n/a";
  std::string s = fmt::format("{:.{}f}", std::fabs(v), decimals);
  const auto dot = s.find('.');
  std::string whole = s.substr(0, dot), out;
  for (size_t i = 0; i < whole.size(); ++i) {
    if (i && (whole.size() - i) % 3 == 0) out += ',';
    out += whole[i];
  }
  if (dot != std::string::npos) out += s.substr(dot);
  return (v < 0 ? "-" : "") + out;
}

namespace {

std::string pct(double v) { return fmt::format("{:.1f}%", 100.0 * v); }

// Markdown table cells must not break the table.
std::string cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|')
      out += "\\|";
    else if (c == '\n')
      out += ' ';
    else
      out += c;
  }
  return out;
}

std::string status_word(const std::string& status, const std::string& skip_reason = "") {
  if (status == "passed") return "PASS";
  if (status == "failed") return "**FAIL**";
  if (status == "stalled") return "**STALLED**";
  if (status == "incomplete") return "**INCOMPLETE**";
  if (status == "skipped") return skip_reason.empty() ? "SKIPPED" : "SKIPPED (" + cell(skip_reason) + ")";
  return status;
}

// " (19 of 20 passed)" for a test that ran more than once: its figures are from one repeat.
std::string runs_note(const Json& e) { return num(e, "runs") > 1 ? " (" + str(e, "runs_text") + ")" : ""; }

std::string num_cell(const Json& v, int decimals = 0, const char* fallback = "n/a") {
  return v.is_number() ? thousands(num(v), decimals) : fallback;
}

// A spread as the report prints it: a figure noisier than kTooNoisySpread is flagged, not quoted
// as if it could be compared.
std::string spread_cell(const Json& spread) {
  if (!spread.is_number()) return "n/a";
  if (num(spread) > kTooNoisySpread) return fmt::format("too noisy to compare ({})", pct(num(spread)));
  return pct(num(spread));
}

std::string policy_caption(const Json& e) {
  return fmt::format("{}, CUDA streams {}, sync {}", str(e, "device"), str(e, "cuda_streams"), str(e, "sync"));
}

// "400/400 (100%)" from a test's numeric successes and total ops; "" when it has none.
std::string success_text(const Json& e) {
  if (!at(e, "successes").is_number() || !at(e, "total_ops").is_number()) return "";
  const double ok = num(e, "successes"), total = num(e, "total_ops");
  std::string s = fmt::format("{}/{}", ok, total);
  if (total > 0) s += fmt::format(" ({})", ok == total ? "100%" : pct(ok / total));
  return s;
}

// A section without tests says so in one line; returns true when it had none.
bool none_in_results(std::string& md, const Json::array_t& entries, const char* label) {
  if (!entries.empty()) return false;
  md += fmt::format("No test of this section is in these results (CTest label `{}`).\n\n", label);
  return true;
}

// "mlp at batch 1": what a scaling table ran.
std::string workload_caption(const Json& e) {
  const std::string w = str_or(at(e, "workload"), "workload");
  return at(e, "batch").is_number() ? fmt::format("{} at batch {}", w, num(e, "batch")) : w;
}

void md_parallel(std::string& md, const Json& r) {
  md += "### Simple Parallel Tests (section `parallel`)\n";
  const auto& tests = elems(r, "sections", "parallel");
  if (none_in_results(md, tests, "quick")) return;
  md +=
      "| Test | Device | Threads | Iterations each | Success | Result "
      "|\n|------|--------|---------|-----------------|---------|--------|\n";
  for (const auto& t : tests) {
    const std::string workload = str(t, "workload").empty() ? "" : " (" + str(t, "workload") + ")";
    md += fmt::format("| {} | {} | {} | {} | {} | {} |\n", str(t, "name"), str(t, "device"), num_cell(at(t, "threads")),
                      at(t, "iterations").is_number() ? num_cell(at(t, "iterations")) + workload : "n/a",
                      success_text(t).empty() ? "n/a" : success_text(t),
                      status_word(str(t, "status"), str(t, "skip_reason")) + runs_note(t));
  }
  md += "\n";
}

void md_soak_rows(std::string& md, const Json::array_t& soak) {
  auto row = [&](const char* metric, auto value) {
    md += fmt::format("| {} |", metric);
    for (const auto& e : soak) md += " " + value(e) + " |";
    md += "\n";
  };
  row("Workload", [](const Json& e) { return str(e, "workload").empty() ? std::string("n/a") : str(e, "workload"); });
  row("Total ops", [](const Json& e) { return num_cell(at(e, "total_ops")); });
  row("Duration", [](const Json& e) {
    return at(e, "duration_s").is_number() ? fmt::format("{:.1f} s", num(e, "duration_s")) : "n/a";
  });
  row("Throughput", [](const Json& e) { return num_cell(at(e, "ops_per_s"), 1) + " ops/s"; });
  row("Threads", [](const Json& e) { return num_cell(at(e, "threads")); });
  row("Errors", [](const Json& e) { return num_cell(at(e, "errors")); });
  row("Per-thread ops (min / max)",
      [](const Json& e) { return num_cell(at(e, "min_thread_ops")) + " / " + num_cell(at(e, "max_thread_ops")); });
  row("Result", [](const Json& e) {
    std::string s = status_word(str(e, "status"));
    if (str(e, "status") == "passed" && num(e, "errors") == 0) s = "**PASS (100%)**";
    return s + runs_note(e);
  });
}

void md_soak(std::string& md, const Json& r) {
  const auto& soak = elems(r, "sections", "soak");
  md += "### Quick Soak Test (section `soak`: every thread syncs and checks each op)\n";
  if (none_in_results(md, soak, "soak")) return;
  std::string head = "| Metric |", sep = "|--------|";
  for (const auto& e : soak) {
    head += " " + str(e, "name") + " |";
    sep += "--------|";
  }
  md += head + "\n" + sep + "\n";
  md_soak_rows(md, soak);
  md += "\n";
}

void md_stress(std::string& md, const Json& r) {
  md += "### LayerNorm/Transformer Stress Test (section `stress`)\n";
  const auto& stress = elems(r, "sections", "stress");
  if (none_in_results(md, stress, "stress")) return;
  md +=
      "| Test | Threads | Iterations | Success | Throughput | Result "
      "|\n|------|---------|------------|---------|------------|--------|\n";
  for (const auto& e : stress) {
    const std::string success = success_text(e);
    std::string name = str(e, "name");
    name = name.substr(name.find('.') + 1);
    md += fmt::format("| {} | {} | {} | {} | {} ops/s | {} |\n", name, num_cell(at(e, "threads")),
                      num_cell(at(e, "iterations")), success.empty() ? "n/a" : success, num_cell(at(e, "ops_per_s")),
                      status_word(str(e, "status"), str(e, "skip_reason")) + runs_note(e));
  }
  md += "\n";
}

void md_scaling(std::string& md, const Json& r) {
  md += "### Scaling Curves Benchmark (bench records of kind `scaling`)\n";
  const auto& tables = elems(r, "sections", "scaling");
  if (tables.empty()) {
    md += "No test of this section is in these results (CTest label `bench`).\n\n";
    return;
  }
  for (const auto& e : tables) {
    md += fmt::format(
        "{}{} on {}; {} ops per thread, a sync and a check after every op; median of {} repetitions. "
        "Pipelined single-thread baseline ({} ops, one sync at the end): **{} ops/s** (spread {}). Result: {}.\n\n",
        flag(e, "smoke") ? fmt::format("**Smoke size ({}), not a measurement.** ", str(e, "test")) : "",
        workload_caption(e), policy_caption(e), num(e, "ops_per_thread"), num(e, "repetitions"),
        num(e, "pipelined", "ops"), thousands(num(e, "pipelined", "ops_per_s")),
        spread_cell(at(e, "pipelined", "spread")), status_word(str(e, "status")));
    md +=
        "| Threads | Ops/s (median) | Spread | Speedup vs pipelined | Efficiency vs pipelined | Speedup vs 1 thread | "
        "Efficiency vs 1 thread |\n|---------|-------|--------|---------|------------|---------|------------|\n";
    for (const auto& row : elems(e, "rows")) {
      md += fmt::format("| {} | {} | {} | {:.2f}x | {} | {:.2f}x | {} |\n", num(row, "threads"),
                        thousands(num(row, "ops_per_s")), spread_cell(at(row, "spread")),
                        num(row, "speedup_vs_pipelined"), pct(num(row, "efficiency_vs_pipelined")),
                        num(row, "speedup_vs_1thread"), pct(num(row, "efficiency_vs_1thread")));
    }
    md += "\n";
  }
  md += fmt::format(
      "Speedup vs pipelined compares with the seed's baseline (which pays no per-op sync, hence a 1-thread row below "
      "1x); speedup vs 1 thread compares with the same synced loop on one thread. Spread = interquartile range / "
      "median over the repetitions (robust: one outlier repetition does not move it); above {} a figure is marked "
      "too noisy to compare.\n\n",
      pct(kTooNoisySpread));
}

void md_batching(std::string& md, const Json& r) {
  md += "### Batching Benchmark (bench records of kind `batching`)\n";
  const auto& tables = elems(r, "sections", "batching");
  if (tables.empty()) {
    md += "No test of this section is in these results (CTest label `bench`).\n\n";
    return;
  }
  for (const auto& e : tables) {
    md += fmt::format(
        "{}{} on {}, one thread, {} pipelined iterations per point (one sync), every output checked; median of {} "
        "repetitions. Result: {}.\n\n",
        flag(e, "smoke") ? fmt::format("**Smoke size ({}), not a measurement.** ", str(e, "test")) : "",
        str_or(at(e, "workload"), "workload"), str(e, "device"), num(e, "iterations"), num(e, "repetitions"),
        status_word(str(e, "status")));
    md += "| Batch | Samples/s (median) | Spread | Speedup vs batch 1 |\n|-------|------|--------|---------|\n";
    for (const auto& row : elems(e, "rows")) {
      md += fmt::format("| {} | {} | {} | {:.2f}x |\n", num(row, "batch"), thousands(num(row, "samples_per_s")),
                        spread_cell(at(row, "spread")), num(row, "speedup"));
    }
    md += "\n";
  }
}

std::string mermaid_list(const std::vector<double>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += fmt::format("{}{:.1f}", i ? ", " : "", v[i]);
  return s + "]";
}

void md_charts(std::string& md, const Json& r) {
  const auto& scaling = elems(r, "sections", "scaling");
  const auto& batching = elems(r, "sections", "batching");
  if (scaling.empty() && batching.empty()) return;
  md += "### Charts\n![Scaling and batching curves](chart.svg)\n\n";
  if (!scaling.empty()) {
    const Json& e = scaling.front();
    std::vector<double> ops, base;
    std::string xs;
    double top = num(e, "pipelined", "ops_per_s");
    for (const auto& row : elems(e, "rows")) {
      xs += fmt::format("{}{}", xs.empty() ? "" : ", ", num(row, "threads"));
      ops.push_back(num(row, "ops_per_s"));
      base.push_back(num(e, "pipelined", "ops_per_s"));
      top = std::max(top, num(row, "ops_per_s"));
    }
    md += fmt::format(
        "```mermaid\nxychart-beta\n    title \"Scaling: {}, ops/s by threads ({})\"\n    x-axis \"threads\" "
        "[{}]\n"
        "    y-axis \"ops/s\" 0 --> {:.0f}\n    line {}\n    line {}\n```\n"
        "First line: threaded ops/s (median); second line: the pipelined single-thread baseline.\n\n",
        workload_caption(e), policy_caption(e), xs, top * 1.15, mermaid_list(ops), mermaid_list(base));
  }
  if (!batching.empty()) {
    const Json& e = batching.front();
    std::vector<double> sps;
    std::string xs;
    double top = 0;
    for (const auto& row : elems(e, "rows")) {
      xs += fmt::format("{}{}", xs.empty() ? "" : ", ", num(row, "batch"));
      sps.push_back(num(row, "samples_per_s"));
      top = std::max(top, num(row, "samples_per_s"));
    }
    md += fmt::format(
        "```mermaid\nxychart-beta\n    title \"Batching: {} samples/s by batch ({})\"\n    x-axis \"batch\" [{}]\n"
        "    y-axis \"samples/s\" 0 --> {:.0f}\n    line {}\n```\n\n",
        str_or(at(e, "workload"), "workload"), str(e, "device"), xs, top * 1.15, mermaid_list(sps));
  }
}

void md_isolated(std::string& md, const Json& r) {
  md += "### Isolated Rounds (section `isolation`: each round in a fresh process)\n";
  const auto& iso = elems(r, "sections", "isolated_rounds");
  if (iso.empty()) {
    md += "No test of this section is in these results (CTest label `isolation`).\n\n";
    return;
  }
  for (const auto& e : iso) {
    const int n = static_cast<int>(num(e, "total")), p = static_cast<int>(num(e, "passed"));
    std::string failures;
    for (const auto& x : elems(e, "rounds")) {
      if (str(x, "status") == "passed") continue;
      failures += fmt::format("{}round {} {}{}{}", failures.empty() ? "" : "; ", num(x, "round"), str(x, "status"),
                              str(x, "detail").empty() ? "" : ": " + str(x, "detail"),
                              str(x, "crash_signature").empty() ? "" : " (" + str(x, "crash_signature") + ")");
    }
    md += fmt::format("| Metric | {} |\n|--------|--------|\n", str(e, "name"));
    md +=
        fmt::format("| Passed | {}/{}{} |\n", p, n,
                    n < static_cast<int>(num(e, "planned")) ? fmt::format(" (of {} planned)", num(e, "planned")) : "");
    md += fmt::format("| Pass rate | **{}** |\n", n ? pct(static_cast<double>(p) / n) : "n/a");
    md += fmt::format("| 95% bound | {}/{} rounds: per-round failure rate below {:.0f}% at 95% |\n", p, n,
                      100.0 * num(e, "failure_rate_upper_bound_95"));
    md += fmt::format("| Per-round failures | {} |\n", failures.empty() ? "none" : cell(failures));
    md += fmt::format("| Result | {} |\n\n", status_word(str(e, "status")));
  }
}

// A binary whose tests are all harness self-tests (section `selftest`) is summarized, not listed.
bool all_selftests(const Json::array_t& other, const std::string& binary) {
  return std::all_of(other.begin(), other.end(),
                     [&](const Json& t) { return str(t, "binary") != binary || str(t, "section") == "selftest"; });
}

void md_regression(std::string& md, const Json& r) {
  md += "## Regression and Other Tests\n";
  const auto& other = elems(r, "regression");
  if (other.empty()) {
    md += "No tests beyond the sections above are in these results (regression suites: CTest label `regression`).\n\n";
    return;
  }
  std::vector<std::string> binaries;
  for (const auto& t : other) {
    if (std::find(binaries.begin(), binaries.end(), str(t, "binary")) == binaries.end())
      binaries.push_back(str(t, "binary"));
  }
  for (const auto& bin : binaries) {
    std::map<std::string, int> counts;
    int n = 0;
    for (const auto& t : other) {
      if (str(t, "binary") != bin) continue;
      ++counts[str(t, "status")];
      ++n;
    }
    // Harness self-tests are summarized; anything else (the regression repros) is listed in full.
    const bool summarize = all_selftests(other, bin);
    std::string line;
    for (const auto& [s, c] : counts) line += fmt::format("{}{} {}", line.empty() ? "" : ", ", c, s);
    md += fmt::format("### {} ({} tests: {})\n", bin.empty() ? "unknown binary" : bin, n, line);
    bool header = false;
    for (const auto& t : other) {
      if (str(t, "binary") != bin) continue;
      if (summarize && str(t, "status") == "passed") continue;
      if (!header) {
        md += "| Test | Status | Duration | Failure |\n|------|--------|----------|---------|\n";
        header = true;
      }
      const std::string runs = num(t, "runs") > 1 ? " (" + str(t, "runs_text") + ")" : "";
      md += fmt::format("| {} | {}{} | {:.2f} s | {} |\n", str(t, "name"),
                        status_word(str(t, "status"), str(t, "skip_reason")), runs, num(t, "duration_s"),
                        cell(str(t, "failure")));
    }
    md += summarize && !header ? "All passed.\n\n" : "\n";
  }
}

// ---- the op sweep: op x dtype -> threaded / cold verdicts -----------------------------------------

// A cell shows the worst verdict of the case's layouts.
int severity(const std::string& verdict) {
  static const std::vector<std::string> worst_first{"crash", "hang", "wrong value", "exception", "failed", "skipped", "pass"};
  const auto it = std::find(worst_first.begin(), worst_first.end(), verdict);
  return static_cast<int>(it - worst_first.begin());
}

std::string verdict_word(const std::string& v) {
  if (v.empty()) return "-";
  if (v == "pass") return "ok";
  if (v == "skipped") return "skip";
  return "**" + v + "**";
}

// "add_Tensor_int64_strided" -> {"add_Tensor", "int64", "strided"}: the case name ends in dtype and layout.
std::array<std::string, 3> split_case(const std::string& c) {
  const auto last = c.rfind('_');
  const auto before = last == std::string::npos || last == 0 ? std::string::npos : c.rfind('_', last - 1);
  if (before == std::string::npos) return {c, "", ""};
  return {c.substr(0, before), c.substr(before + 1, last - before - 1), c.substr(last + 1)};
}

void md_sweep_counts(std::string& md, const Json::array_t& cases) {
  std::map<std::string, std::map<std::string, int>> counts;  // mode -> verdict -> cases
  std::set<std::string> ops;
  for (const auto& e : cases) {
    ++counts[str(e, "mode")][str(e, "verdict")];
    ops.insert(split_case(str(e, "case"))[0]);
  }
  md += fmt::format("{} tests of {} op overloads.", cases.size(), ops.size());
  for (const auto& [mode, verdicts] : counts) {
    std::string line;
    for (const auto& [v, n] : verdicts) line += fmt::format("{}{} {}", line.empty() ? "" : ", ", n, v);
    md += fmt::format(" {}: {}.", mode, line);
  }
  md += " Each cell: threaded / cold, the worst over the case's layouts; every case that did not pass is "
        "listed below the table.\n\n";
}

void md_sweep_grid(std::string& md, const Json::array_t& cases) {
  std::vector<std::string> ops, dtypes;
  std::map<std::pair<std::string, std::string>, std::map<std::string, std::string>> worst;  // (op, dtype) -> mode -> verdict
  for (const auto& e : cases) {
    const auto [op, dtype, layout] = split_case(str(e, "case"));
    if (std::find(ops.begin(), ops.end(), op) == ops.end()) ops.push_back(op);
    if (std::find(dtypes.begin(), dtypes.end(), dtype) == dtypes.end()) dtypes.push_back(dtype);
    std::string& v = worst[{op, dtype}][str(e, "mode")];
    if (v.empty() || severity(str(e, "verdict")) < severity(v)) v = str(e, "verdict");
  }
  std::string rule = "|----|";
  md += "| Op |";
  for (const auto& d : dtypes) {
    md += " " + d + " |";
    rule += "----|";
  }
  md += "\n" + rule + "\n";
  for (const auto& op : ops) {
    md += "| " + cell(op) + " |";
    for (const auto& d : dtypes) {
      const auto it = worst.find({op, d});
      md += it == worst.end() ? " |"
                              : fmt::format(" {} / {} |", verdict_word(it->second["threaded"]), verdict_word(it->second["cold"]));
    }
    md += "\n";
  }
  md += "\n";
}

void md_sweep(std::string& md, const Json& r) {
  const auto& cases = elems(r, "sections", "sweep");
  md += "## Op Sweep\n";
  if (none_in_results(md, cases, "sweep")) return;
  md_sweep_counts(md, cases);
  md_sweep_grid(md, cases);
  bool header = false;
  for (const auto& e : cases) {
    if (str(e, "verdict") == "pass") continue;
    if (!header) md += "| Test | Verdict | Detail |\n|------|---------|--------|\n";
    header = true;
    md += fmt::format("| {} | {} | {} |\n", str(e, "test"), str(e, "verdict"), cell(str(e, "detail")));
  }
  if (header) md += "\n";
}

// ---- known upstream bugs: caught where the LibTorch has them, passed elsewhere --------------------

std::string known_bug_verdict_cell(const Json& e) {
  const std::string v = str(e, "verdict");
  const bool control = str(e, "role") == "control";
  if (v == "caught") return "caught, as expected (" + str(e, "symptom") + ")";
  if (v == "passed") return control ? "passed (control)" : "passed (not affected)";
  if (v == "skipped") return "skipped";
  if (v == "missed") return "**NOT CAUGHT** on an affected version";
  if (v == "unexpected") return control ? "**control flagged** (" + str(e, "symptom") + ")"
                                        : "**caught on a version declared fixed** (" + str(e, "symptom") + ")";
  return "**repro broken**";
}

void md_known_bugs(std::string& md, const Json& r) {
  const auto& bugs = elems(r, "sections", "known_bugs");
  if (bugs.empty()) return;  // no known-bug tests ran (CTest label knownbug)
  std::map<std::string, int> counts;
  std::vector<std::string> versions;
  for (const auto& e : bugs) {
    ++counts[str(e, "verdict")];
    if (std::find(versions.begin(), versions.end(), str(e, "libtorch")) == versions.end())
      versions.push_back(str(e, "libtorch"));
  }
  std::string tally;
  for (const auto& [v, n] : counts) tally += fmt::format("{}{} {}", tally.empty() ? "" : ", ", n, v);
  std::string libtorch;
  for (const auto& v : versions) libtorch += (libtorch.empty() ? "" : " / ") + v;
  md += "## Known upstream bugs\n";
  md += fmt::format(
      "Real upstream bugs that must be caught on the LibTorch versions that have them and pass elsewhere, each with "
      "a negative control (tests/known_bugs). This LibTorch: {}. {} tests: {}.\n\n",
      libtorch, bugs.size(), tally);
  md += "| Test | Upstream | Affected | This LibTorch | Verdict | What the repro saw |\n";
  md += "|------|----------|----------|---------------|---------|--------------------|\n";
  for (const auto& e : bugs) {
    const std::string here = str(e, "libtorch") + (str(e, "affected_here") == "yes" ? " (affected)" : "");
    md += fmt::format("| {} | {} | {} | {} | {} | {} |\n", str(e, "name"), cell(str(e, "upstream")),
                      cell(str(e, "affected")), here, known_bug_verdict_cell(e), cell(str(e, "detail")));
  }
  md += "\n";
}

// Detection power (tools/detection), the same table docs/detection.md prints; only where the
// results held detection lines. The cells were checked when read, so none is refused here.
void md_detection(std::string& md, const Json& r) {
  const auto& lines = elems(r, "detection");
  if (lines.empty()) return;
  std::vector<torchstress::DetectionCell> cells;
  for (const auto& l : lines) cells.push_back(torchstress::detection_cell_from_json(l));
  md +=
      "## Detection\n\nSeeded bugs of the zoo, caught per mode (caught/runs, median time to detect, what was "
      "reported); below each table, their correct twins' false positives.\n\n";
  md += torchstress::detection_markdown(cells);
}

void md_changes(std::string& md, const Json& r) {
  if (!r.contains("changes")) return;
  const Json& c = at(r, "changes");
  md += fmt::format("## Changes since baseline\nBaseline: `{}` ({}, {}).\n\n", str(c, "baseline"),
                    str(c, "baseline_date"), str(c, "baseline_device"));
  const auto& reg = elems(c, "regressions");
  md += reg.empty() ? "**No regressions.**\n\n" : fmt::format("**{} regression(s):**\n", reg.size());
  for (const auto& x : reg) md += "- REGRESSION " + str(x) + "\n";
  if (!reg.empty()) md += "\n";
  if (at(c, "improvements").size()) {
    md += "Improvements:\n";
    for (const auto& x : elems(c, "improvements")) md += "- " + str(x) + "\n";
    md += "\n";
  }
  if (at(c, "notes").size()) {
    md += "Notes:\n";
    for (const auto& x : elems(c, "notes")) md += "- " + str(x) + "\n";
    md += "\n";
  }
}

// One essential of the build per row; a row only where some process recorded it.
void md_provenance(std::string& md, const Json& run) {
  const Json& p = at(run, "provenance");
  auto v = [&](const char* key) { return str(p, key); };
  auto both = [](const std::string& a, const std::string& b) {
    return b.empty() ? a : (a.empty() ? "?" : a) + " / " + b;
  };
  std::string libtorch = v("torch_version");
  if (!v("torch_git").empty()) libtorch += " (git " + v("torch_git") + ")";
  if (!v("build_type").empty()) libtorch += ", " + v("build_type");
  const std::pair<const char*, std::string> rows[] = {
      {"LibTorch", libtorch},
      {"BLAS / LAPACK", both(v("blas"), v("lapack"))},
      {"OpenMP", v("openmp")},
      {"oneDNN (MKL-DNN)", v("mkldnn")},
      {"CUDA runtime / cuDNN", both(v("cuda_runtime"), v("cudnn"))},
      {"CUDA driver", v("cuda_driver")},
      {"Threads (intra-op / inter-op)", both(v("intra_op_threads"), v("inter_op_threads"))},
      {"Compiler", v("compiler")},
      {"Host / OS", both(v("host"), v("os"))},
  };
  std::string table;
  for (const auto& [label, value] : rows) {
    if (!value.empty()) table += fmt::format("| {} | {} |\n", label, cell(value));
  }
  if (table.empty()) {
    md += "**Provenance**: not recorded in these results (written before the harness recorded it).\n";
  } else {
    md +=
        "**Provenance** (full build configuration in report.json and details.md):\n\n| Build | |\n|---|---|\n" + table;
  }
  if (at(run, "knobs").size()) {
    std::string knobs;
    for (const auto& k : elems(run, "knobs")) knobs += fmt::format("{}`{}`", knobs.empty() ? "" : ", ", str(k));
    md += "\n**Knobs overridden** (the run's: set in every process, at the value most had): " + knobs + "\n";
  }
  if (at(run, "knobs_of_some_tests").size()) {
    std::string knobs;
    for (const auto& k : elems(run, "knobs_of_some_tests"))
      knobs += fmt::format("{}`{}` ({} of {})", knobs.empty() ? "" : ", ", str(k, "setting"), num(k, "processes"),
                           num(run, "process_count"));
    md += "\n**Set by some tests' own environment** (processes that had it, of all): " + knobs + "\n";
  }
  std::string differ;
  for (const auto& d : elems(run, "provenance_disagreements")) differ += (differ.empty() ? "" : "; ") + str(d);
  if (!differ.empty())
    md += "\n**Warning: the processes disagree** (several builds share this folder): " + differ + "\n";
  md += "\n";
}

void md_header(std::string& md, const Json& r) {
  const Json& run = at(r, "run");
  md += fmt::format("# {}: torchstress on {} ({})\n\n", str(r, "title"), str(run, "hardware"), str(run, "device"));
  md += fmt::format("**Date**: {}\n", str(run, "date"));
  md += fmt::format("**PyTorch Version**: {}\n", str(run, "torch"));
  md += fmt::format("**Device**: {}\n", str(run, "device"));
  md += fmt::format("**Hardware**: {}\n", str(run, "hardware"));
  md += fmt::format("**Host**: {}\n", str(run, "host"));
  md += fmt::format("**Policies**: CUDA streams {}, sync {}\n", str(run, "cuda_streams"), str(run, "sync"));
  md += fmt::format("**Results**: `{}` ({} files; {})\n\n", str(run, "results_dir"), num(run, "files"),
                    str(run, "binaries"));
  md_provenance(md, run);
}

// The first thing after the header: what failed, how, and the line that runs it again.
void md_failures(std::string& md, const Json& r) {
  md +=
      "## Failures\n\n| Test | Kind | Runs | First message | Repro | Details |\n"
      "|------|------|------|---------------|-------|---------|\n";
  bool any = false;
  for (const auto& t : elems(r, "tests")) {
    const std::string st = str(t, "status");
    if (st == "passed" || st == "skipped") continue;
    any = true;
    md += fmt::format("| {} | {} | {} | {} | `{}` | [details](details.md#{}) |\n", str(t, "name"),
                      cell(str(t, "kinds").empty() ? st : str(t, "kinds")), str(t, "runs_text"),
                      cell(str(t, "first_message")), cell(str(t, "repro")), str(t, "anchor"));
  }
  // A control that no longer catches what it must is a failure of the run: the checks are blind.
  for (const auto& c : elems(r, "controls")) {
    if (str(c, "verdict") != "missed") continue;
    any = true;
    md += fmt::format("| {} | control missed: expected {}, saw {} | {} | {} | `{}` | [Controls](#controls) |\n",
                      str(c, "name"), str(c, "expected"), cell(str(c, "observed")), str(c, "text"),
                      cell(str(c, "detail")), cell(str(c, "repro")));
  }
  if (!any) md += "| none | | | | | |\n";
  md += "\n";
}

// Tests that must see a failure: each names the one kind it must see; "caught k of n".
void md_controls(std::string& md, const Json& r) {
  const auto& controls = elems(r, "controls");
  md += "## Controls\n\n";
  if (controls.empty()) {
    md += "No control ran (tests that must see a failure: `ctest -L quick` runs the sweep's and the zoo's).\n\n";
    return;
  }
  const Json& s = at(r, "summary");
  md += fmt::format(
      "Tests that must see a failure, each of one expected kind: a control that stops catching fails the run "
      "and the release gate. **Caught {} of {}**{}.\n\n",
      num(s, "controls_caught"), num(s, "controls") - num(s, "controls_skipped"),
      num(s, "controls_skipped") > 0 ? fmt::format(" ({} skipped)", num(s, "controls_skipped")) : "");
  md += "| Control | Expected kind | Result | Seen |\n|---------|---------------|--------|------|\n";
  for (const auto& c : controls) {
    const std::string verdict = str(c, "verdict");
    const std::string word = verdict == "caught" ? "caught" : (verdict == "missed" ? "**MISSED**" : "skipped");
    const std::string detail = verdict == "missed" && !str(c, "detail").empty() ? " (" + str(c, "detail") + ")" : "";
    md += fmt::format("| {} | {} | {}: {}{} | {} |\n", cell(str(c, "name")), str(c, "expected"), word,
                      cell(str(c, "text")), cell(detail), cell(str(c, "observed")));
  }
  md += "\n";
}

// What CTest ran against what these results hold, when the report was given CTest's JUnit files.
void md_ctest(std::string& md, const Json& r) {
  if (!r.contains("ctest")) return;
  const Json& c = at(r, "ctest");
  md += fmt::format(
      "**CTest** ran {} test(s): {} are counted above as tests, {} as controls, {} wrote no results line of their "
      "own name{}.\n",
      num(c, "tests"), num(c, "counted_as_tests"), num(c, "counted_as_controls"), at(c, "without_results").size(),
      at(c, "without_results").size() ? " (listed below)" : "");
  if (at(c, "without_results").size()) {
    std::string names;
    for (const auto& w : elems(c, "without_results"))
      names += fmt::format("{}`{}` ({})", names.empty() ? "" : ", ", str(w, "name"), str(w, "status"));
    md += "Without results (binaries without the suite's main, such as the report tool's own tests; scripts; "
          "checks that stop a binary before its tests): " + names + ".\n";
  }
  if (at(c, "results_outside_ctest").size())
    md += fmt::format("{} result(s) here belong to no CTest test of this run (a binary run by hand, or an older run).\n",
                      at(c, "results_outside_ctest").size());
  md += "\n";
}

// Tests that ran more than once (--gtest_repeat, ctest --repeat, several runs in one folder).
void md_repeats(std::string& md, const Json& r) {
  std::string rows;
  for (const auto& t : elems(r, "tests")) {
    const Json& bound = at(t, "failure_rate_upper_bound_95");
    if (num(t, "runs") <= 1 || !bound.is_number()) continue;  // one run, or only skips: nothing to bound
    rows += fmt::format("| {} | {} | {} | {} |\n", str(t, "name"), status_word(str(t, "status")), str(t, "runs_text"),
                        fmt::format("below {} at 95% confidence", pct(num(bound))));
  }
  if (rows.empty()) return;
  md +=
      "### Repeated tests\nEvery repeat counts: one failing repeat fails the test.\n\n"
      "| Test | Result | Runs | Per-run failure rate |\n|------|--------|------|----------------------|\n" +
      rows + "\n";
}

void md_summary(std::string& md, const Json& r) {
  const Json& s = at(r, "summary");
  md += "## Summary\n\n";
  md += fmt::format("**{}**: {}\n\n", str(s, "verdict"), str(s, "text"));
  md +=
      "| Tests | Passed | Failed | Stalled | Incomplete | Skipped "
      "|\n|-------|--------|--------|---------|------------|---------|\n";
  md += fmt::format("| {} | {} | {} | {} | {} | {} |\n\n", num(s, "tests"), num(s, "passed"), num(s, "failed"),
                    num(s, "stalled"), num(s, "incomplete"), num(s, "skipped"));
  md_ctest(md, r);
  md_repeats(md, r);
}

void md_blockers(std::string& md, const Json& r) {
  md += "\n## Blockers / What Did Not Run\n\n";
  if (at(r, "blockers").size() == 0) md += "None: every section ran.\n";
  for (const auto& b : elems(r, "blockers")) {
    if (str(b, "kind") == "skipped") {
      // One line per reason: "(3 tests) this LibTorch was built without CUDA: A, B, C".
      const long n = static_cast<long>(num_or(at(b, "count"), 1));
      md += fmt::format("- **skipped** ({} test{}) {}{}\n", n, n == 1 ? "" : "s", str(b, "reason"),
                        flag_or(at(b, "listed"), true) ? ": " + str(b, "name") : " (names in report.json)");
      continue;
    }
    md += fmt::format("- **{}** {}: {}\n", str(b, "kind"), str(b, "name"), str(b, "reason"));
  }
}

// ---- pressure applied: what each stress test ran, so a pass can be weighed -----------------------

std::string budget_text(const Json& budgets) {
  std::string out;
  for (const auto& b : elems(budgets)) {
    const std::string v =
        str(b).empty() ? "not set (the build's default)" : "`TORCHSTRESS_BUDGET_SECONDS=" + str(b) + "`";
    out += (out.empty() ? "" : " / ") + v;
  }
  return out;
}

// "62,818 / 86,019 / 107,687 calls": min / median / max of a sweep figure.
std::string range_text(const Json& range, const char* unit, int decimals = 0) {
  return fmt::format("{} / {} / {} {}", thousands(num(range, "min"), decimals),
                     thousands(num(range, "median"), decimals), thousands(num(range, "max"), decimals), unit);
}

// One line for the sweep: its cases vary by op, so ranges say more than 700 rows.
void md_sweep_pressure(std::string& md, const Json& s) {
  if (s.is_null()) return;
  md += fmt::format("**Op sweep** ({} cases; min / median / max):", num(s, "cases"));
  if (!at(s, "calls").is_null())
    md += fmt::format(" threaded {} cases, {} in {};", num(s, "calls", "cases"), range_text(at(s, "calls"), "calls"),
                      range_text(at(s, "seconds"), "s", 2));
  if (!at(s, "cold_rounds").is_null())
    md += fmt::format(" cold {} cases, {} in {};", num(s, "cold_rounds", "cases"),
                      range_text(at(s, "cold_rounds"), "rounds"), range_text(at(s, "cold_seconds"), "s", 2));
  if (!at(s, "threads").is_null()) md += " " + range_text(at(s, "threads"), "threads") + ";";
  md.back() = '.';
  md += "\n\n";
}

void md_pressure(std::string& md, const Json& r) {
  const Json& p = at(r, "sections", "pressure");
  const auto& tests = elems(p, "tests");
  if (tests.empty() && at(p, "sweep").is_null()) return;  // no test recorded pressure figures
  md += "## Pressure applied\n";
  md += fmt::format(
      "What each stress test ran, as it recorded it: warm threaded calls under schedule noise, the free-running "
      "part's, the pipelined soak's, cold rounds of first calls. Budget: {}.\n\n",
      budget_text(at(p, "budget_seconds")));
  md_sweep_pressure(md, at(p, "sweep"));
  if (tests.empty()) return;
  md += "| Test | Device | Warm calls | Warm s | Free calls | Free s | Soak calls | Soak s | Cold rounds | Cold s "
        "| Threads |\n";
  md += "|------|--------|-----------:|-------:|-----------:|-------:|-----------:|-------:|------------:|-------:"
        "|--------:|\n";
  for (const auto& e : tests) {
    md += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", str(e, "test"), str(e, "device"),
                      num_cell(at(e, "warm_calls"), 0, "-"), num_cell(at(e, "warm_seconds"), 2, "-"),
                      num_cell(at(e, "free_calls"), 0, "-"), num_cell(at(e, "free_seconds"), 2, "-"),
                      num_cell(at(e, "soak_calls"), 0, "-"), num_cell(at(e, "soak_seconds"), 2, "-"),
                      num_cell(at(e, "cold_rounds"), 0, "-"), num_cell(at(e, "cold_seconds"), 2, "-"),
                      num_cell(at(e, "threads"), 0, "-"));
  }
  md += "\n";
}

}  // namespace

std::string render_markdown(const Json& r) {
  std::string md;
  md_header(md, r);
  md_failures(md, r);
  md_summary(md, r);
  md_controls(md, r);
  md_changes(md, r);

  md += "## Test Results\n\n";
  md_parallel(md, r);
  md_soak(md, r);
  md_stress(md, r);
  md_scaling(md, r);
  md_batching(md, r);
  md_charts(md, r);
  md_isolated(md, r);
  md_sweep(md, r);
  md_pressure(md, r);
  md_regression(md, r);
  md_known_bugs(md, r);
  md_detection(md, r);

  md += "## Findings\n\n";
  int i = 0;
  for (const auto& f : elems(r, "findings")) md += fmt::format("{}. {}\n", ++i, str(f));
  md_blockers(md, r);
  return md;
}

// ---- chart.svg --------------------------------------------------------------------------------

namespace {

struct Series {
  std::string label, color;
  bool dashed = false;
  std::vector<std::pair<double, double>> points;    // x, y
  std::vector<std::pair<double, double>> whiskers;  // y min, y max per point (may be empty)
};

const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"};

std::string esc(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else if (c == '"')
      out += "&quot;";
    else
      out += c;
  }
  return out;
}

// A 1-2-5 step giving about five ticks up to `top`.
double nice_step(double top) {
  if (top <= 0) return 1;
  const double raw = top / 5;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (raw <= m * mag) return m * mag;
  }
  return 10 * mag;
}

std::string short_num(double v) {
  if (v >= 1e6) return fmt::format("{:g}M", v / 1e6);
  if (v >= 1e4) return fmt::format("{:g}k", v / 1e3);
  return fmt::format("{:g}", v);
}

// A panel's plot area and scales: x on a log2 axis, y linear or log2.
struct Frame {
  double x0 = 0, y0 = 0, l = 0, rgt = 0, t = 0, b = 0;
  bool log_y = false;
  double lx_max = 1, y_lo = 0, y_hi = 0, step = 0, ymax = 0;

  double px(double x) const { return l + (rgt - l) * std::log2(std::max(1.0, x)) / lx_max; }
  double py(double y) const {
    if (log_y) return b - (b - t) * (std::log2(std::max(1e-9, y)) - y_lo) / (y_hi - y_lo);
    return b - (b - t) * y / y_hi;
  }
};

// The panel at (x0, y0) of size w x h for these series. The legend goes below the x-axis label,
// never over the curves: the plot gives up its room.
Frame frame_for(double x0, double y0, double w, double h, const std::vector<Series>& series, bool log_y) {
  Frame f;
  const double legend_h = 16.0 * static_cast<double>(series.size()) + 8;
  f.x0 = x0, f.y0 = y0, f.l = x0 + 70, f.rgt = x0 + w - 24, f.t = y0 + 30, f.b = y0 + h - 50 - legend_h;
  f.log_y = log_y;
  double xmax = 1, ymax = 0, ymin = 1e300;
  for (const auto& s : series) {
    for (const auto& [x, y] : s.points) {
      xmax = std::max(xmax, x);
      ymax = std::max(ymax, y);
      ymin = std::min(ymin, y);
    }
  }
  // The axis follows the medians; a whisker may reach at most 1.5x past the highest median, so one
  // outlier repetition cannot flatten every curve (whiskers beyond are clipped at the top edge).
  const double median_max = ymax;
  for (const auto& s : series) {
    for (const auto& [lo, hi] : s.whiskers) ymax = std::max(ymax, std::min(hi, 1.5 * median_max));
  }
  f.ymax = ymax <= 0 ? 1 : ymax;
  f.lx_max = std::max(1.0, std::ceil(std::log2(xmax)));
  if (log_y) {
    f.y_lo = std::floor(std::log2(std::max(1e-3, std::min(ymin, 1.0))));
    f.y_hi = std::ceil(std::log2(f.ymax));
    if (f.y_hi <= f.y_lo) f.y_hi = f.y_lo + 1;
  } else {
    f.step = nice_step(f.ymax * 1.05);
    f.y_hi = std::ceil(f.ymax * 1.05 / f.step) * f.step;
  }
  return f;
}

std::string grid_svg(const Frame& f) {
  std::string s;
  auto y_tick = [&](double y, const std::string& label) {
    s += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>\n", f.l, y, f.rgt,
                     y);
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", f.l - 6, y + 4, label);
  };
  if (f.log_y) {
    for (double e = f.y_lo; e <= f.y_hi + 1e-9; e += 1)
      y_tick(f.py(std::pow(2.0, e)), short_num(std::pow(2.0, e)) + "x");
  } else {
    for (double v = 0; v <= f.y_hi + f.step / 2; v += f.step) y_tick(f.py(v), short_num(v));
  }
  for (double e = 0; e <= f.lx_max + 1e-9; e += 1) {
    const double x = f.px(std::pow(2.0, e));
    s += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#eee\"/>\n", x, f.t, x,
                     f.b);
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{:g}</text>\n", x, f.b + 16,
                     std::pow(2.0, e));
  }
  return s;
}

std::string axes_svg(const Frame& f, const std::string& xlabel, const std::string& ylabel) {
  std::string s;
  s += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#333\"/>\n", f.l, f.t,
                   f.b);
  s += fmt::format("<line x1=\"{0:.1f}\" y1=\"{2:.1f}\" x2=\"{1:.1f}\" y2=\"{2:.1f}\" stroke=\"#333\"/>\n", f.l, f.rgt,
                   f.b);
  s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", (f.l + f.rgt) / 2, f.b + 34,
                   esc(xlabel));
  s += fmt::format(
      "<text x=\"{0:.1f}\" y=\"{1:.1f}\" text-anchor=\"middle\" transform=\"rotate(-90 {0:.1f} {1:.1f})\">{2}</text>\n",
      f.x0 + 16, (f.t + f.b) / 2, esc(ylabel));
  return s;
}

// Lines, points, whiskers.
std::string series_svg(const Frame& f, const std::vector<Series>& series) {
  std::string s;
  for (const auto& se : series) {
    std::string pts;
    for (const auto& [x, y] : se.points) pts += fmt::format("{:.1f},{:.1f} ", f.px(x), f.py(y));
    s += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} points=\"{}\"/>\n", se.color,
                     se.dashed ? " stroke-dasharray=\"6,4\"" : "", pts);
    for (size_t i = 0; i < se.points.size(); ++i) {
      const double x = f.px(se.points[i].first);
      if (i < se.whiskers.size()) {
        s += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"{3}\"/>\n", x,
                         f.py(se.whiskers[i].first), std::max(f.t, f.py(std::min(se.whiskers[i].second, f.ymax))),
                         se.color);
      }
      if (!se.dashed) {
        s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>\n", x, f.py(se.points[i].second),
                         se.color);
      }
    }
  }
  return s;
}

// The legend, below the x-axis label.
std::string legend_svg(const Frame& f, const std::vector<Series>& series) {
  std::string s;
  const double lx = f.l;
  double ly = f.b + 52;
  for (const auto& se : series) {
    s += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" stroke-width=\"2\"{}/>\n", lx, ly,
        lx + 24, ly, se.color, se.dashed ? " stroke-dasharray=\"6,4\"" : "");
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11\">{}</text>\n", lx + 30, ly + 4, esc(se.label));
    ly += 16;
  }
  return s;
}

// One panel at (x0, y0) of size w x h: x on a log2 axis, y linear (log_y false) or log2.
std::string panel(double x0, double y0, double w, double h, const std::string& title, const std::string& xlabel,
                  const std::string& ylabel, const std::vector<Series>& series, bool log_y) {
  const Frame f = frame_for(x0, y0, w, h, series, log_y);
  std::string s = "<g font-family=\"sans-serif\" font-size=\"12\">\n";
  s += fmt::format(
      "<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"14\" font-weight=\"bold\" text-anchor=\"middle\">{}</text>\n",
      (f.l + f.rgt) / 2, y0 + 18, esc(title));
  s += grid_svg(f) + axes_svg(f, xlabel, ylabel) + series_svg(f, series) + legend_svg(f, series);
  return s + "</g>\n";
}

}  // namespace

std::string render_svg(const Json& r) {
  const double W = 1000, H = 600;  // room for legends of up to 8 series below the plots
  std::vector<Series> left, right;
  int color = 0;
  const auto& scaling = elems(r, "sections", "scaling");
  for (const auto& e : scaling) {
    Series s, base;
    const std::string tag =
        scaling.size() > 1 ? fmt::format(" (streams {}, sync {})", str(e, "cuda_streams"), str(e, "sync")) : "";
    s.label = "threaded, sync per op" + tag;
    s.color = kColors[color % 6];
    base.label = "pipelined 1-thread baseline" + tag;
    base.color = s.color;
    base.dashed = true;
    Series sp;
    sp.label = "threads (vs 1 thread)" + tag;
    sp.color = s.color;
    for (const auto& row : elems(e, "rows")) {
      const double x = num(row, "threads");
      s.points.emplace_back(x, num(row, "ops_per_s"));
      s.whiskers.emplace_back(num(row, "min"), num(row, "max"));
      base.points.emplace_back(x, num(e, "pipelined", "ops_per_s"));
      sp.points.emplace_back(x, num(row, "speedup_vs_1thread"));
    }
    left.push_back(std::move(s));
    left.push_back(std::move(base));
    right.push_back(std::move(sp));
    ++color;
  }
  double xmax = 16;
  for (const auto& e : elems(r, "sections", "batching")) {
    Series b;
    b.label = "batch (vs batch 1)";
    b.color = kColors[(color++) % 6];
    for (const auto& row : elems(e, "rows")) {
      b.points.emplace_back(num(row, "batch"), num(row, "speedup"));
      xmax = std::max(xmax, num(row, "batch"));
    }
    right.push_back(std::move(b));
  }
  for (const auto& s : right) {
    for (const auto& p : s.points) xmax = std::max(xmax, p.first);
  }
  Series ideal;
  ideal.label = "ideal (linear)";
  ideal.color = "#999";
  ideal.dashed = true;
  for (double x = 1; x <= xmax; x *= 2) ideal.points.emplace_back(x, x);
  right.push_back(ideal);

  const std::string device = str(r, "run", "device");
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      W, H);
  if (left.empty()) {
    svg += "<text x=\"20\" y=\"30\" font-family=\"sans-serif\">Scaling curves: not in these results</text>\n";
  } else {
    svg += panel(0, 10, W / 2, H - 20,
                 "Scaling: " + workload_caption(scaling.front()) + " on " + device + " (median, min-max)",
                 "threads (log scale)", "ops/s", left, false);
  }
  svg += panel(W / 2, 10, W / 2, H - 20, "Speedup: threads vs batching on " + device,
               "threads or batch size (log scale)", "speedup (log scale)", right, true);
  return svg + "</svg>\n";
}

}  // namespace tsreport
