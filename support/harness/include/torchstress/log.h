// Logging: spdlog named loggers with the thread id in every line, level from SPDLOG_LEVEL.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace torchstress {

// Sets the pattern and level once (the shared test main calls it).
void init_logging();

// A named logger ("runner", "soak", "device", ...), created on first use.
std::shared_ptr<spdlog::logger> logger(const std::string& name);

}  // namespace torchstress
