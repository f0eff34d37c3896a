// Reading and writing safetensors files (https://huggingface.co/docs/safetensors): an 8-byte
// little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets}, optional
// "__metadata__": {str: str}}, then the raw little-endian tensor bytes. Supported dtypes: F64, F32,
// BF16, F16, I64. Every malformed file (truncated, bad JSON, overlapping or out-of-range offsets,
// byte counts that disagree with the shape, unknown dtype) is rejected with an attnlab::Error that
// names the file and the problem. Writes go to a temporary file renamed into place.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"

namespace attnlab {

// Tensor element types are core/dtype.h's (sizes: bytes_per_element; is_float); safetensors
// names them in capitals. fp8 is not a safetensors type attnlab reads or writes.
const char* dtype_name(DType dtype);              // "F64", "F32", "BF16", "F16", "I64"
DType parse_dtype_name(const std::string& name);  // throws attnlab::Error

struct StoredTensor {
  DType dtype;
  Shape shape;
  std::vector<uint8_t> bytes;  // little-endian, exactly numel * bytes_per_element(dtype)
};

class SafetensorsFile {
 public:
  // Reads and validates the whole file; throws attnlab::Error on any problem.
  static SafetensorsFile read(const std::string& path);
  // The same validation of the whole header and layout, but keeps (and reads the bytes of) only
  // the tensors `wanted` accepts, so one layer of a multi-gigabyte checkpoint loads cheaply.
  // names(), has() and get() then see only those tensors.
  static SafetensorsFile read(const std::string& path,
                              const std::function<bool(const std::string&)>& wanted);

  const std::string& path() const { return path_; }
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  std::vector<std::string> names() const;                  // sorted
  const StoredTensor& get(const std::string& name) const;  // throws naming file and tensor
  // Converts a float tensor (F64/F32/BF16/F16) to fp64; throws for I64.
  Tensor<double> to_double(const std::string& name) const;
  // Reads an I64 tensor; throws for float dtypes.
  Tensor<int64_t> to_int64(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::string path_;
  std::map<std::string, StoredTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

class SafetensorsWriter {
 public:
  // Stores values converted to `dtype` (a float dtype), rounding to nearest even for BF16/F16.
  void add(const std::string& name, const Tensor<double>& tensor, DType dtype);
  void add(const std::string& name, const Tensor<int64_t>& tensor);  // stored as I64
  void set_metadata(const std::string& key, const std::string& value);
  // Writes to "<path>.tmp-<pid>" and renames it to path; on failure nothing is left behind and an
  // attnlab::Error names the path.
  void write(const std::string& path) const;

 private:
  std::map<std::string, StoredTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

// The scalar conversions (bf16/fp16 <-> fp32/fp64) are core/dtype.h's.

}  // namespace attnlab
