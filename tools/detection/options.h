// The detection tool's command line, validated before any trial runs (a bad value: one line, exit 2).
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace tsdetect {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Options {
  std::string battery, op_library, catalogue, results, markdown;
  std::vector<std::string> render;  // --render: folders whose detection lines become --markdown
  std::vector<std::string> modes = {"quick", "release"};
  std::vector<std::string> ops;  // empty: every op of the catalogue for this device
  int runs = 20;
  int twin_runs = 100;
  std::string device = "cpu";
  std::string instrument = "plain";
  std::vector<std::string> wrapper;
  double soak_seconds = 5.0;
  double stall_seconds = 0.0;  // 0: the knob's default
  std::map<std::string, std::string> env;
  std::string hardware = "unnamed machine";
  std::string scratch = "/tmp/torchstress-detection";
  std::string commit;  // --commit; empty: the source tree's HEAD (git), "+ local changes" when dirty
};

Options parse_options(int argc, char** argv);

}  // namespace tsdetect
