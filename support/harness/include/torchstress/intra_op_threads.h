// LibTorch's intra-op thread count for one scope: process-wide state, so a test that sets it
// restores it on the way out. Threads started meanwhile take it at their first parallel op.
#pragma once

#include <ATen/Parallel.h>

namespace torchstress {

class ScopedIntraOpThreads {
 public:
  explicit ScopedIntraOpThreads(int n) : saved_(at::get_num_threads()) { at::set_num_threads(n); }
  ~ScopedIntraOpThreads() { at::set_num_threads(saved_); }
  ScopedIntraOpThreads(const ScopedIntraOpThreads&) = delete;
  ScopedIntraOpThreads& operator=(const ScopedIntraOpThreads&) = delete;

 private:
  int saved_;
};

}  // namespace torchstress
