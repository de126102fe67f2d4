// Device stream and sync policy: which stream a worker issues on, and how it waits for its work.
// CPU ops are synchronous; CUDA follows the run's StreamPolicy and SyncPolicy (run_spec.h); MPS has
// one process-wide stream, so its sync always waits for every thread's work (upstream MPSHooks).
#pragma once

#include <c10/core/Device.h>

#include <memory>

#include "torchstress/run_spec.h"

namespace torchstress {

// Held by each worker for its lifetime: under the per-thread CUDA policy it makes a pool stream
// current for this thread (CUDA's current stream is thread-local); otherwise it does nothing.
class WorkerStreamScope {
 public:
  WorkerStreamScope(const c10::Device& device, StreamPolicy policy);
  ~WorkerStreamScope();
  WorkerStreamScope(const WorkerStreamScope&) = delete;
  WorkerStreamScope& operator=(const WorkerStreamScope&) = delete;

 private:
  std::shared_ptr<void> impl_;
};

// Waits for the work this thread issued on `device`, by `policy`.
void sync_thread_work(const c10::Device& device, SyncPolicy policy);

// True where a host read of a result (item(), a copy to the CPU) already waits for exactly the work
// sync_thread_work would wait for: CUDA under the stream policy. There an explicit sync before the
// value check is redundant. MPS keeps its explicit device-wide synchronize (that call is itself
// part of what the suite stresses).
bool host_read_syncs_thread_work(const c10::Device& device, SyncPolicy policy);

// Waits for all work on `device` from every thread (used before timing and reference checks).
void sync_device(const c10::Device& device);

}  // namespace torchstress
