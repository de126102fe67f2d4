#include "torchstress/clean_references.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <cctype>
#include <cstdlib>
#include <stdexcept>

#include "torchstress/isolated_rounds.h"
#include "torchstress/subprocess.h"

namespace torchstress {
namespace {

constexpr const char* kFolderVariable = "TORCHSTRESS_INTERNAL_CLEAN_REFERENCES";

// A file name from a workload or case name ("op:zoo::bug" -> "op_zoo__bug").
std::string file_of(const std::string& folder, const std::string& key) {
  std::string name = key;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '.') ch = '_';
  }
  return folder + "/" + name + ".refs";
}

// The folder of this process's references, made on first use and removed at exit.
const std::string& own_folder() {
  static const std::string folder = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/torchstress-refs-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error(fmt::format("cannot make a folder for clean references at '{}'", pattern));
    }
    setenv(kFolderVariable, pattern.c_str(), 1);  // inherited by the rounds this process spawns
    // From the environment: `folder` is destroyed before this handler runs (registered first).
    std::atexit([] {
      if (const char* made = std::getenv(kFolderVariable)) remove_tree(made);
    });
    return pattern;
  }();
  return folder;
}

}  // namespace

void save_clean_references(const std::string& key, const WorkloadFactory& make, int threads) {
  if (in_death_test_child()) return;
  const std::string& folder = own_folder();
  auto w = make();
  w->prepare(threads, 1);
  save_references(file_of(folder, key), w->references());
}

HostReferences clean_references(const std::string& key) {
  const char* folder = std::getenv(kFolderVariable);
  if (folder == nullptr || *folder == '\0') {
    throw std::runtime_error(fmt::format("no clean references for '{}': save_clean_references() was not called by "
                                         "the test's process",
                                         key));
  }
  return load_references(file_of(folder, key));
}

}  // namespace torchstress
