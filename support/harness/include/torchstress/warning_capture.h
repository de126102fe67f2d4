// Captures c10 warnings (TORCH_WARN) raised on a worker thread into the error sink's warning list.
// c10's warning handler is thread-local, so each worker installs its own for its lifetime.
#pragma once

#include <c10/util/Exception.h>
#include <torch/version.h>

#include <atomic>
#include <memory>

#include "torchstress/error_sink.h"

namespace torchstress {

class ScopedWarningCapture {
 public:
  ScopedWarningCapture(ErrorSink& sink, int thread, const std::atomic<long>* iteration);
  ~ScopedWarningCapture();
  ScopedWarningCapture(const ScopedWarningCapture&) = delete;
  ScopedWarningCapture& operator=(const ScopedWarningCapture&) = delete;

 private:
  struct Handler;
  std::unique_ptr<Handler> handler_;
  c10::WarningHandler* previous_;
};

}  // namespace torchstress
