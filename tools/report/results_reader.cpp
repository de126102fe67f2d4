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

}  // namespace

RunData read_results(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw InputError(fmt::format("results folder {} does not exist or is not a folder", dir));
  RunData run;
  run.dir = dir;
  std::vector<fs::path> paths;
  for (const auto& entry : fs::recursive_directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".jsonl") paths.push_back(entry.path());
  }
  if (ec) throw InputError(fmt::format("cannot list {}: {}", dir, ec.message()));
  if (paths.empty()) throw InputError(fmt::format("no *.jsonl results in {}", dir));
  std::sort(paths.begin(), paths.end());

  std::vector<FileLines> files;
  for (const auto& p : paths) files.push_back(read_file(p));
  auto injected = [](const FileLines& f) {
    for (const auto& l : f.lines) {
      if (l["type"].str() == "process") return !l["inject"].str().empty();
    }
    return false;
  };
  if (std::any_of(files.begin(), files.end(), [&](const FileLines& f) { return !injected(f); })) {
    std::vector<FileLines> kept;
    for (auto& f : files) {
      if (injected(f))
        run.injected_files.push_back(f.path);
      else
        kept.push_back(std::move(f));
    }
    files = std::move(kept);
  }

  // Every completed result, then keep the latest of each name.
  struct Candidate {
    TestRecord rec;
    std::vector<RoundRecord> rounds;
    std::vector<Json> bench;
  };
  std::vector<Candidate> results;
  struct Open {
    std::string name, binary, file;
    double time;
    std::vector<RoundRecord> rounds;
  };
  std::vector<Open> never_ended;
  run.first_time = 0.0;
  for (const auto& f : files) {
    run.files.push_back(f.path);
    std::vector<Open> open;  // started, no result yet (per file: one process)
    std::map<std::string, std::vector<RoundRecord>> rounds;
    std::map<std::string, std::vector<Json>> bench;
    for (const auto& l : f.lines) {
      const std::string type = l["type"].str();
      const double time = l["time"].num();
      if (time > 0 && (run.first_time == 0.0 || time < run.first_time)) run.first_time = time;
      run.last_time = std::max(run.last_time, time);
      if (type == "process") {
        ProcessRecord p;
        p.file = f.path;
        p.binary = l["binary"].str();
        p.torch = l["torch"].str();
        p.device = l["device"].str();
        p.hardware = l["hardware"].str();
        p.inventory = l["inventory"].str();
        p.cuda_streams = l["cuda_streams"].str();
        p.sync = l["sync"].str();
        p.inject = l["inject"].str();
        p.host = l["host"].str();
        p.time = time;
        run.processes.push_back(std::move(p));
      } else if (type == "start") {
        open.push_back({l["name"].str(), l["binary"].str(), f.path, time, {}});
      } else if (type == "round") {
        RoundRecord r;
        r.test = l["test"].str();
        r.round = static_cast<int>(l["round"].num());
        r.status = l["status"].str();
        r.detail = l["detail"].str();
        r.crash_signature = l["crash_signature"].str();
        rounds[r.test].push_back(std::move(r));
      } else if (type == "bench") {
        Json b = l;
        b.set("file", f.path);
        bench[l["test"].str()].push_back(std::move(b));
      } else if (type == "test") {
        TestRecord t;
        t.name = l["name"].str();
        t.suite = suite_of(t.name);
        t.binary = l["binary"].str();
        t.status = l["status"].str("failed");
        t.device = l["device"].str();
        t.skip_reason = l["skip_reason"].str();
        t.file = f.path;
        t.duration_s = l["duration_s"].num();
        t.time = time;
        t.properties = l["properties"].is_object() ? l["properties"] : Json::object();
        for (const auto& fl : l["failures"].elements()) t.failures.push_back(fl.str());
        for (auto it = open.begin(); it != open.end(); ++it) {
          if (it->name == t.name) {
            open.erase(it);
            break;
          }
        }
        Candidate c{std::move(t), std::move(rounds[l["name"].str()]), std::move(bench[l["name"].str()])};
        rounds.erase(l["name"].str());
        bench.erase(l["name"].str());
        results.push_back(std::move(c));
      }
    }
    for (auto& o : open) {
      o.rounds = std::move(rounds[o.name]);
      never_ended.push_back(std::move(o));
    }
    if (f.truncated)
      run.warnings.push_back(fmt::format("{}: last line cut short (the process was killed while writing)", f.path));
  }

  std::stable_sort(results.begin(), results.end(),
                   [](const Candidate& a, const Candidate& b) { return a.rec.time < b.rec.time; });
  std::map<std::string, size_t> latest;
  for (size_t i = 0; i < results.size(); ++i) latest[results[i].rec.name] = i;
  for (size_t i = 0; i < results.size(); ++i) {
    if (latest[results[i].rec.name] != i) continue;
    auto& c = results[i];
    if (c.rec.status == "stalled") {
      run.incomplete.push_back(
          {c.rec.name, c.rec.binary, c.rec.file,
           "stalled: " + (c.rec.failures.empty() ? std::string("watchdog fired") : c.rec.failures.front())});
    }
    for (auto& r : c.rounds) run.rounds.push_back(std::move(r));
    for (auto& b : c.bench) run.bench.push_back(std::move(b));
    run.tests.push_back(std::move(c.rec));
  }
  for (auto& o : never_ended) {
    // A later completed result of the same test (a rerun) supersedes a start that never ended.
    const TestRecord* done = run.find(o.name);
    if (done && done->time >= o.time) continue;
    std::string why = "started but wrote no result: the process ended midway (crash, kill or CTest timeout)";
    if (!o.rounds.empty()) why += fmt::format("; {} round(s) finished before it ended", o.rounds.size());
    for (auto& r : o.rounds) run.rounds.push_back(std::move(r));
    run.incomplete.push_back({o.name, o.binary, o.file, why});
    TestRecord t;
    t.name = o.name;
    t.suite = suite_of(o.name);
    t.binary = o.binary;
    t.status = "incomplete";
    t.file = o.file;
    t.time = o.time;
    t.properties = Json::object();
    t.failures.push_back(why);
    run.tests.push_back(std::move(t));
  }
  return run;
}

}  // namespace tsreport
