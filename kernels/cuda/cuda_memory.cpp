// Device buffers and the scratch workspace of the CUDA backend; see cuda_memory.h.
#include "kernels/cuda/cuda_memory.h"

#include <cstdio>
#include <utility>

#include "core/error.h"
#include "kernels/cuda/cuda_api.h"

ATTNLAB_CUDA_BEGIN

namespace {

std::string human_bytes(size_t bytes) {
  char text[64];
  std::snprintf(text, sizeof text, "%zu bytes (%.2f GiB)", bytes,
                static_cast<double>(bytes) / double(1ull << 30));
  return text;
}

}  // namespace

DeviceBuffer::DeviceBuffer(size_t bytes, const std::string& what) : bytes_(bytes) {
  if (bytes == 0) return;
  const cudaError_t error = cudaMalloc(&ptr_, bytes);
  if (error == cudaSuccess) return;
  ptr_ = nullptr;
  bytes_ = 0;
  (void)cudaGetLastError();  // not sticky; keep it from being reported again by a later check
  if (error == cudaErrorMemoryAllocation) {
    size_t free_bytes = 0, total_bytes = 0;
    std::string free_text;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess)
      free_text = ", " + human_bytes(free_bytes) + " free";
    (void)cudaGetLastError();
    throw Error("out of device memory: " + what + " needs " + human_bytes(bytes) + free_text);
  }
  throw_cuda_error(error, "cudaMalloc", __FILE__, __LINE__);
}

DeviceBuffer::~DeviceBuffer() {
  release();
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : ptr_(std::exchange(other.ptr_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    release();
    ptr_ = std::exchange(other.ptr_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

void DeviceBuffer::release() {
  // cudaFree cannot usefully fail here (destructors must not throw); a sticky device error
  // would already have been reported by the call that caused it.
  if (ptr_ != nullptr) (void)cudaFree(ptr_);
  ptr_ = nullptr;
  bytes_ = 0;
}

void copy_to_device(void* device_dst, const void* host_src, size_t bytes) {
  if (bytes > 0) CUDA_CHECK(cudaMemcpy(device_dst, host_src, bytes, cudaMemcpyHostToDevice));
}

void copy_to_host(void* host_dst, const void* device_src, size_t bytes) {
  if (bytes > 0) CUDA_CHECK(cudaMemcpy(host_dst, device_src, bytes, cudaMemcpyDeviceToHost));
}

namespace {
template <class T>
DeviceBuffer upload_values(const std::vector<T>& values, const std::string& what) {
  DeviceBuffer buffer(values.size() * sizeof(T), what);
  copy_to_device(buffer.get(), values.data(), values.size() * sizeof(T));
  return buffer;
}
}  // namespace

DeviceBuffer upload(const std::vector<float>& values, const std::string& what) {
  return upload_values(values, what);
}
DeviceBuffer upload(const std::vector<double>& values, const std::string& what) {
  return upload_values(values, what);
}

void* Workspace::bytes(Slot slot, size_t bytes) {
  DeviceBuffer& buffer = slots_[static_cast<size_t>(slot)];
  if (buffer.bytes() < bytes) {
    buffer = DeviceBuffer();  // free first: the old contents are scratch
    buffer = DeviceBuffer(bytes, "scratch buffer " + std::to_string(static_cast<int>(slot)));
  }
  return buffer.get();
}

ATTNLAB_CUDA_END
