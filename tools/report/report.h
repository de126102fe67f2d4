// The report: built once from a run's results as a JSON tree (written as report.json), compared
// with a baseline report.json, and rendered as report.md (the seed report's layout, with a Mermaid
// chart) and chart.svg. Everything the Markdown says comes from the tree, so both say the same.
#pragma once

#include <string>

#include "ctest_junit.h"
#include "report_json.h"
#include "results_reader.h"

namespace tsreport {

// Version 1 throughout: later fields (per-test repeat counts, repro, provenance, skip groups) were
// only added, so older report.json files still load as baselines.
inline constexpr const char* kReportSchema = "torchstress-report/1";

// A figure whose robust spread (IQR / median over its repetitions) is above this is too noisy to
// compare: the report says so instead of printing the spread, and the baseline gate notes it
// rather than calling a change in it a regression (or silently passing it).
inline constexpr double kTooNoisySpread = 0.25;

// `host` names the machine when the results do not (they carry no host field today). `ctest`: the
// tests CTest ran (its JUnit files), when known: report["ctest"] accounts for every one of them.
Json build_report(const RunData& run, const std::string& host, const std::vector<CtestCase>& ctest = {});

// Adds report["changes"] = {baseline, regressions[], improvements[], notes[]}. Regressions: a test
// that passed in the baseline and now failed, stalled, ended midway, was skipped or is missing
// altogether; a lower pass rate; a new error kind; throughput down by more than the robust spread
// of both runs (10% where neither measured one). A figure too noisy in either run is a note.
// Returns the number of regressions.
int compare_with_baseline(Json& report, const Json& baseline, const std::string& baseline_path);

// Throws InputError when `baseline` is not a report.json of this tool.
void validate_baseline(const Json& baseline, const std::string& path);

std::string render_markdown(const Json& report);
// details.md: one anchored section per failing test and per failed round (every failure text,
// C++ backtraces, the crashed round's stderr tail, the repro), then each build's show_config.
std::string render_details(const Json& report);
// 495317 -> "495,317"; 8254.71 with 1 decimal -> "8,254.7"
std::string thousands(double v, int decimals = 0);
std::string render_svg(const Json& report);
// benchmarks.json: the scaling and batching points in Google Benchmark's JSON format (context +
// benchmarks, with per-repetition entries where recorded and "_median" aggregates), so Google
// Benchmark's tools/compare.py can compare two runs.
Json benchmark_json(const Json& report);

}  // namespace tsreport
