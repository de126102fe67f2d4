// Knobs: every thread count, iteration count, duration and policy the suite uses, with defaults
// from knobs.def and TORCHSTRESS_* environment overrides, validated once before any test runs.
#pragma once

#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "torchstress/run_spec.h"

namespace torchstress {

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
std::optional<long> parse_optional_count(const std::string& variable, const std::string& text);
std::chrono::duration<double> parse_seconds(const std::string& variable, const std::string& text);
double parse_fraction(const std::string& variable, const std::string& text);
double parse_positive_fraction(const std::string& variable, const std::string& text);
std::string parse_device_spec(const std::string& variable, const std::string& text);
StreamPolicy parse_stream_policy(const std::string& variable, const std::string& text);
SyncPolicy parse_sync_policy(const std::string& variable, const std::string& text);
CheckCapture parse_check_capture(const std::string& variable, const std::string& text);
SchedulePolicy parse_schedule_policy(const std::string& variable, const std::string& text);
// A control's expected failure kind: "" (not a control), wrong value, exception, crash, hang.
std::string parse_control_kind(const std::string& variable, const std::string& text);
std::vector<long> parse_count_list(const std::string& variable, const std::string& text);
// "cuda,multigpu" -> {"cuda", "multigpu"}; empty text -> none. Accepted names: cuda, mps, multigpu.
std::vector<std::string> parse_backend_list(const std::string& variable, const std::string& text);
// TORCHSTRESS_INJECT's grammar, kind[@thread:iteration] (fault_injection.h); empty -> kNone.
FaultSpec parse_fault_spec(const std::string& variable, const std::string& text);
inline std::string parse_text(const std::string& /*variable*/, const std::string& text) { return text; }

// The kinds of knobs.def's `kind` column; each selects a field type and its parser.
enum class KnobKind {
  device,
  backend_list,
  count,
  optional_count,
  count_list,
  seconds,
  fraction,
  positive_fraction,
  stream_policy,
  sync_policy,
  check_capture,
  schedule_policy,
  inject,
  control_kind,
  text
};
template <KnobKind K>
struct KnobParser;
#define TORCHSTRESS_KNOB_PARSER(KIND, TYPE, PARSE) \
  template <>                                      \
  struct KnobParser<KnobKind::KIND> {              \
    using type = TYPE;                             \
    static constexpr auto parse = PARSE;           \
  };
TORCHSTRESS_KNOB_PARSER(device, std::string, &parse_device_spec)
TORCHSTRESS_KNOB_PARSER(backend_list, std::vector<std::string>, &parse_backend_list)
TORCHSTRESS_KNOB_PARSER(count, long, &parse_count)
TORCHSTRESS_KNOB_PARSER(optional_count, std::optional<long>, &parse_optional_count)
TORCHSTRESS_KNOB_PARSER(count_list, std::vector<long>, &parse_count_list)
TORCHSTRESS_KNOB_PARSER(seconds, std::chrono::duration<double>, &parse_seconds)
TORCHSTRESS_KNOB_PARSER(fraction, double, &parse_fraction)
TORCHSTRESS_KNOB_PARSER(positive_fraction, double, &parse_positive_fraction)
TORCHSTRESS_KNOB_PARSER(stream_policy, StreamPolicy, &parse_stream_policy)
TORCHSTRESS_KNOB_PARSER(sync_policy, SyncPolicy, &parse_sync_policy)
TORCHSTRESS_KNOB_PARSER(check_capture, CheckCapture, &parse_check_capture)
TORCHSTRESS_KNOB_PARSER(schedule_policy, SchedulePolicy, &parse_schedule_policy)
TORCHSTRESS_KNOB_PARSER(inject, FaultSpec, &parse_fault_spec)
TORCHSTRESS_KNOB_PARSER(control_kind, std::string, &parse_control_kind)
TORCHSTRESS_KNOB_PARSER(text, std::string, &parse_text)
#undef TORCHSTRESS_KNOB_PARSER

// The effective knob values of this process: one field per line of knobs.def, typed by its kind.
struct Knobs {
#define TORCHSTRESS_KNOB(NAME, FIELD, KIND, DEFAULT, DESCRIPTION) KnobParser<KnobKind::KIND>::type FIELD{};
#include "torchstress/knobs.def"
#undef TORCHSTRESS_KNOB

  std::vector<KnobValue> all;  // every knob, for the start-up log and the report

  // The text of knob `name` (e.g. "INJECT") as given or defaulted; "" for an unknown name.
  std::string text_of(const std::string& name) const;
  // True when knob `name` was set from the environment (false for an unknown name).
  bool overridden(const std::string& name) const;
  // Knob `name`'s value, or nullptr for an unknown name.
  const KnobValue* find(const std::string& name) const;
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

}  // namespace torchstress

namespace torchstress {

// Changes knobs for one scope and restores them after, for self-tests of the suite layer itself
// (keeps --gtest_repeat honest). A test that needs another run policy sets it in its RunSpec.
//   ScopedKnobs k([](Knobs& k) { k.threads = 2; });
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
