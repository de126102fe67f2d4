// Knobs: every thread count, iteration count, duration and policy the suite uses, with defaults
// from knobs.def and TORCHSTRESS_* environment overrides, validated once before any test runs.
#pragma once

#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <vector>

namespace torchstress {

enum class StreamPolicy { kShared, kPerThread };
enum class SyncPolicy { kStream, kDevice };

// A validated value of one knob. `text` is what the user wrote (or the default).
struct KnobValue {
  std::string name;  // e.g. "SOAK_SECONDS" (the variable is TORCHSTRESS_SOAK_SECONDS)
  std::string kind;  // device | count | seconds | fraction | ...
  std::string text;
  std::string description;
  bool overridden = false;  // set from the environment
};

// Thrown by the parsers below; `what()` is the one line the user sees.
struct KnobError : std::exception {
  std::string line;
  explicit KnobError(std::string l) : line(std::move(l)) {}
  const char* what() const noexcept override { return line.c_str(); }
};

// Parsers, also used by the self-tests. `variable` only names the value in the error line.
long parse_count(const std::string& variable, const std::string& text);
std::chrono::duration<double> parse_seconds(const std::string& variable, const std::string& text);
double parse_fraction(const std::string& variable, const std::string& text);
std::string parse_device_spec(const std::string& variable, const std::string& text);
StreamPolicy parse_stream_policy(const std::string& variable, const std::string& text);
SyncPolicy parse_sync_policy(const std::string& variable, const std::string& text);
std::vector<long> parse_count_list(const std::string& variable, const std::string& text);
// "cuda,multigpu" -> {"cuda", "multigpu"}; empty text -> none. Accepted names: cuda, mps, multigpu.
std::vector<std::string> parse_backend_list(const std::string& variable, const std::string& text);

// The effective knob values of this process.
struct Knobs {
  std::string device_spec;
  std::vector<std::string> require;  // backends whose skips are failures (TORCHSTRESS_REQUIRE)
  long threads;
  long smoke_iterations;
  long layernorm_iterations;
  long transformer_iterations;
  std::chrono::duration<double> soak_seconds;
  std::chrono::duration<double> soak_short_seconds;
  std::chrono::duration<double> progress_seconds;
  long rounds;
  long quick_rounds;
  double round_pass_threshold;
  std::chrono::duration<double> round_timeout;
  std::chrono::duration<double> stall;
  std::chrono::duration<double> gate_timeout;
  StreamPolicy cuda_streams;
  SyncPolicy sync;
  std::string inject;  // validated by fault_injection.h
  std::optional<long> inject_round;
  std::string results_dir;
  long bench_ops;
  long bench_repetitions;
  std::vector<long> bench_threads;
  long bench_max_batch;
  long bench_batch_iterations;
  double regression_scale;

  std::vector<KnobValue> all;  // every knob, for the start-up log and the report
};

// Reads and validates every knob from the environment. Throws KnobError on the first bad value.
Knobs load_knobs_from_environment();

// The process-wide knobs; load_knobs_from_environment() must have run (test main does it).
const Knobs& knobs();
void set_knobs(Knobs k);

// Scales an upstream repro's iteration count by REGRESSION_SCALE, never below 1.
long scaled(long upstream_count);

// Prints NAME=<whole number> for every count knob and every seconds knob (rounded up), as in
// force now; CTest evaluates the TIMEOUT expressions of cmake/TorchstressTesting.cmake with
// them when it runs (so a 2 h soak gets a 2 h TIMEOUT). Returns the exit code (0).
int print_numeric_knobs();

const char* to_string(StreamPolicy p);
const char* to_string(SyncPolicy p);

}  // namespace torchstress

namespace torchstress {

// Changes knobs for one scope and restores them after (self-tests; keeps --gtest_repeat honest):
//   ScopedKnobs k([](Knobs& k) { k.inject = "wrong@1:3"; });
class ScopedKnobs {
 public:
  template <typename Change>
  explicit ScopedKnobs(Change change) : saved_(knobs()) {
    Knobs k = saved_;
    change(k);
    set_knobs(std::move(k));
  }
  ~ScopedKnobs() { set_knobs(saved_); }
  ScopedKnobs(const ScopedKnobs&) = delete;
  ScopedKnobs& operator=(const ScopedKnobs&) = delete;

 private:
  Knobs saved_;
};

}  // namespace torchstress
