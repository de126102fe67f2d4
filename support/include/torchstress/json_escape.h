// JSON string escaping, shared by the results log and the report tool (which links no LibTorch).
#pragma once

#include <string>

namespace torchstress {

// The characters of `s` escaped for use between JSON double quotes.
std::string json_escape(const std::string& s);

}  // namespace torchstress
