// The CUDA backend's KV cache: named parts, each [batch, heads, capacity, width] in device
// memory (one cudaMalloc per part of exactly that many elements of the cache dtype, so
// bytes_allocated() is the analytic size), head-major so that one kv head of one sequence is a
// contiguous [capacity, width] matrix. Filled with the dtype's NaN when made, so that a read of
// a never-written slot poisons the output. Internal to kernels/cuda.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/attention.h"
#include "kernels/cuda/cuda_dtype.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/cuda_memory.h"

ATTNLAB_CUDA_BEGIN

struct CachePartShape {
  int64_t heads = 0;
  int64_t width = 0;
};

class CudaCache final : public KvCache {
 public:
  // `owner` names the attention (form, shape and dtype) that made it; forward() checks it.
  CudaCache(int64_t batch, int64_t capacity, std::string owner, DType dtype,
            const std::vector<CachePartShape>& parts);

  size_t bytes_allocated() const override;
  // Slots [0, tokens) of every part get deterministic values with mean 0 and variance 1 (a
  // hash of seed, part and element); the length becomes `tokens`. Slots past it keep their NaN
  // or earlier values.
  void fill_synthetic(int64_t tokens, uint64_t seed) override;

  const std::string& owner() const { return owner_; }
  DType dtype() const { return dtype_; }
  CachePartView part(int index) const;
  // The KvCache test seam. read_part: the whole part [batch, heads, capacity, width] widened to
  // fp32 on the device (gather_tokens) and copied to the host. write_part: the host values
  // copied to the device as fp32 and stored into every slot by store_tokens, the kernel of
  // forward()'s stores.
  int part_count() const override { return static_cast<int>(shapes_.size()); }
  std::vector<float> read_part(int index) const override;
  void write_part(int index, const std::vector<float>& values) override;

 private:
  std::string owner_;
  DType dtype_;
  std::vector<CachePartShape> shapes_;
  std::vector<DeviceBuffer> parts_;
};

// The cache downcast and checked for a forward of `seq` new tokens per sequence: made by the
// attention named `owner`, same batch, seq >= 1, room for the new tokens. Throws attnlab::Error.
CudaCache& checked_cuda_cache(KvCache& cache, const std::string& owner, int64_t batch, int64_t seq);

ATTNLAB_CUDA_END
