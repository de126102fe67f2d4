#include "results_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace tsreport {
namespace fs = std::filesystem;

const TestRecord* RunData::find(const std::string& name) const {
  for (const auto& t : tests) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

namespace {

// One file's lines, already parsed, in order.
struct FileLines {
  std::string path;
  std::vector<Json> lines;
  bool truncated = false;  // its last line was cut short (killed mid-write)
};

// A line that is not a results line: what() says why (the caller adds file and line).
struct LineError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The schema version a line declares: 1 when it names none (written before schemas), 2 for
// kResultsSchema; anything else is refused rather than misread.
void upgrade_to_current(Json& j) {
  const Json& schema = at(j, "schema");
  if (schema.is_null()) {
    upgrade_v1_line(j);
    return;
  }
  if (str(schema) != kResultsSchema) {
    throw LineError(
        fmt::format("schema {} is not one this tool reads (it reads {} and the unversioned lines before it)",
                    schema.dump(), kResultsSchema));
  }
}

// Length of the valid UTF-8 sequence at s[i], or 0 (overlong forms, surrogates and code points
// past U+10FFFF are invalid).
size_t utf8_length(const std::string& s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  const size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  }
  if ((c == 0xE0 && b(i + 1) < 0xA0) || (c == 0xED && b(i + 1) > 0x9F)) return 0;
  if ((c == 0xF0 && b(i + 1) < 0x90) || (c == 0xF4 && b(i + 1) > 0x8F)) return 0;
  return n;
}

// The harness writes a worker's exception text byte for byte; a byte that is not UTF-8 becomes
// U+FFFD here rather than making the whole line unreadable JSON.
std::string repair_utf8(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_length(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s, i, n);
      i += n;
    }
  }
  return out;
}

// A detection cell is checked here, where a bad one can be named by file and line; the scanner
// reads it again, then without fail.
void check_detection_line(const Json& j) {
  if (str(j, "type") != torchstress::kDetectionType) return;
  try {
    (void)torchstress::detection_cell_from_json(j);
  } catch (const std::invalid_argument& e) {
    throw LineError(e.what());
  }
}

Json parse_line(const std::string& line) {
  Json j;
  try {
    j = Json::parse(repair_utf8(line));
  } catch (const Json::parse_error& e) {
    throw LineError(e.what());
  }
  if (!j.is_object() || !at(j, "type").is_string()) throw LineError("not a results object (no \"type\" field)");
  upgrade_to_current(j);
  check_detection_line(j);
  return j;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("cannot read {}", path.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

FileLines read_file(const fs::path& path) {
  const std::string text = slurp(path);
  FileLines f;
  f.path = path.string();
  size_t pos = 0;
  int line_no = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    const bool last_unterminated = end == std::string::npos;
    if (last_unterminated) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      f.lines.push_back(parse_line(line));
    } catch (const LineError& e) {
      // A process killed mid-write can leave its last line cut short; the lines before it stand.
      if (last_unterminated && !f.lines.empty()) {
        f.truncated = true;
        break;
      }
      throw InputError(fmt::format("{}:{}: not a torchstress results line: {}", path.string(), line_no, e.what()));
    }
  }
  if (f.lines.empty()) throw InputError(fmt::format("{}: holds no results lines", path.string()));
  return f;
}

std::string suite_of(const std::string& name) {
  const auto dot = name.find('.');
  return dot == std::string::npos ? name : name.substr(0, dot);
}

std::vector<std::string> strings_of(const Json& array) {
  std::vector<std::string> out;
  for (const auto& e : elems(array)) out.push_back(str(e));
  return out;
}

std::vector<fs::path> list_result_files(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw InputError(fmt::format("results folder {} does not exist or is not a folder", dir));
  std::vector<fs::path> paths;
  for (const auto& entry : fs::recursive_directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".jsonl") paths.push_back(entry.path());
  }
  if (ec) throw InputError(fmt::format("cannot list {}: {}", dir, ec.message()));
  if (paths.empty()) throw InputError(fmt::format("no *.jsonl results in {}", dir));
  std::sort(paths.begin(), paths.end());
  return paths;
}

// Fault-injection children's files are left out, unless nothing else is there (then the report is
// about them).
std::vector<FileLines> drop_injected(std::vector<FileLines> files, RunData& run) {
  auto injected = [](const FileLines& f) {
    for (const auto& l : f.lines) {
      if (str(l, "type") == "process") return !str(l, "inject").empty();
    }
    return false;
  };
  if (std::all_of(files.begin(), files.end(), injected)) return files;
  std::vector<FileLines> kept;
  for (auto& f : files) {
    if (injected(f))
      run.injected_files.push_back(f.path);
    else
      kept.push_back(std::move(f));
  }
  return kept;
}

ProcessRecord parse_process(const Json& l, const std::string& file) {
  ProcessRecord p;
  p.file = file;
  p.binary = str(l, "binary");
  p.torch = str(l, "torch");
  p.device = str(l, "device");
  p.hardware = str(l, "hardware");
  p.inventory = str(l, "inventory");
  p.cuda_streams = str(l, "cuda_streams");
  p.sync = str(l, "sync");
  p.inject = str(l, "inject");
  p.host = str(l, "host");
  p.executable = str(l, "executable");
  p.build_dir = str(l, "build_dir");
  p.knobs = at(l, "knobs").is_object() ? at(l, "knobs") : Json::object();
  p.provenance = at(l, "provenance").is_object() ? at(l, "provenance") : Json::object();
  p.time = num(l, "time");
  return p;
}

RoundRecord parse_round(const Json& l, const std::string& file) {
  RoundRecord r;
  r.test = str(l, "test");
  r.round = static_cast<int>(num(l, "round"));
  r.status = str(l, "status");
  r.detail = str(l, "detail");
  r.crash_signature = str(l, "crash_signature");
  r.stderr_tail = str(l, "stderr_tail");
  if (at(l, "errors").is_array()) r.errors = at(l, "errors");
  r.file = file;
  return r;
}

TestResult parse_test(const Json& l, const std::string& file) {
  TestResult t;
  t.status = str_or(at(l, "status"), "failed");
  t.section = str(l, "section");
  t.device = str(l, "device");
  t.skip_reason = str(l, "skip_reason");
  t.file = file;
  t.duration_s = num(l, "duration_s");
  t.time = num(l, "time");
  t.properties = at(l, "properties").is_object() ? at(l, "properties") : Json::object();
  t.failures = strings_of(at(l, "failures"));
  t.backtraces = strings_of(at(l, "backtraces"));
  if (at(l, "errors").is_array()) t.errors = at(l, "errors");
  if (at(l, "error_counts").is_object()) t.error_counts = at(l, "error_counts");
  if (at(l, "workers").is_array()) t.workers = at(l, "workers");  // a crash or stall record's
  t.signal = str(l, "signal");
  return t;
}

// One repeat of a test as read, before repeats are put together.
struct RawResult {
  std::string name, binary;
  TestResult result;
  std::vector<RoundRecord> rounds;
  std::string gtest_name, control;  // set from the process's TORCHSTRESS_CTEST_NAME and TORCHSTRESS_CONTROL
};

// A file is one process: its starts are matched with its results in order (a test repeated with
// --gtest_repeat starts and ends once per repeat); starts left open ended midway.
class FileScanner {
 public:
  FileScanner(const FileLines& f, RunData& run, std::vector<RawResult>& out) : f_(f), run_(run), out_(out) {}

  void scan() {
    for (const auto& l : f_.lines) line(l);
    for (auto& o : open_) out_.push_back(never_ended(std::move(o)));
    if (f_.truncated)
      run_.warnings.push_back(fmt::format("{}: last line cut short (the process was killed while writing)", f_.path));
  }

 private:
  struct Open {
    std::string name, binary, section;
    double time;
  };

  void line(const Json& l) {
    const std::string type = str(l, "type");
    const double time = num(l, "time");
    if (time > 0 && (run_.first_time == 0.0 || time < run_.first_time)) run_.first_time = time;
    run_.last_time = std::max(run_.last_time, time);
    if (type == "process") {
      run_.processes.push_back(parse_process(l, f_.path));
      ctest_name_ = str(l, "knobs", "TORCHSTRESS_CTEST_NAME");
      control_ = str(l, "knobs", "TORCHSTRESS_CONTROL");
    } else if (type == "start") {
      open_.push_back({str(l, "name"), str(l, "binary"), str(l, "section"), time});
    } else if (type == "round") {
      rounds_[str(l, "test")].push_back(parse_round(l, f_.path));
    } else if (type == "bench") {
      Json b = l;
      b["file"] = f_.path;
      bench_[str(l, "test")].push_back(std::move(b));
    } else if (type == "test") {
      ended(l);
    } else if (type == torchstress::kDetectionType) {
      run_.detection.push_back(torchstress::detection_cell_from_json(l));
    }
  }

  void ended(const Json& l) {
    const std::string name = str(l, "name");
    RawResult raw{name, str(l, "binary"), parse_test(l, f_.path), take(rounds_, name), {}, {}};
    raw.result.bench = take(bench_, name);
    mark(raw);
    for (auto it = open_.begin(); it != open_.end(); ++it) {
      if (it->name == name) {
        open_.erase(it);
        break;
      }
    }
    out_.push_back(std::move(raw));
  }

  RawResult never_ended(Open o) {
    RawResult raw{o.name, o.binary, {}, take(rounds_, o.name), {}, {}};
    std::string why = "started but wrote no result: the process ended midway (crash, kill or CTest timeout)";
    if (!raw.rounds.empty()) why += fmt::format("; {} round(s) finished before it ended", raw.rounds.size());
    raw.result.status = "incomplete";
    raw.result.file = f_.path;
    raw.result.time = o.time;
    raw.result.section = o.section;
    raw.result.properties = Json::object();
    raw.result.failures.push_back(why);
    bench_.erase(o.name);
    mark(raw);
    return raw;
  }

  // A result of a process run under a CTest test named otherwise is counted under that name; a
  // control's is marked with the kind it must see.
  void mark(RawResult& raw) const {
    raw.gtest_name = raw.name;
    raw.control = control_;
    if (!ctest_name_.empty()) raw.name = ctest_name_;
  }

  template <typename T>
  static std::vector<T> take(std::map<std::string, std::vector<T>>& m, const std::string& key) {
    auto it = m.find(key);
    if (it == m.end()) return {};
    std::vector<T> v = std::move(it->second);
    m.erase(it);
    return v;
  }

  const FileLines& f_;
  RunData& run_;
  std::vector<RawResult>& out_;
  std::vector<Open> open_;
  std::string ctest_name_, control_;  // of this file's process line
  std::map<std::string, std::vector<RoundRecord>> rounds_;
  std::map<std::string, std::vector<Json>> bench_;
};

// Any failing repeat fails the test; a hang or a missing result outranks a pass; skips count only
// when nothing ran.
std::string aggregate_status(const TestRecord& t) {
  bool stalled = false, incomplete = false, passed = false;
  for (const auto& r : t.results) {
    if (r.status == "stalled")
      stalled = true;
    else if (r.status == "incomplete")
      incomplete = true;
    else if (r.status == "passed")
      passed = true;
    else if (r.status != "skipped")
      return "failed";
  }
  if (stalled) return "stalled";
  if (incomplete) return "incomplete";
  return passed ? "passed" : "skipped";
}

// The repeat whose figures (properties, bench lines, duration) stand for the test: the last
// passing one, else the last that ran to the end, else the last.
const TestResult& representative(const TestRecord& t) {
  for (auto it = t.results.rbegin(); it != t.results.rend(); ++it) {
    if (it->status == "passed") return *it;
  }
  for (auto it = t.results.rbegin(); it != t.results.rend(); ++it) {
    if (it->status != "skipped" && it->status != "incomplete") return *it;
  }
  return t.results.back();
}

void summarize_repeats(TestRecord& t, RunData& run) {
  t.status = aggregate_status(t);
  const TestResult& rep = representative(t);
  t.device = rep.device;
  t.file = rep.file;
  t.duration_s = rep.duration_s;
  t.properties = rep.properties;
  for (const auto& b : rep.bench) run.bench.push_back(b);
  for (const auto& r : t.results) {
    if (r.status == "skipped" && !r.skip_reason.empty()) t.skip_reason = r.skip_reason;
    if (r.status == "passed" || r.status == "skipped") continue;
    t.failures.insert(t.failures.end(), r.failures.begin(), r.failures.end());
    t.backtraces.insert(t.backtraces.end(), r.backtraces.begin(), r.backtraces.end());
    if (!t.control.empty()) continue;  // a control's hang or crash is its catch, not a hole in the run
    if (r.status == "stalled") {
      run.incomplete.push_back(
          {t.name, t.binary, r.file,
           "stalled: " + (r.failures.empty() ? std::string("watchdog fired") : r.failures.front())});
    } else if (r.status == "incomplete") {
      run.incomplete.push_back({t.name, t.binary, r.file, r.failures.front()});
    }
  }
}

// Puts every repeat of each test together, tests in order of first appearance.
void aggregate(std::vector<RawResult> raws, RunData& run) {
  std::stable_sort(raws.begin(), raws.end(),
                   [](const RawResult& a, const RawResult& b) { return a.result.time < b.result.time; });
  std::map<std::string, size_t> index;
  for (auto& raw : raws) {
    // A control and a test of one name (a CTest test run once as each) stay two records.
    auto [it, fresh] = index.emplace(raw.control.empty() ? raw.name : raw.name + "\n" + raw.control, run.tests.size());
    if (fresh) {
      TestRecord t;
      t.name = raw.name;
      t.gtest_name = raw.gtest_name;
      t.control = raw.control;
      t.suite = suite_of(raw.name);
      t.binary = raw.binary;
      t.section = "other";
      t.time = raw.result.time;
      run.tests.push_back(std::move(t));
    }
    TestRecord& t = run.tests[it->second];
    if (!raw.result.section.empty() && (fresh || t.section == "other")) t.section = raw.result.section;
    t.results.push_back(std::move(raw.result));
    for (auto& r : raw.rounds) {
      r.run = t.runs();
      run.rounds.push_back(std::move(r));
    }
  }
  for (auto& t : run.tests) {
    summarize_repeats(t, run);
    // A test that judges its own catch (a detection test) declares the kind it must see.
    if (t.control.empty() && !str(t.properties, "control_expected").empty()) {
      t.control = str(t.properties, "control_expected");
      t.control_self_judged = true;
    }
  }
}

}  // namespace

int TestRecord::count(const std::string& s) const {
  return static_cast<int>(
      std::count_if(results.begin(), results.end(), [&](const TestResult& r) { return r.status == s; }));
}

const ProcessRecord* RunData::process_of(const std::string& file) const {
  for (const auto& p : processes) {
    if (p.file == file) return &p;
  }
  return nullptr;
}

RunData read_results(const std::string& dir) {
  RunData run;
  run.dir = dir;
  std::vector<FileLines> files;
  for (const auto& p : list_result_files(dir)) files.push_back(read_file(p));
  files = drop_injected(std::move(files), run);
  std::vector<RawResult> raws;
  for (const auto& f : files) {
    run.files.push_back(f.path);
    FileScanner(f, run, raws).scan();
  }
  aggregate(std::move(raws), run);
  return run;
}

}  // namespace tsreport
