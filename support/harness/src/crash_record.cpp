#include "torchstress/crash_record.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "torchstress/progress.h"

namespace torchstress {
namespace {

constexpr int kSignals[] = {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL};
constexpr int kSignalCount = sizeof(kSignals) / sizeof(kSignals[0]);
struct sigaction g_old[kSignalCount];
std::atomic<bool> g_installed{false};

std::atomic<int> g_fd{-1};
std::atomic<long> g_fd_pid{0};  // the process that set the fd: a forked child writes no results line
char g_device[256] = "";

// The running test's prefix: two buffers, the live one published by index (-1: none), so the
// main thread can prepare the next test's while a worker of the last one could still crash.
char g_prefix[2][kMaxPrefix + 1];
char g_test[2][512];
long long g_test_start_ns[2];  // CLOCK_MONOTONIC when the test started
std::atomic<int> g_live_prefix{-1};

std::atomic<int> g_in_handler{0};
// The handler's working memory: nothing is allocated once a signal arrives.
char g_message[16 * 1024];
char g_workers[64 * 1024];
char g_line[kMaxPrefix + 2 * sizeof(g_message) + sizeof(g_workers) + 4096];
char g_err[sizeof(g_message) + 1024];

void write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// "at iteration 7 in relu (input 3), 7 ops done" / "finished after iteration ..." for one slot.
void describe_slot(SignalSafeText& m, const ProgressBoard::Slot& s) {
  m.put(s.finished ? "finished after iteration " : "at iteration ").put_long(s.iteration).put(" in ");
  m.put(s.op ? s.op : "?");
  if (s.input >= 0) m.put(" (input ").put_long(s.input).put(")");
  m.put(", ").put_long(s.completed_ops).put(" ops done");
}

// Reads a slot without now(): ProgressBoard::read() is async-signal-safe (atomic loads and
// clock_gettime), so it is used as it is.
struct Where {
  const ProgressBoard* board = nullptr;  // the board the crashing thread works for, else the first live one
  int thread = -1;                       // its worker index, -1: not a worker
};

Where find_crashing_worker(long tid) {
  Where w;
  for (int i = 0; i < ProgressBoard::kMaxLiveBoards; ++i) {
    const ProgressBoard* b = ProgressBoard::live_board(i);
    if (!b) continue;
    if (!w.board) w.board = b;
    const int t = b->thread_of_tid(tid);
    if (t >= 0) {
      w.board = b;
      w.thread = t;
      return w;
    }
  }
  return w;
}

// The one-line message: the signal, where the crashing worker was, and every other worker.
void format_message(int sig, long tid, const Where& w, SignalSafeText& m) {
  m.put(crash_signal_name(sig));
  if (!w.board) {
    m.put(" outside any threaded run (no worker was running; OS thread ").put_long(tid).put(")");
    return;
  }
  if (w.thread >= 0) {
    const auto s = w.board->read(w.thread);
    m.put(" in thread ").put_long(w.thread).put(" at iteration ").put_long(s.iteration).put(" in ");
    m.put(s.op ? s.op : "?");
    if (s.input >= 0) m.put(" (input ").put_long(s.input).put(")");
    m.put("; other threads:");
  } else {
    m.put(" in a thread that is no worker (OS thread ").put_long(tid).put(": the main thread or a pool's); workers:");
  }
  for (int t = 0; t < w.board->threads(); ++t) {
    if (t == w.thread) continue;
    if (m.room() < 160) {
      m.put(" ...");
      break;
    }
    m.put(" [thread ").put_long(t).put(": ");
    describe_slot(m, w.board->read(t));
    m.put("]");
  }
}

// Builds both texts into the given buffers. Async-signal-safe.
void format_into(int sig, SignalSafeText& line, SignalSafeText& err, SignalSafeText& message, char* workers,
                 size_t workers_cap) {
  const long tid = current_os_thread_id();
  const Where w = find_crashing_worker(tid);
  format_message(sig, tid, w, message);

  const int live = g_live_prefix.load();
  const char* test = live >= 0 ? g_test[live] : "";
  err.put(kCrashLinePrefix);
  if (test[0]) err.put(test).put(": ");
  err.put(message.data()).put_char('\n');
  if (err.truncated()) {  // keep the line a line
    err.resize(err.size() > 1 ? err.size() - 1 : 0);
    err.put_char('\n');
  }

  if (live < 0 || g_prefix[live][0] == '\0') return;
  line.put(g_prefix[live]);
  line.put(",\"status\":\"crashed\",\"signal\":\"").put(crash_signal_name(sig)).put("\",\"signal_number\":").put_long(sig);
  struct timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  line.put(",\"time\":").put_long(static_cast<long>(ts.tv_sec)).put_char('.');
  char micro[7];
  long us = ts.tv_nsec / 1000;
  for (int i = 5; i >= 0; --i, us /= 10) micro[i] = static_cast<char>('0' + us % 10);
  line.put(micro, 6);
  struct timespec mono{};
  ::clock_gettime(CLOCK_MONOTONIC, &mono);
  const long long elapsed_ns =
      static_cast<long long>(mono.tv_sec) * 1000000000LL + mono.tv_nsec - g_test_start_ns[live];
  line.put(",\"duration_s\":").put_fixed(static_cast<double>(elapsed_ns) / 1e9, 3);
  line.put(",\"skip_reason\":\"\",\"properties\":{},\"backtraces\":[],\"failures\":[\"");
  line.put_json_escaped(message.data());
  line.put("\"],\"errors\":[{\"kind\":\"crash\",\"thread\":").put_long(w.thread >= 0 ? w.thread : -1);
  long iteration = -1, input = -1;
  const char* op = "";
  if (w.board && w.thread >= 0) {
    const auto s = w.board->read(w.thread);
    iteration = s.iteration;
    input = s.input;
    op = s.op ? s.op : "";
  }
  line.put(",\"iteration\":").put_long(iteration).put(",\"op\":\"").put_json_escaped(op);
  line.put("\",\"device\":\"").put_json_escaped(g_device).put("\",\"input\":");
  if (input >= 0)
    line.put_long(input);
  else
    line.put("null");
  line.put(",\"signal\":\"").put(crash_signal_name(sig)).put("\",\"message\":\"").put_json_escaped(message.data());
  line.put("\",\"max_abs_diff\":null}],\"error_counts\":{\"crash\":1},\"workers\":");
  if (w.board) {
    w.board->workers_json(workers, workers_cap);
    line.put(workers);
  } else {
    line.put("[]");
  }
  line.put("}\n");
}

void handler(int sig, siginfo_t*, void*) {
  const int saved_errno = errno;
  if (g_in_handler.exchange(1) != 0) {
    // Another thread is writing the record; it ends the process when done.
    for (;;) ::pause();
  }
  SignalSafeText line(g_line, sizeof g_line), err(g_err, sizeof g_err), message(g_message, sizeof g_message);
  format_into(sig, line, err, message, g_workers, sizeof g_workers);
  const int fd = g_fd.load();
  const bool own_file = g_fd_pid.load() == static_cast<long>(::getpid());  // not a forked round's child
  if (fd >= 0 && own_file && line.size() > 0 && !line.truncated()) write_all(fd, line.data(), line.size());
  write_all(STDERR_FILENO, err.data(), err.size());
  // Again with the action that was there before: the default ends the process by this signal
  // (the signal is blocked until the handler returns, then delivered), a sanitizer's reports.
  int i = 0;
  while (i < kSignalCount && kSignals[i] != sig) ++i;
  if (i < kSignalCount && ((g_old[i].sa_flags & SA_SIGINFO) != 0 || g_old[i].sa_handler != SIG_IGN)) {
    ::sigaction(sig, &g_old[i], nullptr);
  } else {
    struct sigaction dfl{};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    ::sigaction(sig, &dfl, nullptr);
  }
  errno = saved_errno;
  ::raise(sig);
}

struct AltStack {
  void* mem = nullptr;
  ~AltStack() {
    if (!mem) return;
    stack_t off{};
    off.ss_flags = SS_DISABLE;
    ::sigaltstack(&off, nullptr);
    std::free(mem);
  }
};

}  // namespace

long current_os_thread_id() {
#if defined(__linux__)
  return static_cast<long>(::syscall(SYS_gettid));
#elif defined(__APPLE__)
  uint64_t id = 0;
  ::pthread_threadid_np(nullptr, &id);
  return static_cast<long>(id);
#else
  return static_cast<long>(reinterpret_cast<intptr_t>(::pthread_self()));
#endif
}

void ensure_alt_signal_stack() {
  thread_local AltStack alt;
  if (alt.mem) return;
  stack_t current{};
  if (::sigaltstack(nullptr, &current) == 0 && !(current.ss_flags & SS_DISABLE)) return;  // has one (a sanitizer's)
  const size_t size = std::max<size_t>(64 * 1024, static_cast<size_t>(SIGSTKSZ));
  void* mem = std::malloc(size);
  if (!mem) return;
  stack_t ss{};
  ss.ss_sp = mem;
  ss.ss_size = size;
  ss.ss_flags = 0;
  if (::sigaltstack(&ss, nullptr) != 0) {
    std::free(mem);
    return;
  }
  alt.mem = mem;
}

void install_crash_handler() {
  if (g_installed.exchange(true)) return;
  ensure_alt_signal_stack();
  for (int i = 0; i < kSignalCount; ++i) {
    struct sigaction sa{};
    sa.sa_sigaction = handler;
    // All five blocked while the handler runs: a fault inside it ends the process (the kernel's
    // default) instead of re-entering and waiting for itself.
    sigemptyset(&sa.sa_mask);
    for (int s : kSignals) sigaddset(&sa.sa_mask, s);
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    ::sigaction(kSignals[i], &sa, &g_old[i]);
  }
}

bool crash_handler_installed() { return g_installed.load(); }

void set_crash_record_fd(int fd, const std::string& device) {
  const size_t n = std::min(device.size(), sizeof g_device - 1);
  std::memcpy(g_device, device.data(), n);
  g_device[n] = '\0';
  g_fd_pid.store(static_cast<long>(::getpid()));
  g_fd.store(fd);
}

void set_crash_record_test(const std::string& test, const std::string& json_prefix) {
  if (test.empty() && json_prefix.empty()) {
    g_live_prefix.store(-1);
    return;
  }
  const int next = g_live_prefix.load() == 0 ? 1 : 0;
  const size_t pn = json_prefix.size() > kMaxPrefix ? 0 : json_prefix.size();  // too long: stderr only
  std::memcpy(g_prefix[next], json_prefix.data(), pn);
  g_prefix[next][pn] = '\0';
  struct timespec mono{};
  ::clock_gettime(CLOCK_MONOTONIC, &mono);
  g_test_start_ns[next] = static_cast<long long>(mono.tv_sec) * 1000000000LL + mono.tv_nsec;
  const size_t tn = std::min(test.size(), sizeof g_test[next] - 1);
  std::memcpy(g_test[next], test.data(), tn);
  g_test[next][tn] = '\0';
  g_live_prefix.store(next);
}

CrashTexts format_crash_record(int sig) {
  std::vector<char> line(sizeof g_line), err(sizeof g_err), message(sizeof g_message), workers(sizeof g_workers);
  SignalSafeText l(line.data(), line.size()), e(err.data(), err.size()), m(message.data(), message.size());
  format_into(sig, l, e, m, workers.data(), workers.size());
  return {std::string(l.data(), l.size()), std::string(e.data(), e.size())};
}

std::string crash_detail_from_output(const std::string& output, const std::string& signal) {
  const std::string prefix = kCrashLinePrefix;
  const auto pos = output.rfind(prefix);
  if (pos == std::string::npos) return "";
  const auto start = pos + prefix.size();
  std::string line = output.substr(start, output.find('\n', start) - start);
  const auto sig = line.find(signal + " ");  // after "<test>: "
  if (sig == std::string::npos) return "";
  line.erase(0, sig);
  for (const char* cut : {"; other threads:", "; workers:"}) {
    if (const auto c = line.find(cut); c != std::string::npos) line.erase(c);
  }
  return line;
}

const char* crash_signal_name(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGKILL: return "SIGKILL";
    case SIGTERM: return "SIGTERM";
    case SIGTRAP: return "SIGTRAP";
    default: return "signal";
  }
}

// ---- SignalSafeText -------------------------------------------------------------------------------

SignalSafeText& SignalSafeText::put(const char* s) { return put(s, s ? std::strlen(s) : 0); }

SignalSafeText& SignalSafeText::put(const char* s, size_t n) {
  if (cap_ == 0) return *this;
  for (size_t i = 0; i < n; ++i) {
    if (n_ + 1 >= cap_) {
      truncated_ = true;
      break;
    }
    buf_[n_++] = s[i];
  }
  buf_[n_] = '\0';
  return *this;
}

SignalSafeText& SignalSafeText::put_char(char c) { return put(&c, 1); }

SignalSafeText& SignalSafeText::put_long(long v) {
  char digits[24];
  int n = 0;
  const bool negative = v < 0;
  unsigned long u = negative ? 0UL - static_cast<unsigned long>(v) : static_cast<unsigned long>(v);
  do {
    digits[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u > 0);
  if (negative) digits[n++] = '-';
  char out[24];
  for (int i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
  return put(out, static_cast<size_t>(n));
}

SignalSafeText& SignalSafeText::put_fixed(double v, int decimals) {
  if (!(v >= 0)) v = 0;  // NaN and negatives: 0
  if (v > 1e15) v = 1e15;
  long scale = 1;
  for (int i = 0; i < decimals; ++i) scale *= 10;
  const long scaled = static_cast<long>(v * static_cast<double>(scale) + 0.5);
  put_long(scaled / scale);
  if (decimals <= 0) return *this;
  put_char('.');
  char frac[20];
  long f = scaled % scale;
  for (int i = decimals - 1; i >= 0; --i, f /= 10) frac[i] = static_cast<char>('0' + f % 10);
  return put(frac, static_cast<size_t>(decimals));
}

SignalSafeText& SignalSafeText::put_json_escaped(const char* s) {
  static const char hex[] = "0123456789abcdef";
  for (; s && *s; ++s) {
    const unsigned char c = static_cast<unsigned char>(*s);
    if (c == '"' || c == '\\') {
      const char esc[2] = {'\\', static_cast<char>(c)};
      put(esc, 2);
    } else if (c < 0x20) {
      const char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      put(esc, 6);
    } else if (c > 0x7f) {
      put_char('?');
    } else {
      put_char(static_cast<char>(c));
    }
    if (truncated_) break;
  }
  return *this;
}

}  // namespace torchstress
