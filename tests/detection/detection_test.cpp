// Detection power, asserted: for each seeded bug of the zoo op library (tests/zoo, listed in
// zoo_catalogue.json) the suite's own battery, run as a child exactly as a user would run it
// (TORCHSTRESS_OP_LIBRARY + TORCHSTRESS_WORKLOAD=op:torchstress_zoo::<op>), must FAIL with the
// bug's symptom, and must PASS on the bug's correct twin. Races are probabilistic: a bug counts
// as caught when one of a few runs catches it; docs/detection.md has the measured rates.
#include <gtest/gtest.h>

#include <unistd.h>

#include <string>
#include <vector>

#include "torchstress/device.h"
#include "torchstress/skip.h"
#include "trial.h"

namespace torchstress {
namespace {

// Runs before a bug counts as missed, from its measured per-run rate on the 2-core CPU box
// (docs/detection.md) so that a miss by chance stays below 0.1% even when a loaded machine halves
// the rate (a CI box compiling beside the tests missed lazy_table 12 times running): a cold trial is one fresh
// process whose first calls race once (lazy_table: 45% a run), a threaded one 400 ops
// (static_scratch: 80%), a soak thousands.
int Attempts(const std::string& mode) { return mode == "cold" ? 20 : mode == "threaded" ? 5 : 3; }

std::vector<tsdetect::CatalogueEntry> Catalogue() { return tsdetect::read_catalogue(TORCHSTRESS_ZOO_CATALOGUE); }

std::string ShortName(const std::string& op) { return op.substr(op.find("::") + 2); }

tsdetect::TrialSpec Trial(const tsdetect::CatalogueEntry& c, const std::string& op) {
  tsdetect::TrialSpec s;
  s.battery = TORCHSTRESS_BATTERY_BINARY;
  s.op_library = TORCHSTRESS_ZOO_LIBRARY;
  s.op = op;
  s.mode = c.test_mode;
  s.device = c.device == "cuda" ? device_label(device_for(Backend::kCuda)) : "cpu";
  s.soak_seconds = 5;
  s.stall_seconds = 3;
  s.env = c.env;
  // A folder per trial process and op: ctest -j runs several detection tests at once.
  s.scratch = ::testing::TempDir() + "torchstress-detection-" + std::to_string(::getpid()) + "-" + ShortName(c.op);
  return s;
}

std::string Describe(const tsdetect::TrialOutcome& o) {
  return (o.caught ? "caught as " + o.kind : "not caught") + " (" + o.detail + ")";
}

class Zoo : public ::testing::TestWithParam<tsdetect::CatalogueEntry> {};

TEST_P(Zoo, BugIsCaughtWithItsSymptomAndTwinPasses) {
  const auto& c = GetParam();
  if (c.device == "cuda" && !availability().cuda) {
    TORCHSTRESS_SKIP_BACKEND("cuda", "the zoo's CUDA bugs need a CUDA device");
  }
  tsdetect::TrialOutcome bug;
  const int attempts = Attempts(c.test_mode);
  for (int attempt = 1; attempt <= attempts && !bug.caught; ++attempt) bug = tsdetect::run_trial(Trial(c, c.op));
  ASSERT_TRUE(bug.caught) << c.op << " in mode " << c.test_mode << ": " << Describe(bug) << " in " << attempts
                          << " runs";
  EXPECT_TRUE(c.expects(bug.kind)) << c.op << ": expected " << c.expected << ", " << Describe(bug);
  const auto twin = tsdetect::run_trial(Trial(c, c.twin));
  EXPECT_FALSE(twin.caught) << c.twin << " (the correct twin) failed: " << Describe(twin);
}

std::string Name(const ::testing::TestParamInfo<tsdetect::CatalogueEntry>& info) { return ShortName(info.param.op); }

INSTANTIATE_TEST_SUITE_P(Detection, Zoo, ::testing::ValuesIn(Catalogue()), Name);

}  // namespace
}  // namespace torchstress
