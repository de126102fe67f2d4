// Cold rounds are checked against references from a clean process: the test's own process, which
// spawns the rounds and runs no race, prepares each workload single-threaded and saves its
// references before the first round; each round's child (a re-executed binary, never a fork)
// reads them instead of computing its own after the race. A first-use bug that leaves a cache
// wrong for the child's whole process then shows as a wrong value instead of hiding in the
// reference. The child finds the folder through the environment it inherits.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "torchstress/reference_file.h"
#include "torchstress/workloads.h"

namespace torchstress {

using WorkloadFactory = std::function<std::unique_ptr<Workload>()>;

// In the test's process: prepares make() for `threads` threads (one input each) and saves its
// references under `key`. Does nothing in a round's child. Throws what prepare() throws (an op
// with no kernel for the dtype here, CannotFailError).
void save_clean_references(const std::string& key, const WorkloadFactory& make, int threads);

// In a round's child: the references the test's process saved under `key`. Throws
// std::runtime_error with one line when there are none.
HostReferences clean_references(const std::string& key);

}  // namespace torchstress
