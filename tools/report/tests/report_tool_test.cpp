// torchstress_report on its fixtures (tools/report/testdata): a full run gives every section with
// the raw numbers, failures are classified, a worse run than its baseline exits 1 naming each
// regression (a test lost to a skip, a stall, a crash or plain absence included), repeats of a
// test all count, the Failures table says how to rerun each failure, corrupt input exits 2 with
// one line, an interrupted run reads as incomplete. Old (unversioned) fixtures read through the
// compatibility path; testdata/v2 is schema torchstress-results/2 (typed sections and errors, an
// invalid UTF-8 byte in a message); benchmarks.json follows Google Benchmark's JSON format;
// detection lines (testdata/detection) give a Detection section, and only they do; tests that
// recorded pressure figures (testdata/pressure) give a Pressure applied section.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "expect_text.h"
#include "report_json.h"
#include "torchstress/stats.h"

namespace {

namespace fs = std::filesystem;
using tsreport::at;
using tsreport::elems;
using tsreport::flag;
using tsreport::Json;
using tsreport::num;
using tsreport::str;
using tsreport_test::expect_all_in;

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

// Runs `args` after the tool and its fixture flags; stdout and stderr (as `redirect` says) in r.out.
ToolRun run_tool_with(const std::string& results, const std::string& args, const fs::path& dir,
                      const char* redirect = " 2>&1") {
  ToolRun r;
  r.dir = dir;
  const std::string cmd = std::string("'") + TSREPORT_TOOL + "' --host fixture-host --results '" + TSREPORT_TESTDATA +
                          "/" + results + "' --out '" + dir.string() + "'" + args + redirect;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Runs the tool on testdata/<results> (and testdata/<baseline> or an absolute baseline path).
// `stderr_only`: r.out holds what the tool wrote to stderr alone.
ToolRun run_tool(const std::string& results, const std::string& baseline = "", const fs::path& dir = out_dir(),
                 bool stderr_only = false) {
  std::string args;
  if (!baseline.empty()) {
    args = " --baseline '" + (baseline[0] == '/' ? baseline : std::string(TSREPORT_TESTDATA) + "/" + baseline) + "'";
  }
  return run_tool_with(results, args, dir, stderr_only ? " 2>&1 >/dev/null" : " 2>&1");
}

// run_tool for a run that must exit 0 (else a failure naming its output).
template <typename... Args>
ToolRun run_ok(const Args&... args) {
  ToolRun r = run_tool(args...);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  return r;
}

// The tool refuses `fixture`: exit 2, one line of output holding `line`, no report written.
void expect_refused(const std::string& fixture, const std::string& line) {
  const ToolRun r = run_tool(fixture);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  expect_all_in(r.out, {line});
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_FALSE(fs::exists(r.dir / "report.md"));
}

// A fixture's report.md and report.json; the tool must exit 0 (else a failure and both empty).
struct Report {
  std::string md;
  Json json;
};

Report report_of(const std::string& fixture) {
  const ToolRun r = run_ok(fixture);
  if (r.exit_code != 0) return {};
  return {read_text(r.dir / "report.md"), Json::parse(read_text(r.dir / "report.json"))};
}

// report.md from `heading` to the next "## " heading.
std::string md_section(const std::string& md, const std::string& heading) {
  const auto b = md.find(heading);
  if (b == std::string::npos) return "";
  const auto e = md.find("\n## ", b + heading.size());
  return md.substr(b, e == std::string::npos ? std::string::npos : e - b);
}

// The `heading` section of `md`, which must be there and hold every one of `texts`.
std::string section_with(const std::string& md, const std::string& heading, const std::vector<std::string>& texts) {
  const std::string section = md_section(md, heading);
  EXPECT_FALSE(section.empty()) << "no " << heading << " in\n" << md;
  expect_all_in(section, texts);
  return section;
}

TEST(ReportTool, FullRunHasEverySectionWithTheRawNumbers) {
  const ToolRun r = run_ok("full");
  const std::string md = read_text(r.dir / "report.md");
  expect_all_in(md, {"# Verification Report", "**Date**", "**PyTorch Version**: 2.9.1", "**Hardware**: Apple M4 Max",
                     "**Host**: fixture-host", "## Summary", "## Test Results", "### Simple Parallel Tests",
                     "### Quick Soak Test", "### LayerNorm/Transformer Stress Test", "### Scaling Curves Benchmark",
                     "### Batching Benchmark", "### Isolated Rounds", "## Regression and Other Tests", "## Findings",
                     "## Blockers / What Did Not Run", "```mermaid", "xychart-beta", "chart.svg"});
  // The raw figures of the fixture, as the seed report prints them.
  expect_all_in(md, {"| Total ops | 495,317 |", "| Throughput | 8,254.7 ops/s |",
                     "| LayerNorm | 8 | 50 | 400/400 (100%) | 4,309 ops/s | PASS |",
                     "| Transformer | 8 | 20 | 160/160 (100%) | 1,072 ops/s | PASS |",
                     "| 1 | 2,324 | 6.0% | 0.23x | 23.1% | 1.00x | 100.0% |", "| 8 | 4,517 | 6.0% | 0.45x | 5.6% |",
                     "| 256 | 250,500 | 4.0% | 167.00x |", "| Passed | 10/10 |",
                     "10/10 rounds: per-round failure rate below 26% at 95%", "5.6% at 8 threads",
                     "MpsRegression.Issue100285CommandBufferCommittedOnce",
                     // One line per skip reason (it was one line per skipped test).
                     "- **skipped** (3 tests) this LibTorch was built without CUDA: ParallelCUDA.TwoThreads, "
                     "ParallelCUDA.FourThreads, CudaRegression.Issue6962CublasHandlePerThread",
                     "## Failures", "| none | | | | | |", "**Provenance**: not recorded in these results"});
  const tsreport::Json j = tsreport::Json::parse(read_text(r.dir / "report.json"));
  EXPECT_EQ(str(j, "schema"), "torchstress-report/1");
  EXPECT_EQ(str(j, "summary", "verdict"), "PASS");
  EXPECT_EQ(num(elems(j, "sections", "soak").at(0), "total_ops"), 495317);
  EXPECT_EQ(num(elems(j, "sections", "isolated_rounds").at(0), "passed"), 10);
  const std::string svg = read_text(r.dir / "chart.svg");
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("<polyline"), std::string::npos);
  EXPECT_NE(svg.find("pipelined 1-thread baseline"), std::string::npos);
}

TEST(ReportTool, FailuresAreClassifiedWithRoundThreadIterationAndCrashSignature) {
  const ToolRun r = run_ok("failing");  // no baseline: a failing run is reported, not gated
  const std::string md = read_text(r.dir / "report.md");
  expect_all_in(md, {"**FAIL**", "FAILURE Stress.LayerNorm [wrong value; thread 5, iteration 12]",
                     "FAILURE Stress.LayerNorm [wrong value; thread 6, iteration 30]",
                     "FAILURE TransformerEncoder.IsolatedRounds [crash; round 3]",
                     "[NaN/Inf; round 7, thread 2, iteration 9]", "pytorch/pytorch#100285", "| Passed | 8/10 |",
                     "MpsRegression.Issue100285CommandBufferCommittedOnce [exception; thread 1, iteration 4]"});
}

TEST(ReportTool, LowerPassRateThanTheBaselineExitsOneNamingTheRegressions) {
  const ToolRun base = run_ok("full", "", fs::path(out_dir().string() + "-base"));
  ToolRun r = run_tool("failing", (base.dir / "report.json").string());
  EXPECT_EQ(r.exit_code, 1) << r.out;
  expect_all_in(r.out,
                {"REGRESSION Stress.LayerNorm: passed in the baseline, failed now",
                 "REGRESSION Stress.LayerNorm: new error kind 'wrong value'",
                 "REGRESSION TransformerEncoder.IsolatedRounds rounds: pass rate 100.0% (10/10) -> 80.0% (8/10)"});
  const std::string md = read_text(r.dir / "report.md");
  EXPECT_NE(md.find("## Changes since baseline"), std::string::npos);
  expect_all_in(md, {"REGRESSION TransformerEncoder.IsolatedRounds: new error kind 'crash'"});
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
  const ToolRun base = run_ok("full", "", fs::path(out_dir().string() + "-base"));
  ToolRun r = run_tool("full", (base.dir / "report.json").string());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(read_text(r.dir / "report.md").find("**No regressions.**"), std::string::npos);
}

TEST(ReportTool, GarbageResultsExitTwoWithOneClearLineAndWriteNothing) {
  expect_refused("garbage", "results-torchstress_battery-3001.jsonl:1: not a torchstress results line");
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
  const Report rep = report_of("interrupted");
  const std::string& md = rep.md;
  expect_all_in(md, {"**INCOMPLETE**", "**incomplete** Stress.Transformer: started but wrote no result",
                     "**incomplete** Soak.EightThreads60s: stalled: thread 3 stuck at iteration 4711",
                     "**missing** bench section: no test of this section is in these results (run CTest label 'bench')",
                     "FAILURE Soak.EightThreads60s [stall; thread 3, iteration 4711]"});
  EXPECT_EQ(tsreport::flag_or(at(rep.json, "summary", "complete"), true), false);
}

// ---- the release gate counts lost tests (fixtures: testdata/gate/<variant> against gate/baseline.json,
// in which ParallelCPU.TwoThreads/FourThreads and Stress.LayerNorm/Transformer all passed) ----------

const tsreport::Json& test_named(const tsreport::Json& report, const std::string& name) {
  static const tsreport::Json none;
  for (const auto& t : elems(report, "tests")) {
    if (str(t, "name") == name) return t;
  }
  return none;
}

bool has_string(const tsreport::Json& array, const std::string& s) {
  for (const auto& e : elems(array)) {
    if (str(e) == s) return true;
  }
  return false;
}

// The variant's run exits 1 and names the lost test on stderr and in the report's regressions.
void expect_lost_test_gates(const std::string& variant, const std::string& regression) {
  SCOPED_TRACE(variant);
  ToolRun r = run_tool("gate/" + variant, "gate/baseline.json", out_dir() / variant, /*stderr_only=*/true);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("REGRESSION " + regression + "\n"), std::string::npos) << r.out;
  const tsreport::Json j = tsreport::Json::parse(read_text(r.dir / "report.json"));
  EXPECT_TRUE(has_string(at(j, "changes", "regressions"), regression)) << at(j, "changes").dump(2);
  EXPECT_NE(read_text(r.dir / "report.md").find("- REGRESSION " + regression), std::string::npos);
}

TEST(ReleaseGate, UnchangedRunExitsZeroAndReportJsonKeepsEveryTestsStatus) {
  ToolRun r = run_tool("gate/unchanged", "gate/baseline.json");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(read_text(r.dir / "report.md").find("**No regressions.**"), std::string::npos);
  // Every test's status, not only the sections': the next run's gate reads these.
  const tsreport::Json j = tsreport::Json::parse(read_text(r.dir / "report.json"));
  for (const char* name :
       {"ParallelCPU.TwoThreads", "ParallelCPU.FourThreads", "Stress.LayerNorm", "Stress.Transformer"}) {
    EXPECT_EQ(str(test_named(j, name), "status"), "passed") << name;
    EXPECT_EQ(num(test_named(j, name), "runs"), 1) << name;
  }
}

TEST(ReleaseGate, TestSkippedNowThatPassedInTheBaselineExitsOneNamingIt) {
  expect_lost_test_gates(
      "skipped",
      "ParallelCPU.TwoThreads: passed in the baseline, skipped now: TORCHSTRESS_DEVICE=cuda: this test "
      "runs on the CPU only");
}

TEST(ReleaseGate, TestMissingNowThatPassedInTheBaselineExitsOneNamingIt) {
  expect_lost_test_gates("missing", "ParallelCPU.FourThreads: passed in the baseline, missing now (no result at all)");
}

TEST(ReleaseGate, TestStalledNowThatPassedInTheBaselineExitsOneNamingIt) {
  expect_lost_test_gates("stalled", "Stress.LayerNorm: passed in the baseline, stalled now (hung: the watchdog fired)");
}

TEST(ReleaseGate, TestIncompleteNowThatPassedInTheBaselineExitsOneNamingIt) {
  expect_lost_test_gates("incomplete",
                         "Stress.Transformer: passed in the baseline, incomplete now (started, never ended)");
}

// ---- repeats: testdata/repeats holds two processes run with --gtest_repeat=10 into one folder;
// Stress.LayerNorm failed its 7th repeat in the first file and passed the other 19 ---------------

TEST(Repeats, OneFailingRepeatOfTwentyAcrossTwoFilesFailsTheTestWithItsBound) {
  const ToolRun r = run_ok("repeats");
  const tsreport::Json j = tsreport::Json::parse(read_text(r.dir / "report.json"));
  EXPECT_EQ(str(j, "summary", "verdict"), "FAIL");
  EXPECT_EQ(num(j, "summary", "failed"), 1);
  const tsreport::Json& ln = test_named(j, "Stress.LayerNorm");
  EXPECT_EQ(str(ln, "status"), "failed");
  EXPECT_EQ(num(ln, "runs"), 20);
  EXPECT_EQ(num(ln, "passed_runs"), 19);
  EXPECT_EQ(num(ln, "failed_runs"), 1);
  EXPECT_EQ(str(ln, "runs_text"), "19 of 20 passed");
  const double bound = torchstress::failure_rate_upper_bound(1, 20);  // the isolated rounds' bound
  EXPECT_NEAR(num(ln, "failure_rate_upper_bound_95"), bound, 1e-9);   // report.json keeps 10 digits
  const std::string md = read_text(r.dir / "report.md");
  expect_all_in(
      md,
      {fmt::format("| Stress.LayerNorm | **FAIL** | 19 of 20 passed | below {:.1f}% at 95% confidence |", 100 * bound),
       std::string("| Stress.LayerNorm | wrong value | 19 of 20 passed | wrong value in thread 3, iteration 41"),
       std::string("FAILURE Stress.LayerNorm [wrong value; run 7, thread 3, iteration 41]"),
       // Figures come from the last passing repeat (4002's 10th: 4,210 ops/s), the status from all.
       std::string("| LayerNorm | 4 | 100 | 400/400 (100%) | 4,210 ops/s | **FAIL** (19 of 20 passed) |"),
       std::string("Stress.LayerNorm: 19 of 20 passed.")});
}

TEST(Repeats, SkippedRepeatsCountAsSkippedNotPassed) {
  const Report rep = report_of("repeats");
  const Json& j = rep.json;
  const tsreport::Json& tf = test_named(j, "Stress.Transformer");  // passed 10 times, skipped 10 times
  EXPECT_EQ(str(tf, "status"), "passed");
  EXPECT_EQ(num(tf, "passed_runs"), 10);
  EXPECT_EQ(num(tf, "skipped_runs"), 10);
  EXPECT_EQ(str(tf, "runs_text"), "10 of 10 passed, 10 skipped");
  const tsreport::Json& cuda = test_named(j, "ParallelCUDA.TwoThreads");  // skipped all 20 times
  EXPECT_EQ(str(cuda, "status"), "skipped");
  EXPECT_EQ(num(cuda, "passed_runs"), 0);
  EXPECT_TRUE(at(cuda, "failure_rate_upper_bound_95").is_null());
}

// ---- failures a person can act on: testdata/actionable holds three processes: the battery's
// (knobs overridden, executable but no build folder, backtraces, a crashed and a timed-out round),
// the regression binary's (a build folder, another LibTorch), the self-test's (an older file
// without executable, build_dir, knobs or provenance) ---------------------------------------------

TEST(Failures, TableOpensTheReportWithKindFirstMessageReproAndDetailsLink) {
  const ToolRun r = run_ok("actionable");
  const std::string md = read_text(r.dir / "report.md");
  const auto failures = md.find("## Failures");
  ASSERT_NE(failures, std::string::npos) << md;
  EXPECT_LT(md.find("**Results**"), failures);
  EXPECT_LT(md.find("**Provenance**"), failures);
  EXPECT_LT(failures, md.find("## Summary"));
  expect_all_in(
      md,
      {"| Stress.LayerNorm | exception | 0 of 1 passed | exception in thread 6, iteration 3 (op layernorm on cuda:0): "
       "CUDA error: an illegal memory access was encountered",
       // Knobs from the process line, shell-quoted; no build folder: the executable, quoted.
       "`TORCHSTRESS_THREADS=8 TORCHSTRESS_RESULTS_DIR='/tmp/it'\\''s results' '/opt/ts "
       "build/tests/torchstress_battery' "
       "--gtest_filter=Stress.LayerNorm` | [details](details.md#stress-layernorm) |",
       "| TransformerEncoder.IsolatedRounds | crash, timed out | 0 of 1 passed | round 2: SIGSEGV |",
       // A build folder: CTest.
       "| CudaRegression.GateOpensForEveryWorker | gate | 0 of 1 passed | start gate: worker 3 of 8 did not arrive "
       "within 60.0 s | `ctest --test-dir /work/build -R '^CudaRegression.GateOpensForEveryWorker$' "
       "--no-tests=error --output-on-failure` |",
       // An older file: the binary's name.
       "| Knobs.RejectBadValues | assertion | 0 of 1 passed | Expected equality of these values: code Which is: 0 2 | "
       "`torchstress_selftest --gtest_filter=Knobs.RejectBadValues` |"});
}

TEST(Failures, DetailsFileAndReportJsonCarryBacktracesAndTheCrashedRoundsStderr) {
  const ToolRun r = run_ok("actionable");
  const std::string details = read_text(r.dir / "details.md");
  expect_all_in(details,
                {"<a id=\"stress-layernorm\"></a>", "#1 at::native::(anonymous namespace)::LayerNormKernelImplInternal",
                 "<a id=\"transformerencoder-isolatedrounds-round-2\"></a>", "Segmentation fault (core dumped)",
                 "<a id=\"transformerencoder-isolatedrounds-round-4\"></a>", "thread 5 at iteration 2 in transformer",
                 "<a id=\"knobs-rejectbadvalues\"></a>", "C++ Version: 201703"});
  const tsreport::Json j = tsreport::Json::parse(read_text(r.dir / "report.json"));
  EXPECT_NE(str(elems(test_named(j, "Stress.LayerNorm"), "backtraces").at(0)).find("c10_cuda_check"),
            std::string::npos);
  const auto& rounds = elems(elems(j, "sections", "isolated_rounds").at(0), "rounds");
  EXPECT_EQ(str(rounds.at(1), "stderr_tail"), "[W thread 3] transformer forward\nSegmentation fault (core dumped)\n");
}

TEST(Provenance, HeaderShowsTheEssentialsAndSaysWhenProcessesDisagree) {
  const Report rep = report_of("actionable");
  const std::string& md = rep.md;
  expect_all_in(md, {"| LibTorch | 2.9.1 / 2.8.0 (git 5811a8d7da / ba56102387), Release |",
                     "| BLAS / LAPACK | MKL 2024.1 / MKL |", "| CUDA runtime / cuDNN | 12.4 / 9.1.0 |",
                     "| CUDA driver | 550.54.15 |", "| Threads (intra-op / inter-op) | 16 / 16 |",
                     "| Compiler | GCC 12.2 |", "| Host / OS | gpu-box-1 / Ubuntu 22.04 |",
                     "**Warning: the processes disagree** (several builds share this folder): torch_version: "
                     "2.9.1 (1 process) / 2.8.0 (1 process)"});
  EXPECT_EQ(md.find("C++ Version: 201703"), std::string::npos) << "show_config belongs in report.json, not report.md";
  const Json& j = rep.json;
  EXPECT_EQ(at(j, "run", "show_config").size(), 2u);
  EXPECT_NE(str(elems(j, "run", "show_config").at(0)).find("C++ Version: 201703"), std::string::npos);
  EXPECT_EQ(str(j, "run", "provenance", "cuda_driver"), "550.54.15");
  EXPECT_EQ(at(j, "run", "provenance_disagreements").size(), 2u);  // torch_version and torch_git
}

TEST(SkipReasons, AreGroupedOneLinePerReasonWithACountBeyondFiveTests) {
  const Report rep = report_of("actionable");
  const std::string& md = rep.md;
  const std::string blockers = md.substr(md.find("## Blockers"));
  expect_all_in(blockers, {"- **skipped** (7 tests) this LibTorch was built without CUDA (names in report.json)\n",
                           "- **skipped** (2 tests) needs two CUDA devices; this machine has 1: "
                           "MultiGPU.CrossDeviceCopies, MultiGPU.PeerAccess\n"});
  EXPECT_EQ(blockers.find("ParallelCUDA.Case0"), std::string::npos) << blockers;
  const Json& j = rep.json;
  EXPECT_EQ(elems(j, "skip_groups").at(0)["tests"].size(), 7u);
}

// ---- honest spread ---------------------------------------------------------------------------

TEST(Spread, IsTheInterquartileRangeOverTheMedianSoOneOutlierCannotBlowItUp) {
  // One descheduled repetition once printed a spread of 349,919% as (max - min) / median.
  const torchstress::Summary s = torchstress::summarize({101.0, 350000.0, 100.0, 103.0, 102.0});
  EXPECT_DOUBLE_EQ(s.median, 102.0);
  EXPECT_DOUBLE_EQ(s.iqr, 2.0);
  EXPECT_DOUBLE_EQ(s.spread, 2.0 / 102.0);
  EXPECT_DOUBLE_EQ(s.min, 100.0);
  EXPECT_DOUBLE_EQ(s.max, 350000.0);
  EXPECT_EQ(s.samples, 5);
  EXPECT_DOUBLE_EQ(torchstress::summarize({3.0, 1.0, 2.0}).spread, 0.5);  // quartiles 1.5 and 2.5
}

TEST(Spread, TooNoisyFigureIsFlaggedAndNotComparedWhileAChangeWithinBothSpreadsPasses) {
  // testdata/noisy: batch 64 has a robust spread of 40% (baseline 5%), batch 256 4% (baseline 30%):
  // neither is compared. Batch 1 is 14.9% below the baseline, beyond this run's 4% spread but
  // within the baseline's 20%: no regression.
  ToolRun r = run_tool("noisy", "baseline-noisy.json");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  const std::string md = read_text(r.dir / "report.md");
  expect_all_in(
      md, {"| 64 | 100,000 | too noisy to compare (40.0%) | 25.00x |", "| 1 | 4,000 | 4.0% | 1.00x |",
           "- Bench.Batching batch=64 [cpu]: not compared: too noisy (robust spread 5.0% in the baseline, 40.0% now; "
           "above 25.0%)",
           "- Bench.Batching batch=256 [cpu]: not compared: too noisy (robust spread 30.0% in the baseline, 4.0% now; "
           "above 25.0%)",
           "**No regressions.**"});
  const tsreport::Json j = tsreport::Json::parse(read_text(r.dir / "report.json"));
  for (const auto& m : elems(j, "metrics")) {
    EXPECT_EQ(flag(m, "too_noisy"), str(m, "key") == "Bench.Batching batch=64 [cpu]") << str(m, "key");
  }
}

// ---- schema 2: typed records (testdata/v2). Sections come from the "section" each test declares
// (Threadpool.SharedModel is a parallel test, Allocator.Churn a stress test, ParallelCPU.Experimental
// declares "other"), failures from the typed "errors" (thread, iteration, op, max_abs_diff), not
// from texts; one message holds the bytes 0xff 0xfe, which are not UTF-8 ----------------------------

TEST(SchemaTwo, SectionsComeFromTheDeclaredSectionNotFromTheTestName) {
  const ToolRun r = run_ok("v2");
  const std::string md = read_text(r.dir / "report.md");
  const auto section = [&](const char* heading) {
    const auto b = md.find(heading);
    return b == std::string::npos ? std::string() : md.substr(b, md.find("\n##", b + 1) - b);
  };
  EXPECT_NE(
      section("### Simple Parallel").find("| Threadpool.SharedModel | cpu | 4 | 10 (mlp) | 40/40 (100%) | PASS |"),
      std::string::npos)
      << md;
  EXPECT_EQ(section("### Simple Parallel").find("ParallelCPU.Experimental"), std::string::npos) << md;
  const auto experimental = md.find("| ParallelCPU.Experimental | PASS |");
  ASSERT_NE(experimental, std::string::npos) << md;
  EXPECT_GT(experimental, md.find("## Regression and Other Tests")) << md;
  EXPECT_NE(
      section("### LayerNorm/Transformer Stress").find("| Churn | 8 | 50 | 397/400 (99.2%) | 4,100 ops/s | **FAIL** |"),
      std::string::npos)
      << md;
  EXPECT_NE(section("### Isolated Rounds").find("| Passed | 3/4 |"), std::string::npos) << md;
  expect_all_in(md, {"### torchstress_selftest (1 tests: 1 passed)\nAll passed."});
  // Every section had tests: no "missing" blocker.
  EXPECT_EQ(md.find("**missing**"), std::string::npos) << md;
}

TEST(SchemaTwo, FailuresAreTheTypedErrorsWithTheirFields) {
  const Report rep = report_of("v2");
  const Json& j = rep.json;
  std::vector<const Json*> churn;
  for (const auto& f : elems(j, "failures")) {
    if (str(f, "test") == "Allocator.Churn") churn.push_back(&f);
  }
  ASSERT_EQ(churn.size(), 2u) << tsreport::dump_text(j["failures"], 2);
  EXPECT_EQ(str(*churn[0], "classification"), "wrong value");
  EXPECT_EQ(num(*churn[0], "thread"), 2);
  EXPECT_EQ(num(*churn[0], "iteration"), 7);
  EXPECT_EQ(num(*churn[0], "max_abs_diff"), 0.5);
  EXPECT_EQ(str(*churn[1], "classification"), "NaN/Inf");
  // The kinds the workers counted (error_counts), for the baseline's "new error kind" check.
  const auto& kinds = elems(test_named(j, "Allocator.Churn"), "error_kinds");
  EXPECT_EQ(kinds.size(), 2u);
  expect_all_in(rep.md, {"FAILURE Stress.Transformer [stall; thread 3, iteration 4711]",
                         "FAILURE Encoder.Rounds [NaN/Inf; round 3, thread 1, iteration 9]",
                         "| CudaRegression.HandlePerThread | exception | 0 of 1 passed | exception in thread 1, "
                         "iteration 4 (op mm on cuda:0): CUDA error: invalid resource handle |"});
}

TEST(SchemaTwo, InvalidUtf8InAFailureMessageStillGivesValidJson) {
  const ToolRun r = run_ok("v2");
  for (const char* file : {"report.json", "benchmarks.json"}) {
    EXPECT_TRUE(Json::accept(read_text(r.dir / file))) << file;
  }
  const Json j = Json::parse(read_text(r.dir / "report.json"));
  std::string text;
  for (const auto& f : elems(j, "failures")) {
    if (str(f, "test") == "Allocator.Churn") text += str(f, "text");
  }
  // Each bad byte reads as U+FFFD; the rest of the message stands.
  expect_all_in(text, {"\xef\xbf\xbd\xef\xbf\xbd bad bytes: max abs diff 0.5"});
}

TEST(SchemaTwo, AnUnknownSchemaExitsTwoWithOneLineNamingFileAndLine) {
  expect_refused("schema-future",
                 "results-torchstress_battery-9001.jsonl:1: not a torchstress results line: schema "
                 "\"torchstress-results/3\"");
}

// ---- detection power (testdata/detection: the lines tools/detection writes, one per op, mode,
// instrument and device): a Detection section and report.json's "detection", only where such
// lines are -------------------------------------------------------------------------------------

TEST(Detection, SectionShowsCaughtMissedAndTwinRowsAndReportJsonCarriesTheCells) {
  const Report rep = report_of("detection");
  const std::string& md = rep.md;
  const std::string detection = md_section(md, "\n## Detection\n");
  ASSERT_FALSE(detection.empty()) << md;
  EXPECT_GT(md.find("\n## Detection\n"), md.find("## Regression and Other Tests")) << md;
  expect_all_in(
      detection,
      {"**cpu · plain** (2-core Debian 12 VM): caught 2 of 2 bugs in at least one mode; caught in ≥95% of runs: "
       "threaded 1 of 2, cold 0 of 2; correct twins: 0 false positives in 200 runs.",
       "| Bug op | Bug class | Expected symptom | threaded | cold |",
       "| `torchstress_zoo::lazy_init` | unguarded lazy initialisation | crash | 0/20 — missed | "
       "14/20 · 2.40 s (worst 7.10) · crash 12, exception 2 |",
       "| `torchstress_zoo::static_scratch` | shared static scratch workspace | wrong value | "
       "19/20 · 0.81 s (worst 1.93) · wrong value | 0/20 — missed (one thread per process: nothing to race) |",
       "Correct twins (false positives):\n\n| Twin op | threaded | cold |\n|---|---|---|\n"
       "| `torchstress_zoo::static_scratch_fixed` | 0/100 | 0/100 |",
       "**cpu · tsan** (2-core Debian 12 VM): caught 1 of 1 bugs in at least one mode",
       "| `torchstress_zoo::static_scratch` | shared static scratch workspace | wrong value | "
       "5/5 · 3.20 s (worst 4.00) · sanitizer report |"});
  const Json& j = rep.json;
  const auto& cells = elems(j, "detection");
  ASSERT_EQ(cells.size(), 7u) << tsreport::dump_text(at(j, "detection"), 2);
  EXPECT_EQ(str(cells[0], "op"), "torchstress_zoo::static_scratch");
  EXPECT_EQ(num(cells[0], "caught"), 19);
  EXPECT_EQ(num(cells[0], "kinds", "wrong value"), 19);
  EXPECT_TRUE(flag(cells[4], "twin"));
  EXPECT_TRUE(at(cells[1], "median_s").is_null());
  EXPECT_FALSE(cells[0].contains("time")) << "the writer's fields are not the cell's";
}

TEST(Sweep, SectionIsAnOpByDtypeGridOfThreadedAndColdVerdictsListingEveryCaseThatDidNotPass) {
  ToolRun r = run_tool("sweep");
  const std::string md = read_text(r.dir / "report.md");
  const std::string sweep = section_with(
      md, "\n## Op Sweep\n",
      {"8 tests of 3 op overloads. cold: 2 crash. threaded: 1 hang, 3 pass, 1 skipped, 1 wrong value.",
       "| Op | float32 | float16 | int64 |",
       "| add_Tensor | **wrong value** / **crash** | | ok / **crash** |",  // worst of the layouts
       "| mm | | skip / - | |", "| sort | | | **hang** / - |",
       "| Op/Sweep.Threaded/add_Tensor_float32_strided | wrong value | wrong value in thread 3, iteration 7",
       "| Op/Sweep.Cold/add_Tensor_float32_contiguous | crash | started but wrote no result"});
  EXPECT_EQ(sweep.find("add_Tensor_float32_contiguous | pass"), std::string::npos) << "passes are only in the grid";
  EXPECT_EQ(md_section(md, "\n## Regression and Other Tests\n").find("Op/Sweep."), std::string::npos);
  const Json j = Json::parse(read_text(r.dir / "report.json"));
  const auto& cases = elems(j, "sections", "sweep");
  ASSERT_EQ(cases.size(), 8u);
  std::map<std::string, std::string> verdicts;
  for (const auto& c : cases) verdicts[str(c, "mode") + " " + str(c, "case")] = str(c, "verdict");
  EXPECT_EQ(verdicts["threaded add_Tensor_float32_contiguous"], "pass");
  EXPECT_EQ(verdicts["threaded add_Tensor_float32_strided"], "wrong value");
  EXPECT_EQ(verdicts["cold add_Tensor_int64_contiguous"], "crash") << "a crashed round";
  EXPECT_EQ(verdicts["threaded sort_int64_contiguous"], "hang");
}

// ---- pressure applied (testdata/pressure: Workload.* and ParallelCPU.TwoThreads of the battery, 8 sweep
// cases, run with TORCHSTRESS_BUDGET_SECONDS=1) ---------------------------------------------------

TEST(Pressure, SectionListsWhatEachStressTestRanWithTheSweepAsOneLineOfRanges) {
  const Report rep = report_of("pressure");
  const std::string section = section_with(
      rep.md, "\n## Pressure applied\n",
      {"Budget: `TORCHSTRESS_BUDGET_SECONDS=1`.",
       "**Op sweep** (8 cases; min / median / max): threaded 5 cases, 16,314 / 27,280 / 60,412 calls in 0.71 / "
       "0.71 / 0.73 s; cold 3 cases, 2 / 2 / 2 rounds in 3.21 / 3.26 / 3.34 s; 8 / 8 / 8 threads.",
       "| Test | Device | Warm calls | Warm s | Free calls | Free s | Soak calls | Soak s | Cold rounds | Cold s "
       "| Threads |",
       "| Workload.ColdRounds | cpu | - | - | - | - | - | - | 2 | 0.63 | - |",
       "| Workload.Threaded | cpu | 3,757 | 0.12 | 19,103 | 0.45 | 3,443 | 0.15 | - | - | 8 |"});
  // A test that recorded no pressure figure (a plain parallel test) is not listed; sweep cases are ranges.
  EXPECT_EQ(section.find("ParallelCPU.TwoThreads"), std::string::npos) << section;
  EXPECT_EQ(section.find("| Op/Sweep."), std::string::npos) << section;
  const Json& p = at(rep.json, "sections", "pressure");
  ASSERT_EQ(elems(p, "tests").size(), 2u) << tsreport::dump_text(p, 2);
  EXPECT_EQ(num(elems(p, "tests")[1], "calls"), 26303) << "the three warm parts together";
  EXPECT_EQ(num(elems(p, "tests")[1], "free_calls"), 19103);
  EXPECT_EQ(str(elems(p, "tests")[1], "variety_seed"), "81873769");
  EXPECT_EQ(num(p, "sweep", "calls", "median"), 27280);
  EXPECT_EQ(elems(p, "sweep", "rows").size(), 8u) << "report.json keeps every sweep case";
  EXPECT_EQ(report_of("full").md.find("## Pressure applied"), std::string::npos) << "none recorded: no section";
}

TEST(Detection, ResultsWithoutDetectionLinesHaveNoDetectionSection) {
  for (const char* fixture : {"full", "v2"}) {
    const ToolRun r = run_ok(fixture, "", fs::path(out_dir().string() + "-" + fixture));
    EXPECT_EQ(read_text(r.dir / "report.md").find("## Detection"), std::string::npos) << fixture;
    EXPECT_FALSE(Json::parse(read_text(r.dir / "report.json")).contains("detection")) << fixture;
  }
}

TEST(Detection, ALineThatCannotBePlacedExitsTwoNamingFileLineAndField) {
  expect_refused("detection-bad",
                 "results-torchstress_detection_table-7002.jsonl:2: not a torchstress results line: "
                 "detection line: \"runs\" must be a whole number >= 0");
}

// ---- benchmarks.json: Google Benchmark's JSON format, for its tools/compare.py -----------------

const Json* bench_named(const Json& b, const std::string& name) {
  for (const auto& e : elems(b, "benchmarks")) {
    if (str(e, "name") == name) return &e;
  }
  return nullptr;
}

void expect_google_benchmark_shape(const Json& b) {
  for (const char* key : {"date", "host_name", "executable", "num_cpus", "mhz_per_cpu", "caches", "library_build_type"})
    EXPECT_TRUE(at(b, "context").contains(key)) << key;
  ASSERT_FALSE(elems(b, "benchmarks").empty());
  for (const auto& e : elems(b, "benchmarks")) {
    for (const char* key : {"name", "run_name", "run_type", "repetitions", "threads", "iterations", "real_time",
                            "cpu_time", "time_unit", "family_index", "per_family_instance_index"})
      EXPECT_TRUE(e.contains(key)) << key << " in " << tsreport::dump_text(e);
    EXPECT_TRUE(str(e, "run_type") == "iteration" || str(e, "run_type") == "aggregate") << str(e, "name");
    if (str(e, "run_type") == "aggregate") {
      EXPECT_EQ(str(e, "name"), str(e, "run_name") + "_" + str(e, "aggregate_name"));
    } else {
      EXPECT_TRUE(e.contains("repetition_index")) << str(e, "name");
    }
  }
}

TEST(BenchmarksJson, OldResultsGiveMedianAggregatesInGoogleBenchmarksFormat) {
  const ToolRun r = run_ok("full");
  const Json b = Json::parse(read_text(r.dir / "benchmarks.json"));
  expect_google_benchmark_shape(b);
  const Json* at8 = bench_named(b, "Bench.ScalingCurves/mlp/threads:8_median");
  ASSERT_NE(at8, nullptr) << tsreport::dump_text(b, 2);
  EXPECT_EQ(str(*at8, "run_type"), "aggregate");
  EXPECT_EQ(str(*at8, "aggregate_name"), "median");
  EXPECT_EQ(num(*at8, "threads"), 8);
  EXPECT_EQ(num(*at8, "items_per_second"), 4517);
  EXPECT_NEAR(num(*at8, "real_time"), 1e9 / 4517, 1e-6);
  EXPECT_EQ(str(*at8, "time_unit"), "ns");
  EXPECT_NE(bench_named(b, "Bench.ScalingCurves/mlp/pipelined_median"), nullptr);
  const Json* b256 = bench_named(b, "Bench.Batching/mlp/batch:256_median");
  ASSERT_NE(b256, nullptr);
  EXPECT_EQ(num(*b256, "items_per_second"), 250500);
  // These results carry no per-repetition rates: aggregates only.
  for (const auto& e : elems(b, "benchmarks")) EXPECT_EQ(str(e, "run_type"), "aggregate") << str(e, "name");
}

TEST(BenchmarksJson, PerRepetitionRatesGiveIterationEntriesAndMeanStddevAggregates) {
  const ToolRun r = run_ok("v2");
  const Json b = Json::parse(read_text(r.dir / "benchmarks.json"));
  expect_google_benchmark_shape(b);
  int reps = 0;
  for (const auto& e : elems(b, "benchmarks")) {
    if (str(e, "run_name") == "Scaling.Matmul/matmul128/threads:8" && str(e, "run_type") == "iteration") ++reps;
  }
  EXPECT_EQ(reps, 5);
  for (const char* agg : {"median", "mean", "stddev", "cv"})
    EXPECT_NE(bench_named(b, std::string("Scaling.Matmul/matmul128/threads:8_") + agg), nullptr) << agg;
  EXPECT_EQ(num(*bench_named(b, "Scaling.Matmul/matmul128/threads:8_median"), "items_per_second"), 7000);
  EXPECT_NE(bench_named(b, "Scaling.Batches/mlp/batch:8_median"), nullptr);
  EXPECT_EQ(str(b, "context", "library_build_type"), "release");
}

}  // namespace

// ---- known upstream bugs (tests/known_bugs): caught where affected, passed elsewhere ------------

TEST(KnownBugs, SectionListsEachBugWithItsRangeThisLibTorchAndCaughtPassedOrSkipped) {
  const Report rep = report_of("known-bugs");
  const std::string& md = rep.md;
  const std::string kb = section_with(
      md, "\n## Known upstream bugs\n",
      {"This LibTorch: 2.4.1. 5 tests: 3 caught, 1 passed, 1 skipped.",
       "| AutocastTls.LaunchedTaskSeesTheCallersCpuAutocastDtype | pytorch/pytorch#125186, #132715 (fix: PR #133938) | "
       "<= 2.4.1 (fixed in 2.5.0) | 2.4.1 (affected) | caught, as expected (wrong dtype) |",
       "| AutocastTls.CallingThreadSeesItsOwnCpuAutocastDtype |", "| 2.4.1 | passed (control) |",
       "| CudaAutocast.BackwardOfIndexPutUnderBf16AutocastRuns |", "| skipped | this LibTorch was built without CUDA |",
       "| caught, as expected (crash: SIGSEGV) | the child process died of SIGSEGV |",
       "| caught, as expected (hang) |"});
  EXPECT_NE(md.find("All 4 tests that ran passed (1 skipped)."), std::string::npos) << "a caught known bug passes";
  EXPECT_EQ(md_section(md, "\n## Regression and Other Tests\n").find("AutocastTls."), std::string::npos);
  const Json& j = rep.json;
  const auto& bugs = elems(j, "sections", "known_bugs");
  ASSERT_EQ(bugs.size(), 5u);
  EXPECT_EQ(str(bugs[0], "verdict"), "caught");
  EXPECT_EQ(str(bugs[0], "affected_here"), "yes");
  EXPECT_EQ(str(bugs[1], "role"), "control");
}

TEST(KnownBugs, GateCountsACaughtBugAsExpectedAndOneNoLongerCaughtOnAnAffectedVersionAsARegression) {
  const ToolRun base = run_ok("known-bugs", "", fs::path(out_dir().string() + "-base"));
  // Against itself: every bug caught as before; caught is expected, a note, never a regression.
  ToolRun same = run_tool("known-bugs", (base.dir / "report.json").string(), fs::path(out_dir().string() + "-same"));
  EXPECT_EQ(same.exit_code, 0) << same.out;
  EXPECT_NE(read_text(same.dir / "report.md")
                .find("known bug AutocastTls.LaunchedTaskSeesTheCallersCpuAutocastDtype: "
                      "caught as expected (wrong dtype)"),
            std::string::npos);
  // The same LibTorch, the autocast bug no longer caught: a regression naming the bug and the version.
  ToolRun lost =
      run_tool("known-bugs-missed", (base.dir / "report.json").string(), fs::path(out_dir().string() + "-lost"));
  EXPECT_EQ(lost.exit_code, 1) << lost.out;
  const std::string md = read_text(lost.dir / "report.md");
  expect_all_in(md, {"REGRESSION known bug AutocastTls.LaunchedTaskSeesTheCallersCpuAutocastDtype: NOT caught on an "
                     "affected version: pytorch/pytorch#125186, #132715 (fix: PR #133938) on LibTorch 2.4.1 "
                     "(affected: <= 2.4.1 (fixed in 2.5.0))"});
  EXPECT_NE(md_section(md, "\n## Known upstream bugs\n").find("**NOT CAUGHT** on an affected version"),
            std::string::npos);
}

// ---- controls and what CTest ran (testdata/controls, testdata/controls-missed) -------------------

TEST(Controls, EachControlIsCountedApartWithItsExpectedKind) {
  const Report rep = report_of("controls");
  const std::string& md = rep.md;
  const std::string section = section_with(
      md, "\n## Controls\n",
      {"**Caught 3 of 3**", "| Control | Expected kind | Result | Seen |",
       "| SweepControls.ComparisonCatchesAnotherThreadsDraws_randn | wrong value | caught: caught 1 of 1, expected "
       "wrong value | wrong value |",
       "| SweepUserOps.CatchesZooBug_contended_trylock | exception | caught: caught 1 of 1, expected exception | "
       "exception |",
       "| Detection/Zoo.BugIsCaughtWithItsSymptomAndTwinPasses/lock_order | hang | caught: caught 1 of 1, expected "
       "hang | hang |"});
  const Json& j = rep.json;
  EXPECT_EQ(str(j, "summary", "verdict"), "PASS");
  EXPECT_EQ(num(j, "summary", "controls"), 3);
  EXPECT_EQ(num(j, "summary", "controls_caught"), 3);
  // A control's expected failure is no failure of the run; its twin (same gtest case, another CTest
  // test) is an ordinary test under its CTest name.
  EXPECT_EQ(num(j, "summary", "tests"), 2);
  EXPECT_EQ(num(j, "summary", "failed"), 0);
  std::vector<std::string> tests;
  for (const auto& t : elems(j, "tests")) tests.push_back(str(t, "name"));
  EXPECT_EQ(tests, (std::vector<std::string>{"Op/Sweep.Threaded/add_Tensor_float32_contiguous",
                                             "SweepControls.OneThreadPasses_randn"}));
  EXPECT_NE(str(j, "summary", "text").find("Controls (tests that must see a failure): 3 of 3 caught"),
            std::string::npos)
      << str(j, "summary", "text");
  EXPECT_EQ(md_section(md, "\n## Failures\n").find("Sweep"), std::string::npos) << "no failure listed";
}

TEST(Controls, AControlThatStopsCatchingFailsTheVerdictAndTheReleaseGate) {
  const fs::path base_dir = fs::path(out_dir().string() + "-baseline");
  const ToolRun base = run_ok("controls", "", base_dir);
  ToolRun r = run_tool("controls-missed", (base_dir / "report.json").string());
  EXPECT_EQ(r.exit_code, 1) << r.out;
  expect_all_in(
      r.out,
      {"REGRESSION control SweepControls.ComparisonCatchesAnotherThreadsDraws_randn: caught 0 of 1, expected wrong "
       "value; saw no failure",
       "REGRESSION control SweepUserOps.CatchesZooBug_contended_trylock: caught 0 of 1, expected exception; saw "
       "wrong value"});
  const Json j = Json::parse(read_text(r.dir / "report.json"));
  EXPECT_EQ(str(j, "summary", "verdict"), "FAIL");
  EXPECT_EQ(num(j, "summary", "controls_missed"), 2);
  const std::string md = read_text(r.dir / "report.md");
  expect_all_in(md, {"| SweepControls.ComparisonCatchesAnotherThreadsDraws_randn | control missed: expected wrong "
                     "value, saw no failure |",
                     "| **MISSED**: caught 0 of 1, expected exception (run 1: failed (saw wrong value): Value of: "
                     "r.errors) | wrong value |",
                     "CONTROL MISSED SweepUserOps.CatchesZooBug_contended_trylock"});
  // Without a baseline the verdict alone fails the run.
  ToolRun alone = run_tool("controls-missed", "", fs::path(out_dir().string() + "-alone"));
  EXPECT_EQ(alone.exit_code, 0) << "the report is written; the verdict says FAIL";
  EXPECT_NE(alone.out.find("FAIL:"), std::string::npos) << alone.out;
}

TEST(Controls, TheReportCountsEveryTestCtestRanAndNamesThoseWithoutResults) {
  const std::string junit = std::string(TSREPORT_TESTDATA) + "/controls/junit-quick.xml";
  ToolRun r = run_tool_with("controls", " --ctest-junit '" + junit + "'", out_dir());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const Json j = Json::parse(read_text(r.dir / "report.json"));
  EXPECT_EQ(num(j, "ctest", "tests"), 7);
  EXPECT_EQ(num(j, "ctest", "counted_as_tests"), 2);
  EXPECT_EQ(num(j, "ctest", "counted_as_controls"), 3);
  ASSERT_EQ(at(j, "ctest", "without_results").size(), 2u);
  EXPECT_EQ(str(at(j, "ctest", "without_results")[0], "name"), "BadInput.ScriptsAndToolsExitWith2AndOneLine");
  EXPECT_EQ(at(j, "ctest", "results_outside_ctest").size(), 0u);
  const std::string md = read_text(r.dir / "report.md");
  expect_all_in(md, {"**CTest** ran 7 test(s): 2 are counted above as tests, 3 as controls, 2 wrote no results line "
                     "of their own name (listed below).",
                     "`SweepCatalogue.BadEntryIsOneLine_bad_dtype` (passed)"});
  EXPECT_NE(str(j, "summary", "text").find("CTest ran 7 test(s)"), std::string::npos) << str(j, "summary", "text");
}

TEST(Controls, HeaderKnobsAreTheRunsAndATestsOwnEnvironmentIsListedApart) {
  const Report rep = report_of("controls");
  const std::string& md = rep.md;
  expect_all_in(md, {"**Knobs overridden** (the run's: set in every process, at the value most had): "
                     "`TORCHSTRESS_DEVICE=cpu`\n",
                     "`TORCHSTRESS_THREADS=1` (1 of 5)"});
  EXPECT_EQ(md.find("TORCHSTRESS_CTEST_NAME="), md.find("TORCHSTRESS_CTEST_NAME=SweepControls.ComparisonCatches"))
      << "bookkeeping is no knob of the header";
}

TEST(Controls, AMissingJunitFileIsOneLineAndExit2) {
  ToolRun r = run_tool_with("controls", " --ctest-junit /nonexistent/junit.xml", out_dir());
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_EQ(r.out, "torchstress_report: CTest JUnit file /nonexistent/junit.xml cannot be read\n");
}

TEST(Controls, AControlTheBaselineCaughtAndThisRunLostIsARegression) {
  const fs::path base_dir = fs::path(out_dir().string() + "-baseline");
  const ToolRun base = run_ok("controls", "", base_dir);
  ToolRun r = run_tool("v2", (base_dir / "report.json").string());  // a run with no control at all
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("REGRESSION control SweepUserOps.CatchesZooBug_contended_trylock: caught in the baseline, "
                       "missing now (no result at all)"),
            std::string::npos)
      << r.out;
}
