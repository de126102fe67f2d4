// Provenance: which LibTorch, BLAS, OpenMP, CUDA, compiler and host produced these results, from
// the "provenance" object of each process line. A results folder can hold several runs, so every
// field is collected over all processes and a field on which they disagree is said out loud.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "report_internal.h"

namespace tsreport::detail {
namespace {

// Distinct values of one field, with how many processes reported each.
using Tally = std::vector<std::pair<std::string, int>>;

void count(Tally& tally, const std::string& value) {
  auto it = std::find_if(tally.begin(), tally.end(), [&](const auto& e) { return e.first == value; });
  if (it == tally.end())
    tally.emplace_back(value, 1);
  else
    ++it->second;
}

// Every provenance field (show_config aside: it differs whenever anything else does, and is long),
// in order of first appearance.
std::vector<std::pair<std::string, Tally>> tally_fields(const RunData& run) {
  std::vector<std::pair<std::string, Tally>> fields;
  for (const auto& p : run.processes) {
    for (const auto& [key, value] : p.provenance.items()) {
      if (key == "show_config") continue;
      auto it = std::find_if(fields.begin(), fields.end(), [&](const auto& f) { return f.first == key; });
      if (it == fields.end()) it = fields.insert(fields.end(), {key, {}});
      count(it->second, scalar_text(value));
    }
  }
  return fields;
}

std::string describe(const std::string& key, const Tally& tally) {
  std::string s;
  for (const auto& [value, n] : tally)
    s += fmt::format("{}{} ({} process{})", s.empty() ? "" : " / ", value, n, n == 1 ? "" : "es");
  return key + ": " + s;
}

// A process line's own fields; its show_config goes to the run's list of distinct texts instead,
// so fifteen processes of one build do not repeat it fifteen times.
Json process_json(const ProcessRecord& p) {
  Json e = Json::object();
  e["file"] = p.file;
  e["binary"] = p.binary;
  e["executable"] = p.executable;
  e["build_dir"] = p.build_dir;
  e["knobs"] = p.knobs;
  Json prov = Json::object();
  for (const auto& [key, value] : p.provenance.items()) {
    if (key != "show_config") prov[key] = value;
  }
  e["provenance"] = prov;
  return e;
}

void push_distinct(std::vector<std::string>& into, const std::string& value) {
  if (!value.empty() && std::find(into.begin(), into.end(), value) == into.end()) into.push_back(value);
}

Json array_of(const std::vector<std::string>& values) {
  Json a = Json::array();
  for (const auto& v : values) a.emplace_back(v);
  return a;
}

}  // namespace

void add_provenance(Json& meta, const RunData& run) {
  Json values = Json::object(), disagreements = Json::array();
  for (const auto& [key, tally] : tally_fields(run)) {
    std::vector<std::string> distinct;
    for (const auto& v : tally) distinct.push_back(v.first);
    values[key] = join_distinct(distinct);
    if (tally.size() > 1) disagreements.emplace_back(describe(key, tally));
  }
  // Files written before the harness recorded provenance still name their LibTorch.
  Tally torch;
  for (const auto& p : run.processes) {
    if (!p.torch.empty()) count(torch, p.torch);
  }
  if (torch.size() > 1 && !values.contains("torch_version")) disagreements.emplace_back(describe("torch", torch));

  // The run's knobs are the environment the run was started with: a variable every process had, at
  // the value most of them had. Any other setting is a test's own CTest ENVIRONMENT (a control's
  // THREADS=1, a user catalogue, DEVICE=cpu where the run said auto), listed apart with how many
  // processes had it.
  std::vector<std::string> knobs, show_config;
  Tally by_setting;
  std::map<std::string, Tally> by_key;  // variable -> its values, with how many processes had each
  Json processes = Json::array();
  for (const auto& p : run.processes) {
    for (const auto& [key, value] : p.knobs.items()) {
      // Bookkeeping of a CTest test, not a setting: the Controls section and the test names say it.
      if (key == "TORCHSTRESS_CTEST_NAME" || key == "TORCHSTRESS_CONTROL") continue;
      count(by_setting, key + "=" + scalar_text(value));
      count(by_key[key], scalar_text(value));
    }
    push_distinct(show_config, str(p.provenance, "show_config"));
    processes.emplace_back(process_json(p));
  }
  const int all = static_cast<int>(run.processes.size());
  auto is_runs = [&](const std::string& setting) {
    const auto eq = setting.find('=');
    const Tally& values = by_key[setting.substr(0, eq)];
    int total = 0, most = 0;
    std::string top;
    for (const auto& [v, n] : values) {
      total += n;
      if (n > most) most = n, top = v;
    }
    return total == all && 2 * most > all && top == setting.substr(eq + 1);
  };
  Json per_test = Json::array();
  for (const auto& [setting, n] : by_setting) {
    if (is_runs(setting)) {
      knobs.push_back(setting);
    } else {
      Json k = Json::object();
      k["setting"] = setting;
      k["processes"] = n;
      per_test.push_back(std::move(k));
    }
  }
  meta["provenance"] = values;
  meta["provenance_disagreements"] = disagreements;
  meta["knobs"] = array_of(knobs);
  meta["knobs_of_some_tests"] = per_test;
  meta["process_count"] = run.processes.size();
  meta["show_config"] = array_of(show_config);
  meta["processes"] = processes;
}

}  // namespace tsreport::detail
