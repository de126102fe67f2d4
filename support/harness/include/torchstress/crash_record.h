// Crash records: a fatal signal in any test (SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL) becomes a
// typed results line before the process dies. The handler is async-signal-safe: it runs on an
// alternate stack (a stack overflow is recorded too), allocates nothing, takes no lock, and uses no
// stdio. Everything it needs is prepared beforehand: the results file is already open (an fd), the
// test's line prefix is preformatted into a static buffer when the test starts, and the workers'
// state is on the live progress boards (progress.h). It writes, with one write(2) each,
//   - to the results fd: {"schema":...,"type":"test","name":"Suite.Test",...,"status":"crashed",
//     "signal":"SIGSEGV","failures":[...],"errors":[{"kind":"crash","thread":3,"iteration":5,
//     "op":"relu","device":"cpu","input":1,"message":...}],"error_counts":{"crash":1},
//     "workers":[{"thread":0,"op":...,"iteration":...,"input":...,...}, ...]}
//   - to stderr: "torchstress crash: <test>: SIGSEGV in thread 3 at iteration 5 in relu (input 1);
//     other threads: [...]" (an isolated round's parent reads it: kCrashLinePrefix),
// then re-raises the signal with the action that was there before (the default: the process ends
// by that signal, so its exit status is unchanged; a sanitizer's handler: it reports as before).
#pragma once

#include <cstddef>
#include <string>

namespace torchstress {

// The stderr line the handler writes starts with this.
inline constexpr const char* kCrashLinePrefix = "torchstress crash: ";

// Installs the handler for SIGSEGV, SIGABRT, SIGBUS, SIGFPE and SIGILL (idempotent) and gives the
// calling thread an alternate signal stack. Worker threads get theirs at their first
// ProgressBoard::begin(); other threads (a pool's) have none: a stack overflow there dies unrecorded.
void install_crash_handler();
bool crash_handler_installed();

// Gives the calling thread an alternate signal stack once (freed when the thread ends).
void ensure_alt_signal_stack();

// Where the record goes: `fd`, an open results file (O_APPEND), or -1 for stderr only; `device`:
// the device under test, written into the crash error. Not owned: the caller keeps it open.
void set_crash_record_fd(int fd, const std::string& device);

// The running test's record, preformatted: `json_prefix` is a JSON object's text with its closing
// brace left off ("{\"schema\":...,\"name\":\"Suite.Test\"" — the handler appends its fields), and
// `test` the test's name for the stderr line. An empty (or too long) prefix writes no results
// line, only the stderr line; both empty: no test is running.
// Called from the main thread as tests start and end; at most kMaxPrefix bytes are kept.
void set_crash_record_test(const std::string& test, const std::string& json_prefix);
inline constexpr size_t kMaxPrefix = 4096;

// The record's text the handler would write now for `sig` (results line and stderr line), for
// self-tests of the format; the same code path as the handler, minus the writes.
struct CrashTexts {
  std::string results_line;  // empty when no test prefix is set
  std::string stderr_line;
};
CrashTexts format_crash_record(int sig);

// Bounded text building that is async-signal-safe: appends into a fixed buffer, truncating (and
// remembering that it did) instead of allocating. Used by the handler and by the progress board.
class SignalSafeText {
 public:
  SignalSafeText(char* buf, size_t cap) : buf_(buf), cap_(cap) {
    if (cap_ > 0) buf_[0] = '\0';
  }
  SignalSafeText& put(const char* s);
  SignalSafeText& put(const char* s, size_t n);
  SignalSafeText& put_char(char c);
  SignalSafeText& put_long(long v);
  // A non-negative number with `decimals` digits after the point (seconds, times).
  SignalSafeText& put_fixed(double v, int decimals);
  // `s` as the inside of a JSON string: quotes, backslashes and control characters escaped, bytes
  // above 0x7f replaced by '?' (a line stays valid JSON whatever an op's name holds).
  SignalSafeText& put_json_escaped(const char* s);
  size_t size() const { return n_; }
  size_t room() const { return n_ < cap_ ? cap_ - n_ - 1 : 0; }
  bool truncated() const { return truncated_; }
  const char* data() const { return buf_; }
  void resize(size_t n) {
    if (n < n_) {
      n_ = n;
      buf_[n_] = '\0';
    }
  }

 private:
  char* buf_;
  size_t cap_;
  size_t n_ = 0;
  bool truncated_ = false;
};

// From a crashed child's output, where the crashing worker was: "SIGSEGV in thread 3 at iteration
// 0 in relu (input 0)" (the handler's line without the other threads), or "" when the child wrote
// no handler line for `signal` ("SIGSEGV": a sanitizer may have ended it with another).
std::string crash_detail_from_output(const std::string& output, const std::string& signal);

// The calling thread's OS id (Linux: gettid), as the progress board records it per worker.
long current_os_thread_id();

// "SIGSEGV", ... for the signals above (async-signal-safe; "signal" for any other).
const char* crash_signal_name(int sig);

}  // namespace torchstress
