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
    if (v.is_number()) where += fmt::format("{}{} {}", where.empty() ? "" : ", ", what, v.num());
  };
  add("run", f["run"]);
  add("thread", f["thread"]);
  add("iteration", f["iteration"]);
  return where;
}

void round_failure(std::string& md, const Json& f) {
  md += fmt::format("<a id=\"{}\"></a>\n#### Round {}{} [{}]\n\n", f["anchor"].str(), f["round"].num(),
                    f["run"].is_number() ? fmt::format(" of run {}", f["run"].num()) : "", f["kind"].str());
  md += f["text"].str() + "\n\n";
  if (!f["crash_signature"].str().empty()) md += "Crash signature: " + f["crash_signature"].str() + "\n\n";
  md += fmt::format("Results file: `{}`\n\n", f["file"].str());
  if (!f["stderr_tail"].str().empty()) md += "Last lines of the round's stderr:\n\n" + fenced(f["stderr_tail"].str());
  md += "\n";
}

void test_failures(std::string& md, const Json& report, const std::string& name) {
  std::string plain;
  for (const auto& f : report["failures"].elements()) {
    if (f["test"].str() != name) continue;
    if (f["round"].is_number()) {
      round_failure(md, f);
      continue;
    }
    const std::string where = where_of(f);
    const std::string sig = f["crash_signature"].str();
    plain += fmt::format("- [{}]{} {}{} (`{}`)\n", f["kind"].str(), where.empty() ? "" : " " + where + ":",
                         f["text"].str(), sig.empty() ? "" : " -- " + sig, f["file"].str());
  }
  if (!plain.empty()) md += "Failures:\n\n" + plain + "\n";
}

void test_section(std::string& md, const Json& report, const Json& t) {
  md += fmt::format("<a id=\"{}\"></a>\n## {}\n\n", t["anchor"].str(), t["name"].str());
  const Json& bound = t["failure_rate_upper_bound_95"];
  md += fmt::format("**Status**: {}: {}{}.\n\n", t["status"].str(), t["runs_text"].str(),
                    bound.is_number() && t["runs"].num() > 1
                        ? fmt::format("; per-run failure rate below {:.1f}% at 95% confidence", 100.0 * bound.num())
                        : "");
  md += "**Kind**: " + t["kinds"].str() + "\n\n**Repro**:\n\n" + fenced(t["repro"].str(), "sh") + "\n";
  test_failures(md, report, t["name"].str());
  if (t["failure_texts"].size()) {
    md += "Full failure texts:\n\n";
    for (const auto& text : t["failure_texts"].elements()) md += fenced(text.str()) + "\n";
  }
  if (t["backtraces"].size()) {
    md += "C++ backtraces of the worker failures:\n\n";
    for (const auto& bt : t["backtraces"].elements()) md += fenced(bt.str()) + "\n";
  }
}

}  // namespace

std::string render_details(const Json& report) {
  const Json& run = report["run"];
  std::string md = fmt::format(
      "# Failure details: torchstress on {} ({})\n\nThe Failures table of "
      "[report.md](report.md) links here.\n\n",
      run["hardware"].str(), run["device"].str());
  bool any = false;
  for (const auto& t : report["tests"].elements()) {
    const std::string st = t["status"].str();
    if (st == "passed" || st == "skipped") continue;
    any = true;
    test_section(md, report, t);
  }
  if (!any) md += "No failures: every test that ran passed.\n\n";
  const auto& configs = run["show_config"].elements();
  if (!configs.empty()) {
    md += "## Build configuration (torch::show_config)\n\n";
    for (const auto& c : configs) md += fenced(c.str()) + "\n";
  }
  return md;
}

}  // namespace tsreport
