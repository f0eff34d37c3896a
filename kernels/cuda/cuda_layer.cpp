// Device linear layers and the host-facing part of every CUDA form; see cuda_layer.h.
#include "kernels/cuda/cuda_layer.h"

#include <vector>

#include "core/error.h"
#include "kernels/cuda/cuda_kernels.h"

ATTNLAB_CUDA_BEGIN

DeviceBuffer upload_tensor(const Tensor<double>& tensor, const std::string& what) {
  return upload(std::vector<float>(tensor.data.begin(), tensor.data.end()), what);
}

DeviceRope::DeviceRope(const RopeSpec& spec) : spec_(spec) {
  if (spec_.rotates()) inv_freq_ = upload(spec_.inv_freq_table(), "RoPE inverse frequencies");
}

void DeviceRope::apply(const HeadsView& x, int64_t rows, int64_t heads,
                       const int64_t* positions) const {
  if (!spec_.rotates()) return;
  RopeTable table;
  table.inv_freq = static_cast<const double*>(inv_freq_.get());
  table.pairs = spec_.pairs();
  table.interleaved = spec_.layout == RopeLayout::interleaved;
  table.attention_factor = spec_.attention_factor();
  rope(x, rows, heads, positions, table);
}

DeviceLinear DeviceLinear::load(const LayerConfig& config, const Weights& weights,
                                const std::string& name) {
  DeviceLinear linear;
  const Tensor<double>& weight = weights.get(name + ".weight");
  linear.out_features = weight.dim(0);
  linear.in_features = weight.dim(1);
  linear.weight = upload_tensor(weight, name + ".weight");
  if (config.has_bias(name))
    linear.bias = upload_tensor(weights.get(name + ".bias"), name + ".bias");
  return linear;
}

void DeviceLinear::apply(const Blas& blas, const float* x, int64_t x_stride, int64_t rows,
                         float* y) const {
  RowMajorGemm g;  // y [rows, out] = x [rows, in] . W^T, W stored [out, in]
  g.m = rows;
  g.n = out_features;
  g.k = in_features;
  g.a = x;
  g.lda = x_stride;
  g.b = weight.floats();
  g.ldb = in_features;
  g.trans_b = true;
  g.c = y;
  g.ldc = out_features;
  blas.gemm(g);
  if (!bias.empty()) add_bias(y, rows, out_features, bias.floats());
}

CudaAttention::CudaAttention(const LayerConfig& config, DType dtype, const std::string& owner,
                             std::vector<CachePartShape> parts)
    : config_(config),
      mask_(mask_spec(config)),
      rope_(rope_spec(config)),
      dtype_(dtype),
      owner_(owner + ", " + to_string(dtype) + " cache"),
      parts_(std::move(parts)) {
  CUDA_CHECK(cudaEventCreate(&start_));
  const cudaError_t stop = cudaEventCreate(&stop_);
  if (stop != cudaSuccess) {
    (void)cudaEventDestroy(start_);
    check_cuda(stop, "cudaEventCreate", __FILE__, __LINE__);
  }
}

CudaAttention::~CudaAttention() {
  if (start_ != nullptr) (void)cudaEventDestroy(start_);
  if (stop_ != nullptr) (void)cudaEventDestroy(stop_);
}

std::unique_ptr<KvCache> CudaAttention::make_cache(int64_t batch, int64_t capacity) const {
  return std::make_unique<CudaCache>(batch, capacity, owner_, dtype_, parts_);
}

void CudaAttention::attend_step(const DeviceStep& step, AttendRequest request) const {
  request.scale = static_cast<float>(config_.scale());
  request.lse = step.lse;
  attend(blas_, workspace_, *step.cache, step.keys, request);
}

DeviceStep CudaAttention::stage(const float* x, const int64_t* positions, int64_t batch,
                                int64_t seq, KvCache& cache) const {
  DeviceStep step;
  step.cache = &checked_cuda_cache(cache, owner_, batch, seq);
  step.batch = batch;
  step.seq = seq;
  const int64_t rows = batch * seq;
  float* device_x = workspace_.floats(Slot::x, rows * config_.hidden_size);
  int64_t* device_positions = workspace_.int64s(Slot::positions, rows);
  copy_to_device(device_x, x, rows * config_.hidden_size * sizeof(float));
  copy_to_device(device_positions, positions, rows * sizeof(int64_t));
  step.x = device_x;
  step.positions = device_positions;
  step.out = workspace_.floats(Slot::out, rows * config_.hidden_size);
  step.lse = workspace_.floats(Slot::lse, rows * config_.n_heads);
  step.keys = stage_step_keys(workspace_, mask_, step.cache->length(), seq);
  return step;
}

void CudaAttention::finish(const DeviceStep& step, float* out, float* lse) const {
  const int64_t rows = step.batch * step.seq;
  copy_to_host(out, step.out, rows * config_.hidden_size * sizeof(float));  // synchronises
  if (lse != nullptr) copy_to_host(lse, step.lse, rows * config_.n_heads * sizeof(float));
  CacheWriter::advance(*step.cache, step.seq);
}

void CudaAttention::forward(const float* x, const int64_t* positions, int64_t batch, int64_t seq,
                            KvCache& cache, float* out, float* lse) const {
  const DeviceStep step = stage(x, positions, batch, seq, cache);
  run_step(step);
  finish(step, out, lse);
}

void CudaAttention::flush_l2() const {
  if (l2_flush_.empty()) {
    int device = 0, l2_bytes = 0;
    CUDA_CHECK(cudaGetDevice(&device));
    CUDA_CHECK(cudaDeviceGetAttribute(&l2_bytes, cudaDevAttrL2CacheSize, device));
    // Twice the L2 size evicts everything a step left there; 64 MiB when the size is unknown.
    const size_t bytes = l2_bytes > 0 ? 2 * static_cast<size_t>(l2_bytes) : size_t{64} << 20;
    l2_flush_ = DeviceBuffer(bytes, "L2 flush buffer");
  }
  // A different byte each time, so no pass is a no-op rewrite of what is there.
  ++flush_passes_;
  CUDA_CHECK(cudaMemsetAsync(l2_flush_.get(), static_cast<int>(flush_passes_ & 0xff),
                             l2_flush_.bytes(), 0));
}

double CudaAttention::device_forward_seconds(const float* x, const int64_t* positions,
                                             int64_t batch, int64_t seq, KvCache& cache,
                                             float* out) const {
  const DeviceStep step = stage(x, positions, batch, seq, cache);
  flush_l2();
  CUDA_CHECK(cudaEventRecord(start_, 0));
  run_step(step);
  CUDA_CHECK(cudaEventRecord(stop_, 0));
  CUDA_CHECK(cudaEventSynchronize(stop_));
  float milliseconds = 0.0f;
  CUDA_CHECK(cudaEventElapsedTime(&milliseconds, start_, stop_));
  finish(step, out, nullptr);
  return static_cast<double>(milliseconds) * 1e-3;
}

ATTNLAB_CUDA_END
