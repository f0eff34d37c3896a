// The CUDA backend's KV cache; see cuda_cache.h.
#include "kernels/cuda/cuda_cache.h"

#include <algorithm>
#include <limits>

#include "core/error.h"
#include "kernels/cuda/cuda_api.h"

ATTNLAB_CUDA_BEGIN

CudaCache::CudaCache(int64_t batch, int64_t capacity, std::string owner, DType dtype,
                     const std::vector<CachePartShape>& parts)
    : KvCache(batch, capacity), owner_(std::move(owner)), dtype_(dtype), shapes_(parts) {
  if (batch < 1) throw Error("KV cache batch must be >= 1, got " + std::to_string(batch));
  if (capacity < 1) throw Error("KV cache capacity must be >= 1, got " + std::to_string(capacity));
  for (size_t i = 0; i < shapes_.size(); ++i) {
    const size_t elements = static_cast<size_t>(batch) * static_cast<size_t>(shapes_[i].heads) *
                            static_cast<size_t>(capacity) * static_cast<size_t>(shapes_[i].width);
    parts_.emplace_back(elements * bytes_per_element(dtype),
                        "KV cache part " + std::to_string(i) + " (" + owner_ + ", batch " +
                            std::to_string(batch) + ", capacity " + std::to_string(capacity) + ")");
    fill_part(part(static_cast<int>(i)), std::numeric_limits<float>::quiet_NaN());
  }
}

size_t CudaCache::bytes_allocated() const {
  size_t bytes = 0;
  for (const DeviceBuffer& buffer : parts_) bytes += buffer.bytes();
  return bytes;
}

CachePartView CudaCache::part(int index) const {
  CachePartView view;
  view.data = parts_.at(static_cast<size_t>(index)).get();
  view.dtype = dtype_;
  view.batch = batch();
  view.heads = shapes_[index].heads;
  view.capacity = capacity();
  view.width = shapes_[index].width;
  return view;
}

void CudaCache::fill_synthetic(int64_t tokens, uint64_t seed) {
  if (tokens < 0 || tokens > capacity())
    throw Error("synthetic fill of " + std::to_string(tokens) + " tokens does not fit capacity " +
                std::to_string(capacity()));
  for (int i = 0; i < part_count(); ++i)
    fill_part_synthetic(part(i), tokens, seed + 1000003ull * static_cast<uint64_t>(i));
  CUDA_CHECK(cudaDeviceSynchronize());
  rewind(0);
  CacheWriter::advance(*this, tokens);
}

std::vector<float> CudaCache::read_part(int index) const {
  check_part(index);
  const CachePartView view = part(index);
  const size_t elements = static_cast<size_t>(view.batch * view.heads * view.capacity * view.width);
  DeviceBuffer staging(elements * sizeof(float), "KV cache read-back");
  gather_tokens(view, 0, view.capacity, staging.floats(), view.width, 0);
  std::vector<float> host(elements);
  copy_to_host(host.data(), staging.get(), elements * sizeof(float));
  return host;
}

void CudaCache::write_part(int index, const std::vector<float>& values) {
  check_part(index);
  const CachePartView view = part(index);
  const int64_t rows = view.batch * view.capacity, row_width = view.heads * view.width;
  check_part_values(index, static_cast<size_t>(rows * row_width), values.size());
  // store_tokens reads its source token-major, [batch * capacity rows, heads, width]; the part is
  // head-major, [batch, heads, capacity, width].
  std::vector<float> token_major(values.size());
  for (int64_t b = 0; b < view.batch; ++b)
    for (int64_t head = 0; head < view.heads; ++head)
      for (int64_t t = 0; t < view.capacity; ++t)
        std::copy_n(values.data() + ((b * view.heads + head) * view.capacity + t) * view.width,
                    view.width,
                    token_major.data() + (b * view.capacity + t) * row_width + head * view.width);
  const DeviceBuffer staging = upload(token_major, "KV cache write");
  store_tokens(view, 0, view.capacity, HeadsView{staging.floats(), row_width, view.width, 0}, 0,
               view.width);
  CUDA_CHECK(cudaDeviceSynchronize());
}

CudaCache& checked_cuda_cache(KvCache& cache, const std::string& owner, int64_t batch,
                              int64_t seq) {
  auto* own = dynamic_cast<CudaCache*>(&cache);
  if (own == nullptr)
    throw Error("KV cache was not made by this attention (" + owner +
                "): use this attention's make_cache()");
  if (own->owner() != owner)
    throw Error("KV cache was made by another attention (" + own->owner() + "), not by " + owner);
  if (batch != own->batch())
    throw Error("batch " + std::to_string(batch) + " does not match the KV cache's batch " +
                std::to_string(own->batch()));
  if (seq < 1) throw Error("forward needs at least 1 new token, got " + std::to_string(seq));
  if (own->length() + seq > own->capacity())
    throw Error("KV cache full: " + std::to_string(own->length()) + " cached + " +
                std::to_string(seq) + " new > capacity " + std::to_string(own->capacity()));
  return *own;
}

ATTNLAB_CUDA_END
