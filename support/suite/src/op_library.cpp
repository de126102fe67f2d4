#include "torchstress/op_library.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <unistd.h>

#include <exception>
#include <sstream>
#include <string>

#include "torchstress/exit_codes.h"
#include "torchstress/knobs.h"
#include "torchstress/workloads.h"

namespace torchstress {
namespace {

// The library being loaded, for the terminate handler below.
std::string g_loading_paths, g_loading_path;

std::string thrown_message(std::exception_ptr e) {
  try {
    if (e) std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    std::string what = ex.what();
    what = what.substr(0, what.find('\n'));
    return what.empty() ? "an exception with no message" : what;
  } catch (...) {
    return "an exception that is no std::exception";
  }
  return "std::terminate without an exception";
}

std::string thrown_line(const std::string& paths, const std::string& path, const std::string& what) {
  return fmt::format("TORCHSTRESS_OP_LIBRARY='{}' is not accepted: loading '{}' threw from its static initialisers "
                     "({}); accepted: ':'-separated paths of shared libraries whose TORCH_LIBRARY registrations "
                     "succeed",
                     paths, path, what);
}

// glibc runs a library's static initialisers inside dlopen, which an exception cannot unwind
// through: it reaches std::terminate. While a library loads, terminate says so in one line and
// exits with the usage code instead of aborting.
[[noreturn]] void terminate_while_loading() {
  const std::string line = thrown_line(g_loading_paths, g_loading_path, thrown_message(std::current_exception())) + "\n";
  const ssize_t n = ::write(2, line.data(), line.size());
  (void)n;
  ::_exit(kExitUsage);
}

}  // namespace

std::string load_op_libraries(const std::string& paths) {
  std::stringstream list(paths);
  for (std::string path; std::getline(list, path, ':');) {
    if (path.empty()) continue;
    // RTLD_GLOBAL: the library's ops may call each other's symbols, as in a Python extension.
    // A static initialiser that throws (a TORCH_LIBRARY registering a namespace twice, a bad
    // schema) unwinds out of dlopen: one line and exit 2, never std::terminate.
    void* handle = nullptr;
    std::string thrown;
    g_loading_paths = paths;
    g_loading_path = path;
    const std::terminate_handler before = std::set_terminate(terminate_while_loading);
    try {
      handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
    } catch (const std::exception& e) {
      thrown = e.what();
      thrown = thrown.substr(0, thrown.find('\n'));
      if (thrown.empty()) thrown = "an exception with no message";
    } catch (...) {
      thrown = "an exception that is no std::exception";
    }
    std::set_terminate(before);
    if (!thrown.empty()) return thrown_line(paths, path, thrown);
    if (handle == nullptr) {
      const char* why = ::dlerror();
      return fmt::format("TORCHSTRESS_OP_LIBRARY='{}' is not accepted: cannot load '{}' ({}); accepted: "
                         "':'-separated paths of shared libraries that register TORCH_LIBRARY ops",
                         paths, path, why ? why : "unknown error");
    }
  }
  return "";
}

std::string workload_knob_problem() {
  const std::string& name = knobs().workload;
  const std::string problem = workload_name_problem(name);
  if (problem.empty()) return "";
  return fmt::format("TORCHSTRESS_WORKLOAD='{}' is not accepted ({}); accepted: {}", name, problem, kWorkloadNames);
}

}  // namespace torchstress
