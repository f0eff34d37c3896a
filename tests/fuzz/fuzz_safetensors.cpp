// libFuzzer harness: the safetensors reader (io/safetensors.cpp) on a file holding the
// fuzzer's bytes. An accepted file's tensors must convert (floats to fp64, I64 to int64) with
// one value per element of their shape.
#include <cstdint>
#include <string>

#include "io/safetensors.h"
#include "tests/fuzz/fuzz_support.h"

using namespace attnlab;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_scratch("input.safetensors", data, size);
  SafetensorsFile file;
  if (!fuzz::accepts([&] { file = SafetensorsFile::read(path); })) return 0;
  for (const std::string& name : file.names()) {
    const StoredTensor& t = file.get(name);
    const int64_t numel = shape_numel(t.shape);
    fuzz::require(t.bytes.size() == size_t(numel) * bytes_per_element(t.dtype),
                  "a tensor's bytes match its shape");
    if (is_float(t.dtype))
      fuzz::require(file.to_double(name).numel() == numel, "one fp64 value per element");
    else
      fuzz::require(file.to_int64(name).numel() == numel, "one int64 value per element");
  }
  return 0;
}
