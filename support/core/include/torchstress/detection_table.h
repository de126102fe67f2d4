// Detection power: how often the suite catches each seeded bug of the zoo (and how often it
// falsely flags the bug's correct twin). One "detection" results line per (op, mode, instrument,
// device) cell; tools/detection writes them, tools/report reads them, and both print the same
// Markdown table through detection_markdown(), so docs/detection.md and report.md cannot disagree.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "torchstress/results_schema.h"

namespace torchstress {

// The results line's "type" for a detection cell.
inline constexpr const char* kDetectionType = "detection";

// One cell: `runs` runs of the suite on `op` in one mode, under one instrument, on one device.
struct DetectionCell {
  std::string op;          // "torchstress_zoo::static_scratch"
  std::string bug_class;   // "shared static scratch workspace"
  bool twin = false;       // the correct twin (op ends in "_fixed"): `caught` counts false positives
  std::string mode;        // "threaded", "cold", "soak", "rounds", ...
  std::string instrument;  // "plain", "tsan", "compute-sanitizer", ...
  std::string device;      // "cpu", "cuda", ...
  std::string hardware;    // "2-core Debian 12 VM"
  int runs = 0;
  int caught = 0;                    // runs that reported a failure
  std::map<std::string, int> kinds;  // classification -> count among caught runs
  std::optional<double> median_s;    // time to detect over the caught runs; none when none caught
  std::optional<double> worst_s;
  std::string expected;  // the symptom the zoo documents for this bug
  std::string note;      // free text, e.g. why it was missed
  // What the cell was measured under: the knobs set beside the mode's own ("defaults" when none;
  // empty: not recorded, lines written before 2026-12-05) and the suite's git commit.
  std::string knobs;
  std::string commit;
};

// Reads a "detection" results line. Throws std::invalid_argument (one line saying which field)
// when it is not an object or lacks op, mode, instrument, device, twin, runs or caught, or when
// caught is not within 0..runs: a cell that cannot be placed in the table is refused, not guessed.
// The other fields read leniently (absent: empty, no kinds, no times).
DetectionCell detection_cell_from_json(const Json& j);

// The line's fields in the line's order, "type": "detection" first; schema, binary and time are
// the writer's to add (ResultsLog::append).
Json to_json(const DetectionCell& cell);

// The Markdown tables, one block per device and instrument: a one-line summary (bugs caught in at
// least one mode; per mode, bugs caught in at least 95% of runs; the twins' false positives), a
// table of bug ops (rows by op name; a column per mode: threaded, cold, soak, rounds, then others
// alphabetically) and a table of the correct twins. A cell given twice (same op, mode, instrument,
// device): the later one stands. "" for no cells.
std::string detection_markdown(const std::vector<DetectionCell>& cells);

}  // namespace torchstress
