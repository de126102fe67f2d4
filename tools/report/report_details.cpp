// details.md: everything about each failure that does not fit one table row of report.md (every
// failure text, the workers' C++ backtraces, the stderr tail of a crashed or timed-out round, the
// repro), one anchor per test and per failed round so the Failures table can link to it; then
// the full build configuration (show_config) of each build in the results.
#include <fmt/format.h>

#include <algorithm>

#include "report.h"

namespace tsreport {
namespace {

// A fenced block that survives backticks in the text (a fence longer than any run inside it).
std::string fenced(const std::string& text, const char* lang = "") {
  size_t longest = 0, run = 0;
  for (char c : text) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  const std::string fence(std::max<size_t>(3, longest + 1), '`');
  return fence + lang + "\n" + text + (text.empty() || text.back() == '\n' ? "" : "\n") + fence + "\n";
}

std::string where_of(const Json& f) {
  std::string where;
  auto add = [&](const char* what, const Json& v) {
    if (v.is_number()) where += fmt::format("{}{} {}", where.empty() ? "" : ", ", what, num(v));
  };
  add("run", at(f, "run"));
  add("thread", at(f, "thread"));
  add("iteration", at(f, "iteration"));
  return where;
}

void round_failure(std::string& md, const Json& f) {
  md += fmt::format("<a id=\"{}\"></a>\n#### Round {}{} [{}]\n\n", str(f, "anchor"), num(f, "round"),
                    at(f, "run").is_number() ? fmt::format(" of run {}", num(f, "run")) : "", str(f, "kind"));
  md += str(f, "text") + "\n\n";
  if (!str(f, "crash_signature").empty()) md += "Crash signature: " + str(f, "crash_signature") + "\n\n";
  md += fmt::format("Results file: `{}`\n\n", str(f, "file"));
  if (!str(f, "stderr_tail").empty()) md += "Last lines of the round's stderr:\n\n" + fenced(str(f, "stderr_tail"));
  md += "\n";
}

// Every worker's state when a crash or stall record was written (its "workers"), as a table.
std::string workers_table(const Json& f) {
  const auto& workers = elems(f, "workers");
  if (workers.empty()) return "";
  std::string md = fmt::format("\n  Workers when it {}:\n\n  | thread | op | iteration | input | ops done | state |\n"
                               "  | --- | --- | --- | --- | --- | --- |\n",
                               str(f, "signal").empty() ? "happened" : "died (" + str(f, "signal") + ")");
  for (const auto& w : workers) {
    const Json& input = at(w, "input");
    md += fmt::format("  | {} | {} | {} | {} | {} | {} |\n", num(w, "thread"), str(w, "op"), num(w, "iteration"),
                      input.is_number() ? fmt::format("{}", num(input)) : std::string("-"), num(w, "ops_done"),
                      flag(w, "finished") ? "finished" : fmt::format("running ({:.3f} s since progress)",
                                                                    num(w, "seconds_since_progress")));
  }
  return md + "\n";
}

void test_failures(std::string& md, const Json& report, const std::string& name) {
  std::string plain;
  for (const auto& f : elems(report, "failures")) {
    if (str(f, "test") != name) continue;
    if (at(f, "round").is_number()) {
      round_failure(md, f);
      continue;
    }
    const std::string where = where_of(f);
    const std::string sig = str(f, "crash_signature");
    plain += fmt::format("- [{}]{} {}{} (`{}`)\n", str(f, "kind"), where.empty() ? "" : " " + where + ":",
                         str(f, "text"), sig.empty() ? "" : " -- " + sig, str(f, "file"));
    plain += workers_table(f);
  }
  if (!plain.empty()) md += "Failures:\n\n" + plain + "\n";
}

void test_section(std::string& md, const Json& report, const Json& t) {
  md += fmt::format("<a id=\"{}\"></a>\n## {}\n\n", str(t, "anchor"), str(t, "name"));
  const Json& bound = at(t, "failure_rate_upper_bound_95");
  md += fmt::format("**Status**: {}: {}{}.\n\n", str(t, "status"), str(t, "runs_text"),
                    bound.is_number() && num(t, "runs") > 1
                        ? fmt::format("; per-run failure rate below {:.1f}% at 95% confidence", 100.0 * num(bound))
                        : "");
  md += "**Kind**: " + str(t, "kinds") + "\n\n**Repro**:\n\n" + fenced(str(t, "repro"), "sh") + "\n";
  test_failures(md, report, str(t, "name"));
  if (at(t, "failure_texts").size()) {
    md += "Full failure texts:\n\n";
    for (const auto& text : elems(t, "failure_texts")) md += fenced(str(text)) + "\n";
  }
  if (at(t, "backtraces").size()) {
    md += "C++ backtraces of the worker failures:\n\n";
    for (const auto& bt : elems(t, "backtraces")) md += fenced(str(bt)) + "\n";
  }
}

}  // namespace

std::string render_details(const Json& report) {
  const Json& run = at(report, "run");
  std::string md = fmt::format(
      "# Failure details: torchstress on {} ({})\n\nThe Failures table of "
      "[report.md](report.md) links here.\n\n",
      str(run, "hardware"), str(run, "device"));
  bool any = false;
  for (const auto& t : elems(report, "tests")) {
    const std::string st = str(t, "status");
    if (st == "passed" || st == "skipped") continue;
    any = true;
    test_section(md, report, t);
  }
  if (!any) md += "No failures: every test that ran passed.\n\n";
  const auto& configs = elems(run, "show_config");
  if (!configs.empty()) {
    md += "## Build configuration (torch::show_config)\n\n";
    for (const auto& c : configs) md += fenced(str(c)) + "\n";
  }
  return md;
}

}  // namespace tsreport
