#include "options.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "trial.h"

namespace tsdetect {
namespace {

constexpr const char* kAccepted =
    "accepted: --render DIR[,DIR] --markdown FILE, or --battery BIN --op-library LIB --catalogue FILE --results DIR [--markdown FILE] [--modes "
    "threaded,cold,soak] [--runs N] [--twin-runs N] [--device cpu|cuda|cuda:N] [--ops a,b] [--instrument NAME] "
    "[--wrapper \"CMD ARGS\"] [--soak-seconds S] [--stall-seconds S] [--env K=V] [--hardware TEXT] [--scratch DIR] [--commit TEXT]";

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, sep);) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

int whole_number(const std::string& flag, const std::string& v, int min) {
  try {
    size_t used = 0;
    const int n = std::stoi(v, &used);
    if (used == v.size() && n >= min) return n;
  } catch (const std::exception&) {
  }
  throw UsageError(fmt::format("{}='{}' is not accepted; accepted: a whole number >= {}", flag, v, min));
}

double positive_seconds(const std::string& flag, const std::string& v) {
  try {
    size_t used = 0;
    const double s = std::stod(v, &used);
    if (used == v.size() && s > 0) return s;
  } catch (const std::exception&) {
  }
  throw UsageError(fmt::format("{}='{}' is not accepted; accepted: seconds > 0", flag, v));
}

void require_file(const std::string& flag, const std::string& path, int mode) {
  if (path.empty()) throw UsageError(fmt::format("{} is required; {}", flag, kAccepted));
  if (::access(path.c_str(), mode) != 0) {
    throw UsageError(fmt::format("{}='{}' is not accepted; accepted: an existing {} file", flag, path,
                                 mode == X_OK ? "executable" : "readable"));
  }
}

// `program` as run_child() would find it: a path, or a name on PATH.
bool runnable(const std::string& program) {
  if (program.find('/') != std::string::npos) return ::access(program.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  for (const auto& dir : split(path ? path : "", ':')) {
    if (::access((dir + "/" + program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

// One flag and its value into `o`.
void apply(Options& o, const std::string& flag, const std::string& v) {
  if (flag == "--battery") o.battery = v;
  else if (flag == "--render") o.render = split(v, ',');
  else if (flag == "--op-library") o.op_library = v;
  else if (flag == "--catalogue") o.catalogue = v;
  else if (flag == "--results") o.results = v;
  else if (flag == "--markdown") o.markdown = v;
  else if (flag == "--modes") o.modes = split(v, ',');
  else if (flag == "--ops") o.ops = split(v, ',');
  else if (flag == "--runs") o.runs = whole_number(flag, v, 1);
  else if (flag == "--twin-runs") o.twin_runs = whole_number(flag, v, 0);
  else if (flag == "--device") o.device = v;
  else if (flag == "--instrument") o.instrument = v;
  else if (flag == "--wrapper") o.wrapper = split(v, ' ');
  else if (flag == "--soak-seconds") o.soak_seconds = positive_seconds(flag, v);
  else if (flag == "--stall-seconds") o.stall_seconds = positive_seconds(flag, v);
  else if (flag == "--hardware") o.hardware = v;
  else if (flag == "--scratch") o.scratch = v;
  else if (flag == "--commit") o.commit = v;
  else if (flag == "--env" && v.find('=') != std::string::npos) o.env[v.substr(0, v.find('='))] = v.substr(v.find('=') + 1);
  else throw UsageError(fmt::format("unknown argument '{}' (value '{}'); {}", flag, v, kAccepted));
}

}  // namespace

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) throw UsageError(fmt::format("{} needs a value; {}", flag, kAccepted));
    apply(o, flag, argv[i + 1]);
  }
  if (!o.render.empty()) {
    if (o.markdown.empty()) throw UsageError(fmt::format("--render needs --markdown FILE; {}", kAccepted));
    return o;
  }
  require_file("--battery", o.battery, X_OK);
  require_file("--op-library", o.op_library, R_OK);
  require_file("--catalogue", o.catalogue, R_OK);
  if (o.results.empty()) throw UsageError(fmt::format("--results is required; {}", kAccepted));
  if (!o.wrapper.empty() && !runnable(o.wrapper[0])) {
    throw UsageError(fmt::format("--wrapper program '{}' is not accepted: not found on PATH; accepted: a path or a "
                                 "program on PATH (e.g. /usr/local/cuda/bin/compute-sanitizer)",
                                 o.wrapper[0]));
  }
  for (const auto& m : o.modes) {
    if (!is_mode(m)) throw UsageError(fmt::format("--modes entry '{}' is not accepted; accepted: quick, release, threaded, cold, soak", m));
  }
  if (o.device != "cpu" && o.device != "cuda" && o.device.rfind("cuda:", 0) != 0) {
    throw UsageError(fmt::format("--device='{}' is not accepted; accepted: cpu, cuda, cuda:N", o.device));
  }
  return o;
}

}  // namespace tsdetect
