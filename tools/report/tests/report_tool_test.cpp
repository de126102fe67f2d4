// torchstress_report on its fixtures (tools/report/testdata): a full run gives every section with
// the raw numbers, failures are classified, a worse run than its baseline exits 1 naming each
// regression, corrupt input exits 2 with one line, an interrupted run reads as incomplete.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "json.h"

namespace {

namespace fs = std::filesystem;

struct ToolRun {
  int exit_code = -1;
  std::string out;  // stdout and stderr together
  fs::path dir;     // --out
};

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path out_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path d = fs::temp_directory_path() / ("tsreport-" + std::to_string(::getpid()) + "-" + info->name());
  fs::remove_all(d);
  return d;
}

// Runs the tool on testdata/<results> (and testdata/<baseline> or an absolute baseline path).
ToolRun run_tool(const std::string& results, const std::string& baseline = "", const fs::path& dir = out_dir()) {
  ToolRun r;
  r.dir = dir;
  std::string cmd = std::string("'") + TSREPORT_TOOL + "' --host fixture-host --results '" + TSREPORT_TESTDATA + "/" +
                    results + "' --out '" + dir.string() + "'";
  if (!baseline.empty()) {
    cmd += " --baseline '" + (baseline[0] == '/' ? baseline : std::string(TSREPORT_TESTDATA) + "/" + baseline) + "'";
  }
  cmd += " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST(ReportTool, FullRunHasEverySectionWithTheRawNumbers) {
  ToolRun r = run_tool("full");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::string md = read_text(r.dir / "report.md");
  for (const char* section :
       {"# Verification Report", "**Date**", "**PyTorch Version**: 2.9.1", "**Hardware**: Apple M4 Max",
        "**Host**: fixture-host", "## Summary", "## Test Results", "### Simple Parallel Tests", "### Quick Soak Test",
        "### LayerNorm/Transformer Stress Test", "### Scaling Curves Benchmark", "### Batching Benchmark",
        "### TransformerEncoderLayer", "## Regression and Other Tests", "## Findings", "## Blockers / What Did Not Run",
        "```mermaid", "xychart-beta", "chart.svg"}) {
    EXPECT_NE(md.find(section), std::string::npos) << "missing: " << section << "\n" << md;
  }
  // The raw figures of the fixture, as the seed report prints them.
  for (const char* figure : {"| Total ops | 495,317 |", "| Throughput | 8,254.7 ops/s |",
                             "| LayerNorm | 8 | 50 | 400/400 (100%) | 4,309 ops/s | PASS |",
                             "| Transformer | 8 | 20 | 160/160 (100%) | 1,072 ops/s | PASS |",
                             "| 1 | 2,324 | 6.0% | 0.23x | 23.1% | 1.00x | 100.0% |",
                             "| 8 | 4,517 | 6.0% | 0.45x | 5.6% |", "| 256 | 250,500 | 4.0% | 167.00x |",
                             "| Passed | 10/10 |", "10/10 rounds: per-round failure rate below 26% at 95%",
                             "5.6% at 8 threads", "MpsRegression.Issue100285CommandBufferCommittedOnce",
                             "**skipped** ParallelCUDA.TwoThreads: this LibTorch was built without CUDA"}) {
    EXPECT_NE(md.find(figure), std::string::npos) << "missing: " << figure << "\n" << md;
  }
  const tsreport::Json j = tsreport::parse_json(read_text(r.dir / "report.json"));
  EXPECT_EQ(j["schema"].str(), "torchstress-report/1");
  EXPECT_EQ(j["summary"]["verdict"].str(), "PASS");
  EXPECT_EQ(j["sections"]["soak"].elements().at(0)["total_ops"].num(), 495317);
  EXPECT_EQ(j["sections"]["isolated_rounds"].elements().at(0)["passed"].num(), 10);
  const std::string svg = read_text(r.dir / "chart.svg");
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("<polyline"), std::string::npos);
  EXPECT_NE(svg.find("pipelined 1-thread baseline"), std::string::npos);
}

TEST(ReportTool, FailuresAreClassifiedWithRoundThreadIterationAndCrashSignature) {
  ToolRun r = run_tool("failing");
  ASSERT_EQ(r.exit_code, 0) << r.out;  // no baseline: a failing run is reported, not gated
  const std::string md = read_text(r.dir / "report.md");
  for (const char* text : {"**FAIL**", "FAILURE Stress.LayerNorm [wrong value; thread 5, iteration 12]",
                           "FAILURE Stress.LayerNorm [wrong value; thread 6, iteration 30]",
                           "FAILURE TransformerEncoder.IsolatedRounds [crash; round 3]",
                           "[NaN/Inf; round 7, thread 2, iteration 9]", "pytorch/pytorch#100285", "| Passed | 8/10 |",
                           "MpsRegression.Issue100285CommandBufferCommittedOnce [exception; thread 1, iteration 4]"}) {
    EXPECT_NE(md.find(text), std::string::npos) << "missing: " << text << "\n" << md;
  }
}

TEST(ReportTool, LowerPassRateThanTheBaselineExitsOneNamingTheRegressions) {
  ToolRun base = run_tool("full", "", fs::path(out_dir().string() + "-base"));
  ASSERT_EQ(base.exit_code, 0) << base.out;
  ToolRun r = run_tool("failing", (base.dir / "report.json").string());
  EXPECT_EQ(r.exit_code, 1) << r.out;
  for (const char* text :
       {"REGRESSION Stress.LayerNorm: passed in the baseline, failed now",
        "REGRESSION Stress.LayerNorm: new error kind 'wrong value'",
        "REGRESSION TransformerEncoder.IsolatedRounds rounds: pass rate 100.0% (10/10) -> 80.0% (8/10)"}) {
    EXPECT_NE(r.out.find(text), std::string::npos) << "missing: " << text << "\n" << r.out;
  }
  const std::string md = read_text(r.dir / "report.md");
  EXPECT_NE(md.find("## Changes since baseline"), std::string::npos);
  EXPECT_NE(md.find("REGRESSION TransformerEncoder.IsolatedRounds: new error kind 'crash'"), std::string::npos) << md;
}

TEST(ReportTool, MuchHigherBaselineThroughputExitsOneNamingTheMetric) {
  ToolRun r = run_tool("full", "baseline-fast.json");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("throughput down: Bench.Batching batch=256 [mps]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("measured spread 4.0%"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("throughput down: Soak.EightThreads60s ops/s"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no spread measured, threshold 10.0%"), std::string::npos) << r.out;
}

TEST(ReportTool, TheSameRunAsItsBaselineIsNoRegression) {
  ToolRun base = run_tool("full", "", fs::path(out_dir().string() + "-base"));
  ASSERT_EQ(base.exit_code, 0) << base.out;
  ToolRun r = run_tool("full", (base.dir / "report.json").string());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(read_text(r.dir / "report.md").find("**No regressions.**"), std::string::npos);
}

TEST(ReportTool, GarbageResultsExitTwoWithOneClearLineAndWriteNothing) {
  ToolRun r = run_tool("garbage");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("results-torchstress_battery-3001.jsonl:1: not a torchstress results line"), std::string::npos)
      << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_FALSE(fs::exists(r.dir / "report.md"));
}

TEST(ReportTool, CorruptBaselineOrMissingFolderExitsTwo) {
  ToolRun corrupt = run_tool("full", "baseline-corrupt.json");
  EXPECT_EQ(corrupt.exit_code, 2) << corrupt.out;
  EXPECT_NE(corrupt.out.find("is not valid JSON"), std::string::npos) << corrupt.out;
  ToolRun missing = run_tool("no-such-folder");
  EXPECT_EQ(missing.exit_code, 2) << missing.out;
  EXPECT_NE(missing.out.find("does not exist"), std::string::npos) << missing.out;
}

TEST(ReportTool, InterruptedRunIsReportedIncompleteNamingWhatIsMissing) {
  ToolRun r = run_tool("interrupted");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::string md = read_text(r.dir / "report.md");
  for (const char* text :
       {"**INCOMPLETE**", "**incomplete** Stress.Transformer: started but wrote no result",
        "**incomplete** Soak.EightThreads60s: stalled: thread 3 stuck at iteration 4711",
        "**missing** Bench.ScalingCurves", "FAILURE Soak.EightThreads60s [stall; thread 3, iteration 4711]"}) {
    EXPECT_NE(md.find(text), std::string::npos) << "missing: " << text << "\n" << md;
  }
  EXPECT_EQ(tsreport::parse_json(read_text(r.dir / "report.json"))["summary"]["complete"].boolean(true), false);
}

TEST(JsonReader, ReadsWhatTheSuiteWritesAndRejectsTrailingGarbage) {
  const tsreport::Json j = tsreport::parse_json(R"({"a":"x\"y\\n\u00e9","b":[1,-2.5e3,true,null],"c":{}})");
  EXPECT_EQ(j["a"].str(), "x\"y\\n\xc3\xa9");
  EXPECT_EQ(j["b"].elements().at(1).num(), -2500);
  EXPECT_TRUE(j["b"].elements().at(3).is_null());
  EXPECT_EQ(tsreport::parse_json(j.dump())["a"].str(), j["a"].str());
  EXPECT_THROW(tsreport::parse_json(R"({"a":1} x)"), tsreport::JsonError);
  EXPECT_THROW(tsreport::parse_json(R"({"a":)"), tsreport::JsonError);
}

}  // namespace
