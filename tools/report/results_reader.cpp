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

FileLines read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("cannot read {}", path.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
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
      Json j = parse_json(line);
      if (!j.is_object() || !j["type"].is_string()) {
        throw JsonError("not a results object (no \"type\" field)");
      }
      f.lines.push_back(std::move(j));
    } catch (const JsonError& e) {
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
  for (const auto& e : array.elements()) out.push_back(e.str());
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
      if (l["type"].str() == "process") return !l["inject"].str().empty();
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
  p.binary = l["binary"].str();
  p.torch = l["torch"].str();
  p.device = l["device"].str();
  p.hardware = l["hardware"].str();
  p.inventory = l["inventory"].str();
  p.cuda_streams = l["cuda_streams"].str();
  p.sync = l["sync"].str();
  p.inject = l["inject"].str();
  p.host = l["host"].str();
  p.executable = l["executable"].str();
  p.build_dir = l["build_dir"].str();
  p.knobs = l["knobs"].is_object() ? l["knobs"] : Json::object();
  p.provenance = l["provenance"].is_object() ? l["provenance"] : Json::object();
  p.time = l["time"].num();
  return p;
}

RoundRecord parse_round(const Json& l, const std::string& file) {
  RoundRecord r;
  r.test = l["test"].str();
  r.round = static_cast<int>(l["round"].num());
  r.status = l["status"].str();
  r.detail = l["detail"].str();
  r.crash_signature = l["crash_signature"].str();
  r.stderr_tail = l["stderr_tail"].str();
  r.file = file;
  return r;
}

TestResult parse_test(const Json& l, const std::string& file) {
  TestResult t;
  t.status = l["status"].str("failed");
  t.device = l["device"].str();
  t.skip_reason = l["skip_reason"].str();
  t.file = file;
  t.duration_s = l["duration_s"].num();
  t.time = l["time"].num();
  t.properties = l["properties"].is_object() ? l["properties"] : Json::object();
  t.failures = strings_of(l["failures"]);
  t.backtraces = strings_of(l["backtraces"]);
  return t;
}

// One repeat of a test as read, before repeats are put together.
struct RawResult {
  std::string name, binary;
  TestResult result;
  std::vector<RoundRecord> rounds;
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
    std::string name, binary;
    double time;
  };

  void line(const Json& l) {
    const std::string type = l["type"].str();
    const double time = l["time"].num();
    if (time > 0 && (run_.first_time == 0.0 || time < run_.first_time)) run_.first_time = time;
    run_.last_time = std::max(run_.last_time, time);
    if (type == "process") {
      run_.processes.push_back(parse_process(l, f_.path));
    } else if (type == "start") {
      open_.push_back({l["name"].str(), l["binary"].str(), time});
    } else if (type == "round") {
      rounds_[l["test"].str()].push_back(parse_round(l, f_.path));
    } else if (type == "bench") {
      Json b = l;
      b.set("file", f_.path);
      bench_[l["test"].str()].push_back(std::move(b));
    } else if (type == "test") {
      ended(l);
    }
  }

  void ended(const Json& l) {
    const std::string name = l["name"].str();
    RawResult raw{name, l["binary"].str(), parse_test(l, f_.path), take(rounds_, name)};
    raw.result.bench = take(bench_, name);
    for (auto it = open_.begin(); it != open_.end(); ++it) {
      if (it->name == name) {
        open_.erase(it);
        break;
      }
    }
    out_.push_back(std::move(raw));
  }

  RawResult never_ended(Open o) {
    RawResult raw{o.name, o.binary, {}, take(rounds_, o.name)};
    std::string why = "started but wrote no result: the process ended midway (crash, kill or CTest timeout)";
    if (!raw.rounds.empty()) why += fmt::format("; {} round(s) finished before it ended", raw.rounds.size());
    raw.result.status = "incomplete";
    raw.result.file = f_.path;
    raw.result.time = o.time;
    raw.result.properties = Json::object();
    raw.result.failures.push_back(why);
    bench_.erase(o.name);
    return raw;
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
    auto [it, fresh] = index.emplace(raw.name, run.tests.size());
    if (fresh) {
      TestRecord t;
      t.name = raw.name;
      t.suite = suite_of(raw.name);
      t.binary = raw.binary;
      t.time = raw.result.time;
      run.tests.push_back(std::move(t));
    }
    TestRecord& t = run.tests[it->second];
    t.results.push_back(std::move(raw.result));
    for (auto& r : raw.rounds) {
      r.run = t.runs();
      run.rounds.push_back(std::move(r));
    }
  }
  for (auto& t : run.tests) summarize_repeats(t, run);
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
