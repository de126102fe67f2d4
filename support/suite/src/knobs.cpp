#include "torchstress/knobs.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <regex>
#include <utility>

namespace torchstress {
namespace {

[[noreturn]] void reject(const std::string& variable, const std::string& text, const char* accepted) {
  throw KnobError(fmt::format("torchstress: {}='{}' is not accepted; accepted: {}", variable, text, accepted));
}

// `text` as the value of one of `choices`, else rejected naming every choice.
template <typename E>
E parse_choice(const std::string& variable, const std::string& text,
               std::initializer_list<std::pair<const char*, E>> choices) {
  for (const auto& [name, value] : choices) {
    if (text == name) return value;
  }
  std::string accepted;
  for (const auto& choice : choices) accepted += (accepted.empty() ? "" : ", ") + std::string(choice.first);
  reject(variable, text, accepted.c_str());
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
  return parse_choice<StreamPolicy>(variable, text,
                                    {{"shared", StreamPolicy::kShared}, {"per-thread", StreamPolicy::kPerThread}});
}

SyncPolicy parse_sync_policy(const std::string& variable, const std::string& text) {
  return parse_choice<SyncPolicy>(
      variable, text, {{"stream", SyncPolicy::kStream}, {"device", SyncPolicy::kDevice}, {"none", SyncPolicy::kNone}});
}

CheckCapture parse_check_capture(const std::string& variable, const std::string& text) {
  return parse_choice<CheckCapture>(variable, text, {{"copy", CheckCapture::kCopy}, {"keep", CheckCapture::kKeep}});
}

std::string parse_control_kind(const std::string& variable, const std::string& text) {
  for (const char* kind : {"", "wrong value", "exception", "crash", "hang"}) {
    if (text == kind) return text;
  }
  reject(variable, text, "wrong value, exception, crash, hang (one kind), or empty: not a control");
}

SchedulePolicy parse_schedule_policy(const std::string& variable, const std::string& text) {
  return parse_choice<SchedulePolicy>(variable, text,
                                      {{"mixed", SchedulePolicy::kMixed},
                                       {"noise", SchedulePolicy::kNoise},
                                       {"free", SchedulePolicy::kFree},
                                       {"pct", SchedulePolicy::kPct}});
}

std::optional<long> parse_optional_count(const std::string& variable, const std::string& text) {
  if (text.empty()) return std::nullopt;
  return parse_count(variable, text);
}

double parse_positive_fraction(const std::string& variable, const std::string& text) {
  const double v = parse_fraction(variable, text);
  if (v <= 0.0) reject(variable, text, "a fraction > 0 and <= 1");
  return v;
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

namespace {

// One knob: its text from the environment (or its default) into `all`, then its kind's parser.
template <KnobKind K>
typename KnobParser<K>::type load_knob(std::vector<KnobValue>& all, const char* name, const char* kind,
                                       const char* fallback, const char* description) {
  KnobValue v{name, kind, "", description, false};
  v.text = env_or(("TORCHSTRESS_" + v.name).c_str(), fallback, &v.overridden);
  all.push_back(v);
  return KnobParser<K>::parse("TORCHSTRESS_" + v.name, v.text);
}

}  // namespace

Knobs load_knobs_from_environment() {
  Knobs k;
  // Every line of knobs.def: read, then parsed by the parser its kind selects.
#define TORCHSTRESS_KNOB(NAME, FIELD, KIND, DEFAULT, DESCRIPTION) \
  k.FIELD = load_knob<KnobKind::KIND>(k.all, #NAME, #KIND, DEFAULT, DESCRIPTION);
#include "torchstress/knobs.def"
#undef TORCHSTRESS_KNOB
  if (k.results_dir.empty()) {
    // ctest passes the build tree's results/ folder; run by hand, results go next to the caller.
    const char* d = std::getenv("TORCHSTRESS_DEFAULT_RESULTS_DIR");
    k.results_dir = (d && *d) ? d : "torchstress-results";
  }
  return k;
}

const KnobValue* Knobs::find(const std::string& name) const {
  for (const auto& v : all) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

std::string Knobs::text_of(const std::string& name) const {
  const KnobValue* v = find(name);
  return v != nullptr ? v->text : "";
}

bool Knobs::overridden(const std::string& name) const {
  const KnobValue* v = find(name);
  return v != nullptr && v->overridden;
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

}  // namespace torchstress
