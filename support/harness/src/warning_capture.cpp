#include "torchstress/warning_capture.h"

namespace torchstress {

// The handler API changed in LibTorch 2.0: 1.13 passes (location, message, verbatim) and lives in
// c10::Warning; 2.x passes a c10::Warning object and lives in c10::WarningUtils.
struct ScopedWarningCapture::Handler : c10::WarningHandler {
  ErrorSink& sink;
  int thread;
  const std::atomic<long>* iteration;
  Handler(ErrorSink& s, int t, const std::atomic<long>* i) : sink(s), thread(t), iteration(i) {}
  void store(const std::string& msg) { sink.add_warning({thread, iteration ? iteration->load() : -1L, msg}); }
#if TORCH_VERSION_MAJOR >= 2
  void process(const c10::Warning& warning) override { store(warning.msg()); }
#else
  void process(const c10::SourceLocation&, const std::string& msg, const bool) override { store(msg); }
#endif
};

#if TORCH_VERSION_MAJOR >= 2
namespace warn_api = c10::WarningUtils;
#else
namespace warn_api = c10::Warning;
#endif

ScopedWarningCapture::ScopedWarningCapture(ErrorSink& sink, int thread, const std::atomic<long>* iteration)
    : handler_(std::make_unique<Handler>(sink, thread, iteration)), previous_(warn_api::get_warning_handler()) {
  warn_api::set_warning_handler(handler_.get());
}

ScopedWarningCapture::~ScopedWarningCapture() { warn_api::set_warning_handler(previous_); }

}  // namespace torchstress
