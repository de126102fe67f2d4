// References written by one process and read by another: a cold round checks its racing first
// calls against references made in a clean process (the test's own, before it spawns the rounds),
// so a first-use bug that stays wrong for the round's whole process cannot make its own reference.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace torchstress {

using HostReferences = std::vector<std::vector<at::Tensor>>;  // [thread][input], host tensors

// Writes `refs` to `path` (a small binary file of dtype, sizes and raw bytes). Throws
// std::runtime_error with one line on an I/O error.
void save_references(const std::string& path, const HostReferences& refs);

// Reads what save_references() wrote. Throws std::runtime_error with one line when the file is
// missing or malformed.
HostReferences load_references(const std::string& path);

}  // namespace torchstress
