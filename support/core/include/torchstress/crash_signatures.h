// Known crash signatures of upstream threading bugs: when an isolated round or subprocess dies,
// its stderr is matched against these so the failure names the upstream issue it looks like.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace torchstress {

struct CrashSignature {
  std::string name;       // short id, e.g. "mps-commit-committed"
  std::string text;       // substring that identifies it in stderr
  std::string upstream;   // e.g. "pytorch/pytorch#100285 (fixed by #108996)"
  std::string bug_class;  // e.g. "MPS command buffer committed twice from two threads"
};

const std::vector<CrashSignature>& known_crash_signatures();

// The first known signature found in `stderr_text`.
std::optional<CrashSignature> match_crash_signature(const std::string& stderr_text);

// "matches <upstream>: <bug class>" or "" when nothing matches.
std::string describe_crash_match(const std::string& stderr_text);

// Recorded stderr samples (as the upstream reports print them), by signature name; used by the
// matcher's self-test and by TORCHSTRESS_INJECT=crashsig:<name>. "" for an unknown name.
std::string recorded_crash_sample(const std::string& name);
std::string recorded_crash_sample_names();

}  // namespace torchstress
