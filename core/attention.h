// The seam between a variant's math and a backend: an Attention is one layer of one variant
// in one implementation form (standard | naive | absorb) on one backend, constructed once from
// (LayerConfig, Weights) — conversions and weight reshaping happen there — then run through
// forward() any number of times against a KvCache it made itself, in its own layout.
//
// Phases: prefill is forward() with seq > 1 tokens; decode is forward() with seq == 1. Both
// append the new tokens to the cache and attend causally over cache + new tokens: the token in
// cache slot i sees slots 0..i. positions[] are the RoPE position ids only; masking follows slot
// order, as in Hugging Face models.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"

namespace attnlab {

class KvCache {
 public:
  KvCache(int64_t batch, int64_t capacity) : batch_(batch), capacity_(capacity) {}
  virtual ~KvCache() = default;
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  int64_t batch() const { return batch_; }
  int64_t capacity() const { return capacity_; }  // tokens per sequence
  int64_t length() const { return length_; }      // tokens cached so far per sequence
  // Bytes of cache storage actually allocated; equals the analytic size
  // kv_elements_per_token_layer * batch * capacity * bytes per element.
  virtual size_t bytes_allocated() const = 0;

  // Forgets every token from slot `length` on; the next forward writes there. Timing loops use
  // it to repeat a decode step or a prefill on the same cache. Throws attnlab::Error outside
  // [0, length()]; a cache that holds only a sliding window's last slots (the fast CPU
  // backend's ring) also throws when the keys the token in slot `length` sees are gone.
  virtual void rewind(int64_t length);
  // Benchmark support: makes the cache hold `tokens` tokens of seeded pseudo-random values
  // without running the layer (decode at a 32k context needs a full cache, not a 32k prefill).
  // Throws attnlab::Error if tokens > capacity, or if this cache type does not support it.
  virtual void fill_synthetic(int64_t tokens, uint64_t seed);

  // Test seam for what the cache stores (tests/store_rounding_contract.h): the storage is
  // part_count() parts in the backend's own layout and dtype. write_part sets every element of
  // part `part` from fp32 `values` (one per element, in layout order) through the conversion to
  // the cache dtype that forward()'s stores use; read_part returns every element of the part
  // widened to fp32 (exact). Neither changes length(). Throws attnlab::Error on a part index
  // out of range or a size that is not the part's.
  virtual int part_count() const = 0;
  virtual std::vector<float> read_part(int part) const = 0;
  virtual void write_part(int part, const std::vector<float>& values) = 0;

 protected:
  // Called by the implementation after it has written `tokens` new slots.
  void advance(int64_t tokens) { length_ += tokens; }
  // The seam's argument checks: throw attnlab::Error unless 0 <= part < part_count() (and, for
  // write_part, `values` holds the part's `elements`).
  void check_part(int part) const;
  void check_part_values(int part, size_t elements, size_t values) const;
  friend class CacheWriter;

 private:
  int64_t batch_;
  int64_t capacity_;
  int64_t length_ = 0;
};

inline void KvCache::rewind(int64_t length) {
  if (length < 0 || length > length_)
    throw Error("cannot rewind a KV cache of " + std::to_string(length_) + " tokens to " +
                std::to_string(length));
  length_ = length;
}

inline void KvCache::fill_synthetic(int64_t tokens, uint64_t seed) {
  throw Error("this KV cache type cannot be filled synthetically");
}

inline void KvCache::check_part(int part) const {
  if (part < 0 || part >= part_count())
    throw Error("KV cache part " + std::to_string(part) + " does not exist (the cache has " +
                std::to_string(part_count()) + ")");
}

inline void KvCache::check_part_values(int part, size_t elements, size_t values) const {
  check_part(part);
  if (values != elements)
    throw Error("KV cache part " + std::to_string(part) + " holds " + std::to_string(elements) +
                " elements, not " + std::to_string(values));
}

// Gives implementations access to KvCache::advance without making it public.
class CacheWriter {
 public:
  static void advance(KvCache& cache, int64_t tokens) { cache.advance(tokens); }
};

class Attention {
 public:
  virtual ~Attention() = default;
  virtual std::unique_ptr<KvCache> make_cache(int64_t batch, int64_t capacity) const = 0;
  // x: [batch, seq, hidden], positions: [batch, seq], out: [batch, seq, hidden] (may not alias
  // x), lse: [batch, seq, n_heads] natural log of sum_j exp(scaled score_j), or nullptr.
  // Throws attnlab::Error when batch differs from the cache's or seq exceeds its free slots.
  virtual void forward(const float* x, const int64_t* positions, int64_t batch, int64_t seq,
                       KvCache& cache, float* out, float* lse) const = 0;

  // Optional on-device timing, for GPU backends (sweeps time with it when present; CPU backends
  // are timed on the host clock). device_forward_seconds() does what forward() does (no lse)
  // and returns the seconds the device spent on the step, measured with device events around
  // the device work only: copying x and positions in and out back is outside the measured
  // region, and the L2 cache is flushed before it starts. Throws attnlab::Error when
  // has_device_timer() is false.
  virtual bool has_device_timer() const { return false; }
  virtual double device_forward_seconds(const float* x, const int64_t* positions, int64_t batch,
                                        int64_t seq, KvCache& cache, float* out) const {
    throw Error("this attention has no device timer");
  }
};

}  // namespace attnlab
