// The one main() of every test binary: sets policy for all of them (threadsafe death tests,
// argv[0] kept for re-execution, logging, knobs validated before any test, device inventory
// logged once, results written as tests end).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "torchstress/crash_record.h"
#include "torchstress/device.h"
#include "torchstress/exit_codes.h"
#include "torchstress/isolated_rounds.h"
#include "torchstress/knobs.h"
#include "torchstress/log.h"
#include "torchstress/op_library.h"
#include "torchstress/provenance.h"
#include "torchstress/results.h"
#include "torchstress/subprocess.h"

namespace {

std::string binary_name(const std::string& argv0) { return argv0.substr(argv0.rfind('/') + 1); }

// {"TORCHSTRESS_THREADS":"4", ...}: the knobs a repro command must set again.
std::string overridden_knobs_json() {
  torchstress::JsonLine line;
  for (const auto& v : torchstress::knobs().all) {
    if (v.overridden) line.add("TORCHSTRESS_" + v.name, v.text);
  }
  return line.str();
}

// The start-up log: knobs in force, backends, device under test, any injection.
void log_start() {
  const auto& k = torchstress::knobs();
  auto log = torchstress::logger("main");
  std::string line;
  for (const auto& v : k.all)
    line += " " + v.name + "=" + (v.text.empty() ? "\"\"" : v.text) + (v.overridden ? "*" : "");
  log->info("knobs (TORCHSTRESS_*, * = from environment):{}", line);
  log->info("inventory: {}", torchstress::inventory_summary());
  log->info("device under test: {} ({})", torchstress::device_label(torchstress::device_under_test()),
            torchstress::hardware_name(torchstress::device_under_test()));
  if (k.inject.kind != torchstress::FaultKind::kNone) {
    log->warn("fault injection active: TORCHSTRESS_INJECT={} (a test aid: failures are expected)", k.text_of("INJECT"));
  }
}

// Opens this process's results file, writes its "process" line, and listens for test ends.
void open_results(const std::string& argv0) {
  const auto& k = torchstress::knobs();
  const std::string device = torchstress::device_label(torchstress::device_under_test());
  const char* build_dir = std::getenv("TORCHSTRESS_CTEST_DIR");  // set by CTest: repro commands use it
  auto& results = torchstress::results_log();
  results.open(k.results_dir, binary_name(argv0), device);
  results.append(torchstress::JsonLine()
                     .add("type", "process")
                     .add("torch", torchstress::torch_version())
                     .add("device", device)
                     .add("hardware", torchstress::hardware_name(torchstress::device_under_test()))
                     .add("inventory", torchstress::inventory_summary())
                     .add("cuda_streams", torchstress::to_string(k.cuda_streams))
                     .add("sync", torchstress::to_string(k.sync))
                     .add("inject", k.text_of("INJECT"))
                     .add("executable", torchstress::self_executable())
                     .add("build_dir", build_dir ? build_dir : "")
                     .add_raw("knobs", overridden_knobs_json())
                     .add_raw("provenance", torchstress::provenance_json()));
  ::testing::UnitTest::GetInstance()->listeners().Append(new torchstress::ResultsListener);
}

// GoogleTest's filter grammar: POSITIVE[-NEGATIVE], each a ':'-separated list of globs (* and ?).
bool glob_matches(const char* pattern, const char* name) {
  if (*pattern == '\0' || *pattern == ':') return *name == '\0';
  if (*pattern == '*') return glob_matches(pattern + 1, name) || (*name != '\0' && glob_matches(pattern, name + 1));
  if (*name == '\0' || (*pattern != '?' && *pattern != *name)) return false;
  return glob_matches(pattern + 1, name + 1);
}
bool any_glob_matches(const std::string& globs, const std::string& name) {
  for (size_t start = 0; start <= globs.size();) {
    const size_t end = std::min(globs.find(':', start), globs.size());
    if (glob_matches(globs.c_str() + start, name.c_str())) return true;
    start = end + 1;
  }
  return false;
}

// A --gtest_filter (or GTEST_FILTER) that selects no test is a typo, not a pass: the one line
// naming it, or "" when it selects at least one test (disabled ones only with
// --gtest_also_run_disabled_tests, as gtest runs them).
std::string empty_filter_problem(const std::string& binary) {
  const std::string filter = GTEST_FLAG_GET(filter);
  const auto dash = filter.find('-');
  std::string positive = dash == std::string::npos ? filter : filter.substr(0, dash);
  const std::string negative = dash == std::string::npos ? "" : filter.substr(dash + 1);
  if (positive.empty()) positive = "*";
  const auto& unit = *::testing::UnitTest::GetInstance();
  int total = 0;
  for (int i = 0; i < unit.total_test_suite_count(); ++i) {
    const auto* suite = unit.GetTestSuite(i);
    for (int j = 0; j < suite->total_test_count(); ++j) {
      ++total;
      const std::string name = std::string(suite->name()) + "." + suite->GetTestInfo(j)->name();
      const bool disabled = name.rfind("DISABLED_", 0) == 0 || name.find(".DISABLED_") != std::string::npos;
      if (disabled && !GTEST_FLAG_GET(also_run_disabled_tests)) continue;
      if (any_glob_matches(positive, name) && !any_glob_matches(negative, name)) return "";
    }
  }
  return "torchstress: --gtest_filter='" + filter + "' selects no test of " + binary + " (" + std::to_string(total) +
         " tests); accepted: a filter that matches a name --gtest_list_tests prints";
}

}  // namespace

int main(int argc, char** argv) {
  bool listing = false;
  bool child = false;
  bool print_knobs = false;
  bool check_device = false;  // with --torchstress_print_knobs: the requested device must exist too
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--torchstress_print_knobs") == 0) print_knobs = true;
    if (std::strcmp(argv[i], "--torchstress_check_device") == 0) check_device = true;
    if (std::strncmp(argv[i], "--gtest_list_tests", 18) == 0) listing = true;
    if (std::strncmp(argv[i], "--gtest_internal_run_death_test", 31) == 0) child = true;
  }
  ::testing::InitGoogleMock(&argc, argv);
  // Re-execute the binary for death tests: CUDA and Metal state must never cross a fork.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  torchstress::set_self_executable(torchstress::absolute_path(argv[0]));
  torchstress::set_in_death_test_child(child);
  // A fatal signal in any test, in this process or a round's child, is recorded before it ends it.
  torchstress::install_crash_handler();
  torchstress::init_logging();

  try {
    torchstress::set_knobs(torchstress::load_knobs_from_environment());
  } catch (const torchstress::KnobError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return torchstress::kExitUsage;
  }
  // CTest reads its TIMEOUTs from --torchstress_print_knobs; the CI driver checks knobs and device with it.
  if (print_knobs && !check_device) return torchstress::print_numeric_knobs();
  // A user's op libraries register their ops now, in every process (a round's child too), so the
  // workload knob can name them.
  for (const std::string& problem :
       {torchstress::load_op_libraries(torchstress::knobs().op_library), torchstress::workload_knob_problem()}) {
    if (problem.empty()) continue;
    std::fprintf(stderr, "%s\n", problem.c_str());
    return torchstress::kExitUsage;
  }
  if (listing || child) return RUN_ALL_TESTS();
  if (const std::string problem = empty_filter_problem(binary_name(argv[0])); !problem.empty()) {
    std::fprintf(stderr, "%s\n", problem.c_str());
    return torchstress::kExitUsage;
  }
  // A device asked for by name must exist: a run for CUDA never passes by skipping every CUDA test.
  if (const std::string problem = torchstress::requested_device_problem(); !problem.empty()) {
    std::fprintf(stderr, "%s\n", problem.c_str());
    return torchstress::kExitUsage;
  }
  if (print_knobs) return torchstress::print_numeric_knobs();
  log_start();
  open_results(argv[0]);
  return RUN_ALL_TESTS();
}
