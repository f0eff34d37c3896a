// The fast backend's KV cache and the dtype helpers of fast_attention.h; see fast_cache.h.
#include "kernels/cpu/fast_cache.h"

#include <algorithm>
#include <new>

#include "core/error.h"
#include "kernels/cpu/cpu_common.h"
#include "kernels/cpu/fast_simd.h"

namespace attnlab::cpu::fast {

namespace {

constexpr std::align_val_t kAlignment{64};

template <class E>
void fill_nan(std::byte* data, size_t elements) {
  E* p = reinterpret_cast<E*>(data);
  std::fill(p, p + elements, nan_value<E>());
}

template <class E>
void write_values(std::byte* data, size_t index, const float* values, int64_t count) {
  E* p = reinterpret_cast<E*>(data) + index;
  for (int64_t i = 0; i < count; ++i) p[i] = from_float<E>(values[i]);
}

template <class E>
float read_value(const std::byte* data, size_t index) {
  return to_float(reinterpret_cast<const E*>(data)[index]);
}

// A value in [-sqrt(3), sqrt(3)) (mean 0, variance 1) from a 64-bit hash of (seed, index).
float synthetic_value(uint64_t seed, uint64_t index) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + index;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  const float unit = static_cast<float>(z >> 40) * (1.0f / 16777216.0f);  // [0, 1)
  return (unit * 2.0f - 1.0f) * 1.7320508f;
}

template <class E>
void fill_streams(std::byte* data, int64_t streams, int64_t capacity, int64_t width, int64_t length,
                  uint64_t seed) {
  E* p = reinterpret_cast<E*>(data);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t s = 0; s < streams; ++s)
    for (int64_t t = 0; t < length; ++t) {
      const size_t row = (static_cast<size_t>(s) * capacity + t) * width;
      for (int64_t i = 0; i < width; ++i)
        p[row + i] = from_float<E>(synthetic_value(seed, row + i));
    }
}

}  // namespace

void FastCache::Free::operator()(std::byte* p) const {
  ::operator delete[](p, kAlignment);
}

FastCache::FastCache(int64_t batch, int64_t capacity, std::string owner, DType dtype,
                     std::vector<CachePartShape> parts, int64_t slots, int64_t window)
    : KvCache(batch, capacity),
      owner_(std::move(owner)),
      dtype_(dtype),
      shapes_(std::move(parts)),
      slots_(slots > 0 ? std::min(slots, capacity) : capacity),
      window_(window) {
  for (const CachePartShape& shape : shapes_) {
    const size_t elements = static_cast<size_t>(batch * shape.heads * slots_ * shape.width);
    auto* bytes =
        static_cast<std::byte*>(::operator new[](elements* bytes_per_element(dtype), kAlignment));
    parts_.emplace_back(bytes);
    elements_.push_back(elements);
    switch (dtype) {
      case DType::fp32:
        fill_nan<float>(bytes, elements);
        break;
      case DType::bf16:
        fill_nan<bf16_t>(bytes, elements);
        break;
      case DType::fp16:
        fill_nan<fp16_t>(bytes, elements);
        break;
      default:  // not a cache dtype: refused by the backend's factory
        break;
    }
  }
}

size_t FastCache::bytes_allocated() const {
  size_t bytes = 0;
  for (size_t elements : elements_) bytes += elements * bytes_per_element(dtype_);
  return bytes;
}

size_t FastCache::element_index(int part, int64_t b, int64_t head, int64_t row) const {
  const CachePartShape& s = shapes_[part];
  return ((static_cast<size_t>(b) * s.heads + head) * slots_ + row) * s.width;
}

void FastCache::write(int part, int64_t b, int64_t head, int64_t t, const float* values,
                      int64_t offset, int64_t count) {
  const size_t index = element_index(part, b, head, t % slots_) + offset;
  switch (dtype_) {
    case DType::fp32:
      return write_values<float>(parts_[part].get(), index, values, count);
    case DType::bf16:
      return write_values<bf16_t>(parts_[part].get(), index, values, count);
    case DType::fp16:
      return write_values<fp16_t>(parts_[part].get(), index, values, count);
    default:
      return;
  }
}

float FastCache::read(int part, int64_t b, int64_t head, int64_t t, int64_t i) const {
  const size_t index = element_index(part, b, head, t % slots_) + i;
  switch (dtype_) {
    case DType::fp32:
      return read_value<float>(parts_[part].get(), index);
    case DType::bf16:
      return read_value<bf16_t>(parts_[part].get(), index);
    case DType::fp16:
      return read_value<fp16_t>(parts_[part].get(), index);
    default:
      return 0;
  }
}

std::vector<float> FastCache::read_part(int part) const {
  check_part(part);
  const CachePartShape& s = shapes_[part];
  std::vector<float> values;
  values.reserve(elements_[part]);
  for (int64_t b = 0; b < batch(); ++b)
    for (int64_t head = 0; head < s.heads; ++head)
      for (int64_t t = 0; t < slots_; ++t)
        for (int64_t i = 0; i < s.width; ++i) values.push_back(read(part, b, head, t, i));
  return values;
}

void FastCache::write_part(int part, const std::vector<float>& values) {
  check_part(part);
  check_part_values(part, elements_[part], values.size());
  const CachePartShape& s = shapes_[part];
  for (int64_t b = 0; b < batch(); ++b)
    for (int64_t head = 0; head < s.heads; ++head)
      for (int64_t t = 0; t < slots_; ++t)
        write(part, b, head, t, values.data() + element_index(part, b, head, t), 0, s.width);
}

void FastCache::fill_synthetic(int64_t length, uint64_t seed) {
  if (length < 0 || length > capacity())
    throw Error("synthetic fill of " + std::to_string(length) + " tokens does not fit capacity " +
                std::to_string(capacity()));
  // A ring's rows all hold some slot of the last `slots_` once length passes slots_.
  const int64_t rows = std::min(length, slots_);
  for (size_t part = 0; part < parts_.size(); ++part) {
    const int64_t streams = batch() * shapes_[part].heads, width = shapes_[part].width;
    const uint64_t part_seed = seed + 1000003ull * part;
    switch (dtype_) {
      case DType::fp32:
        fill_streams<float>(parts_[part].get(), streams, slots_, width, rows, part_seed);
        break;
      case DType::bf16:
        fill_streams<bf16_t>(parts_[part].get(), streams, slots_, width, rows, part_seed);
        break;
      case DType::fp16:
        fill_streams<fp16_t>(parts_[part].get(), streams, slots_, width, rows, part_seed);
        break;
      default:
        break;
    }
  }
  rewind(0);
  advance(length);
}

void FastCache::advance(int64_t tokens) {
  CacheWriter::advance(*this, tokens);
  resident_from_ = std::max(resident_from_, length() - slots_);
}

void FastCache::check_resident(int64_t slot) const {
  if (slot <= 0 || resident_from_ == 0) return;
  const int64_t oldest = window_ > 0 ? std::max<int64_t>(0, slot + 1 - window_) : 0;
  if (oldest < resident_from_)
    throw Error("the sliding-window ring cache holds slots from " + std::to_string(resident_from_) +
                " on, but the token in slot " + std::to_string(slot) + " sees slots from " +
                std::to_string(oldest));
}

void FastCache::rewind(int64_t length) {
  if (length >= 0 && length <= this->length()) check_resident(length);
  KvCache::rewind(length);
  if (length == 0) resident_from_ = 0;  // an empty cache: every slot is written afresh
}

FastCache& own_fast_cache(KvCache& cache, const std::string& owner) {
  auto* own = dynamic_cast<FastCache*>(&cache);
  if (own == nullptr) throw_foreign_cache(owner);
  if (own->owner() != owner)
    throw Error("KV cache was made by another attention (" + own->owner() + "), not by " + owner);
  return *own;
}

const FastCache& own_fast_cache(const KvCache& cache, const std::string& owner) {
  return own_fast_cache(const_cast<KvCache&>(cache), owner);
}

FastCache& checked_fast_cache(KvCache& cache, const std::string& owner, int64_t batch,
                              int64_t seq) {
  FastCache& own = own_fast_cache(cache, owner);
  if (batch != own.batch())
    throw Error("batch " + std::to_string(batch) + " does not match the KV cache's batch " +
                std::to_string(own.batch()));
  if (seq < 1) throw Error("forward needs at least 1 new token, got " + std::to_string(seq));
  if (own.length() + seq > own.capacity())
    throw Error("KV cache full: " + std::to_string(own.length()) + " cached + " +
                std::to_string(seq) + " new > capacity " + std::to_string(own.capacity()));
  return own;
}

}  // namespace attnlab::cpu::fast
