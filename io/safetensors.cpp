// Safetensors reader and writer, with the BF16/F16 scalar conversions. The reader validates the
// whole header before it trusts any of it (lengths, JSON shape, dtypes, overflow-safe element
// counts, offsets that tile the data section exactly, as the reference implementation demands);
// see safetensors.h for the format.
#include "io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>

#include "core/error.h"
#include "core/json_fields.h"
#include "io/atomic_file.h"

namespace attnlab {

static_assert(std::endian::native == std::endian::little,
              "attnlab's safetensors I/O assumes a little-endian host");

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Headers above this size are rejected outright (the reference implementation's limit too):
// no sane header is that large, and a corrupt length must not make us allocate gigabytes.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// Largest byte count a tensor may claim; keeps every size computation far from overflow.
constexpr uint64_t kMaxTensorBytes = uint64_t{1} << 62;

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw Error(path + ": " + message);
}

// Messages must stay one printable line even when they quote bytes from a hostile file.
std::string printable_bytes(const std::string& text) {
  std::string out;
  for (unsigned char c : text) out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  return out;
}

// (Built with += rather than "literal" + temporary: GCC 12 warns falsely (-Wrestrict) on that.)
std::string quote_name(const std::string& name) {
  std::string s = "'";
  s += printable_bytes(name);
  s += "'";
  return s;
}

std::string offsets_to_string(uint64_t begin, uint64_t end) {
  std::string s = "[";
  s += std::to_string(begin);
  s += ", ";
  s += std::to_string(end);
  s += "]";
  return s;
}

template <class T>
void put(std::vector<uint8_t>& bytes, size_t index, T value) {
  std::memcpy(bytes.data() + index * sizeof(T), &value, sizeof(T));
}

template <class T>
T take(const std::vector<uint8_t>& bytes, size_t index) {
  T value;
  std::memcpy(&value, bytes.data() + index * sizeof(T), sizeof(T));
  return value;
}

// One header entry after validation.
struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin;
  uint64_t end;
};

// Reads a JSON integer that must be >= 0 and at most `limit`; false for anything else.
bool get_count(const json& value, uint64_t limit, uint64_t& out) {
  if (value.is_number_unsigned()) {
    out = value.get<uint64_t>();
    return out <= limit;
  }
  return false;  // negative integers, floats, strings, ...
}

Entry parse_entry(const std::string& path, const std::string& name, const json& info,
                  uint64_t data_size) {
  const std::string where = "tensor " + quote_name(name) + ": ";
  if (!info.is_object())
    fail(path, where + "header entry must be an object {dtype, shape, data_offsets}, got " +
                   printable_bytes(info.dump()));
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!info.contains(field)) fail(path, where + "header entry is missing field '" + field + "'");

  Entry e;
  e.name = name;
  const json& dtype = info.at("dtype");
  if (!dtype.is_string())
    fail(path, where + "dtype must be a string, got " + printable_bytes(dtype.dump()));
  try {
    e.dtype = parse_dtype_name(dtype.get<std::string>());
  } catch (const Error& err) {
    fail(path, where + err.what());
  }

  const json& shape = info.at("shape");
  if (!shape.is_array())
    fail(path, where + "shape must be an array of integers, got " + printable_bytes(shape.dump()));
  // Element counts are multiplied with overflow checks; any count whose bytes could not fit
  // the limit is rejected before it is multiplied further (a zero later does not rescue it).
  // The product of the non-zero dimensions is bounded too, so that shape_numel() elsewhere can
  // never overflow, whatever the order of a zero among huge dimensions.
  uint64_t numel = 1;
  bool zero = false;
  for (const json& d : shape) {
    uint64_t dim = 0;
    if (!d.is_number_integer())
      fail(path, where + "shape " + printable_bytes(shape.dump()) + " must hold integers");
    if (!d.is_number_unsigned())
      fail(path, where + "shape " + printable_bytes(shape.dump()) + " has a negative dimension");
    if (!get_count(d, kMaxTensorBytes, dim))
      fail(path, where + "shape " + printable_bytes(shape.dump()) + " has a dimension too large");
    e.shape.push_back(static_cast<int64_t>(dim));
    const uint64_t factor = std::max<uint64_t>(dim, 1);
    if (numel > kMaxTensorBytes / bytes_per_element(e.dtype) / factor)
      fail(path, where + "shape " + printable_bytes(shape.dump()) +
                     " is too large (element count overflows)");
    numel *= factor;
    zero = zero || dim == 0;
  }
  if (zero) numel = 0;
  const uint64_t needed = numel * bytes_per_element(e.dtype);

  const json& offsets = info.at("data_offsets");
  if (!offsets.is_array() || offsets.size() != 2)
    fail(path, where + "data_offsets must be [begin, end], got " + printable_bytes(offsets.dump()));
  if (!get_count(offsets[0], std::numeric_limits<uint64_t>::max(), e.begin) ||
      !get_count(offsets[1], std::numeric_limits<uint64_t>::max(), e.end))
    fail(path, where + "data_offsets must be non-negative integers, got " +
                   printable_bytes(offsets.dump()));
  if (e.begin > e.end)
    fail(path, where + "data_offsets " + offsets_to_string(e.begin, e.end) +
                   " are out of order (begin > end)");
  if (e.end > data_size)
    fail(path, where + "data_offsets " + offsets_to_string(e.begin, e.end) +
                   " reach beyond the data section (" + std::to_string(data_size) +
                   " bytes; truncated file?)");
  if (e.end - e.begin != needed)
    fail(path, where + "data_offsets " + offsets_to_string(e.begin, e.end) + " hold " +
                   std::to_string(e.end - e.begin) + " bytes, shape " + shape_to_string(e.shape) +
                   " of " + dtype_name(e.dtype) + " needs " + std::to_string(needed));
  return e;
}

// The tensors must tile the data section: sorted by offset, each begins where the previous
// ended, and the last ends at the end of the file.
void check_coverage(const std::string& path, std::vector<Entry>& entries, uint64_t data_size) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  const Entry* previous = nullptr;
  for (const Entry& e : entries) {
    if (e.begin < covered)
      fail(path, "tensors " + quote_name(previous->name) + " " +
                     offsets_to_string(previous->begin, previous->end) + " and " +
                     quote_name(e.name) + " " + offsets_to_string(e.begin, e.end) + " overlap");
    if (e.begin > covered)
      fail(path, "bytes [" + std::to_string(covered) + ", " + std::to_string(e.begin) +
                     ") of the data section belong to no tensor (a hole before " +
                     quote_name(e.name) + ")");
    covered = e.end;
    previous = &e;
  }
  if (covered != data_size)
    fail(path, "data section has " + std::to_string(data_size) + " bytes but the tensors cover " +
                   std::to_string(covered) + " (trailing bytes belong to no tensor)");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// dtypes and scalar conversions

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::fp64:
      return "F64";
    case DType::fp32:
      return "F32";
    case DType::bf16:
      return "BF16";
    case DType::fp16:
      return "F16";
    case DType::i64:
      return "I64";
    case DType::fp8:
      break;
  }
  return "?";
}

DType parse_dtype_name(const std::string& name) {
  for (DType d : {DType::fp64, DType::fp32, DType::bf16, DType::fp16, DType::i64})
    if (name == dtype_name(d)) return d;
  throw Error("unknown dtype " + quote_name(name) + " (supported: F64, F32, BF16, F16, I64)");
}

// ---------------------------------------------------------------------------------------------
// Reading

SafetensorsFile SafetensorsFile::read(const std::string& path) {
  return read(path, [](const std::string&) { return true; });
}

SafetensorsFile SafetensorsFile::read(const std::string& path,
                                      const std::function<bool(const std::string&)>& wanted) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (status.type() == fs::file_type::not_found || status.type() == fs::file_type::none) {
    if (ec && ec != std::errc::no_such_file_or_directory)
      fail(path, "cannot access: " + ec.message());
    fail(path, "no such file");
  }
  if (fs::is_directory(status)) fail(path, "is a directory, not a safetensors file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open for reading: ") + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const std::streamoff end_pos = in.tellg();
  in.seekg(0, std::ios::beg);
  if (!in || end_pos < 0) fail(path, "cannot determine the file size");
  const uint64_t file_size = static_cast<uint64_t>(end_pos);

  if (file_size < 8)
    fail(path, "file is " + std::to_string(file_size) +
                   " bytes, too short for the 8-byte header length (truncated?)");
  uint8_t length_bytes[8];
  in.read(reinterpret_cast<char*>(length_bytes), 8);
  if (!in) fail(path, "cannot read the header length");
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | length_bytes[i];
  if (header_size > kMaxHeaderBytes)
    fail(path, "header length " + std::to_string(header_size) + " is absurd (limit " +
                   std::to_string(kMaxHeaderBytes) + " bytes): not a safetensors file?");
  if (header_size > file_size - 8)
    fail(path, "header length " + std::to_string(header_size) + " is larger than the " +
                   std::to_string(file_size - 8) + " bytes that follow it (truncated?)");
  const uint64_t data_size = file_size - 8 - header_size;

  std::string header_text(header_size, '\0');
  in.read(header_text.data(), static_cast<std::streamsize>(header_size));
  if (!in) fail(path, "cannot read the " + std::to_string(header_size) + "-byte header");

  // Duplicate keys would silently shadow each other in the parsed object; refuse them.
  const json header = parse_json(header_text, path, {"header is not valid JSON", true, "header"});
  if (!header.is_object())
    fail(path, "header is not a JSON object (got " + std::string(header.type_name()) + ")");

  SafetensorsFile file;
  file.path_ = path;
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) fail(path, "__metadata__ must be an object of strings");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string())
          fail(path, "__metadata__ value " + quote_name(m.key()) + " must be a string, got " +
                         printable_bytes(m->dump()));
        file.metadata_[m.key()] = m->get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(path, it.key(), *it, data_size));
  }
  check_coverage(path, entries, data_size);

  const uint64_t data_start = 8 + header_size;
  for (const Entry& e : entries) {
    if (!wanted(e.name)) continue;
    StoredTensor t{e.dtype, e.shape, std::vector<uint8_t>(e.end - e.begin)};
    if (!t.bytes.empty()) {
      in.seekg(static_cast<std::streamoff>(data_start + e.begin));
      in.read(reinterpret_cast<char*>(t.bytes.data()),
              static_cast<std::streamsize>(t.bytes.size()));
      if (!in) fail(path, "cannot read the data of tensor " + quote_name(e.name));
    }
    file.tensors_.emplace(e.name, std::move(t));
  }
  return file;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& [name, t] : tensors_) out.push_back(name);
  return out;
}

const StoredTensor& SafetensorsFile::get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail(path_, "no tensor " + quote_name(name));
  return it->second;
}

Tensor<double> SafetensorsFile::to_double(const std::string& name) const {
  const StoredTensor& t = get(name);
  if (!is_float(t.dtype))
    fail(path_, "tensor " + quote_name(name) + " has dtype " + dtype_name(t.dtype) +
                    ", expected a float dtype (F64, F32, BF16, F16)");
  const size_t n = t.bytes.size() / bytes_per_element(t.dtype);
  Tensor<double> out;
  out.shape = t.shape;
  out.data.resize(n);
  for (size_t i = 0; i < n; ++i) {
    switch (t.dtype) {
      case DType::fp64:
        out.data[i] = take<double>(t.bytes, i);
        break;
      case DType::fp32:
        out.data[i] = take<float>(t.bytes, i);
        break;
      case DType::bf16:
        out.data[i] = bf16_to_float(take<uint16_t>(t.bytes, i));
        break;
      case DType::fp16:
        out.data[i] = fp16_to_float(take<uint16_t>(t.bytes, i));
        break;
      case DType::i64:  // integer tensors are read and written by their own functions
      case DType::fp8:  // not a safetensors dtype attnlab reads or writes
        break;
    }
  }
  return out;
}

Tensor<int64_t> SafetensorsFile::to_int64(const std::string& name) const {
  const StoredTensor& t = get(name);
  if (t.dtype != DType::i64)
    fail(path_,
         "tensor " + quote_name(name) + " has dtype " + dtype_name(t.dtype) + ", expected I64");
  const size_t n = t.bytes.size() / sizeof(int64_t);
  Tensor<int64_t> out;
  out.shape = t.shape;
  out.data.resize(n);
  for (size_t i = 0; i < n; ++i) out.data[i] = take<int64_t>(t.bytes, i);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writing

namespace {

void check_new_name(const std::map<std::string, StoredTensor>& tensors, const std::string& name) {
  if (name.empty()) throw Error("safetensors: a tensor name must not be empty");
  if (name == "__metadata__") throw Error("safetensors: '__metadata__' is reserved");
  if (tensors.count(name)) throw Error("safetensors: tensor " + quote_name(name) + " added twice");
}

void check_shape(const std::string& name, const Shape& shape, size_t size) {
  for (int64_t d : shape)
    if (d < 0) throw Error("safetensors: tensor " + quote_name(name) + " has a negative dimension");
  if (static_cast<uint64_t>(shape_numel(shape)) != size)
    throw std::logic_error("safetensors: tensor '" + name + "' has shape " +
                           shape_to_string(shape) + " but " + std::to_string(size) + " values");
}

}  // namespace

void SafetensorsWriter::add(const std::string& name, const Tensor<double>& tensor, DType dtype) {
  check_new_name(tensors_, name);
  check_shape(name, tensor.shape, tensor.data.size());
  if (!is_float(dtype))
    throw Error("safetensors: tensor " + quote_name(name) +
                " holds floats and cannot be stored as " + dtype_name(dtype));
  StoredTensor t{dtype, tensor.shape,
                 std::vector<uint8_t>(tensor.data.size() * bytes_per_element(dtype))};
  for (size_t i = 0; i < tensor.data.size(); ++i) {
    const double v = tensor.data[i];
    switch (dtype) {
      case DType::fp64:
        put<double>(t.bytes, i, v);
        break;
      case DType::fp32:
        put<float>(t.bytes, i, static_cast<float>(v));
        break;
      case DType::bf16:
        put<uint16_t>(t.bytes, i, double_to_bf16(v));
        break;
      case DType::fp16:
        put<uint16_t>(t.bytes, i, double_to_fp16(v));
        break;
      case DType::i64:  // integer tensors are read and written by their own functions
      case DType::fp8:  // not a safetensors dtype attnlab reads or writes
        break;
    }
  }
  tensors_.emplace(name, std::move(t));
}

void SafetensorsWriter::add(const std::string& name, const Tensor<int64_t>& tensor) {
  check_new_name(tensors_, name);
  check_shape(name, tensor.shape, tensor.data.size());
  StoredTensor t{DType::i64, tensor.shape, std::vector<uint8_t>(tensor.data.size() * 8)};
  for (size_t i = 0; i < tensor.data.size(); ++i) put<int64_t>(t.bytes, i, tensor.data[i]);
  tensors_.emplace(name, std::move(t));
}

void SafetensorsWriter::set_metadata(const std::string& key, const std::string& value) {
  metadata_[key] = value;
}

void SafetensorsWriter::write(const std::string& path) const {
  json header = json::object();
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors_) {  // std::map: sorted by name
    const uint64_t end = offset + t.bytes.size();
    header[name] = {
        {"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, end}}};
    offset = end;
  }
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {
    throw Error(path + ": cannot encode the header (" + printable_bytes(e.what()) + ")");
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // data section starts 8-byte aligned

  AtomicFile file(path);
  std::ofstream& out = file.stream();
  uint8_t length_bytes[8];
  for (int i = 0; i < 8; ++i) length_bytes[i] = static_cast<uint8_t>(text.size() >> (8 * i));
  out.write(reinterpret_cast<const char*>(length_bytes), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const auto& [name, t] : tensors_)
    out.write(reinterpret_cast<const char*>(t.bytes.data()),
              static_cast<std::streamsize>(t.bytes.size()));
  file.commit();
}

}  // namespace attnlab
