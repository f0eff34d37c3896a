// The Attention / KvCache adapter around a plugin implementation; see plugin_attention.h.
#include "registry/plugin_attention.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/weights.h"
#include "variants/rope.h"

namespace attnlab {

namespace {

constexpr size_t kErrorSize = 512;
// Tokens per forward when a cache is filled with seeded random tokens for timing.
constexpr int64_t kFillChunk = 256;

std::string plugin_error(const attnlab_implementation& impl, const char* function,
                         const char* message) {
  return "plugin " + std::string(impl.name) + ": " + function +
         " failed: " + (message[0] ? std::string(message) : std::string("(no message)"));
}

class PluginCache : public KvCache {
 public:
  PluginCache(const attnlab_implementation& impl, void* state, void* handle, int64_t batch,
              int64_t capacity, size_t bytes, int64_t hidden, int64_t heads)
      : KvCache(batch, capacity),
        impl_(impl),
        state_(state),
        handle_(handle),
        bytes_(bytes),
        hidden_(hidden),
        heads_(heads) {}
  ~PluginCache() override {
    if (impl_.destroy_cache) impl_.destroy_cache(handle_);
  }
  void* handle() const { return handle_; }
  size_t bytes_allocated() const override { return bytes_; }
  // A plugin's cache layout is its own: the cache is filled by running the layer on seeded
  // random tokens (a real prefill), kFillChunk tokens per forward.
  void fill_synthetic(int64_t tokens, uint64_t seed) override {
    if (tokens > capacity()) throw Error("cannot fill a KV cache beyond its capacity");
    rewind(0);
    for (int64_t done = 0; done < tokens; done += kFillChunk) {
      const int64_t n = std::min(kFillChunk, tokens - done);
      const Tensor<double> x = random_activations(batch(), n, hidden_, seed + done);
      const std::vector<float> xf(x.data.begin(), x.data.end());
      std::vector<int64_t> positions(batch() * n);
      for (int64_t b = 0; b < batch(); ++b)
        for (int64_t s = 0; s < n; ++s) positions[b * n + s] = done + s;
      std::vector<float> out(batch() * n * hidden_);
      char error[kErrorSize] = "";
      if (impl_.forward(state_, handle_, length(), xf.data(), positions.data(), batch(), n,
                        out.data(), nullptr, error, sizeof error) != ATTNLAB_OK)
        throw Error(plugin_error(impl_, "forward", error));
      CacheWriter::advance(*this, n);
    }
  }
  int part_count() const override { return 0; }  // the layout is the plugin's: no test seam
  std::vector<float> read_part(int part) const override {
    check_part(part);
    return {};
  }
  void write_part(int part, const std::vector<float>&) override { check_part(part); }

 private:
  const attnlab_implementation& impl_;
  void* state_;
  void* handle_;
  size_t bytes_;
  int64_t hidden_, heads_;
};

class PluginAttention : public Attention {
 public:
  PluginAttention(const attnlab_implementation& impl, const LayerConfig& config,
                  const Weights& weights, ImplForm form, DType dtype)
      : impl_(impl), config_(config) {
    const PluginLayer layer(config);
    std::vector<std::vector<float>> data;
    std::vector<std::string> names;
    std::vector<Shape> shapes;
    for (const auto& [name, tensor] : weights.tensors) {
      names.push_back(name);
      shapes.push_back(tensor.shape);
      data.emplace_back(tensor.data.begin(), tensor.data.end());
    }
    std::vector<attnlab_tensor> tensors(names.size());
    for (size_t i = 0; i < names.size(); ++i)
      tensors[i] = {names[i].c_str(), static_cast<int32_t>(shapes[i].size()), shapes[i].data(),
                    data[i].data()};
    char error[kErrorSize] = "";
    if (impl_.create(&layer.get(), plugin_form(form), plugin_dtype(dtype), tensors.data(),
                     static_cast<int64_t>(tensors.size()), &state_, error,
                     sizeof error) != ATTNLAB_OK)
      throw Error(plugin_error(impl_, "create", error));
  }
  ~PluginAttention() override {
    if (impl_.destroy) impl_.destroy(state_);
  }

  std::unique_ptr<KvCache> make_cache(int64_t batch, int64_t capacity) const override {
    void* handle = nullptr;
    uint64_t bytes = 0;
    char error[kErrorSize] = "";
    if (impl_.make_cache(state_, batch, capacity, &handle, &bytes, error, sizeof error) !=
        ATTNLAB_OK)
      throw Error(plugin_error(impl_, "make_cache", error));
    return std::make_unique<PluginCache>(impl_, state_, handle, batch, capacity, bytes,
                                         config_.hidden_size, config_.n_heads);
  }

  void forward(const float* x, const int64_t* positions, int64_t batch, int64_t seq, KvCache& cache,
               float* out, float* lse) const override {
    auto* plugin_cache = dynamic_cast<PluginCache*>(&cache);
    if (!plugin_cache) throw Error("plugin " + std::string(impl_.name) + ": not its own cache");
    if (batch != cache.batch() || seq < 1 || cache.length() + seq > cache.capacity())
      throw Error("plugin " + std::string(impl_.name) + ": forward of " + std::to_string(seq) +
                  " tokens on a cache of " + std::to_string(cache.length()) + "/" +
                  std::to_string(cache.capacity()));
    char error[kErrorSize] = "";
    if (impl_.forward(state_, plugin_cache->handle(), cache.length(), x, positions, batch, seq, out,
                      lse, error, sizeof error) != ATTNLAB_OK)
      throw Error(plugin_error(impl_, "forward", error));
    CacheWriter::advance(cache, seq);
  }

 private:
  const attnlab_implementation& impl_;
  LayerConfig config_;
  void* state_ = nullptr;
};

int32_t attention_code(AttentionKind kind) {
  switch (kind) {
    case AttentionKind::mha:
      return ATTNLAB_MHA;
    case AttentionKind::gqa:
      return ATTNLAB_GQA;
    case AttentionKind::mqa:
      return ATTNLAB_MQA;
    case AttentionKind::mla:
      return ATTNLAB_MLA;
  }
  return -1;
}

int32_t rope_code(RopeLayout layout) {
  switch (layout) {
    case RopeLayout::none:
      return ATTNLAB_ROPE_NONE;
    case RopeLayout::interleaved:
      return ATTNLAB_ROPE_INTERLEAVED;
    case RopeLayout::half_split:
      return ATTNLAB_ROPE_HALF_SPLIT;
  }
  return -1;
}

}  // namespace

PluginLayer::PluginLayer(const LayerConfig& c) {
  const RopeSpec rope = rope_spec(c);
  inv_freq_ = rope.inv_freq_table();
  config_json_ = layer_config_to_json(c).dump();
  layer_.attention = attention_code(c.attention);
  layer_.hidden_size = c.hidden_size;
  layer_.n_heads = c.n_heads;
  layer_.n_kv_heads = c.n_kv_heads;
  layer_.head_dim = c.head_dim;
  layer_.q_lora_rank = c.q_lora_rank;
  layer_.kv_lora_rank = c.kv_lora_rank;
  layer_.qk_nope_head_dim = c.qk_nope_head_dim;
  layer_.qk_rope_head_dim = c.qk_rope_head_dim;
  layer_.v_head_dim = c.v_head_dim;
  layer_.latent_norms = c.latent_norms;
  layer_.softmax_scale = c.scale();
  layer_.rms_norm_eps = c.rms_norm_eps;
  layer_.rope_layout = rope_code(rope.rotates() ? rope.layout : RopeLayout::none);
  layer_.rotary_dim = rope.rotates() ? rope.rotary_dim : 0;
  layer_.rope_inv_freq = inv_freq_.data();
  layer_.rope_attention_factor = rope.attention_factor();
  layer_.window = c.window().value_or(0);
  layer_.attention_sinks = c.attention_sinks;
  layer_.qk_norm = c.qk_norm;
  layer_.qk_norm_weight_offset = c.qk_norm_weight_offset;
  layer_.config_json = config_json_.c_str();
}

int32_t plugin_form(ImplForm form) {
  switch (form) {
    case ImplForm::standard:
      return ATTNLAB_FORM_STANDARD;
    case ImplForm::naive:
      return ATTNLAB_FORM_NAIVE;
    case ImplForm::absorb:
      return ATTNLAB_FORM_ABSORB;
  }
  return -1;
}

int32_t plugin_dtype(DType dtype) {
  if (dtype == DType::fp32) return ATTNLAB_DTYPE_FP32;
  if (dtype == DType::bf16) return ATTNLAB_DTYPE_BF16;
  if (dtype == DType::fp16) return ATTNLAB_DTYPE_FP16;
  throw Error(std::string("the plugin ABI has no cache dtype ") + to_string(dtype));
}

std::unique_ptr<Attention> make_plugin_attention(const attnlab_implementation& impl,
                                                 const LayerConfig& config, const Weights& weights,
                                                 ImplForm form, DType dtype) {
  return std::make_unique<PluginAttention>(impl, config, weights, form, dtype);
}

}  // namespace attnlab
