#include "torchstress/fault_injection.h"

#include <map>
#include <regex>

#include "torchstress/crash_signatures.h"

namespace torchstress {

FaultSpec parse_fault_spec(const std::string& variable, const std::string& text) {
  FaultSpec f;
  if (text.empty()) return f;
  static const std::regex re("^(throw|wrong|nan|segv|abort|hang|race|crashsig:[a-z0-9_-]+)(@([0-9]+):([0-9]+))?$");
  std::smatch m;
  if (!std::regex_match(text, m, re)) {
    throw KnobError("torchstress: " + variable + "='" + text +
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
      throw KnobError("torchstress: " + variable + "='" + text +
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

FaultSpec parse_fault_spec(const std::string& text) { return parse_fault_spec("TORCHSTRESS_INJECT", text); }

FaultSpec fault_for_round(const Knobs& k, int round) {
  if (k.inject_round && *k.inject_round != round) return {};  // round-limited: only inside round R
  return k.inject;
}

}  // namespace torchstress
