#include "torchstress/knobs.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <regex>
#include <utility>

namespace torchstress {
namespace {

[[noreturn]] void reject(const std::string& variable, const std::string& text, const char* accepted) {
  throw KnobError(fmt::format("torchstress: {}='{}' is not accepted; accepted: {}", variable, text, accepted));
}

std::string env_or(const char* name, const std::string& fallback, bool* overridden) {
  const char* v = std::getenv(name);
  *overridden = v != nullptr && *v != '\0';
  return *overridden ? std::string(v) : fallback;
}

Knobs& storage() {
  static Knobs k;
  return k;
}

}  // namespace

long parse_count(const std::string& variable, const std::string& text) {
  static const std::regex re("^[0-9]{1,9}$");
  if (!std::regex_match(text, re) || std::stol(text) < 1) {
    reject(variable, text, "a whole number >= 1");
  }
  return std::stol(text);
}

std::chrono::duration<double> parse_seconds(const std::string& variable, const std::string& text) {
  static const std::regex re("^([0-9]+(\\.[0-9]+)?)(ms|s|m)?$");
  std::smatch m;
  if (!std::regex_match(text, m, re)) {
    reject(variable, text, "a duration > 0 such as 60, 2.5, 500ms, 2m");
  }
  double value = std::stod(m[1].str());
  const std::string unit = m[3].str();
  if (unit == "ms") value /= 1000.0;
  if (unit == "m") value *= 60.0;
  if (value <= 0.0) reject(variable, text, "a duration > 0 such as 60, 2.5, 500ms, 2m");
  return std::chrono::duration<double>(value);
}

double parse_fraction(const std::string& variable, const std::string& text) {
  static const std::regex re("^([0-9]+(\\.[0-9]+)?)(%)?$");
  std::smatch m;
  if (!std::regex_match(text, m, re)) reject(variable, text, "a fraction 0..1 or a percentage 0%..100%");
  double v = std::stod(m[1].str());
  if (m[3].matched) v /= 100.0;
  if (v < 0.0 || v > 1.0) reject(variable, text, "a fraction 0..1 or a percentage 0%..100%");
  return v;
}

std::string parse_device_spec(const std::string& variable, const std::string& text) {
  static const std::regex re("^(auto|cpu|cuda|cuda:[0-9]{1,2}|mps)$");
  if (!std::regex_match(text, re)) reject(variable, text, "auto, cpu, cuda, cuda:N, mps");
  return text;
}

StreamPolicy parse_stream_policy(const std::string& variable, const std::string& text) {
  if (text == "shared") return StreamPolicy::kShared;
  if (text == "per-thread") return StreamPolicy::kPerThread;
  reject(variable, text, "shared, per-thread");
}

SyncPolicy parse_sync_policy(const std::string& variable, const std::string& text) {
  if (text == "stream") return SyncPolicy::kStream;
  if (text == "device") return SyncPolicy::kDevice;
  reject(variable, text, "stream, device");
}

std::vector<long> parse_count_list(const std::string& variable, const std::string& text) {
  static const std::regex re("^[0-9]{1,4}(,[0-9]{1,4})*$");
  if (!std::regex_match(text, re)) reject(variable, text, "comma-separated whole numbers >= 1, e.g. 1,2,4,8");
  std::vector<long> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    out.push_back(parse_count(variable, text.substr(start, comma - start)));
    start = comma + 1;
  }
  return out;
}

std::vector<std::string> parse_backend_list(const std::string& variable, const std::string& text) {
  static const std::regex re("^((cuda|mps|multigpu)(,(cuda|mps|multigpu))*)?$");
  if (!std::regex_match(text, re)) reject(variable, text, "empty, or a comma-separated subset of cuda, mps, multigpu");
  std::vector<std::string> out;
  for (size_t start = 0; start < text.size();) {
    const size_t comma = std::min(text.find(',', start), text.size());
    out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

Knobs load_knobs_from_environment() {
  Knobs k;
  // Read every knob of knobs.def as text first, then convert each by its kind.
#define TORCHSTRESS_KNOB(NAME, KIND, DEFAULT, DESCRIPTION)         \
  {                                                                \
    KnobValue v{#NAME, #KIND, "", DESCRIPTION, false};             \
    v.text = env_or("TORCHSTRESS_" #NAME, DEFAULT, &v.overridden); \
    k.all.push_back(v);                                            \
  }
#include "torchstress/knobs.def"
#undef TORCHSTRESS_KNOB
  auto text = [&](const char* name) -> std::pair<std::string, std::string> {
    for (const auto& v : k.all) {
      if (v.name == name) return {"TORCHSTRESS_" + v.name, v.text};
    }
    throw KnobError(fmt::format("torchstress: internal error: unknown knob {}", name));
  };
  auto count = [&](const char* n) {
    auto [var, t] = text(n);
    return parse_count(var, t);
  };
  auto seconds = [&](const char* n) {
    auto [var, t] = text(n);
    return parse_seconds(var, t);
  };

  {
    auto [var, t] = text("DEVICE");
    k.device_spec = parse_device_spec(var, t);
  }
  {
    auto [var, t] = text("REQUIRE");
    k.require = parse_backend_list(var, t);
  }
  k.threads = count("THREADS");
  k.smoke_iterations = count("SMOKE_ITERATIONS");
  k.layernorm_iterations = count("LAYERNORM_ITERATIONS");
  k.transformer_iterations = count("TRANSFORMER_ITERATIONS");
  k.soak_seconds = seconds("SOAK_SECONDS");
  k.soak_short_seconds = seconds("SOAK_SHORT_SECONDS");
  k.progress_seconds = seconds("PROGRESS_SECONDS");
  k.rounds = count("ROUNDS");
  k.quick_rounds = count("QUICK_ROUNDS");
  {
    auto [var, t] = text("ROUND_PASS_THRESHOLD");
    k.round_pass_threshold = parse_fraction(var, t);
  }
  k.round_timeout = seconds("ROUND_TIMEOUT_SECONDS");
  k.stall = seconds("STALL_SECONDS");
  k.gate_timeout = seconds("GATE_TIMEOUT_SECONDS");
  {
    auto [var, t] = text("CUDA_STREAMS");
    k.cuda_streams = parse_stream_policy(var, t);
  }
  {
    auto [var, t] = text("SYNC");
    k.sync = parse_sync_policy(var, t);
  }
  k.inject = text("INJECT").second;
  {
    auto [var, t] = text("INJECT_ROUND");
    if (!t.empty()) k.inject_round = parse_count(var, t);
  }
  k.results_dir = text("RESULTS_DIR").second;
  if (k.results_dir.empty()) {
    // ctest passes the build tree's results/ folder; run by hand, results go next to the caller.
    const char* d = std::getenv("TORCHSTRESS_DEFAULT_RESULTS_DIR");
    k.results_dir = (d && *d) ? d : "torchstress-results";
  }
  k.bench_ops = count("BENCH_OPS");
  k.bench_repetitions = count("BENCH_REPETITIONS");
  {
    auto [var, t] = text("BENCH_THREADS");
    k.bench_threads = parse_count_list(var, t);
  }
  k.bench_max_batch = count("BENCH_MAX_BATCH");
  k.bench_batch_iterations = count("BENCH_BATCH_ITERATIONS");
  {
    auto [var, t] = text("REGRESSION_SCALE");
    k.regression_scale = parse_fraction(var, t);
    if (k.regression_scale <= 0.0) reject(var, t, "a fraction > 0 and <= 1");
  }
  return k;
}

int print_numeric_knobs() {
  for (const auto& v : knobs().all) {
    const std::string var = "TORCHSTRESS_" + v.name;
    if (v.kind == "count") std::printf("%s=%ld\n", v.name.c_str(), parse_count(var, v.text));
    if (v.kind == "seconds") {
      std::printf("%s=%.0f\n", v.name.c_str(), std::ceil(parse_seconds(var, v.text).count()));
    }
  }
  return 0;
}

const Knobs& knobs() { return storage(); }
void set_knobs(Knobs k) { storage() = std::move(k); }

long scaled(long upstream_count) {
  return std::max(1L, static_cast<long>(std::lround(upstream_count * knobs().regression_scale)));
}

const char* to_string(StreamPolicy p) { return p == StreamPolicy::kShared ? "shared" : "per-thread"; }
const char* to_string(SyncPolicy p) { return p == SyncPolicy::kStream ? "stream" : "device"; }

}  // namespace torchstress
