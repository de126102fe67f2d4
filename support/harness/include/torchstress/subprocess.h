// Runs a program as a child process with a deadline, capturing its combined output: the
// self-tests run the suite's own binary this way to prove that it fails when it should.
#pragma once

#include <sys/wait.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace torchstress {

struct ChildResult {
  int exit_code = -1;  // valid when !signaled
  int signal = 0;      // valid when signaled
  bool signaled = false;
  bool timed_out = false;  // killed at the deadline
  double seconds = 0.0;
  std::string output;  // stdout and stderr, interleaved

  std::string describe() const;  // "exit 1", "signal SIGSEGV", "timed out after 60 s"
};

// argv[0] is the program path. `env` entries are set on top of this process's environment
// (an empty value unsets the variable).
ChildResult run_child(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                      std::chrono::duration<double> deadline);

// A waitpid() status into any result with `signaled`, `signal` and `exit_code` (ChildResult,
// a fork's outcome); left as is when the child neither exited nor was killed.
template <typename Result>
void set_wait_status(int status, Result& r) {
  if (WIFSIGNALED(status)) {
    r.signaled = true;
    r.signal = WTERMSIG(status);
  } else if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
  }
}

// "SIGSEGV", "SIGABRT", ... or "signal N".
std::string signal_name(int sig);

// Path helpers on POSIX calls, not std::filesystem: the PyPI torch wheel's libtorch.so exports
// std::filesystem symbols of its own libstdc++ build, which win at link time and crash (seen:
// remove_all segfaults in LibTorch 2.11.0+cu130). Code linked to LibTorch keeps off <filesystem>.
// `path` made absolute against the current folder (no symlink resolution); "mkdir -p";
// "rm -rf" (true when nothing is left).
std::string absolute_path(const std::string& path);
bool make_directories(const std::string& path);
bool remove_tree(const std::string& path);
// The files directly in `dir`, with their folder prefixed; empty when it cannot be read.
std::vector<std::string> list_files(const std::string& dir);

// The path of the running test binary (saved by the shared test main from argv[0]).
const std::string& self_executable();
void set_self_executable(const std::string& path);

}  // namespace torchstress
