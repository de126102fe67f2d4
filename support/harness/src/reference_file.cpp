#include "torchstress/reference_file.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <vector>

#include "torchstress/value_oracle.h"

namespace torchstress {
namespace {

constexpr char kMagic[8] = {'T', 'S', 'R', 'E', 'F', '0', '1', '\n'};

using File = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

File open_file(const std::string& path, const char* mode) {
  File f(std::fopen(path.c_str(), mode), &std::fclose);
  if (!f) throw std::runtime_error(fmt::format("references file '{}' cannot be opened ({})", path, mode));
  return f;
}

void write_bytes(std::FILE* f, const void* data, size_t bytes, const std::string& path) {
  if (bytes > 0 && std::fwrite(data, 1, bytes, f) != bytes) {
    throw std::runtime_error(fmt::format("cannot write '{}'", path));
  }
}

template <typename T>
void put(std::FILE* f, const T& v, const std::string& path) {
  write_bytes(f, &v, sizeof v, path);
}

template <typename T>
T get(std::FILE* f, const std::string& path) {
  T v{};
  if (std::fread(&v, sizeof v, 1, f) != 1) {
    throw std::runtime_error(fmt::format("references file '{}' is truncated or not one", path));
  }
  return v;
}

void put_tensor(std::FILE* f, const at::Tensor& t, const std::string& path) {
  const at::Tensor h = t.device().is_cpu() && t.is_contiguous() ? t : host_copy(t);
  put(f, static_cast<int32_t>(h.scalar_type()), path);
  put(f, static_cast<int64_t>(h.dim()), path);
  for (int64_t d : h.sizes()) put(f, d, path);
  write_bytes(f, h.data_ptr(), static_cast<size_t>(h.numel()) * h.element_size(), path);
}

at::Tensor get_tensor(std::FILE* f, const std::string& path) {
  const auto type = static_cast<at::ScalarType>(get<int32_t>(f, path));
  const auto dims = get<int64_t>(f, path);
  if (dims < 0 || dims > 64) throw std::runtime_error(fmt::format("references file '{}' is malformed", path));
  std::vector<int64_t> sizes(static_cast<size_t>(dims));
  for (auto& d : sizes) d = get<int64_t>(f, path);
  at::Tensor h = at::empty(sizes, at::TensorOptions().dtype(type));
  const auto bytes = static_cast<size_t>(h.numel()) * h.element_size();
  if (bytes > 0 && std::fread(h.data_ptr(), 1, bytes, f) != bytes) {
    throw std::runtime_error(fmt::format("references file '{}' is truncated", path));
  }
  return h;
}

}  // namespace

void save_references(const std::string& path, const HostReferences& refs) {
  File f = open_file(path, "wb");
  write_bytes(f.get(), kMagic, sizeof kMagic, path);
  put(f.get(), static_cast<int64_t>(refs.size()), path);
  for (const auto& per_thread : refs) {
    put(f.get(), static_cast<int64_t>(per_thread.size()), path);
    for (const auto& t : per_thread) put_tensor(f.get(), t, path);
  }
}

HostReferences load_references(const std::string& path) {
  File f = open_file(path, "rb");
  char magic[sizeof kMagic];
  if (std::fread(magic, 1, sizeof magic, f.get()) != sizeof magic || !std::equal(magic, magic + sizeof magic, kMagic)) {
    throw std::runtime_error(fmt::format("'{}' is not a torchstress references file", path));
  }
  HostReferences refs(static_cast<size_t>(get<int64_t>(f.get(), path)));
  for (auto& per_thread : refs) {
    per_thread.resize(static_cast<size_t>(get<int64_t>(f.get(), path)));
    for (auto& t : per_thread) t = get_tensor(f.get(), path);
  }
  return refs;
}

}  // namespace torchstress
