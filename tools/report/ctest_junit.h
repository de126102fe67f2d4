// What CTest ran, from the JUnit files it wrote (ctest --output-junit, ctest_test(OUTPUT_JUNIT)):
// the report counts every one of them, so a CTest test that wrote no results line (a script, a
// binary stopped before its tests) is named, not silently missing from the totals.
#pragma once

#include <string>
#include <vector>

namespace tsreport {

struct CtestCase {
  std::string name;    // as CTest names it, less gtest_discover_tests' "  # GetParam() = ..." suffix
  std::string status;  // CTest's: run (passed), fail, notrun (skipped or not run), disabled
  std::string file;
};

// Every <testcase> of each file, in file order (a name in two files is kept once, its last
// status). Throws InputError when a file cannot be read or holds no <testsuite>.
std::vector<CtestCase> read_ctest_junit(const std::vector<std::string>& files);

}  // namespace tsreport
