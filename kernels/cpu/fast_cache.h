// The fast backend's KV cache: named parts, each stored head-major [B, heads, capacity, width]
// in the cache dtype (fp32, bf16, fp16), so that one KV head of one sequence is one contiguous
// stream the decode kernels read front to back. One 64-byte-aligned allocation per part of
// exactly batch * heads * capacity * width elements (bytes_allocated() = the analytic size),
// filled with the dtype's NaN so that a read of a never-written slot poisons the output.
// A sliding layer's cache may be a ring (variants/variant_spec.h cache_slots): slots() < capacity()
// rows per stream, logical slot t at row t % slots(); the rows then hold the logical slots
// [resident_from(), length()), and rewind() refuses a length whose window is no longer held.
// Internal to kernels/cpu (fast_*); tested by tests/test_cpu_fast.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/attention.h"
#include "kernels/cpu/fast_attention.h"

namespace attnlab::cpu::fast {

struct CachePartShape {
  int64_t heads = 0;
  int64_t width = 0;
};

class FastCache final : public KvCache {
 public:
  // slots: rows per stream (0: capacity; less: a ring for a layer of window `window`).
  FastCache(int64_t batch, int64_t capacity, std::string owner, DType dtype,
            std::vector<CachePartShape> parts, int64_t slots = 0, int64_t window = 0);

  size_t bytes_allocated() const override;
  const std::string& owner() const { return owner_; }
  DType dtype() const { return dtype_; }
  const CachePartShape& shape(int part) const { return shapes_[part]; }
  int64_t slots() const { return slots_; }
  bool ring() const { return slots_ < capacity(); }
  // The oldest logical slot still held (0 unless a ring has wrapped).
  int64_t resident_from() const { return resident_from_; }

  // Start of part `part` (elements of dtype()); stream (b, head) starts stream_stride(part)
  // elements after stream (b, head - 1), row t of a stream row_stride(part) after row t - 1.
  const void* data(int part) const { return parts_[part].get(); }
  int64_t stream_stride(int part) const { return slots_ * shapes_[part].width; }
  int64_t row_stride(int part) const { return shapes_[part].width; }

  // Writes `count` fp32 values, converted to dtype(), at elements [offset, offset + count) of
  // logical slot t of stream (b, head) (row t % slots()); read() likewise.
  void write(int part, int64_t b, int64_t head, int64_t t, const float* values, int64_t offset,
             int64_t count);
  float read(int part, int64_t b, int64_t head, int64_t t, int64_t i) const;
  // KvCache::fill_synthetic: slots [0, tokens) of every stream of every part get deterministic
  // values with mean 0 and variance 1 (a hash of seed and position), in parallel; the cache
  // length becomes `tokens`.
  void fill_synthetic(int64_t tokens, uint64_t seed) override;
  // KvCache::rewind, and for a ring: throws attnlab::Error unless the keys the token in slot
  // `length` sees are still held.
  void rewind(int64_t length) override;
  // After a forward wrote `tokens` new slots: the length grows, a ring forgets what they replaced.
  void advance(int64_t tokens);
  // Throws attnlab::Error unless every key the query in logical slot `slot` sees before `slot`
  // is held (a ring may have overwritten them).
  void check_resident(int64_t slot) const;

  // The KvCache test seam: part p is [batch, shape(p).heads, slots(), shape(p).width]; writes go
  // through write(), reads through read().
  int part_count() const override { return static_cast<int>(shapes_.size()); }
  std::vector<float> read_part(int part) const override;
  void write_part(int part, const std::vector<float>& values) override;

 private:
  struct Free {
    void operator()(std::byte* p) const;
  };
  size_t element_index(int part, int64_t b, int64_t head, int64_t row) const;  // row < slots()

  std::string owner_;
  DType dtype_;
  std::vector<CachePartShape> shapes_;
  std::vector<std::unique_ptr<std::byte[], Free>> parts_;
  std::vector<size_t> elements_;
  int64_t slots_, window_;
  int64_t resident_from_ = 0;
};

// The checks of every forward(): the cache is a FastCache made by an attention of the same
// shape (`owner`), batch matches, seq >= 1 and the new tokens fit. Throws attnlab::Error.
FastCache& checked_fast_cache(KvCache& cache, const std::string& owner, int64_t batch, int64_t seq);
// The same without the seq checks (for attend_core and the synthetic fill).
FastCache& own_fast_cache(KvCache& cache, const std::string& owner);
const FastCache& own_fast_cache(const KvCache& cache, const std::string& owner);

}  // namespace attnlab::cpu::fast
