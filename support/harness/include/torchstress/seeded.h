// Seeded inputs: deterministic float tensors from their own CPU generator, distinct per seed (so per
// thread) and identical on every device and run; the one way tests and workloads make inputs.
#pragma once

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cstdint>
#include <mutex>

namespace torchstress {

// The seed report's worker number: the base seed of every workload and repro.
inline constexpr uint64_t kBaseSeed = 1974;

// The seed of `thread`'s input number `input`: distinct for every (thread, input), with room for
// two generators (seed, seed + 1) per input.
inline uint64_t input_seed(int thread, int input) {
  return kBaseSeed + 2 * static_cast<uint64_t>(thread) + 1000003 * static_cast<uint64_t>(input);
}

// Standard-normal floats of `shape` on the CPU, from a generator seeded with `seed`.
inline at::Tensor seeded_randn(at::IntArrayRef shape, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat));
}

// A generator of the caller's own for `device`: a clone of the device's default one, taken under
// its lock as upstream clones it. Seed it (set_current_seed) to make its draws replayable.
inline at::Generator fork_generator(const c10::Device& device) {
  at::Generator device_default = at::globalContext().defaultGenerator(device);
  std::lock_guard<std::mutex> lock(device_default.mutex());
  return device_default.clone();
}

}  // namespace torchstress
