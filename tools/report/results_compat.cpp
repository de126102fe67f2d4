// Version-1 results (lines without "schema", written before the harness typed its records) read
// as version 2: the one place where fields are recovered from names and texts. The builder only
// reads the typed fields this produces.
#include <fmt/format.h>

#include <regex>

#include "results_reader.h"

namespace tsreport {
namespace {

// The seed report's sections, by suite; the binary decides between regression, self-test and other.
std::string v1_section(const std::string& name, const std::string& binary) {
  const std::string suite = name.substr(0, name.find('.'));
  if (suite == "ParallelMPS" || suite == "ParallelCUDA" || suite == "ParallelCPU") return "parallel";
  if (suite == "Soak") return "soak";
  if (suite == "Stress") return "stress";
  if (suite == "TransformerEncoder") return "isolation";
  if (suite == "Bench") return "bench";
  if (binary.find("regression") != std::string::npos) return "regression";
  if (binary.find("selftest") != std::string::npos) return "selftest";
  return "other";
}

Json error_of(const std::string& kind, Json thread, Json iteration, const std::string& op, const std::string& device,
              const std::string& message) {
  Json e = Json::object();
  e["kind"] = kind;
  e["thread"] = std::move(thread);
  e["iteration"] = std::move(iteration);
  e["op"] = op;
  e["device"] = device;
  e["message"] = message;
  e["max_abs_diff"] = nullptr;
  return e;
}

// "wrong value in thread 5, iteration 12 (op layernorm on mps): max abs diff 1.5", "start gate:
// worker 3 ...", "thread 3 stuck at iteration 4711 in matmul128 (...)": one typed error, or null.
Json error_from_text(const std::string& text) {
  static const std::regex located(
      R"(^(wrong value|NaN/Inf|exception|start gate) in thread (\d+), iteration (\d+)(?: \(op (.+?) on ([^)]+)\))?: ([\s\S]*)$)");
  static const std::regex bare(R"(^(wrong value|NaN/Inf|exception|start gate):? ([\s\S]*)$)");
  static const std::regex stall(R"(^thread (\d+) stuck at iteration (\d+) in (\S+) ?([\s\S]*)$)");
  std::smatch m;
  if (std::regex_match(text, m, located)) return error_of(m[1], std::stoi(m[2]), std::stoi(m[3]), m[4], m[5], m[6]);
  if (std::regex_match(text, m, stall)) return error_of("stall", std::stoi(m[1]), std::stoi(m[2]), m[3], "", m[4]);
  if (std::regex_match(text, m, bare)) return error_of(m[1], nullptr, nullptr, "", "", m[2]);
  return nullptr;
}

// The "- wrong value in thread ..." items of a HasNoErrors() failure, else the text itself.
void errors_from_failure(const std::string& f, Json& errors) {
  bool any = false;
  size_t pos = 0;
  while (pos < f.size()) {
    size_t end = f.find('\n', pos);
    if (end == std::string::npos) end = f.size();
    const std::string line = f.substr(pos, end - pos);
    pos = end + 1;
    const auto dash = line.find("- ");
    if (dash == std::string::npos || line.find_first_not_of(' ') != dash) continue;
    Json e = error_from_text(line.substr(dash + 2));
    if (e.is_null()) continue;
    errors.push_back(std::move(e));
    any = true;
  }
  if (any) return;
  Json e = error_from_text(f);
  if (!e.is_null()) errors.push_back(std::move(e));
}

// "wrong value: 3, exception: 1" (or "none") -> {"wrong value": 3, "exception": 1}
Json counts_from_text(const std::string& s) {
  Json counts = Json::object();
  size_t pos = 0;
  while (pos < s.size()) {
    size_t end = s.find(", ", pos);
    if (end == std::string::npos) end = s.size();
    const std::string item = s.substr(pos, end - pos);
    pos = end + 2;
    const auto colon = item.rfind(':');
    if (colon != std::string::npos) counts[item.substr(0, colon)] = std::atol(item.c_str() + colon + 1);
  }
  return counts;
}

void upgrade_properties(Json& props) {
  const Json& successes = at(props, "successes");
  long ok = 0, total = 0;
  if (successes.is_string() && std::sscanf(str(successes).c_str(), "%ld/%ld", &ok, &total) == 2) {
    props["successes"] = ok;
    if (!at(props, "total_ops").is_number()) props["total_ops"] = total;
  }
}

void upgrade_test(Json& l) {
  l["section"] = v1_section(str(l, "name"), str(l, "binary"));
  if (!at(l, "properties").is_object()) l["properties"] = Json::object();
  Json& props = l["properties"];
  upgrade_properties(props);
  l["error_counts"] = counts_from_text(str(props, "error_kinds"));
  Json errors = Json::array();
  for (const auto& f : elems(l, "failures")) errors_from_failure(str(f), errors);
  l["errors"] = std::move(errors);
}

}  // namespace

void upgrade_v1_line(Json& l) {
  const std::string type = str(l, "type");
  if (type == "test") {
    upgrade_test(l);
  } else if (type == "start") {
    l["section"] = v1_section(str(l, "name"), str(l, "binary"));
  } else if (type == "round") {
    Json errors = Json::array();
    Json e = error_from_text(str(l, "detail"));
    if (!e.is_null()) errors.push_back(std::move(e));
    l["errors"] = std::move(errors);
  } else if (type == "bench") {
    const std::string test = str(l, "test");
    l["smoke"] = test.size() >= 5 && test.compare(test.size() - 5, 5, "Smoke") == 0;
  }
}

}  // namespace tsreport
