// CTest's JUnit files read for their test names and statuses only: each <testcase ...> start tag's
// name= and status= attributes (CTest writes one per test, with its output as a child element).
#include "ctest_junit.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "results_reader.h"

namespace tsreport {
namespace {

std::string unescape(const std::string& s) {
  static const std::pair<const char*, char> kEntities[] = {
      {"&quot;", '"'}, {"&apos;", '\''}, {"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}};
  std::string out;
  for (size_t i = 0; i < s.size();) {
    bool replaced = false;
    if (s[i] == '&') {
      for (const auto& [entity, ch] : kEntities) {
        if (s.compare(i, std::char_traits<char>::length(entity), entity) == 0) {
          out += ch;
          i += std::char_traits<char>::length(entity);
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out += s[i++];
  }
  return out;
}

// The value of attribute `key` in one start tag's text, "" when absent.
std::string attribute(const std::string& tag, const std::string& key) {
  for (size_t pos = 0; (pos = tag.find(key + "=\"", pos)) != std::string::npos; pos += key.size()) {
    if (pos > 0 && !std::isspace(static_cast<unsigned char>(tag[pos - 1]))) continue;  // classname= is not name=
    const size_t start = pos + key.size() + 2;
    const size_t end = tag.find('"', start);
    if (end == std::string::npos) return "";
    return unescape(tag.substr(start, end - start));
  }
  return "";
}

}  // namespace

std::vector<CtestCase> read_ctest_junit(const std::vector<std::string>& files) {
  std::vector<CtestCase> cases;
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw InputError(fmt::format("CTest JUnit file {} cannot be read", file));
    std::stringstream buf;
    buf << in.rdbuf();
    const std::string text = buf.str();
    if (text.find("<testsuite") == std::string::npos)
      throw InputError(fmt::format("{} is not a CTest JUnit file (no <testsuite>)", file));
    for (size_t pos = 0; (pos = text.find("<testcase", pos)) != std::string::npos;) {
      const size_t end = text.find('>', pos);
      if (end == std::string::npos) break;
      const std::string tag = text.substr(pos, end - pos);
      pos = end;
      CtestCase c{attribute(tag, "name"), attribute(tag, "status"), file};
      // gtest_discover_tests names a parameterised case "Suite/Test.Name/param  # GetParam() = ..."
      // (or "# TypeParam = ..."): the gtest name is the part before; a gtest name has no spaces.
      if (const auto cut = c.name.find("  # "); cut != std::string::npos) c.name.erase(cut);
      if (c.name.empty()) continue;
      auto it = std::find_if(cases.begin(), cases.end(), [&](const CtestCase& x) { return x.name == c.name; });
      if (it == cases.end())
        cases.push_back(std::move(c));
      else
        *it = std::move(c);
    }
  }
  return cases;
}

}  // namespace tsreport
