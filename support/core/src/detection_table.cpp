#include "torchstress/detection_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace torchstress {
namespace {

// ---- reading a line -----------------------------------------------------------------------------

const Json& field(const Json& j, const char* key) {
  static const Json null_value;
  const auto it = j.find(key);
  return it == j.end() ? null_value : *it;
}

std::string required_string(const Json& j, const char* key) {
  const Json& v = field(j, key);
  if (!v.is_string() || v.get<std::string>().empty())
    throw std::invalid_argument(fmt::format("detection line: \"{}\" must be a non-empty string", key));
  return v.get<std::string>();
}

int required_count(const Json& j, const char* key) {
  const Json& v = field(j, key);
  if (!v.is_number_integer() || v.get<long long>() < 0 || v.get<long long>() > 1000000000)
    throw std::invalid_argument(fmt::format("detection line: \"{}\" must be a whole number >= 0", key));
  return static_cast<int>(v.get<long long>());
}

std::string text_or_empty(const Json& j, const char* key) {
  const Json& v = field(j, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

// NaN and Inf are written as null (dump_line), so null means "no time", as does anything else.
std::optional<double> seconds_or_none(const Json& j, const char* key) {
  const Json& v = field(j, key);
  return v.is_number() ? std::optional<double>(v.get<double>()) : std::nullopt;
}

std::map<std::string, int> kinds_of(const Json& j) {
  std::map<std::string, int> kinds;
  const Json& v = field(j, "kinds");
  if (!v.is_object()) return kinds;
  for (const auto& [kind, count] : v.items()) {
    if (count.is_number() && count.get<double>() > 0) kinds[kind] = static_cast<int>(count.get<double>());
  }
  return kinds;
}

// ---- ordering -----------------------------------------------------------------------------------

// Known names first in this order, then any other alphabetically: a new mode or instrument gets a
// column without a code change.
bool ranked_less(const std::vector<std::string>& known, const std::string& a, const std::string& b) {
  const auto ia = std::find(known.begin(), known.end(), a) - known.begin();
  const auto ib = std::find(known.begin(), known.end(), b) - known.begin();
  return ia != ib ? ia < ib : a < b;
}

bool mode_less(const std::string& a, const std::string& b) {
  static const std::vector<std::string> known = {"threaded", "cold", "soak", "rounds"};
  return ranked_less(known, a, b);
}

bool instrument_less(const std::string& a, const std::string& b) {
  static const std::vector<std::string> known = {"plain", "tsan", "compute-sanitizer"};
  return ranked_less(known, a, b);
}

// ---- one machine, device and instrument ------------------------------------------------------------

// op -> mode -> cell; std::map sorts the rows by op name.
using Rows = std::map<std::string, std::map<std::string, const DetectionCell*>>;

// One table per (device, instrument, hardware): the same bug measured on two machines is two rows
// of evidence, never one cell overwriting the other.
struct Block {
  std::string device, instrument;
  std::vector<std::string> hardware;  // the one machine of the block ("" when unnamed)
  Rows bugs, twins;
  std::string knobs;                  // the knobs it was measured under (a block per setting)
  std::vector<std::string> commits;   // the commits its cells name
};

std::vector<Block> blocks_of(const std::vector<DetectionCell>& cells) {
  std::vector<Block> blocks;
  for (const auto& c : cells) {
    const std::vector<std::string> hw = c.hardware.empty() ? std::vector<std::string>{} : std::vector{c.hardware};
    auto it = std::find_if(blocks.begin(), blocks.end(), [&](const Block& b) {
      return b.device == c.device && b.instrument == c.instrument && b.hardware == hw && b.knobs == c.knobs;
    });
    if (it == blocks.end()) it = blocks.insert(blocks.end(), Block{c.device, c.instrument, hw, {}, {}, c.knobs, {}});
    if (!c.commit.empty() && std::find(it->commits.begin(), it->commits.end(), c.commit) == it->commits.end()) {
      it->commits.push_back(c.commit);
    }
    (c.twin ? it->twins : it->bugs)[c.op][c.mode] = &c;  // a later line for the same cell stands
  }
  std::stable_sort(blocks.begin(), blocks.end(), [](const Block& a, const Block& b) {
    if (a.device != b.device) return a.device < b.device;
    if (a.instrument != b.instrument) return instrument_less(a.instrument, b.instrument);
    if (a.hardware != b.hardware) return a.hardware < b.hardware;
    return (a.knobs == "defaults" ? "" : a.knobs.empty() ? "~" : a.knobs) <
           (b.knobs == "defaults" ? "" : b.knobs.empty() ? "~" : b.knobs);
  });
  return blocks;
}

std::vector<std::string> modes_of(const Rows& rows) {
  std::vector<std::string> modes;
  for (const auto& [op, by_mode] : rows) {
    for (const auto& [mode, cell] : by_mode) {
      if (std::find(modes.begin(), modes.end(), mode) == modes.end()) modes.push_back(mode);
    }
  }
  std::sort(modes.begin(), modes.end(), mode_less);
  return modes;
}

// ---- cell texts -----------------------------------------------------------------------------------

// A table cell must not break its row.
std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|')
      out += "\\|";
    else
      out += c == '\n' || c == '\r' ? ' ' : c;
  }
  return out;
}

std::string seconds(double s) {
  if (s < 0.01) return fmt::format("{:.3f}", s);
  if (s < 10) return fmt::format("{:.2f}", s);
  return s < 100 ? fmt::format("{:.1f}", s) : fmt::format("{:.0f}", s);
}

// "wrong value" when one kind accounts for the catches, else "wrong value 15, NaN/Inf 4" (most first).
std::string kinds_text(const DetectionCell& c) {
  std::vector<std::pair<std::string, int>> kinds(c.kinds.begin(), c.kinds.end());
  std::stable_sort(kinds.begin(), kinds.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  if (kinds.size() == 1) return kinds.front().first;
  std::string out;
  for (const auto& [kind, n] : kinds) out += fmt::format("{}{} {}", out.empty() ? "" : ", ", kind, n);
  return out;
}

// "19/20 · 0.81 s (worst 1.93) · wrong value", "0/20 — missed (why)".
std::string bug_cell(const DetectionCell& c) {
  const std::string note = c.note.empty() ? "" : " (" + c.note + ")";
  if (c.runs == 0) return "not run" + note;
  if (c.caught == 0) return fmt::format("0/{} — missed{}", c.runs, note);
  std::string s = fmt::format("{}/{}", c.caught, c.runs);
  if (c.median_s)
    s += fmt::format(" · {} s{}", seconds(*c.median_s),
                     c.worst_s ? fmt::format(" (worst {})", seconds(*c.worst_s)) : "");
  if (!c.kinds.empty()) s += fmt::format(" · {}", kinds_text(c));
  return s + note;
}

// "0/100"; a false positive is bold and says what was reported.
std::string twin_cell(const DetectionCell& c) {
  const std::string note = c.note.empty() ? "" : " (" + c.note + ")";
  if (c.runs == 0) return "not run" + note;
  if (c.caught == 0) return fmt::format("0/{}{}", c.runs, note);
  const std::string kinds = c.kinds.empty() ? "" : fmt::format(" · {}", kinds_text(c));
  return fmt::format("**{}/{}**{}{}", c.caught, c.runs, kinds, note);
}

// ---- one block ------------------------------------------------------------------------------------

bool caught_in_95_percent(const DetectionCell& c) { return c.runs > 0 && 100L * c.caught >= 95L * c.runs; }

// "caught 2 of 3 bugs in at least one mode; caught in ≥95% of runs: threaded 2 of 3, cold 0 of 3;
// correct twins: 0 false positives in 400 runs".
std::string summary_line(const Block& b) {
  std::vector<std::string> parts;
  if (!b.bugs.empty()) {
    long any = 0;
    for (const auto& [op, by_mode] : b.bugs)
      any += std::any_of(by_mode.begin(), by_mode.end(), [](const auto& m) { return m.second->caught > 0; });
    parts.push_back(fmt::format("caught {} of {} bugs in at least one mode", any, b.bugs.size()));
    std::string per_mode;
    for (const auto& mode : modes_of(b.bugs)) {
      long with_mode = 0, reliable = 0;
      for (const auto& [op, by_mode] : b.bugs) {
        const auto it = by_mode.find(mode);
        if (it == by_mode.end()) continue;
        ++with_mode;
        reliable += caught_in_95_percent(*it->second);
      }
      per_mode += fmt::format("{}{} {} of {}", per_mode.empty() ? "" : ", ", mode, reliable, with_mode);
    }
    parts.push_back("caught in ≥95% of runs: " + per_mode);
  }
  if (!b.twins.empty()) {
    long runs = 0, false_positives = 0;
    for (const auto& [op, by_mode] : b.twins) {
      for (const auto& [mode, c] : by_mode) {
        runs += c->runs;
        false_positives += c->caught;
      }
    }
    parts.push_back(fmt::format("correct twins: {} false positive{} in {} runs", false_positives,
                                false_positives == 1 ? "" : "s", runs));
  }
  std::string line;
  for (const auto& p : parts) line += (line.empty() ? "" : "; ") + p;
  return line;
}

std::string header(const std::vector<std::string>& first, const std::vector<std::string>& modes) {
  std::string head = "|", rule = "|";
  for (const auto& h : first) {
    head += " " + h + " |";
    rule += "---|";
  }
  for (const auto& m : modes) {
    head += fmt::format(" {} |", escape(m));
    rule += "---|";
  }
  return head + "\n" + rule + "\n";
}

// Bug class and expected symptom from the row's first cell that names them.
std::string row_field(const std::map<std::string, const DetectionCell*>& by_mode, std::string DetectionCell::*f) {
  for (const auto& [mode, c] : by_mode) {
    if (!(c->*f).empty()) return escape(c->*f);
  }
  return "";
}

std::string bug_table(const Rows& bugs) {
  const auto modes = modes_of(bugs);
  std::string md = header({"Bug op", "Bug class", "Expected symptom"}, modes);
  for (const auto& [op, by_mode] : bugs) {
    md += fmt::format("| `{}` | {} | {} |", escape(op), row_field(by_mode, &DetectionCell::bug_class),
                      row_field(by_mode, &DetectionCell::expected));
    for (const auto& m : modes) {
      const auto it = by_mode.find(m);
      md += fmt::format(" {} |", it == by_mode.end() ? "not measured" : escape(bug_cell(*it->second)));
    }
    md += "\n";
  }
  return md;
}

std::string twin_table(const Rows& twins) {
  const auto modes = modes_of(twins);
  std::string md = header({"Twin op"}, modes);
  for (const auto& [op, by_mode] : twins) {
    md += fmt::format("| `{}` |", escape(op));
    for (const auto& m : modes) {
      const auto it = by_mode.find(m);
      md += fmt::format(" {} |", it == by_mode.end() ? "not measured" : escape(twin_cell(*it->second)));
    }
    md += "\n";
  }
  return md;
}

std::string block_markdown(const Block& b) {
  std::string hardware;
  for (const auto& h : b.hardware) hardware += (hardware.empty() ? "" : " / ") + h;
  std::string commits;
  for (const auto& c : b.commits) commits += (commits.empty() ? "" : ", ") + c.substr(0, 12);
  std::string md = fmt::format("**{} · {}**{}: {}.\n\n", escape(b.device), escape(b.instrument),
                               hardware.empty() ? "" : fmt::format(" ({})", escape(hardware)), summary_line(b));
  // Which knobs and which commit: a block measured under anything but the defaults says so.
  const std::string at = commits.empty() ? "" : fmt::format(", commit {}", commits);
  if (b.knobs.empty()) {
    md += "*Measured before cells recorded their knobs and commit (not necessarily the defaults of today).*\n\n";
  } else if (b.knobs == "defaults") {
    md += fmt::format("*Measured under the defaults{}.*\n\n", at);
  } else {
    md += fmt::format("*Measured under other knobs than the defaults: {}{}.*\n\n", escape(b.knobs), at);
  }
  if (!b.bugs.empty()) md += bug_table(b.bugs) + "\n";
  if (!b.twins.empty()) md += "Correct twins (false positives):\n\n" + twin_table(b.twins) + "\n";
  return md;
}

}  // namespace

DetectionCell detection_cell_from_json(const Json& j) {
  if (!j.is_object()) throw std::invalid_argument("detection line: not a JSON object");
  DetectionCell c;
  c.op = required_string(j, "op");
  c.mode = required_string(j, "mode");
  c.instrument = required_string(j, "instrument");
  c.device = required_string(j, "device");
  if (!field(j, "twin").is_boolean()) throw std::invalid_argument("detection line: \"twin\" must be true or false");
  c.twin = field(j, "twin").get<bool>();
  c.runs = required_count(j, "runs");
  c.caught = required_count(j, "caught");
  if (c.caught > c.runs)
    throw std::invalid_argument(fmt::format("detection line: caught {} of only {} runs", c.caught, c.runs));
  c.bug_class = text_or_empty(j, "bug_class");
  c.hardware = text_or_empty(j, "hardware");
  c.kinds = kinds_of(j);
  c.median_s = seconds_or_none(j, "median_s");
  c.worst_s = seconds_or_none(j, "worst_s");
  c.expected = text_or_empty(j, "expected");
  c.note = text_or_empty(j, "note");
  c.knobs = text_or_empty(j, "knobs");
  c.commit = text_or_empty(j, "commit");
  return c;
}

Json to_json(const DetectionCell& c) {
  Json j = Json::object();
  j["type"] = kDetectionType;
  j["op"] = c.op;
  j["bug_class"] = c.bug_class;
  j["twin"] = c.twin;
  j["mode"] = c.mode;
  j["instrument"] = c.instrument;
  j["device"] = c.device;
  j["hardware"] = c.hardware;
  j["runs"] = c.runs;
  j["caught"] = c.caught;
  j["kinds"] = Json::object();
  for (const auto& [kind, n] : c.kinds) j["kinds"][kind] = n;
  j["median_s"] = c.median_s ? Json(*c.median_s) : Json();
  j["worst_s"] = c.worst_s ? Json(*c.worst_s) : Json();
  j["expected"] = c.expected;
  j["note"] = c.note;
  j["knobs"] = c.knobs;
  j["commit"] = c.commit;
  return j;
}

std::string detection_markdown(const std::vector<DetectionCell>& cells) {
  std::string md;
  for (const auto& b : blocks_of(cells)) md += block_markdown(b);
  return md;
}

}  // namespace torchstress
