// torchstress_report on crash and stall records (testdata/crashed): a test that died by a signal
// (its "crashed" line, written by the crash handler) is a failure like any other: the Failures
// table names the test, the kind (crash) and the signal with the crashing worker's thread,
// iteration, op and input; details.md lists every worker's state; report.json keeps the workers.
// A stall written by the watchdog carries its workers the same way. Neither reads as incomplete.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "report_json.h"

namespace {

namespace fs = std::filesystem;
using tsreport::at;
using tsreport::elems;
using tsreport::Json;
using tsreport::str;

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ReportCrashRecords, CrashedTestIsAFailureNamingSignalWorkerAndEveryOtherWorker) {
  const fs::path dir = fs::temp_directory_path() / ("tsreport-crash-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::string cmd = std::string("'") + TSREPORT_TOOL + "' --host fixture-host --results '" + TSREPORT_TESTDATA +
                          "/crashed' --out '" + dir.string() + "' 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = ::pclose(p);
  // Exit 0: the report was written (failures are in it; only a baseline regression exits 1).
  ASSERT_TRUE(WIFEXITED(status)) << out;
  EXPECT_EQ(WEXITSTATUS(status), 0) << out;

  const std::string md = read_text(dir / "report.md");
  for (const char* text : {"Workload.Threaded", "crash", "SIGSEGV in thread 3 at iteration 5 in matmul128 (input 1)",
                           "Soak.EightThreadsShort", "thread 1 stuck at iteration 42 in torchstress_zoo::lock_order"}) {
    EXPECT_NE(md.find(text), std::string::npos) << "report.md lacks: " << text << "\n" << md;
  }
  EXPECT_EQ(md.find("started but wrote no result"), std::string::npos) << "a crash record is not 'incomplete':\n" << md;

  const std::string details = read_text(dir / "details.md");
  for (const char* text : {"Workers when it died (SIGSEGV)", "| thread | op | iteration | input | ops done | state |",
                           "| 3 | matmul128 | 5 | 1 | 5 | running", "| 2 | check | 7 | - | 7 | running",
                           "Workers when it happened", "| 1 | torchstress_zoo::lock_order | 42 | 0 | 42 | running (10.201 s"}) {
    EXPECT_NE(details.find(text), std::string::npos) << "details.md lacks: " << text << "\n" << details;
  }

  const Json report = Json::parse(read_text(dir / "report.json"));
  bool crash_seen = false;
  for (const auto& f : elems(report, "failures")) {
    if (str(f, "test") != "Workload.Threaded") continue;
    crash_seen = true;
    EXPECT_EQ(str(f, "kind"), "crash");
    EXPECT_EQ(str(f, "signal"), "SIGSEGV");
    EXPECT_EQ(at(f, "thread"), 3);
    EXPECT_EQ(at(f, "iteration"), 5);
    EXPECT_EQ(at(f, "workers").size(), 4u);
  }
  EXPECT_TRUE(crash_seen) << report.dump(1);
  for (const auto& t : elems(report, "tests")) {
    if (str(t, "name") == "Workload.Threaded") {
      EXPECT_EQ(str(t, "status"), "failed");
    }
    if (str(t, "name") == "Soak.EightThreadsShort") {
      EXPECT_EQ(str(t, "status"), "stalled");
    }
  }
  fs::remove_all(dir);
}

}  // namespace
