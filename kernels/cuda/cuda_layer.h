// What every CUDA form shares: fp32 linear layers on the device (DeviceLinear, through cuBLAS),
// the layer's RoPE (DeviceRope: RopeSpec's inverse-frequency table, uploaded once), and the
// host-facing Attention (CudaAttention): make_cache() in the form's layout; forward() copies x,
// positions and the step's visible key ranges (StepKeys, from the layer's MaskSpec) to the
// device, runs the form's device step, copies out and lse back and advances the cache;
// device_forward_seconds() does the same with the device step between two CUDA events, after
// flushing the L2 cache. Internal to kernels/cuda.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/attention.h"
#include "core/layer_config.h"
#include "core/weights.h"
#include "kernels/cuda/cuda_cache.h"
#include "kernels/cuda/cuda_core.h"
#include "kernels/cuda/cuda_dtype.h"
#include "kernels/cuda/cuda_gemm.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/cuda_memory.h"
#include "variants/mask.h"
#include "variants/rope.h"

ATTNLAB_CUDA_BEGIN

// fp64 master tensor -> fp32 device copy.
DeviceBuffer upload_tensor(const Tensor<double>& tensor, const std::string& what);

// y = x W^T + b on the device, W [out, in] row-major fp32; bias empty when absent.
struct DeviceLinear {
  int64_t in_features = 0;
  int64_t out_features = 0;
  DeviceBuffer weight;
  DeviceBuffer bias;

  // Reads "<name>.weight" and, when config.has_bias(name), "<name>.bias".
  static DeviceLinear load(const LayerConfig& config, const Weights& weights,
                           const std::string& name);
  // x [rows, in] with rows `x_stride` floats apart -> y [rows, out] dense.
  void apply(const Blas& blas, const float* x, int64_t x_stride, int64_t rows, float* y) const;
};

// A layer's RoPE on the device: spec.inv_freq_table() uploaded at construction, read by the
// rope kernel (RopeTable).
class DeviceRope {
 public:
  explicit DeviceRope(const RopeSpec& spec);
  // RoPE in place on the first rotary_dim elements of `heads` heads of every row (nothing when
  // the spec rotates nothing).
  void apply(const HeadsView& x, int64_t rows, int64_t heads, const int64_t* positions) const;

 private:
  RopeSpec spec_;
  DeviceBuffer inv_freq_;
};

// One forward's device-side arguments (all device pointers, staged by CudaAttention).
struct DeviceStep {
  const float* x = nullptr;            // [batch * seq, hidden]
  const int64_t* positions = nullptr;  // [batch * seq]
  int64_t batch = 0, seq = 0;
  CudaCache* cache = nullptr;  // length() = tokens before this step
  StepKeys keys;               // the visible key range of each new token
  float* out = nullptr;        // [batch * seq, hidden]
  float* lse = nullptr;        // [batch * seq, n_heads]
};

class CudaAttention : public Attention {
 public:
  ~CudaAttention() override;
  std::unique_ptr<KvCache> make_cache(int64_t batch, int64_t capacity) const final;
  void forward(const float* x, const int64_t* positions, int64_t batch, int64_t seq, KvCache& cache,
               float* out, float* lse) const final;
  bool has_device_timer() const final { return true; }
  double device_forward_seconds(const float* x, const int64_t* positions, int64_t batch,
                                int64_t seq, KvCache& cache, float* out) const final;

 protected:
  // `parts`: the cache layout of the form; `owner` names the form and shape.
  CudaAttention(const LayerConfig& config, DType dtype, const std::string& owner,
                std::vector<CachePartShape> parts);
  // The form's work on the device: projections, RoPE, cache append, attention, o_proj.
  virtual void run_step(const DeviceStep& step) const = 0;

  const LayerConfig& config() const { return config_; }
  const Blas& blas() const { return blas_; }
  Workspace& workspace() const { return workspace_; }
  const DeviceRope& rope() const { return rope_; }
  // attend() over the step's cache and key ranges with the layer's scale, into request.out and
  // the step's lse (the request's scale and lse are set here).
  void attend_step(const DeviceStep& step, AttendRequest request) const;

 private:
  DeviceStep stage(const float* x, const int64_t* positions, int64_t batch, int64_t seq,
                   KvCache& cache) const;
  void finish(const DeviceStep& step, float* out, float* lse) const;
  void flush_l2() const;

  LayerConfig config_;
  MaskSpec mask_;
  DeviceRope rope_;
  DType dtype_;
  std::string owner_;
  std::vector<CachePartShape> parts_;
  Blas blas_;
  mutable Workspace workspace_;
  mutable DeviceBuffer l2_flush_;
  mutable unsigned flush_passes_ = 0;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

ATTNLAB_CUDA_END
