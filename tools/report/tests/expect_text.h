// Text checks shared by the report tool's tests: one call per list of texts a rendering must hold,
// so a miss names the text and prints the whole rendering once per text.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tsreport_test {

inline void expect_all_in(const std::string& in, const std::vector<std::string>& texts) {
  for (const auto& text : texts) EXPECT_NE(in.find(text), std::string::npos) << "missing: " << text << "\n" << in;
}

}  // namespace tsreport_test
