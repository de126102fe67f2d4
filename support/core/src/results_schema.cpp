#include "torchstress/results_schema.h"

namespace torchstress {

JsonLine& JsonLine::add_raw(const std::string& key, const std::string& json_text) {
  obj_[key] = Json::parse(json_text);
  return *this;
}

std::string JsonLine::str() const { return dump_line(obj_); }

std::string dump_line(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

}  // namespace torchstress
