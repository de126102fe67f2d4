// The op sweep: every case of the op catalogue (tests/sweep/op_catalogue.json, plus a user's
// TORCHSTRESS_OP_CATALOGUE) run two ways through the dispatcher, every output checked:
//   Op/Sweep.Threaded/<case>  THREADS workers, warm, for the budget's warm part (BUDGET_SECONDS: threaded,
//                             then a pipelined soak under PCT priorities), shapes varied per thread and input
//   Op/Sweep.Cold/<case>      the budget's cold part: rounds of fresh processes (forks on the CPU) whose
//                             THREADS workers make their first call at once
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

#include "torchstress/clean_references.h"
#include "torchstress/device.h"
#include "torchstress/exit_codes.h"
#include "torchstress/isolated_rounds.h"
#include "torchstress/knobs.h"
#include "torchstress/matchers.h"
#include "torchstress/op_sweep.h"
#include "torchstress/pressure.h"
#include "torchstress/results.h"
#include "torchstress/run_spec_from_knobs.h"
#include "torchstress/runner.h"
#include "torchstress/variety.h"

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
    // A cold round's child skips it: building every case's inputs would run their kernels (randn,
    // round, to(), ...) before the round's first calls. Its parent checked the same catalogue.
    if (in_death_test_child()) return;
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

// True when `what` is a backend saying it has no kernel for this op or dtype (CPU/CUDA: "... not
// implemented for 'Half'"; MPS: float64 and some ops are not supported); its first line goes to
// `unsupported`. Anything else is a failure.
bool IsUnsupportedHere(const std::string& what, std::string* unsupported) {
  const bool here = what.find("not implemented for") != std::string::npos ||
                    what.find("not currently implemented for the MPS device") != std::string::npos ||
                    what.find("MPS framework doesn't support float64") != std::string::npos;
  if (here) *unsupported = what.substr(0, what.find('\n'));
  return here;
}

// Prepares `w` single-threaded; an op without a kernel for this dtype here is a loud skip.
bool PrepareOrExplain(Workload& w, const RunSpec& spec, std::string* unsupported) {
  try {
    w.prepare(spec.threads, spec.inputs_per_thread);
    return true;
  } catch (const std::exception& e) {
    if (!IsUnsupportedHere(e.what(), unsupported)) throw;
    return false;
  }
}

class Sweep : public ::testing::TestWithParam<SweepCase> {};

TEST_P(Sweep, Threaded) {
  const SweepCase& c = GetParam();
  if (too_old_for(c)) GTEST_SKIP() << c.op << " needs LibTorch " << c.since;
  auto w = make_sweep_workload(c, device_under_test());
  RunSpec spec = run_spec_from_knobs();
  spec.keep_prepared = true;
  if (auto* varied = dynamic_cast<Varied*>(w.get())) varied->vary(spec.variety);  // before prepare
  std::string unsupported;
  if (!PrepareOrExplain(*w, spec, &unsupported)) GTEST_SKIP() << "single-threaded call fails: " << unsupported;
  const WarmPressure p = run_warm_pressure(*w, spec);  // the budget's warm part, as Workload.Threaded
  record_warm_pressure(p);
  EXPECT_GT(p.threaded.total_ops, 0);
  EXPECT_THAT(p.errors(), HasNoErrors());
}

// The budget's cold part, as Workload.ColdRounds: rounds of racing first calls (forks of this
// process on the CPU, which has run no op of the case yet), checked against references made in a
// clean process; a dtype with no kernel here is a loud skip.
TEST_P(Sweep, Cold) {
  const SweepCase& c = GetParam();
  if (too_old_for(c)) GTEST_SKIP() << c.op << " needs LibTorch " << c.since;
  std::string unsupported;
  RoundsSummary rounds;
  try {
    rounds = run_cold_pressure(c.name(), [&c] { return make_sweep_workload(c, device_under_test()); },
                               [](int round) { return run_spec_from_knobs(round); });
  } catch (const std::exception& e) {
    if (!IsUnsupportedHere(e.what(), &unsupported)) throw;
  }
  if (!unsupported.empty()) GTEST_SKIP() << "single-threaded call fails: " << unsupported;
  expect_rounds_pass(rounds);
}

INSTANTIATE_TEST_SUITE_P(Op, Sweep, ::testing::ValuesIn(AllCases()),
                         [](const ::testing::TestParamInfo<SweepCase>& info) { return info.param.name(); });

}  // namespace
}  // namespace torchstress
