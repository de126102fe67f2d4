// gmock matchers for the suite's results, so the main thread asserts once with a message that
// lists every captured error, grouped by kind:  EXPECT_THAT(result.errors, HasNoErrors());
#pragma once

#include <gmock/gmock.h>

#include <vector>

#include "torchstress/error_sink.h"

namespace torchstress {

// gmock prints the actual value on failure; make that readable instead of raw bytes.
inline void PrintTo(const ErrorRecord& e, std::ostream* os) { *os << e.describe(); }

class HasNoErrorsMatcher : public ::testing::MatcherInterface<const std::vector<ErrorRecord>&> {
 public:
  bool MatchAndExplain(const std::vector<ErrorRecord>& errors,
                       ::testing::MatchResultListener* listener) const override {
    if (errors.empty()) return true;
    *listener << "which holds " << errors.size() << " error(s):\n" << format_grouped(errors);
    return false;
  }
  void DescribeTo(std::ostream* os) const override { *os << "has no errors"; }
  void DescribeNegationTo(std::ostream* os) const override { *os << "has errors"; }
};

inline ::testing::Matcher<const std::vector<ErrorRecord>&> HasNoErrors() {
  return ::testing::MakeMatcher(new HasNoErrorsMatcher);
}

// Matches an error list containing an error of `kind` whose describe() contains `text`.
MATCHER_P2(HasErrorOf, kind, text, "") {
  for (const auto& e : arg) {
    if (e.kind == kind && e.describe().find(text) != std::string::npos) return true;
  }
  *result_listener << "whose errors are:\n" << format_grouped(arg);
  return false;
}

}  // namespace torchstress
