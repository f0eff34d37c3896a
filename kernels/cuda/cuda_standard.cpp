// The CUDA form of MHA, GQA and MQA (ImplForm::standard): q/k/v projections through cuBLAS
// (plus their biases), the QK-norm when configured (RMSNorm over head_dim of every query and key
// head, weight q_norm / k_norm + qk_norm_weight_offset), RoPE on every query and key head, the
// new keys and values appended to the K, V cache [B, n_kv, T, d] (converted to the cache dtype),
// attention (cuda_core: split-KV decode or GEMM prefill) where query head h reads kv head
// h / (n_heads / n_kv_heads), the attention sinks when configured (apply_sinks: out and lse of
// each head rescaled by its sink logit), and o_proj.
#include <memory>
#include <string>
#include <vector>

#include "kernels/cuda/cuda_forms.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/cuda_layer.h"

ATTNLAB_CUDA_BEGIN

namespace {

enum StandardPart : int { kKeys = 0, kValues = 1 };

// The fp32 device copy of tensor + offset (the QK-norm's effective weight, added in double).
DeviceBuffer upload_plus(const Tensor<double>& tensor, double offset, const std::string& what) {
  std::vector<float> values(tensor.data.size());
  for (size_t i = 0; i < values.size(); ++i)
    values[i] = static_cast<float>(tensor.data[i] + offset);
  return upload(values, what);
}

class StandardAttention final : public CudaAttention {
 public:
  StandardAttention(const LayerConfig& config, const Weights& weights, DType dtype)
      : CudaAttention(config, dtype,
                      "cuda standard attention, " + std::to_string(config.n_kv_heads) +
                          " kv heads x " + std::to_string(config.head_dim),
                      {{config.n_kv_heads, config.head_dim}, {config.n_kv_heads, config.head_dim}}),
        q_proj_(DeviceLinear::load(config, weights, "q_proj")),
        k_proj_(DeviceLinear::load(config, weights, "k_proj")),
        v_proj_(DeviceLinear::load(config, weights, "v_proj")),
        o_proj_(DeviceLinear::load(config, weights, "o_proj")) {
    if (config.qk_norm) {
      q_norm_ =
          upload_plus(weights.get("q_norm.weight"), config.qk_norm_weight_offset, "q_norm.weight");
      k_norm_ =
          upload_plus(weights.get("k_norm.weight"), config.qk_norm_weight_offset, "k_norm.weight");
    }
    if (config.attention_sinks) sinks_ = upload_tensor(weights.get("sinks"), "sinks");
  }

 private:
  void run_step(const DeviceStep& step) const override {
    const LayerConfig& c = config();
    const int64_t rows = step.batch * step.seq, d = c.head_dim;
    const int64_t heads = c.n_heads, kv_heads = c.n_kv_heads;
    float* q = workspace().floats(Slot::q, rows * heads * d);
    float* k = workspace().floats(Slot::k, rows * kv_heads * d);
    float* v = workspace().floats(Slot::v, rows * kv_heads * d);
    q_proj_.apply(blas(), step.x, c.hidden_size, rows, q);
    k_proj_.apply(blas(), step.x, c.hidden_size, rows, k);
    v_proj_.apply(blas(), step.x, c.hidden_size, rows, v);
    if (!q_norm_.empty()) {  // every head vector is a row of d floats, d apart
      const float eps = static_cast<float>(c.rms_norm_eps);
      rms_norm(q, rows * heads, d, d, q_norm_.floats(), eps);
      rms_norm(k, rows * kv_heads, d, d, k_norm_.floats(), eps);
    }
    rope().apply({q, heads * d, d, 0}, rows, heads, step.positions);
    rope().apply({k, kv_heads * d, d, 0}, rows, kv_heads, step.positions);

    CudaCache& cache = *step.cache;
    store_tokens(cache.part(kKeys), cache.length(), step.seq, {k, kv_heads * d, d, 0}, 0, d);
    store_tokens(cache.part(kValues), cache.length(), step.seq, {v, kv_heads * d, d, 0}, 0, d);

    float* heads_out = workspace().floats(Slot::heads, rows * heads * d);
    attend_step(step, {.q = q,
                       .key_parts = {kKeys, 0},
                       .key_part_count = 1,
                       .value_part = kValues,
                       .heads = heads,
                       .kv_heads = kv_heads,
                       .key_dim = d,
                       .value_dim = d,
                       .out = heads_out});
    if (!sinks_.empty()) apply_sinks(heads_out, step.lse, rows, heads, d, sinks_.floats());
    o_proj_.apply(blas(), heads_out, heads * d, rows, step.out);
  }

  DeviceLinear q_proj_, k_proj_, v_proj_, o_proj_;
  DeviceBuffer q_norm_, k_norm_;  // weight + qk_norm_weight_offset [head_dim]; empty: no QK-norm
  DeviceBuffer sinks_;            // [n_heads]; empty: no sinks
};

}  // namespace

std::unique_ptr<Attention> make_standard_attention(const LayerConfig& config,
                                                   const Weights& weights, DType dtype) {
  return std::make_unique<StandardAttention>(config, weights, dtype);
}

ATTNLAB_CUDA_END
