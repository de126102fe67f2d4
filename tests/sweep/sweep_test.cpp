// The op sweep: every case of the op catalogue (tests/sweep/op_catalogue.json, plus a user's
// TORCHSTRESS_OP_CATALOGUE) run two ways through the dispatcher, every output checked:
//   Op/Sweep.Threaded/<case>  THREADS workers x SWEEP_ITERATIONS calls, warm (the runner's defaults)
//   Op/Sweep.Cold/<case>      a fresh process whose THREADS workers make their first call at once
// `ctest -R index_select` runs every case of one op. A case whose op has no kernel for this dtype
// on this device is skipped with the op's message (that is not a threading failure).
#include <gmock/gmock.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "torchstress/device.h"
#include "torchstress/exit_codes.h"
#include "torchstress/isolated_rounds.h"
#include "torchstress/knobs.h"
#include "torchstress/matchers.h"
#include "torchstress/op_sweep.h"
#include "torchstress/results.h"
#include "torchstress/run_spec_from_knobs.h"
#include "torchstress/runner.h"

namespace torchstress {
namespace {

TORCHSTRESS_BINARY_SECTION(sweep);

// Read when the tests are registered, before main and its knob loading (test names must exist for
// --gtest_list_tests), hence getenv: TORCHSTRESS_OP_CATALOGUE is also a knob (knobs.def).
std::vector<SweepCase> AllCases() {
  try {
    std::vector<SweepCase> cases = load_op_catalogue(TORCHSTRESS_OP_CATALOGUE_FILE);
    const char* extra = std::getenv("TORCHSTRESS_OP_CATALOGUE");
    if (extra != nullptr && *extra != '\0') {
      for (auto& c : load_op_catalogue(extra)) cases.push_back(std::move(c));
    }
    std::set<std::string> names;
    for (const auto& c : cases) {
      if (!names.insert(c.name()).second) {
        throw CatalogueError(fmt::format("case '{}' ({}) appears twice; accepted: a distinct \"name\" per entry",
                                         c.name(), c.op));
      }
    }
    return cases;
  } catch (const CatalogueError& e) {
    std::fprintf(stderr, "torchstress: %s\n", e.what());
    std::exit(kExitUsage);
  }
}

// After main has loaded TORCHSTRESS_OP_LIBRARY: every case's op must be registered and its
// arguments must fit its schema, or the binary stops with one line naming the entry.
class CatalogueCheck : public ::testing::Environment {
 public:
  void SetUp() override {
    for (const auto& c : AllCases()) {
      const std::string problem = sweep_case_problem(c);
      if (!problem.empty()) {
        std::fprintf(stderr, "torchstress: bad op catalogue entry: %s\n", problem.c_str());
        std::exit(kExitUsage);
      }
    }
  }
};
const auto* const kCheck = ::testing::AddGlobalTestEnvironment(new CatalogueCheck);

// Prepares `w` single-threaded; an op without a kernel for this dtype here is a loud skip.
bool PrepareOrExplain(Workload& w, const RunSpec& spec, std::string* unsupported) {
  try {
    w.prepare(spec.threads, spec.inputs_per_thread);
    return true;
  } catch (const std::exception& e) {
    // What backends say when a dtype or op has no kernel there (CPU/CUDA: "... not implemented
    // for 'Half'"; MPS: float64 and some ops are not supported): anything else is a failure.
    const std::string what = e.what();
    const bool unsupported_here = what.find("not implemented for") != std::string::npos ||
                                  what.find("not currently implemented for the MPS device") != std::string::npos ||
                                  what.find("MPS framework doesn't support float64") != std::string::npos;
    if (!unsupported_here) throw;
    *unsupported = what.substr(0, what.find('\n'));
    return false;
  }
}

class Sweep : public ::testing::TestWithParam<SweepCase> {};

TEST_P(Sweep, Threaded) {
  const SweepCase& c = GetParam();
  if (too_old_for(c)) GTEST_SKIP() << c.op << " needs LibTorch " << c.since;
  auto w = make_sweep_workload(c, device_under_test());
  RunSpec spec = run_spec_from_knobs();
  spec.iterations = knobs().sweep_iterations;
  spec.keep_prepared = true;
  std::string unsupported;
  if (!PrepareOrExplain(*w, spec, &unsupported)) GTEST_SKIP() << "single-threaded call fails: " << unsupported;
  RunResult r = run_workload(*w, spec);
  record_run(r);
  EXPECT_EQ(r.total_ops, spec.threads * spec.iterations);
  EXPECT_THAT(r.errors, HasNoErrors());
}

// Runs in the child process only.
std::string ColdRound(const SweepCase& c, int round) {
  auto w = make_sweep_workload(c, device_under_test());
  RunResult r = run_cold(*w, run_spec_from_knobs(round));
  return round_reason(r.errors, static_cast<size_t>(r.failed_ops));
}

TEST_P(Sweep, Cold) {
  const SweepCase& c = GetParam();
  if (too_old_for(c)) GTEST_SKIP() << c.op << " needs LibTorch " << c.since;
  {  // A dtype with no kernel here is a loud skip, found by one call in this process: the rounds
     // run in fresh ones (spawned, not forked), so their first calls stay first.
    auto probe = make_sweep_workload(c, device_under_test());
    RunSpec one = run_spec_from_knobs();
    one.threads = 1;
    one.inputs_per_thread = 1;
    std::string unsupported;
    if (!PrepareOrExplain(*probe, one, &unsupported)) GTEST_SKIP() << "single-threaded call fails: " << unsupported;
  }
  expect_rounds_pass(run_isolated_rounds(rounds_spec_from_knobs(1), [&c](int round) { return ColdRound(c, round); }));
}

INSTANTIATE_TEST_SUITE_P(Op, Sweep, ::testing::ValuesIn(AllCases()),
                         [](const ::testing::TestParamInfo<SweepCase>& info) { return info.param.name(); });

}  // namespace
}  // namespace torchstress
