// benchmarks.json: the bench records in Google Benchmark's JSON format, so Google Benchmark's
// tools/compare.py (and anything else that reads that format) can compare two runs. One iteration
// is one op (scaling: ops/s over all threads) or one batch (batching); real_time is the time per
// iteration implied by the measured rate, and cpu_time repeats it (the suite measures wall time
// only). Each point gets one "iteration" entry per repetition when its bench record carries the
// per-repetition rates ("values"), and a "_median" aggregate always (plus "_mean", "_stddev" and
// "_cv" from those rates).
#include <fmt/format.h>

#include <cmath>
#include <ctime>
#include <map>

#include "report.h"
#include "report_internal.h"

namespace tsreport {
namespace {

// One measured point: a thread count of a scaling table, its pipelined baseline, or a batch size.
struct Point {
  std::string run_name;
  long threads = 1;
  double iterations = 0;      // per repetition
  double per_item = 1;        // items per iteration (a batch's size)
  double median_rate = 0;     // items/s
  std::vector<double> rates;  // per repetition, when recorded
  long repetitions = 0;
};

double time_ns(double rate, double per_item) { return rate > 0 ? 1e9 * per_item / rate : 0.0; }

Json entry(const Point& p, const std::string& name, double real_time, double rate) {
  Json b = Json::object();
  b["name"] = name;
  b["run_name"] = p.run_name;
  b["run_type"] = "iteration";
  b["repetitions"] = p.repetitions;
  b["threads"] = p.threads;
  b["iterations"] = static_cast<long>(p.iterations);
  b["real_time"] = real_time;
  b["cpu_time"] = real_time;
  b["time_unit"] = "ns";
  b["items_per_second"] = rate;
  return b;
}

Json aggregate(const Point& p, const char* what, double real_time, double rate, const char* unit = "time") {
  Json b = entry(p, p.run_name + "_" + what, real_time, rate);
  b["run_type"] = "aggregate";
  b["aggregate_name"] = what;
  b["aggregate_unit"] = unit;
  return b;
}

// The entries of one point, numbered as family `family`.
void add_point(const Point& p, long family, Json& out) {
  std::vector<Json> entries;
  std::vector<double> times;
  for (size_t i = 0; i < p.rates.size(); ++i) {
    times.push_back(time_ns(p.rates[i], p.per_item));
    Json b = entry(p, p.run_name, times.back(), p.rates[i]);
    b["repetition_index"] = static_cast<long>(i);
    entries.push_back(std::move(b));
  }
  entries.push_back(aggregate(p, "median", time_ns(p.median_rate, p.per_item), p.median_rate));
  if (times.size() > 1) {
    double mean = 0, var = 0;
    for (double t : times) mean += t / static_cast<double>(times.size());
    for (double t : times) var += (t - mean) * (t - mean) / static_cast<double>(times.size() - 1);
    const double sd = std::sqrt(var);
    entries.push_back(aggregate(p, "mean", mean, mean > 0 ? 1e9 * p.per_item / mean : 0.0));
    entries.push_back(aggregate(p, "stddev", sd, 0.0));
    entries.push_back(aggregate(p, "cv", mean > 0 ? sd / mean : 0.0, 0.0, "percentage"));
  }
  for (auto& b : entries) {
    b["family_index"] = family;
    b["per_family_instance_index"] = 0;
    out.push_back(std::move(b));
  }
}

std::vector<double> rates_of(const Json& row) {
  std::vector<double> v;
  const Json& values = at(row, "values").is_array() ? at(row, "values") : at(row, "samples");
  for (const auto& x : elems(values)) {
    if (x.is_number()) v.push_back(x.get<double>());
  }
  return v;
}

std::string family_of(const Json& e, const std::map<std::string, int>& seen) {
  std::string f = str(e, "test") + "/" + (str(e, "workload").empty() ? "default" : str(e, "workload"));
  // Two tables of one test (several policies in one folder) stay apart by their policy.
  if (seen.count(f) && seen.at(f) > 1) f += fmt::format("/streams:{}/sync:{}", str(e, "cuda_streams"), str(e, "sync"));
  return f;
}

void scaling_points(const Json& e, const std::string& family, std::vector<Point>& out) {
  const long reps = static_cast<long>(num(e, "repetitions"));
  const Json& pl = at(e, "pipelined");
  if (at(pl, "ops_per_s").is_number()) {
    out.push_back({family + "/pipelined", 1, num(pl, "ops"), 1, num(pl, "ops_per_s"), rates_of(pl), reps});
  }
  for (const auto& row : elems(e, "rows")) {
    const long threads = static_cast<long>(num(row, "threads"));
    out.push_back({fmt::format("{}/threads:{}", family, threads), threads, num(e, "ops_per_thread") * threads, 1,
                   num(row, "ops_per_s"), rates_of(row), reps});
  }
}

void batching_points(const Json& e, const std::string& family, std::vector<Point>& out) {
  const long reps = static_cast<long>(num(e, "repetitions"));
  for (const auto& row : elems(e, "rows")) {
    const double batch = num(row, "batch");
    out.push_back({fmt::format("{}/batch:{}", family, batch), 1, num(e, "iterations"), batch, num(row, "samples_per_s"),
                   rates_of(row), reps});
  }
}

std::string iso_date(double t) { return detail::local_time(t, "%Y-%m-%dT%H:%M:%S%z"); }

Json context_of(const Json& report) {
  const Json& run = at(report, "run");
  std::string build = str(run, "provenance", "build_type");
  for (auto& c : build) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  Json c = Json::object();
  c["date"] = iso_date(num(run, "last_time"));
  c["host_name"] = str(run, "host");
  c["executable"] = str(run, "binaries");
  c["num_cpus"] = 0;  // not in the results
  c["mhz_per_cpu"] = 0;
  c["cpu_scaling_enabled"] = false;
  c["caches"] = Json::array();
  c["load_avg"] = Json::array();
  c["library_build_type"] = build.empty() ? "unknown" : build;
  c["library_version"] = "torchstress";
  c["torch_version"] = str(run, "torch");
  c["device"] = str(run, "device");
  c["cuda_streams"] = str(run, "cuda_streams");
  c["sync"] = str(run, "sync");
  c["json_schema_version"] = 1;
  return c;
}

}  // namespace

Json benchmark_json(const Json& report) {
  std::vector<Point> points;
  std::map<std::string, int> seen;
  for (const char* kind : {"scaling", "batching"}) {
    for (const auto& e : elems(report, "sections", kind)) ++seen[family_of(e, {})];
  }
  for (const auto& e : elems(report, "sections", "scaling")) scaling_points(e, family_of(e, seen), points);
  for (const auto& e : elems(report, "sections", "batching")) batching_points(e, family_of(e, seen), points);
  Json benchmarks = Json::array();
  long family = 0;
  for (const auto& p : points) add_point(p, family++, benchmarks);
  Json out = Json::object();
  out["context"] = context_of(report);
  out["benchmarks"] = std::move(benchmarks);
  return out;
}

}  // namespace tsreport
