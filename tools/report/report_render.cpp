// Renders the report tree: report.md in the seed report's layout (with Mermaid charts) and
// chart.svg (hand-written SVG of the scaling and batching curves).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "report.h"

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
std::string runs_note(const Json& e) { return e["runs"].num() > 1 ? " (" + e["runs_text"].str() + ")" : ""; }

std::string num_or(const Json& v, int decimals = 0, const char* fallback = "n/a") {
  return v.is_number() ? thousands(v.num(), decimals) : fallback;
}

// A spread as the report prints it: a figure noisier than kTooNoisySpread is flagged, not quoted
// as if it could be compared.
std::string spread_cell(const Json& spread) {
  if (!spread.is_number()) return "n/a";
  if (spread.num() > kTooNoisySpread) return fmt::format("too noisy to compare ({})", pct(spread.num()));
  return pct(spread.num());
}

std::string policy_caption(const Json& e) {
  return fmt::format("{}, CUDA streams {}, sync {}", e["device"].str(), e["cuda_streams"].str(), e["sync"].str());
}

void md_parallel(std::string& md, const Json& r) {
  md += "### Simple Parallel Tests (ParallelMPS / ParallelCUDA / ParallelCPU)\n";
  md += "| Backend | 2 threads | 4 threads | Config |\n|---------|-----------|-----------|--------|\n";
  for (const auto& b : r["sections"]["parallel"].elements()) {
    std::string cells[2], config = "n/a";
    const auto& ts = b["tests"].elements();
    for (size_t i = 0; i < ts.size() && i < 2; ++i) {
      const Json& t = ts[i];
      if (t["status"].str() == "not run") {
        cells[i] = "not run";
        continue;
      }
      cells[i] = status_word(t["status"].str(), t["skip_reason"].str());
      if (!t["successes"].str().empty()) cells[i] += " (" + t["successes"].str() + ")";
      if (t["iterations"].is_number()) config = fmt::format("{} iterations each (mm 64x64)", t["iterations"].num());
    }
    md += fmt::format("| {} | {} | {} | {} |\n", b["backend"].str(), cells[0], cells[1], config);
  }
  md += "\n";
}

void md_soak(std::string& md, const Json& r) {
  const auto& soak = r["sections"]["soak"].elements();
  md += "### Quick Soak Test (Soak.EightThreads60s: 8 threads of matmul128, a sync and a check per op)\n";
  if (soak.empty()) {
    md += "Not in these results (CTest label `soak`).\n\n";
    return;
  }
  if (soak.front()["name"].str() != "Soak.EightThreads60s") {
    md +=
        "Soak.EightThreads60s is not in these results (CTest label `soak`); the quick tier's short soak stands in.\n\n";
  }
  std::string head = "| Metric |", sep = "|--------|";
  for (const auto& e : soak) {
    head += " " + e["name"].str() + " |";
    sep += "--------|";
  }
  md += head + "\n" + sep + "\n";
  auto row = [&](const char* metric, auto value) {
    md += fmt::format("| {} |", metric);
    for (const auto& e : soak) md += " " + value(e) + " |";
    md += "\n";
  };
  row("Total ops", [](const Json& e) { return num_or(e["total_ops"]); });
  row("Duration", [](const Json& e) {
    return e["duration_s"].is_number() ? fmt::format("{:.1f} s", e["duration_s"].num()) : "n/a";
  });
  row("Throughput", [](const Json& e) { return num_or(e["ops_per_s"], 1) + " ops/s"; });
  row("Threads", [](const Json& e) { return num_or(e["threads"]); });
  row("Errors", [](const Json& e) { return num_or(e["errors"]); });
  row("Per-thread ops (min / max)",
      [](const Json& e) { return num_or(e["min_thread_ops"]) + " / " + num_or(e["max_thread_ops"]); });
  row("Result", [](const Json& e) {
    std::string s = status_word(e["status"].str());
    if (e["status"].str() == "passed" && e["errors"].num() == 0) s = "**PASS (100%)**";
    return s + runs_note(e);
  });
  md += "\n";
}

void md_stress(std::string& md, const Json& r) {
  md += "### LayerNorm/Transformer Stress Test (Stress.*)\n";
  const auto& stress = r["sections"]["stress"].elements();
  if (stress.empty()) {
    md += "Not in these results (CTest label `stress`).\n\n";
    return;
  }
  md +=
      "| Test | Threads | Iterations | Success | Throughput | Result "
      "|\n|------|---------|------------|---------|------------|--------|\n";
  for (const auto& e : stress) {
    std::string success = e["successes"].str();
    const auto slash = success.find('/');
    if (slash != std::string::npos) {
      const double a = std::atof(success.substr(0, slash).c_str()), b = std::atof(success.substr(slash + 1).c_str());
      if (b > 0) success += fmt::format(" ({})", a == b ? "100%" : pct(a / b));
    }
    std::string name = e["name"].str();
    name = name.substr(name.find('.') + 1);
    md += fmt::format("| {} | {} | {} | {} | {} ops/s | {} |\n", name, num_or(e["threads"]), num_or(e["iterations"]),
                      success.empty() ? "n/a" : success, num_or(e["ops_per_s"]),
                      status_word(e["status"].str()) + runs_note(e));
  }
  md += "\n";
}

void md_scaling(std::string& md, const Json& r) {
  md += "### Scaling Curves Benchmark (Bench.ScalingCurves)\n";
  const auto& tables = r["sections"]["scaling"].elements();
  if (tables.empty()) {
    md += "Not in these results (CTest label `bench`).\n\n";
    return;
  }
  for (const auto& e : tables) {
    md += fmt::format(
        "{}mlp at batch 1 on {}; {} ops per thread, a sync and a check after every op; median of {} repetitions. "
        "Pipelined single-thread baseline ({} ops, one sync at the end): **{} ops/s** (spread {}). Result: {}.\n\n",
        e["smoke"].boolean() ? fmt::format("**Smoke size ({}), not a measurement.** ", e["test"].str()) : "",
        policy_caption(e), e["ops_per_thread"].num(), e["repetitions"].num(), e["pipelined"]["ops"].num(),
        thousands(e["pipelined"]["ops_per_s"].num()), spread_cell(e["pipelined"]["spread"]),
        status_word(e["status"].str()));
    md +=
        "| Threads | Ops/s (median) | Spread | Speedup vs pipelined | Efficiency vs pipelined | Speedup vs 1 thread | "
        "Efficiency vs 1 thread |\n|---------|-------|--------|---------|------------|---------|------------|\n";
    for (const auto& row : e["rows"].elements()) {
      md += fmt::format("| {} | {} | {} | {:.2f}x | {} | {:.2f}x | {} |\n", row["threads"].num(),
                        thousands(row["ops_per_s"].num()), spread_cell(row["spread"]),
                        row["speedup_vs_pipelined"].num(), pct(row["efficiency_vs_pipelined"].num()),
                        row["speedup_vs_1thread"].num(), pct(row["efficiency_vs_1thread"].num()));
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
  md += "### Batching Benchmark (Bench.Batching)\n";
  const auto& tables = r["sections"]["batching"].elements();
  if (tables.empty()) {
    md += "Not in these results (CTest label `bench`).\n\n";
    return;
  }
  for (const auto& e : tables) {
    md += fmt::format(
        "{}mlp on {}, one thread, {} pipelined iterations per point (one sync), every output checked; median of {} "
        "repetitions. Result: {}.\n\n",
        e["smoke"].boolean() ? fmt::format("**Smoke size ({}), not a measurement.** ", e["test"].str()) : "",
        e["device"].str(), e["iterations"].num(), e["repetitions"].num(), status_word(e["status"].str()));
    md += "| Batch | Samples/s (median) | Spread | Speedup vs batch 1 |\n|-------|------|--------|---------|\n";
    for (const auto& row : e["rows"].elements()) {
      md += fmt::format("| {} | {} | {} | {:.2f}x |\n", row["batch"].num(), thousands(row["samples_per_s"].num()),
                        spread_cell(row["spread"]), row["speedup"].num());
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
  const auto& scaling = r["sections"]["scaling"].elements();
  const auto& batching = r["sections"]["batching"].elements();
  if (scaling.empty() && batching.empty()) return;
  md += "### Charts\n![Scaling and batching curves](chart.svg)\n\n";
  if (!scaling.empty()) {
    const Json& e = scaling.front();
    std::vector<double> ops, base;
    std::string xs;
    double top = e["pipelined"]["ops_per_s"].num();
    for (const auto& row : e["rows"].elements()) {
      xs += fmt::format("{}{}", xs.empty() ? "" : ", ", row["threads"].num());
      ops.push_back(row["ops_per_s"].num());
      base.push_back(e["pipelined"]["ops_per_s"].num());
      top = std::max(top, row["ops_per_s"].num());
    }
    md += fmt::format(
        "```mermaid\nxychart-beta\n    title \"Scaling: mlp batch 1, ops/s by threads ({})\"\n    x-axis \"threads\" "
        "[{}]\n"
        "    y-axis \"ops/s\" 0 --> {:.0f}\n    line {}\n    line {}\n```\n"
        "First line: threaded ops/s (median); second line: the pipelined single-thread baseline.\n\n",
        policy_caption(e), xs, top * 1.15, mermaid_list(ops), mermaid_list(base));
  }
  if (!batching.empty()) {
    const Json& e = batching.front();
    std::vector<double> sps;
    std::string xs;
    double top = 0;
    for (const auto& row : e["rows"].elements()) {
      xs += fmt::format("{}{}", xs.empty() ? "" : ", ", row["batch"].num());
      sps.push_back(row["samples_per_s"].num());
      top = std::max(top, row["samples_per_s"].num());
    }
    md += fmt::format(
        "```mermaid\nxychart-beta\n    title \"Batching: mlp samples/s by batch ({})\"\n    x-axis \"batch\" [{}]\n"
        "    y-axis \"samples/s\" 0 --> {:.0f}\n    line {}\n```\n\n",
        e["device"].str(), xs, top * 1.15, mermaid_list(sps));
  }
}

void md_isolated(std::string& md, const Json& r) {
  md += "### TransformerEncoderLayer (isolated rounds: TransformerEncoder.IsolatedRounds)\n";
  const auto& iso = r["sections"]["isolated_rounds"].elements();
  if (iso.empty()) {
    md += "Not in these results (CTest label `isolation`).\n\n";
    return;
  }
  for (const auto& e : iso) {
    const int n = static_cast<int>(e["total"].num()), p = static_cast<int>(e["passed"].num());
    std::string failures;
    for (const auto& x : e["rounds"].elements()) {
      if (x["status"].str() == "passed") continue;
      failures += fmt::format("{}round {} {}{}{}", failures.empty() ? "" : "; ", x["round"].num(), x["status"].str(),
                              x["detail"].str().empty() ? "" : ": " + x["detail"].str(),
                              x["crash_signature"].str().empty() ? "" : " (" + x["crash_signature"].str() + ")");
    }
    md += fmt::format("| Metric | {} |\n|--------|--------|\n", e["name"].str());
    md += fmt::format(
        "| Passed | {}/{}{} |\n", p, n,
        n < static_cast<int>(e["planned"].num()) ? fmt::format(" (of {} planned)", e["planned"].num()) : "");
    md += fmt::format("| Pass rate | **{}** |\n", n ? pct(static_cast<double>(p) / n) : "n/a");
    md += fmt::format("| 95% bound | {}/{} rounds: per-round failure rate below {:.0f}% at 95% |\n", p, n,
                      100.0 * e["failure_rate_upper_bound_95"].num());
    md += fmt::format("| Per-round failures | {} |\n", failures.empty() ? "none" : cell(failures));
    md += fmt::format("| Result | {} |\n\n", status_word(e["status"].str()));
  }
}

void md_regression(std::string& md, const Json& r) {
  md += "## Regression and Other Tests\n";
  const auto& other = r["regression"].elements();
  if (other.empty()) {
    md += "No tests beyond the sections above are in these results (regression suites: CTest label `regression`).\n\n";
    return;
  }
  std::vector<std::string> binaries;
  for (const auto& t : other) {
    if (std::find(binaries.begin(), binaries.end(), t["binary"].str()) == binaries.end())
      binaries.push_back(t["binary"].str());
  }
  for (const auto& bin : binaries) {
    std::map<std::string, int> counts;
    int n = 0;
    for (const auto& t : other) {
      if (t["binary"].str() != bin) continue;
      ++counts[t["status"].str()];
      ++n;
    }
    // Harness self-tests are summarized; anything else (the regression repros) is listed in full.
    const bool summarize = bin.find("selftest") != std::string::npos;
    std::string line;
    for (const auto& [s, c] : counts) line += fmt::format("{}{} {}", line.empty() ? "" : ", ", c, s);
    md += fmt::format("### {} ({} tests: {})\n", bin.empty() ? "unknown binary" : bin, n, line);
    bool header = false;
    for (const auto& t : other) {
      if (t["binary"].str() != bin) continue;
      if (summarize && t["status"].str() == "passed") continue;
      if (!header) {
        md += "| Test | Status | Duration | Failure |\n|------|--------|----------|---------|\n";
        header = true;
      }
      const std::string runs = t["runs"].num() > 1 ? " (" + t["runs_text"].str() + ")" : "";
      md += fmt::format("| {} | {}{} | {:.2f} s | {} |\n", t["name"].str(),
                        status_word(t["status"].str(), t["skip_reason"].str()), runs, t["duration_s"].num(),
                        cell(t["failure"].str()));
    }
    md += summarize && !header ? "All passed.\n\n" : "\n";
  }
}

void md_changes(std::string& md, const Json& r) {
  if (!r.has("changes")) return;
  const Json& c = r["changes"];
  md += fmt::format("## Changes since baseline\nBaseline: `{}` ({}, {}).\n\n", c["baseline"].str(),
                    c["baseline_date"].str(), c["baseline_device"].str());
  const auto& reg = c["regressions"].elements();
  md += reg.empty() ? "**No regressions.**\n\n" : fmt::format("**{} regression(s):**\n", reg.size());
  for (const auto& x : reg) md += "- REGRESSION " + x.str() + "\n";
  if (!reg.empty()) md += "\n";
  if (c["improvements"].size()) {
    md += "Improvements:\n";
    for (const auto& x : c["improvements"].elements()) md += "- " + x.str() + "\n";
    md += "\n";
  }
  if (c["notes"].size()) {
    md += "Notes:\n";
    for (const auto& x : c["notes"].elements()) md += "- " + x.str() + "\n";
    md += "\n";
  }
}

// One essential of the build per row; a row only where some process recorded it.
void md_provenance(std::string& md, const Json& run) {
  const Json& p = run["provenance"];
  auto v = [&](const char* key) { return p[key].str(); };
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
  if (run["knobs"].size()) {
    std::string knobs;
    for (const auto& k : run["knobs"].elements()) knobs += fmt::format("{}`{}`", knobs.empty() ? "" : ", ", k.str());
    md += "\n**Knobs overridden**: " + knobs + "\n";
  }
  std::string differ;
  for (const auto& d : run["provenance_disagreements"].elements()) differ += (differ.empty() ? "" : "; ") + d.str();
  if (!differ.empty())
    md += "\n**Warning: the processes disagree** (several builds share this folder): " + differ + "\n";
  md += "\n";
}

void md_header(std::string& md, const Json& r) {
  const Json& run = r["run"];
  md += fmt::format("# {}: torchstress on {} ({})\n\n", r["title"].str(), run["hardware"].str(), run["device"].str());
  md += fmt::format("**Date**: {}\n", run["date"].str());
  md += fmt::format("**PyTorch Version**: {}\n", run["torch"].str());
  md += fmt::format("**Device**: {}\n", run["device"].str());
  md += fmt::format("**Hardware**: {}\n", run["hardware"].str());
  md += fmt::format("**Host**: {}\n", run["host"].str());
  md += fmt::format("**Policies**: CUDA streams {}, sync {}\n", run["cuda_streams"].str(), run["sync"].str());
  md += fmt::format("**Results**: `{}` ({} files; {})\n\n", run["results_dir"].str(), run["files"].num(),
                    run["binaries"].str());
  md_provenance(md, run);
}

// The first thing after the header: what failed, how, and the line that runs it again.
void md_failures(std::string& md, const Json& r) {
  md +=
      "## Failures\n\n| Test | Kind | Runs | First message | Repro | Details |\n"
      "|------|------|------|---------------|-------|---------|\n";
  bool any = false;
  for (const auto& t : r["tests"].elements()) {
    const std::string st = t["status"].str();
    if (st == "passed" || st == "skipped") continue;
    any = true;
    md += fmt::format("| {} | {} | {} | {} | `{}` | [details](details.md#{}) |\n", t["name"].str(),
                      cell(t["kinds"].str().empty() ? st : t["kinds"].str()), t["runs_text"].str(),
                      cell(t["first_message"].str()), cell(t["repro"].str()), t["anchor"].str());
  }
  if (!any) md += "| none | | | | | |\n";
  md += "\n";
}

// Tests that ran more than once (--gtest_repeat, ctest --repeat, several runs in one folder).
void md_repeats(std::string& md, const Json& r) {
  std::string rows;
  for (const auto& t : r["tests"].elements()) {
    const Json& bound = t["failure_rate_upper_bound_95"];
    if (t["runs"].num() <= 1 || !bound.is_number()) continue;  // one run, or only skips: nothing to bound
    rows += fmt::format("| {} | {} | {} | {} |\n", t["name"].str(), status_word(t["status"].str()),
                        t["runs_text"].str(), fmt::format("below {} at 95% confidence", pct(bound.num())));
  }
  if (rows.empty()) return;
  md +=
      "### Repeated tests\nEvery repeat counts: one failing repeat fails the test.\n\n"
      "| Test | Result | Runs | Per-run failure rate |\n|------|--------|------|----------------------|\n" +
      rows + "\n";
}

void md_summary(std::string& md, const Json& r) {
  const Json& s = r["summary"];
  md += "## Summary\n\n";
  md += fmt::format("**{}**: {}\n\n", s["verdict"].str(), s["text"].str());
  md +=
      "| Tests | Passed | Failed | Stalled | Incomplete | Skipped "
      "|\n|-------|--------|--------|---------|------------|---------|\n";
  md += fmt::format("| {} | {} | {} | {} | {} | {} |\n\n", s["tests"].num(), s["passed"].num(), s["failed"].num(),
                    s["stalled"].num(), s["incomplete"].num(), s["skipped"].num());
  md_repeats(md, r);
}

void md_blockers(std::string& md, const Json& r) {
  md += "\n## Blockers / What Did Not Run\n\n";
  if (r["blockers"].size() == 0) md += "None: every section ran.\n";
  for (const auto& b : r["blockers"].elements()) {
    if (b["kind"].str() == "skipped") {
      // One line per reason: "(3 tests) this LibTorch was built without CUDA: A, B, C".
      const long n = static_cast<long>(b["count"].num(1));
      md += fmt::format("- **skipped** ({} test{}) {}{}\n", n, n == 1 ? "" : "s", b["reason"].str(),
                        b["listed"].boolean(true) ? ": " + b["name"].str() : " (names in report.json)");
      continue;
    }
    md += fmt::format("- **{}** {}: {}\n", b["kind"].str(), b["name"].str(), b["reason"].str());
  }
}

}  // namespace

std::string render_markdown(const Json& r) {
  std::string md;
  md_header(md, r);
  md_failures(md, r);
  md_summary(md, r);
  md_changes(md, r);

  md += "## Test Results\n\n";
  md_parallel(md, r);
  md_soak(md, r);
  md_stress(md, r);
  md_scaling(md, r);
  md_batching(md, r);
  md_charts(md, r);
  md_isolated(md, r);
  md_regression(md, r);

  md += "## Findings\n\n";
  int i = 0;
  for (const auto& f : r["findings"].elements()) md += fmt::format("{}. {}\n", ++i, f.str());
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

// One panel at (x0, y0) of size w x h: x on a log2 axis, y linear (log_y false) or log2.
std::string panel(double x0, double y0, double w, double h, const std::string& title, const std::string& xlabel,
                  const std::string& ylabel, const std::vector<Series>& series, bool log_y, bool legend_bottom_right) {
  // The legend goes below the x-axis label, never over the curves: the plot gives up its room.
  const double legend_h = 16.0 * static_cast<double>(series.size()) + 8;
  const double l = x0 + 70, rgt = x0 + w - 24, t = y0 + 30, b = y0 + h - 50 - legend_h;
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
  if (ymax <= 0) ymax = 1;
  const double lx_max = std::max(1.0, std::ceil(std::log2(xmax)));
  auto px = [&](double x) { return l + (rgt - l) * std::log2(std::max(1.0, x)) / lx_max; };
  double y_lo = 0, y_hi = 0, step = 0;
  if (log_y) {
    y_lo = std::floor(std::log2(std::max(1e-3, std::min(ymin, 1.0))));
    y_hi = std::ceil(std::log2(ymax));
    if (y_hi <= y_lo) y_hi = y_lo + 1;
  } else {
    step = nice_step(ymax * 1.05);
    y_hi = std::ceil(ymax * 1.05 / step) * step;
  }
  auto py = [&](double y) {
    if (log_y) return b - (b - t) * (std::log2(std::max(1e-9, y)) - y_lo) / (y_hi - y_lo);
    return b - (b - t) * y / y_hi;
  };

  std::string s = fmt::format("<g font-family=\"sans-serif\" font-size=\"12\">\n");
  s += fmt::format(
      "<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"14\" font-weight=\"bold\" text-anchor=\"middle\">{}</text>\n",
      (l + rgt) / 2, y0 + 18, esc(title));
  // Grid and ticks.
  if (log_y) {
    for (double e = y_lo; e <= y_hi + 1e-9; e += 1) {
      const double y = py(std::pow(2.0, e));
      s += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>\n", l, y, rgt,
                       y);
      s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}x</text>\n", l - 6, y + 4,
                       short_num(std::pow(2.0, e)));
    }
  } else {
    for (double v = 0; v <= y_hi + step / 2; v += step) {
      const double y = py(v);
      s += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>\n", l, y, rgt,
                       y);
      s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", l - 6, y + 4, short_num(v));
    }
  }
  for (double e = 0; e <= lx_max + 1e-9; e += 1) {
    const double x = px(std::pow(2.0, e));
    s += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#eee\"/>\n", x, t, x, b);
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{:g}</text>\n", x, b + 16,
                     std::pow(2.0, e));
  }
  // Axes and labels.
  s += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#333\"/>\n", l, t, b);
  s += fmt::format("<line x1=\"{0:.1f}\" y1=\"{2:.1f}\" x2=\"{1:.1f}\" y2=\"{2:.1f}\" stroke=\"#333\"/>\n", l, rgt, b);
  s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", (l + rgt) / 2, b + 34,
                   esc(xlabel));
  s += fmt::format(
      "<text x=\"{0:.1f}\" y=\"{1:.1f}\" text-anchor=\"middle\" transform=\"rotate(-90 {0:.1f} {1:.1f})\">{2}</text>\n",
      x0 + 16, (t + b) / 2, esc(ylabel));
  // Lines, points, whiskers.
  for (const auto& se : series) {
    std::string pts;
    for (const auto& [x, y] : se.points) pts += fmt::format("{:.1f},{:.1f} ", px(x), py(y));
    s += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} points=\"{}\"/>\n", se.color,
                     se.dashed ? " stroke-dasharray=\"6,4\"" : "", pts);
    for (size_t i = 0; i < se.points.size(); ++i) {
      const double x = px(se.points[i].first);
      if (i < se.whiskers.size()) {
        s += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"{3}\"/>\n", x,
                         py(se.whiskers[i].first), std::max(t, py(std::min(se.whiskers[i].second, ymax))), se.color);
      }
      if (!se.dashed) {
        s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>\n", x, py(se.points[i].second),
                         se.color);
      }
    }
  }
  // Legend below the axis label.
  (void)legend_bottom_right;
  const double lx = l;
  double ly = b + 52;
  for (const auto& se : series) {
    s += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" stroke-width=\"2\"{}/>\n", lx, ly,
        lx + 24, ly, se.color, se.dashed ? " stroke-dasharray=\"6,4\"" : "");
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11\">{}</text>\n", lx + 30, ly + 4, esc(se.label));
    ly += 16;
  }
  return s + "</g>\n";
}

}  // namespace

std::string render_svg(const Json& r) {
  const double W = 1000, H = 600;  // room for legends of up to 8 series below the plots
  std::vector<Series> left, right;
  int color = 0;
  const auto& scaling = r["sections"]["scaling"].elements();
  for (const auto& e : scaling) {
    Series s, base;
    const std::string tag =
        scaling.size() > 1 ? fmt::format(" (streams {}, sync {})", e["cuda_streams"].str(), e["sync"].str()) : "";
    s.label = "threaded, sync per op" + tag;
    s.color = kColors[color % 6];
    base.label = "pipelined 1-thread baseline" + tag;
    base.color = s.color;
    base.dashed = true;
    Series sp;
    sp.label = "threads (vs 1 thread)" + tag;
    sp.color = s.color;
    for (const auto& row : e["rows"].elements()) {
      const double x = row["threads"].num();
      s.points.emplace_back(x, row["ops_per_s"].num());
      s.whiskers.emplace_back(row["min"].num(), row["max"].num());
      base.points.emplace_back(x, e["pipelined"]["ops_per_s"].num());
      sp.points.emplace_back(x, row["speedup_vs_1thread"].num());
    }
    left.push_back(std::move(s));
    left.push_back(std::move(base));
    right.push_back(std::move(sp));
    ++color;
  }
  double xmax = 16;
  for (const auto& e : r["sections"]["batching"].elements()) {
    Series b;
    b.label = "batch (vs batch 1)";
    b.color = kColors[(color++) % 6];
    for (const auto& row : e["rows"].elements()) {
      b.points.emplace_back(row["batch"].num(), row["speedup"].num());
      xmax = std::max(xmax, row["batch"].num());
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

  const std::string device = r["run"]["device"].str();
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      W, H);
  if (left.empty()) {
    svg += "<text x=\"20\" y=\"30\" font-family=\"sans-serif\">Scaling curves: not in these results</text>\n";
  } else {
    svg += panel(0, 10, W / 2, H - 20, "Scaling: mlp batch 1 on " + device + " (median, min-max)",
                 "threads (log scale)", "ops/s", left, false, true);
  }
  svg += panel(W / 2, 10, W / 2, H - 20, "Speedup: threads vs batching on " + device,
               "threads or batch size (log scale)", "speedup (log scale)", right, true, false);
  return svg + "</svg>\n";
}

}  // namespace tsreport
