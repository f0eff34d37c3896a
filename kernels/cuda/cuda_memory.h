// Device memory of the CUDA backend: DeviceBuffer owns one cudaMalloc allocation (never managed
// memory), Workspace holds an Attention's scratch buffers, grown on demand and kept between
// calls so that a timed forward allocates nothing. Internal to kernels/cuda.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cuda/cuda_namespace.h"

ATTNLAB_CUDA_BEGIN

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  // cudaMalloc of `bytes` (nothing for 0); throws attnlab::Error "out of device memory: <what>
  // needs N bytes ..." when the device is full.
  DeviceBuffer(size_t bytes, const std::string& what);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  size_t bytes() const { return bytes_; }
  bool empty() const { return ptr_ == nullptr; }
  void* get() const { return ptr_; }
  float* floats() const { return static_cast<float*>(ptr_); }

 private:
  void release();
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Synchronous copies (legacy default stream).
void copy_to_device(void* device_dst, const void* host_src, size_t bytes);
void copy_to_host(void* host_dst, const void* device_src, size_t bytes);
// A device copy of host floats (doubles).
DeviceBuffer upload(const std::vector<float>& values, const std::string& what);
DeviceBuffer upload(const std::vector<double>& values, const std::string& what);

// The scratch buffers of one Attention, one per Slot. A slot's contents do not survive a
// request for more elements than it holds (it is reallocated, not grown in place), so each
// slot is asked for once per forward and its pointer used only within that forward.
enum class Slot : int {
  x,               // staged input [rows, hidden]
  positions,       // staged position ids [rows] (int64)
  key_ranges,      // staged visible key range per new token [seq, 2] (int64 lo, hi)
  out,             // output [rows, hidden]
  lse,             // log-sum-exp [rows, heads]
  q,               // queries [rows, heads, qk]
  k,               // standard: new keys [rows, n_kv, d]
  v,               // standard: new values [rows, n_kv, d]
  q_latent,        // MLA: q_a_proj output [rows, q_lora_rank]
  kv_a,            // MLA: kv_a_proj_with_mqa output [rows, kv_lora_rank + rope]
  up,              // MLA naive: kv_b_proj output [rows, heads, nope + v]
  per_head_q,      // MLA absorb: q_nope . W_UK per head [heads, rows, kv_lora_rank]
  q_absorbed,      // MLA absorb: [rows, heads, kv_lora_rank + rope]
  key_bias,        // MLA absorb: q_nope . b_UK [rows, heads]
  latent_heads,    // MLA absorb: attention over the latent [rows, heads, kv_lora_rank]
  per_head_out,    // MLA absorb: o_latent . W_UV^T per head [heads, rows, v]
  heads,           // per-head attention outputs before o_proj [rows, heads, v]
  keys_fp32,       // prefill: visible keys converted to fp32 [batch, kv_heads, tokens, key]
  values_fp32,     // prefill: visible values in fp32 [batch, kv_heads, tokens, value]
  grouped_q,       // prefill: queries grouped by kv head [batch, kv_heads, seq * group, key]
  scores,          // prefill: scores / probabilities of one chunk of queries
  grouped_out,     // prefill: outputs grouped by kv head [batch, kv_heads, seq * group, value]
  split_partials,  // decode: per-split unnormalised outputs [rows * heads, splits, value]
  split_stats,     // decode: per-split (max, sum) [rows * heads, splits, 2]
  count
};

class Workspace {
 public:
  float* floats(Slot slot, size_t count) { return static_cast<float*>(bytes(slot, count * 4)); }
  int64_t* int64s(Slot slot, size_t count) { return static_cast<int64_t*>(bytes(slot, count * 8)); }

 private:
  void* bytes(Slot slot, size_t bytes);
  std::vector<DeviceBuffer> slots_ = std::vector<DeviceBuffer>(static_cast<size_t>(Slot::count));
};

ATTNLAB_CUDA_END
