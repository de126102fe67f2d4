// torchstress_report: turns a run's results (the *.jsonl files the tests append) into report.md,
// details.md (each failure in full: texts, backtraces, repro), report.json and chart.svg, and
// optionally compares with a baseline report.json for release gating.
//
// benchmarks.json holds the benchmark points in Google Benchmark's JSON format (for its compare.py).
//
//   torchstress_report --results DIR --out DIR [--baseline OLD/report.json] [--host NAME]
//                      [--ctest-junit FILE]...
// --ctest-junit: a JUnit file CTest wrote for this run (repeatable): the report counts every CTest
// test in it (as a test, a control, or one that wrote no results line), so its totals match CTest's.
//
// Exit status: 0 report written (no regression); 1 regression against the baseline (each one
// named on stderr and in the report); 2 bad arguments or an unreadable or corrupt input (one line
// on stderr, nothing written).
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "report_json.h"
#include "report.h"
#include "results_reader.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitRegression = 1;
constexpr int kExitBadInput = 2;

// Errors print one line (the full text is for --help).
const char* kShortUsage =
    "accepted: torchstress_report --results DIR --out DIR [--baseline OLD/report.json] [--host NAME] "
    "[--ctest-junit FILE]...\n";
const char* kUsage =
    "usage: torchstress_report --results DIR --out DIR [--baseline OLD/report.json] [--host NAME]\n"
    "  --results DIR   folder holding the run's results-*.jsonl (TORCHSTRESS_RESULTS_DIR)\n"
    "  --out DIR       where report.md, details.md, report.json, chart.svg and benchmarks.json are written\n"
    "                  (created if needed)\n"
    "  --baseline F    an earlier report.json: adds 'Changes since baseline'; exit 1 on any regression\n"
    "  --host NAME     machine name for the report (default: this machine's hostname)\n"
    "  --ctest-junit F a JUnit file of the CTest run that wrote these results (repeatable): every CTest test\n"
    "                  is counted, as a test, a control, or named as one that wrote no results line\n"
    "exit: 0 written, 1 regression against the baseline, 2 bad arguments or unreadable/corrupt input\n";

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw tsreport::InputError("cannot write " + path.string());
}

std::string this_host() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::string results, out, baseline, host;
  std::vector<std::string> junit;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::string& into) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "torchstress_report: %s needs a value; %s", a.c_str(), kShortUsage);
        std::exit(kExitBadInput);
      }
      into = argv[++i];
    };
    if (a == "--results")
      value(results);
    else if (a == "--out")
      value(out);
    else if (a == "--baseline")
      value(baseline);
    else if (a == "--host")
      value(host);
    else if (a == "--ctest-junit")
      value(junit.emplace_back());
    else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    } else {
      std::fprintf(stderr, "torchstress_report: unknown argument '%s'; %s", a.c_str(), kShortUsage);
      return kExitBadInput;
    }
  }
  if (results.empty() || out.empty()) {
    std::fprintf(stderr, "torchstress_report: --results and --out are required; %s", kShortUsage);
    return kExitBadInput;
  }

  try {
    const tsreport::RunData run = tsreport::read_results(results);
    tsreport::Json report =
        tsreport::build_report(run, host.empty() ? this_host() : host, tsreport::read_ctest_junit(junit));
    int regressions = 0;
    if (!baseline.empty()) {
      std::ifstream in(baseline, std::ios::binary);
      if (!in) throw tsreport::InputError("cannot read baseline " + baseline);
      tsreport::Json base;
      try {
        base = tsreport::Json::parse(in);
      } catch (const tsreport::Json::parse_error& e) {
        throw tsreport::InputError("baseline " + baseline + " is not valid JSON: " + e.what());
      }
      tsreport::validate_baseline(base, baseline);
      regressions = tsreport::compare_with_baseline(report, base, baseline);
    }
    std::error_code ec;
    std::filesystem::create_directories(out, ec);
    if (ec) throw tsreport::InputError("cannot create " + out + ": " + ec.message());
    write_file(std::filesystem::path(out) / "report.json", tsreport::dump_text(report, 2) + "\n");
    write_file(std::filesystem::path(out) / "benchmarks.json",
               tsreport::dump_text(tsreport::benchmark_json(report), 2) + "\n");
    write_file(std::filesystem::path(out) / "report.md", tsreport::render_markdown(report));
    write_file(std::filesystem::path(out) / "chart.svg", tsreport::render_svg(report));
    write_file(std::filesystem::path(out) / "details.md", tsreport::render_details(report));

    const tsreport::Json& s = tsreport::at(report, "summary");
    std::printf(
        "torchstress_report: %s: %s\n  wrote %s/report.md, details.md, report.json, chart.svg, benchmarks.json\n",
        tsreport::str(s, "verdict").c_str(), tsreport::str(s, "text").c_str(), out.c_str());
    for (const auto& i : run.incomplete) std::printf("  INCOMPLETE %s: %s\n", i.name.c_str(), i.why.c_str());
    if (regressions > 0) {
      for (const auto& r : tsreport::elems(report, "changes", "regressions")) {
        std::fprintf(stderr, "REGRESSION %s\n", tsreport::str(r).c_str());
      }
      std::fprintf(stderr, "torchstress_report: %d regression(s) against %s\n", regressions, baseline.c_str());
      return kExitRegression;
    }
    return kExitOk;
  } catch (const tsreport::InputError& e) {
    std::fprintf(stderr, "torchstress_report: %s\n", e.what());
    return kExitBadInput;
  }
}
