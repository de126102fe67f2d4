// The oracle's mutation score (label selftest; the whole set also under `mutation`): every battery
// workload and every op-catalogue case has its right output corrupted in each way a threading bug
// corrupts outputs (support/harness/include/torchstress/mutation.h), and the check must reject
// every one. Prints "mutation score: caught/total" and names every survivor.
//   Mutation.EveryWorkload              the battery's workloads and TORCHSTRESS_WORKLOAD's (quick)
//   Mutation.SampledCatalogueCases      every 16th catalogue case (quick)
//   Mutation.EveryCatalogueCase         all of them, a user's catalogue too (label mutation)
//   Replay.*                            each subject's single-threaded result made twice must agree
//                                       within its tolerance: the measure behind "exact by default"
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "torchstress/device.h"
#include "torchstress/knobs.h"
#include "torchstress/log.h"
#include "torchstress/mutation.h"
#include "torchstress/op_sweep.h"
#include "torchstress/results.h"
#include "torchstress/value_oracle.h"

namespace torchstress {
namespace {

TORCHSTRESS_BINARY_SECTION(selftest);

constexpr uint64_t kMutationSeed = 20261205;  // positions are replayable: the log names each

std::vector<SweepCase> Catalogue() {
  std::vector<SweepCase> cases = load_op_catalogue(TORCHSTRESS_OP_CATALOGUE_FILE);
  const char* extra = std::getenv("TORCHSTRESS_OP_CATALOGUE");
  if (extra != nullptr && *extra != '\0') {
    for (auto& c : load_op_catalogue(extra)) cases.push_back(std::move(c));
  }
  return cases;
}

// Every outcome of `w` (prepared here: 2 threads, 2 inputs each) into `all`; a case that cannot
// fail (CannotFailError) is a survivor of every mutation that needs another thread's output.
void Score(Workload& w, std::vector<MutationOutcome>& all) {
  try {
    w.prepare(2, 2);
  } catch (const CannotFailError& e) {
    all.push_back({w.name(), "a case whose threads' outputs are identical", MutationStatus::kSurvived, e.what()});
    return;
  }
  for (auto& o : mutate_and_check(w, kMutationSeed)) all.push_back(std::move(o));
}

// Logs and records the score, lists each survivor, and fails on any.
void ExpectNoSurvivors(const std::vector<MutationOutcome>& all, const std::string& what, int not_run) {
  const std::string line = mutation_score_line(all);
  logger("mutation")->info("{}: {}{}", what, line, not_run > 0 ? fmt::format("; {} cases not run here", not_run) : "");
  record("mutation_score", line);
  std::string survivors;
  for (const auto& o : all) {
    if (o.status == MutationStatus::kSurvived) survivors += fmt::format("\n  {}: {} ({})", o.subject, o.mutation, o.detail);
  }
  record("mutation_survivors", survivors.empty() ? "none" : survivors);
  EXPECT_TRUE(survivors.empty()) << what << ": " << line << "; survivors:" << survivors;
}

// The catalogue cases of index k with k % every == 0, scored on the device under test.
void ScoreCatalogue(size_t every, const std::string& what) {
  std::vector<MutationOutcome> all;
  int not_run = 0;
  const auto cases = Catalogue();
  for (size_t k = 0; k < cases.size(); k += every) {
    const SweepCase& c = cases[k];
    if (too_old_for(c)) {
      ++not_run;
      continue;
    }
    auto w = make_sweep_workload(c, device_under_test());
    try {
      Score(*w, all);
    } catch (const std::exception& e) {
      if (!is_missing_kernel(e)) throw;
      ++not_run;  // no kernel for this dtype here: the sweep skips it loudly too
    }
  }
  ExpectNoSurvivors(all, what, not_run);
}

// The battery's workloads, and TORCHSTRESS_WORKLOAD when it names another (a user's op:<ns>::<op>).
std::vector<std::string> Workloads() {
  std::vector<std::string> names{"mm", "matmul128", "layernorm", "transformer", "linear_relu", "mlp"};
  if (std::find(names.begin(), names.end(), knobs().workload) == names.end()) names.push_back(knobs().workload);
  return names;
}

// The measure behind "exact by default": each subject's references made twice, single-threaded,
// in fresh workloads, must agree within its stated tolerance (exact unless the entry loosens it).
// A subject that does not is nondeterministic alone and needs a measured "tol" with its reason;
// the largest per-element difference seen is logged as that measure.
void ExpectReplaysAgree(const std::function<std::unique_ptr<Workload>()>& make, std::vector<std::string>& differ) {
  auto a = make(), b = make();
  try {
    a->prepare(2, 2);
    b->prepare(2, 2);
  } catch (const CannotFailError&) {
    return;  // the mutation score names it
  } catch (const std::exception& e) {
    if (is_missing_kernel(e)) return;  // no kernel here
    throw;
  }
  const auto& first = a->references();
  const auto& second = b->references();
  for (size_t t = 0; t < first.size(); ++t) {
    for (size_t k = 0; k < first[t].size(); ++k) {
      const Comparison c = compare_on_host(first[t][k], second[t][k], a->tolerance());
      if (!c.ok()) differ.push_back(fmt::format("{} (thread {}, input {}): {}", a->name(), t, k, c.describe()));
    }
  }
}

TEST(Replay, WorkloadsAgreeWithThemselvesAlone) {
  std::vector<std::string> differ;
  for (const auto& name : Workloads()) {
    ExpectReplaysAgree([&name] { return make_workload(name, device_under_test()); }, differ);
  }
  EXPECT_TRUE(differ.empty()) << fmt::format("{}", fmt::join(differ, "\n"));
}

TEST(Replay, CatalogueCasesAgreeWithThemselvesAlone) {
  std::vector<std::string> differ;
  for (const auto& c : Catalogue()) {
    if (too_old_for(c)) continue;
    ExpectReplaysAgree([&c] { return make_sweep_workload(c, device_under_test()); }, differ);
  }
  logger("mutation")->info("{} catalogue cases differ from their own single-threaded replay", differ.size());
  EXPECT_TRUE(differ.empty()) << fmt::format("{}", fmt::join(differ, "\n"));
}

TEST(Mutation, EveryWorkload) {
  std::vector<MutationOutcome> all;
  for (const auto& name : Workloads()) {
    auto w = make_workload(name, device_under_test());
    Score(*w, all);
  }
  ExpectNoSurvivors(all, "battery workloads", 0);
}

TEST(Mutation, SampledCatalogueCases) { ScoreCatalogue(16, "every 16th catalogue case"); }

TEST(Mutation, EveryCatalogueCase) { ScoreCatalogue(1, "every catalogue case"); }

}  // namespace
}  // namespace torchstress
