#include "torchstress/results_sink.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace torchstress {

ResultsSink& discarding_sink() {
  static ResultsSink sink;  // stateless: every method is a no-op
  return sink;
}

std::string current_test_name() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return info ? fmt::format("{}.{}", info->test_suite_name(), info->name()) : "";
}

}  // namespace torchstress
