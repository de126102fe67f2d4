// torchstress::core's detection table (support/core/detection_table.h), tested here because core has
// no test binary of its own that links no LibTorch: a detection line reads into a cell and back
// field for field, a line that cannot be placed is refused naming the field, and the Markdown puts
// each bug op on one row with a column per mode in the documented order, missed and twin cells
// included, with a factual summary per device and instrument.
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "expect_text.h"
#include "torchstress/detection_table.h"

namespace {

using torchstress::DetectionCell;
using torchstress::Json;
using tsreport_test::expect_all_in;

// The line tools/detection writes (schema, binary and time are the writer's).
const char* kLine =
    R"({"schema":"torchstress-results/2","type":"detection","op":"torchstress_zoo::static_scratch",)"
    R"("bug_class":"shared static scratch workspace","twin":false,"mode":"threaded","instrument":"plain",)"
    R"("device":"cpu","hardware":"2-core Debian 12 VM","runs":20,"caught":19,"kinds":{"wrong value":19},)"
    R"("median_s":0.81,"worst_s":1.93,"expected":"wrong value","note":"","knobs":"defaults",)"
    R"("commit":"8c316a0","binary":"torchstress_detection_table",)"
    R"("time":1764100000.0})";

DetectionCell cell(const std::string& op, const std::string& mode, int runs, int caught, bool twin = false) {
  DetectionCell c;
  c.op = op;
  c.bug_class = twin ? "" : "class of " + op;
  c.twin = twin;
  c.mode = mode;
  c.instrument = "plain";
  c.device = "cpu";
  c.hardware = "2-core VM";
  c.runs = runs;
  c.caught = caught;
  if (caught > 0) {
    c.kinds["wrong value"] = caught;
    c.median_s = 0.5;
    c.worst_s = 1.25;
  }
  c.expected = twin ? "" : "wrong value";
  return c;
}

// The text between `from` and the next blank line.
std::string paragraph(const std::string& md, const std::string& from) {
  const auto b = md.find(from);
  return b == std::string::npos ? "" : md.substr(b, md.find("\n\n", b) - b);
}

TEST(DetectionTable, ALineReadsIntoACellAndBackFieldForField) {
  const Json line = Json::parse(kLine);
  const DetectionCell c = torchstress::detection_cell_from_json(line);
  EXPECT_EQ(c.op, "torchstress_zoo::static_scratch");
  EXPECT_FALSE(c.twin);
  EXPECT_EQ(c.runs, 20);
  EXPECT_EQ(c.caught, 19);
  EXPECT_EQ(c.kinds.at("wrong value"), 19);
  ASSERT_TRUE(c.median_s && c.worst_s);
  EXPECT_DOUBLE_EQ(*c.worst_s, 1.93);
  EXPECT_EQ(c.knobs, "defaults");
  EXPECT_EQ(c.commit, "8c316a0");
  Json expected = line;
  for (const char* writers : {"schema", "binary", "time"}) expected.erase(writers);
  EXPECT_EQ(torchstress::to_json(c).dump(), expected.dump());  // same keys, same order, same values
}

TEST(DetectionTable, ABlockSaysTheKnobsAndCommitItWasMeasuredUnder) {
  DetectionCell defaults = cell("zoo::a_bug", "quick", 20, 20);
  defaults.knobs = "defaults";
  defaults.commit = "8c316a0";
  DetectionCell other = cell("zoo::a_bug", "quick", 20, 10);
  other.knobs = "TORCHSTRESS_BUDGET_SECONDS=0.5";
  const DetectionCell unrecorded = cell("zoo::a_bug", "threaded", 20, 5);
  const std::string md = torchstress::detection_markdown({defaults, other, unrecorded});
  expect_all_in(md, {"*Measured under the defaults, commit 8c316a0.*",
                     "*Measured under other knobs than the defaults: TORCHSTRESS_BUDGET_SECONDS=0.5.*",
                     "*Measured before cells recorded their knobs and commit"});
}

TEST(DetectionTable, NoTimeWhenNothingWasCaughtReadsAsNone) {
  Json line = Json::parse(kLine);
  line["caught"] = 0;
  line["kinds"] = Json::object();
  line["median_s"] = nullptr;
  line["worst_s"] = nullptr;
  const DetectionCell c = torchstress::detection_cell_from_json(line);
  EXPECT_FALSE(c.median_s);
  EXPECT_TRUE(torchstress::to_json(c)["worst_s"].is_null());
}

TEST(DetectionTable, ALineThatCannotBePlacedIsRefusedNamingTheField) {
  const auto refusal = [](Json line) {
    try {
      (void)torchstress::detection_cell_from_json(line);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  Json no_mode = Json::parse(kLine);
  no_mode.erase("mode");
  EXPECT_NE(refusal(no_mode).find("\"mode\""), std::string::npos) << refusal(no_mode);
  Json text_runs = Json::parse(kLine);
  text_runs["runs"] = "20";
  EXPECT_NE(refusal(text_runs).find("\"runs\""), std::string::npos) << refusal(text_runs);
  Json too_many = Json::parse(kLine);
  too_many["caught"] = 21;
  EXPECT_NE(refusal(too_many).find("caught 21 of only 20 runs"), std::string::npos) << refusal(too_many);
  EXPECT_EQ(refusal(Json::array()), "detection line: not a JSON object");
}

TEST(DetectionTable, RowsByOpColumnsInModeOrderWithCaughtAndMissedCells) {
  const std::vector<DetectionCell> cells = {
      cell("zoo::b_bug", "soak", 10, 10), cell("zoo::b_bug", "zeta", 4, 0),      cell("zoo::b_bug", "threaded", 20, 19),
      cell("zoo::a_bug", "cold", 20, 0),  cell("zoo::a_bug", "threaded", 20, 7), cell("zoo::a_bug", "alpha", 3, 3),
  };
  const std::string md = torchstress::detection_markdown(cells);
  expect_all_in(md, {"| Bug op | Bug class | Expected symptom | threaded | cold | soak | alpha | zeta |\n"
                     "|---|---|---|---|---|---|---|---|\n"
                     "| `zoo::a_bug` | class of zoo::a_bug | wrong value | 7/20 · 0.50 s (worst 1.25) · wrong value "
                     "| 0/20 — missed | not measured | 3/3 · 0.50 s (worst 1.25) · wrong value | not measured |\n"
                     "| `zoo::b_bug` | class of zoo::b_bug | wrong value | 19/20 · 0.50 s (worst 1.25) · wrong value "
                     "| not measured | 10/10 · 0.50 s (worst 1.25) · wrong value | not measured | 0/4 — missed |\n"});
  // a_bug is caught reliably only in alpha; b_bug in threaded (19/20 = 95%) and soak.
  expect_all_in(md, {"**cpu · plain** (2-core VM): caught 2 of 2 bugs in at least one mode; caught in ≥95% of runs: "
                     "threaded 1 of 2, cold 0 of 1, soak 1 of 1, alpha 1 of 1, zeta 0 of 1.\n"});
  EXPECT_EQ(md.find("Correct twins"), std::string::npos) << md;
}

TEST(DetectionTable, TwinsGetTheirOwnTableCountingFalsePositives) {
  std::vector<DetectionCell> cells = {cell("zoo::bug", "threaded", 20, 20),
                                      cell("zoo::bug_fixed", "cold", 100, 0, true),
                                      cell("zoo::bug_fixed", "threaded", 100, 2, true)};
  cells.back().kinds = {{"exception", 2}};
  cells.back().note = "flaky allocator";
  const std::string md = torchstress::detection_markdown(cells);
  expect_all_in(md, {"Correct twins (false positives):\n\n| Twin op | threaded | cold |\n|---|---|---|\n"
                     "| `zoo::bug_fixed` | **2/100** · exception (flaky allocator) | 0/100 |\n"});
  EXPECT_NE(paragraph(md, "**cpu · plain**").find("; correct twins: 2 false positives in 200 runs."), std::string::npos)
      << md;
  EXPECT_EQ(md.find("| `zoo::bug_fixed` | |"), std::string::npos) << "a twin is no bug row\n" << md;
}

TEST(DetectionTable, OneBlockPerDeviceAndInstrumentInInstrumentOrder) {
  std::vector<DetectionCell> cells;
  for (const char* instrument : {"valgrind", "compute-sanitizer", "tsan", "plain"}) {
    cells.push_back(cell("zoo::bug", "threaded", 5, 5));
    cells.back().instrument = instrument;
  }
  cells.push_back(cell("zoo::bug", "threaded", 5, 1));
  cells.back().device = "cuda";
  cells.back().hardware = "H100";
  const std::string md = torchstress::detection_markdown(cells);
  std::vector<size_t> at;
  for (const char* title : {"**cpu · plain**", "**cpu · tsan**", "**cpu · compute-sanitizer**", "**cpu · valgrind**",
                            "**cuda · plain** (H100)"}) {
    at.push_back(md.find(title));
    ASSERT_NE(at.back(), std::string::npos) << title << "\n" << md;
  }
  EXPECT_TRUE(std::is_sorted(at.begin(), at.end())) << md;
  EXPECT_TRUE(torchstress::detection_markdown({}).empty());
}

TEST(DetectionTable, TheSameCellOnTwoMachinesIsTwoBlocks) {
  DetectionCell box = cell("zoo::bug", "threaded", 20, 3);
  box.hardware = "CPU box";
  DetectionCell gpu_host = cell("zoo::bug", "threaded", 10, 10);
  gpu_host.hardware = "H100 host";
  const std::string md = torchstress::detection_markdown({box, gpu_host});
  expect_all_in(md, {"**cpu · plain** (CPU box)", "**cpu · plain** (H100 host)", "| 3/20 · ", "| 10/10 · "});
}

TEST(DetectionTable, ACellGivenTwiceShowsTheLaterOne) {
  const std::string md =
      torchstress::detection_markdown({cell("zoo::bug", "threaded", 20, 3), cell("zoo::bug", "threaded", 40, 40)});
  expect_all_in(md, {"| 40/40 · "});
  EXPECT_EQ(md.find("3/20"), std::string::npos) << md;
}

TEST(DetectionTable, MultipleKindsNotesAndPipesStayInsideTheirCell) {
  DetectionCell c = cell("zoo::bug", "threaded", 20, 19);
  c.kinds = {{"NaN/Inf", 4}, {"wrong value", 15}};
  c.median_s = 12.345;
  c.worst_s = 250.0;
  c.note = "a|b";
  DetectionCell missed = cell("zoo::other", "threaded", 20, 0);
  missed.note = "tsan cannot see inside LibTorch";
  const std::string md = torchstress::detection_markdown({c, missed});
  expect_all_in(md, {"| 19/20 · 12.3 s (worst 250) · wrong value 15, NaN/Inf 4 (a\\|b) |",
                     "| 0/20 — missed (tsan cannot see inside LibTorch) |"});
}

}  // namespace
