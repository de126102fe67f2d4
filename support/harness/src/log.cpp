#include "torchstress/log.h"

#include <spdlog/cfg/env.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <mutex>

namespace torchstress {

void init_logging() {
  static std::once_flag once;
  std::call_once(once, [] {
    // stderr: gtest owns stdout, and a death-test parent captures the child's stderr.
    spdlog::set_pattern("[%H:%M:%S.%e] [%n] [%^%l%$] [tid %t] %v");
    spdlog::set_level(spdlog::level::info);
    spdlog::cfg::load_env_levels();  // SPDLOG_LEVEL=debug, or per logger: SPDLOG_LEVEL=runner=debug
  });
}

std::shared_ptr<spdlog::logger> logger(const std::string& name) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  auto existing = spdlog::get(name);
  if (existing) return existing;
  auto created = spdlog::stderr_color_mt(name);
  spdlog::cfg::load_env_levels();
  return created;
}

}  // namespace torchstress
