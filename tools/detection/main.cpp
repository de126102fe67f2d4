// torchstress_detection_table: measures what the suite catches. For every bug op of a catalogue
// (an op library's seeded bugs, each with a correct twin) and every test mode, it runs the suite's
// battery binary N times on the bug and M times on its twin (tools/detection/trial.h), and writes
// one typed "detection" results line per cell (for the report's Detection section) and the
// markdown table (docs/detection.md).
//
//   torchstress_detection_table --battery BIN --op-library LIB --catalogue FILE --results DIR
//       [--markdown FILE] [--modes threaded,cold,soak] [--runs 20] [--twin-runs 100] [--device cpu]
//       [--ops a,b] [--instrument plain] [--wrapper "compute-sanitizer --tool memcheck"]
//       [--soak-seconds 5] [--stall-seconds 5] [--env K=V]... [--hardware TEXT]
//
// Exit: 0 measured; 2 bad arguments (one line).
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "options.h"
#include "torchstress/detection_table.h"
#include "torchstress/results_schema.h"
#include "torchstress/stats.h"
#include "torchstress/subprocess.h"
#include "trial.h"

namespace tsdetect {
namespace {

std::vector<CatalogueEntry> catalogue_for_run(const Options& o) {
  std::vector<CatalogueEntry> all;
  try {
    all = read_catalogue(o.catalogue);
  } catch (const std::runtime_error& e) {
    throw UsageError(fmt::format("--catalogue: {}", e.what()));
  }
  std::vector<CatalogueEntry> out;
  for (auto& c : all) {
    const bool wanted = o.ops.empty() || std::find(o.ops.begin(), o.ops.end(), c.op) != o.ops.end();
    const bool here = c.device == "cpu" || o.device.rfind(c.device, 0) == 0;  // CUDA bugs need a CUDA run
    if (wanted && here) out.push_back(std::move(c));
  }
  return out;
}

// `runs` trials of one op in one mode, summarised as a detection line.
torchstress::Json measure(const Options& o, const CatalogueEntry& c, const std::string& op, bool twin,
                          const std::string& mode) {
  const int runs = twin ? o.twin_runs : o.runs;
  int caught = 0;
  std::vector<double> seconds;
  torchstress::Json kinds = torchstress::Json::object();
  std::string first_detail;
  for (int i = 0; i < runs; ++i) {
    TrialSpec s{o.battery, o.op_library, op, mode, o.device, o.soak_seconds, o.stall_seconds, c.env, o.wrapper,
                fmt::format("{}/trial-{}", o.scratch, ::getpid())};
    for (const auto& [k, v] : o.env) s.env[k] = v;
    const TrialOutcome t = run_trial(s);
    if (!t.caught) continue;
    ++caught;
    seconds.push_back(t.seconds);
    kinds[t.kind] = kinds.value(t.kind, 0) + 1;
    if (first_detail.empty()) first_detail = t.detail;
  }
  const auto sum = torchstress::summarize(seconds);
  torchstress::Json line = {{"type", "detection"}, {"op", op}, {"bug_class", c.bug_class}, {"twin", twin},
                            {"mode", mode},        {"instrument", o.instrument}, {"device", o.device},
                            {"hardware", o.hardware}, {"runs", runs}, {"caught", caught}, {"kinds", kinds}};
  line["median_s"] = caught ? torchstress::Json(sum.median) : torchstress::Json(nullptr);
  line["worst_s"] = caught ? torchstress::Json(sum.max) : torchstress::Json(nullptr);
  line["expected"] = twin ? "none" : c.expected;
  line["note"] = first_detail.empty() ? "" : "first caught run: " + first_detail;
  std::printf("%-45s %-9s %-6s caught %d/%d %s\n", op.c_str(), mode.c_str(), twin ? "twin" : "bug", caught, runs,
              kinds.dump().c_str());
  std::fflush(stdout);
  return line;
}

void append_line(std::ofstream& out, const torchstress::Json& cell) {
  torchstress::Json line = {{"schema", torchstress::kResultsSchema}};
  line.update(cell);
  line["binary"] = "torchstress_detection_table";
  line["time"] = static_cast<double>(std::time(nullptr));
  out << torchstress::dump_line(line) << "\n" << std::flush;  // each cell survives a later crash
}

int run(const Options& o) {
  const auto catalogue = catalogue_for_run(o);
  torchstress::make_directories(o.results);
  std::ofstream out(fmt::format("{}/detection-{}.jsonl", o.results, ::getpid()), std::ios::app);
  std::vector<torchstress::DetectionCell> cells;
  for (const auto& c : catalogue) {
    for (const auto& mode : o.modes) {
      for (const bool twin : {false, true}) {
        if (twin && (c.twin.empty() || o.twin_runs == 0)) continue;
        const auto line = measure(o, c, twin ? c.twin : c.op, twin, mode);
        append_line(out, line);
        cells.push_back(torchstress::detection_cell_from_json(line));
      }
    }
  }
  if (!o.markdown.empty()) {
    std::ofstream md(o.markdown, std::ios::trunc);
    md << torchstress::detection_markdown(cells);
  }
  return 0;
}

}  // namespace
}  // namespace tsdetect

int main(int argc, char** argv) {
  try {
    return tsdetect::run(tsdetect::parse_options(argc, argv));
  } catch (const tsdetect::UsageError& e) {
    std::fprintf(stderr, "torchstress_detection_table: %s\n", e.what());
    return 2;
  }
}
