#include "torchstress/fault_injection.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <mutex>
#include <regex>
#include <thread>

#include "torchstress/crash_signatures.h"
#include "torchstress/knobs.h"

namespace torchstress {
namespace {

std::atomic<int> g_round{0};

// Parsed once per distinct knob text (scoped knob overrides in self-tests change it).
const FaultSpec& cached() {
  static std::mutex mu;
  static std::string text;
  static FaultSpec spec;
  static std::atomic<bool> any{false};
  if (!any.load(std::memory_order_acquire) && knobs().inject.empty()) return spec;
  std::lock_guard<std::mutex> lock(mu);
  if (!any.load() || text != knobs().inject) {
    text = knobs().inject;
    spec = parse_fault_spec(text);
    any.store(true, std::memory_order_release);
  }
  return spec;
}

bool targets(const FaultSpec& f, int thread, long iteration) { return f.thread == thread && f.iteration == iteration; }

}  // namespace

FaultSpec parse_fault_spec(const std::string& text) {
  FaultSpec f;
  if (text.empty()) return f;
  static const std::regex re("^(throw|wrong|nan|segv|abort|hang|race|crashsig:[a-z0-9_-]+)(@([0-9]+):([0-9]+))?$");
  std::smatch m;
  if (!std::regex_match(text, m, re)) {
    throw KnobError("torchstress: TORCHSTRESS_INJECT='" + text +
                    "' is not accepted; accepted: kind[@thread:iteration] with kind "
                    "throw|wrong|nan|segv|abort|hang|race|crashsig:<name>");
  }
  static const std::map<std::string, FaultKind> kinds = {
      {"throw", FaultKind::kThrow}, {"wrong", FaultKind::kWrong}, {"nan", FaultKind::kNan},  {"segv", FaultKind::kSegv},
      {"abort", FaultKind::kAbort}, {"hang", FaultKind::kHang},   {"race", FaultKind::kRace}};
  const std::string kind = m[1].str();
  if (kind.rfind("crashsig:", 0) == 0) {
    f.kind = FaultKind::kCrashSignature;
    f.signature = kind.substr(9);
    if (recorded_crash_sample(f.signature).empty()) {
      throw KnobError("torchstress: TORCHSTRESS_INJECT='" + text +
                      "' names no recorded crash sample; accepted: " + recorded_crash_sample_names());
    }
  } else {
    f.kind = kinds.at(kind);
  }
  if (m[2].matched) {
    f.thread = std::stoi(m[3].str());
    f.iteration = std::stol(m[4].str());
  }
  return f;
}

void set_current_round(int round) { g_round.store(round); }

const FaultSpec& active_fault() {
  static const FaultSpec none;
  const auto& k = knobs();
  if (k.inject.empty()) return none;
  if (k.inject_round && g_round.load() != 0 && *k.inject_round != g_round.load()) return none;
  if (k.inject_round && g_round.load() == 0) return none;  // round-limited, and not inside a round
  return cached();
}

void inject_before_op(int thread, long iteration) {
  const FaultSpec& f = active_fault();
  if (f.kind == FaultKind::kNone || !targets(f, thread, iteration)) return;
  switch (f.kind) {
    case FaultKind::kThrow:
      TORCH_CHECK(false, "injected fault (TORCHSTRESS_INJECT=throw) in thread ", thread, ", iteration ", iteration);
    case FaultKind::kSegv:
      std::fflush(nullptr);
      std::raise(SIGSEGV);
      break;
    case FaultKind::kAbort:
      std::fflush(nullptr);
      std::abort();
    case FaultKind::kCrashSignature:
      std::fprintf(stderr, "%s\n", recorded_crash_sample(f.signature).c_str());
      std::fflush(nullptr);
      std::abort();
    case FaultKind::kHang:
      // Blocks like a lost dispatch_sync or a never-signalled event: only the watchdog ends it.
      for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
    default:
      break;
  }
}

at::Tensor inject_after_op(int thread, long iteration, at::Tensor output) {
  const FaultSpec& f = active_fault();
  if ((f.kind != FaultKind::kWrong && f.kind != FaultKind::kNan) || !targets(f, thread, iteration)) return output;
  at::Tensor perturbed = output.clone();
  auto flat = perturbed.view(-1);
  if (f.kind == FaultKind::kWrong) {
    flat[0].add_(1.0);
  } else {
    flat[0].fill_(std::numeric_limits<double>::quiet_NaN());
  }
  return perturbed;
}

at::Tensor stage_input(const at::Tensor& input) {
  if (active_fault().kind != FaultKind::kRace) return input;
  // One scratch per shape, shared by every thread and written without a lock: another thread's
  // copy lands between this thread's write and its read, so the op sees foreign data.
  static std::mutex registry_mu;
  static std::map<std::string, at::Tensor> scratch_by_shape;
  at::Tensor scratch;
  {
    std::lock_guard<std::mutex> lock(registry_mu);
    auto key = input.sizes().vec();
    std::string k = input.device().str();
    for (auto d : key) k.append("x").append(std::to_string(d));  // appends: gcc 12 -Wrestrict misfires on "x" + str
    auto it = scratch_by_shape.find(k);
    if (it == scratch_by_shape.end()) it = scratch_by_shape.emplace(k, at::empty_like(input)).first;
    scratch = it->second;
  }
  scratch.copy_(input);
  std::this_thread::yield();
  return scratch.clone();
}

}  // namespace torchstress
