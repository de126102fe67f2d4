// A user's own operators: TORCHSTRESS_OP_LIBRARY names shared libraries whose TORCH_LIBRARY ops
// register with the dispatcher when loaded, so TORCHSTRESS_WORKLOAD=op:<ns>::<op> stresses them
// through the suite's runner, soak and isolated rounds with no C++ written.
#pragma once

#include <string>

namespace torchstress {

// Loads every library of `paths` (':'-separated; empty: none). "" on success, else the one-line
// bad-input message naming the path and the loader's reason.
std::string load_op_libraries(const std::string& paths);

// "" when TORCHSTRESS_WORKLOAD names a workload this process can build (after the libraries are
// loaded), else the one-line bad-input message.
std::string workload_knob_problem();

}  // namespace torchstress
