// The one main() of every test binary: sets policy for all of them (threadsafe death tests,
// argv[0] kept for re-execution, logging, knobs validated before any test, device inventory
// logged once, results written as tests end).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "torchstress/device.h"
#include "torchstress/exit_codes.h"
#include "torchstress/fault_injection.h"
#include "torchstress/isolated_rounds.h"
#include "torchstress/knobs.h"
#include "torchstress/log.h"
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

}  // namespace

int main(int argc, char** argv) {
  bool listing = false;
  bool child = false;
  bool print_knobs = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--torchstress_print_knobs") == 0) print_knobs = true;
    if (std::strncmp(argv[i], "--gtest_list_tests", 18) == 0) listing = true;
    if (std::strncmp(argv[i], "--gtest_internal_run_death_test", 31) == 0) child = true;
  }
  ::testing::InitGoogleMock(&argc, argv);
  // Re-execute the binary for death tests: CUDA and Metal state must never cross a fork.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  torchstress::set_self_executable(torchstress::absolute_path(argv[0]));
  torchstress::set_in_death_test_child(child);
  torchstress::init_logging();

  try {
    torchstress::Knobs k = torchstress::load_knobs_from_environment();
    torchstress::parse_fault_spec(k.inject);
    torchstress::set_knobs(std::move(k));
  } catch (const torchstress::KnobError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return torchstress::kExitUsage;
  }
  if (print_knobs) return torchstress::print_numeric_knobs();  // CTest reads its TIMEOUTs from this
  if (listing) return RUN_ALL_TESTS();
  // A device asked for by name must exist: a run for CUDA never passes by skipping every CUDA test.
  if (!child) {
    if (const std::string problem = torchstress::requested_device_problem(); !problem.empty()) {
      std::fprintf(stderr, "%s\n", problem.c_str());
      return torchstress::kExitUsage;
    }
  }

  if (!child) {
    auto log = torchstress::logger("main");
    std::string line;
    for (const auto& v : torchstress::knobs().all) {
      line += " " + v.name + "=" + (v.text.empty() ? "\"\"" : v.text) + (v.overridden ? "*" : "");
    }
    log->info("knobs (TORCHSTRESS_*, * = from environment):{}", line);
    log->info("inventory: {}", torchstress::inventory_summary());
    log->info("device under test: {} ({})", torchstress::device_label(torchstress::device_under_test()),
              torchstress::hardware_name(torchstress::device_under_test()));
    if (!torchstress::knobs().inject.empty()) {
      log->warn("fault injection active: TORCHSTRESS_INJECT={} (a test aid: failures are expected)",
                torchstress::knobs().inject);
    }
    const char* build_dir = std::getenv("TORCHSTRESS_CTEST_DIR");  // set by CTest: repro commands use it
    auto& results = torchstress::results_log();
    results.open(torchstress::knobs().results_dir, binary_name(argv[0]));
    results.append(torchstress::JsonLine()
                       .add("type", "process")
                       .add("torch", torchstress::torch_version())
                       .add("device", torchstress::device_label(torchstress::device_under_test()))
                       .add("hardware", torchstress::hardware_name(torchstress::device_under_test()))
                       .add("inventory", torchstress::inventory_summary())
                       .add("cuda_streams", torchstress::to_string(torchstress::knobs().cuda_streams))
                       .add("sync", torchstress::to_string(torchstress::knobs().sync))
                       .add("inject", torchstress::knobs().inject)
                       .add("executable", torchstress::self_executable())
                       .add("build_dir", build_dir ? build_dir : "")
                       .add_raw("knobs", overridden_knobs_json())
                       .add_raw("provenance", torchstress::provenance_json()));
    ::testing::UnitTest::GetInstance()->listeners().Append(new torchstress::ResultsListener);
  }
  return RUN_ALL_TESTS();
}
