// An attnlab plugin (include/attnlab/plugin.h): plain standard attention for MHA/GQA/MQA in fp32,
// written the way a researcher's first kernel is (loops, no attnlab code), with RoPE from the
// resolved inverse-frequency table, optional biases and a sliding window. Layers with attention
// sinks or QK-norm, and MLA, are not supported (verify reports them SKIP).
//
// Built twice (examples/CMakeLists.txt): as the example "naive-mha", which passes
// `attnlab verify --plugin`, and with NAIVE_MHA_WRONG_SCALE as "naive-mha-wrong-scale", which
// divides the scores by head_dim instead of multiplying by the layer's softmax scale (1/sqrt(d))
// and must FAIL.
#include <attnlab/plugin.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

#ifdef NAIVE_MHA_WRONG_SCALE
const char* const kName = "naive-mha-wrong-scale";
#else
const char* const kName = "naive-mha";
#endif

struct Layer {
  attnlab_layer shape;
  std::vector<double> inv_freq;
  std::map<std::string, std::vector<float>> weights;  // HF name -> fp32 row-major
  double scale;

  const float* find(const std::string& name) const {
    auto it = weights.find(name);
    return it == weights.end() ? nullptr : it->second.data();
  }
};

struct Cache {
  int64_t batch, capacity;
  std::vector<float> k, v;  // [batch, capacity, n_kv, head_dim]
};

void set_error(char* error, size_t size, const char* message) {
  std::snprintf(error, size, "%s", message);
}

// y[rows] = W[rows, cols] x + b
void linear(const float* w, const float* b, const float* x, int64_t rows, int64_t cols, float* y) {
  for (int64_t r = 0; r < rows; ++r) {
    double sum = b ? b[r] : 0.0;
    for (int64_t c = 0; c < cols; ++c) sum += double(w[r * cols + c]) * x[c];
    y[r] = float(sum);
  }
}

void rope(const Layer& l, float* head, int64_t position) {
  const int64_t pairs = l.shape.rotary_dim / 2;
  for (int64_t i = 0; i < pairs; ++i) {
    const int64_t a = l.shape.rope_layout == ATTNLAB_ROPE_INTERLEAVED ? 2 * i : i;
    const int64_t b = l.shape.rope_layout == ATTNLAB_ROPE_INTERLEAVED ? 2 * i + 1 : i + pairs;
    const double angle = double(position) * l.inv_freq[i];
    const double c = std::cos(angle) * l.shape.rope_attention_factor;
    const double s = std::sin(angle) * l.shape.rope_attention_factor;
    const double x0 = head[a], x1 = head[b];
    head[a] = float(x0 * c - x1 * s);
    head[b] = float(x0 * s + x1 * c);
  }
}

int supports(const attnlab_layer* layer, int32_t form) {
  return layer->attention != ATTNLAB_MLA && form == ATTNLAB_FORM_STANDARD &&
         !layer->attention_sinks && !layer->qk_norm;
}

int create(const attnlab_layer* layer, int32_t form, int32_t dtype, const attnlab_tensor* weights,
           int64_t n_weights, void** state, char* error, size_t error_size) {
  if (!supports(layer, form) || dtype != ATTNLAB_DTYPE_FP32) {
    set_error(error, error_size, "only standard-form MHA/GQA/MQA without sinks or QK-norm, fp32");
    return ATTNLAB_ERROR;
  }
  auto* l = new Layer{*layer, {}, {}, layer->softmax_scale};
  l->inv_freq.assign(layer->rope_inv_freq, layer->rope_inv_freq + layer->rotary_dim / 2);
  l->shape.rope_inv_freq = nullptr;
  l->shape.config_json = nullptr;
#ifdef NAIVE_MHA_WRONG_SCALE
  l->scale = 1.0 / double(layer->head_dim);
#endif
  for (int64_t i = 0; i < n_weights; ++i) {
    int64_t n = 1;
    for (int32_t d = 0; d < weights[i].ndim; ++d) n *= weights[i].shape[d];
    l->weights[weights[i].name].assign(weights[i].data, weights[i].data + n);
  }
  for (const char* name : {"q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight"})
    if (!l->find(name)) {
      set_error(error, error_size, (std::string("missing weight ") + name).c_str());
      delete l;
      return ATTNLAB_ERROR;
    }
  *state = l;
  return ATTNLAB_OK;
}

int make_cache(void* state, int64_t batch, int64_t capacity, void** cache, uint64_t* cache_bytes,
               char* error, size_t error_size) {
  const Layer& l = *static_cast<Layer*>(state);
  const int64_t n = batch * capacity * l.shape.n_kv_heads * l.shape.head_dim;
  auto* c = new Cache{batch, capacity, std::vector<float>(n, NAN), std::vector<float>(n, NAN)};
  *cache = c;
  *cache_bytes = uint64_t(2 * n * sizeof(float));
  return ATTNLAB_OK;
}

int forward(void* state, void* cache_handle, int64_t length, const float* x,
            const int64_t* positions, int64_t batch, int64_t seq, float* out, float* lse,
            char* error, size_t error_size) {
  const Layer& l = *static_cast<Layer*>(state);
  Cache& cache = *static_cast<Cache*>(cache_handle);
  if (batch != cache.batch || length + seq > cache.capacity) {
    set_error(error, error_size, "batch differs from the cache's, or the cache is full");
    return ATTNLAB_ERROR;
  }
  const int64_t hidden = l.shape.hidden_size, heads = l.shape.n_heads;
  const int64_t kv_heads = l.shape.n_kv_heads, d = l.shape.head_dim;
  const int64_t group = heads / kv_heads;
  std::vector<float> q(heads * d), attn(heads * d), scores;
  // Keys and values of every new token first, so each query sees the tokens before it.
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t s = 0; s < seq; ++s) {
      const float* xt = x + (b * seq + s) * hidden;
      const int64_t slot = ((b * cache.capacity) + length + s) * kv_heads * d;
      linear(l.find("k_proj.weight"), l.find("k_proj.bias"), xt, kv_heads * d, hidden,
             &cache.k[slot]);
      linear(l.find("v_proj.weight"), l.find("v_proj.bias"), xt, kv_heads * d, hidden,
             &cache.v[slot]);
      for (int64_t h = 0; h < kv_heads; ++h)
        rope(l, &cache.k[slot + h * d], positions[b * seq + s]);
    }
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t s = 0; s < seq; ++s) {
      const int64_t row = b * seq + s, slot = length + s;
      linear(l.find("q_proj.weight"), l.find("q_proj.bias"), x + row * hidden, heads * d, hidden,
             q.data());
      const int64_t first =
          l.shape.window > 0 ? std::max<int64_t>(0, slot + 1 - l.shape.window) : 0;
      for (int64_t h = 0; h < heads; ++h) {
        float* qh = &q[h * d];
        rope(l, qh, positions[row]);
        const int64_t kvh = h / group;
        scores.assign(slot + 1 - first, 0.0f);
        double max = -INFINITY;
        for (int64_t t = first; t <= slot; ++t) {
          const float* k = &cache.k[((b * cache.capacity + t) * kv_heads + kvh) * d];
          double dot = 0;
          for (int64_t i = 0; i < d; ++i) dot += double(qh[i]) * k[i];
          scores[t - first] = float(dot * l.scale);
          max = std::max(max, double(scores[t - first]));
        }
        double sum = 0;
        std::vector<double> acc(d, 0.0);
        for (int64_t t = first; t <= slot; ++t) {
          const double p = std::exp(scores[t - first] - max);
          sum += p;
          const float* v = &cache.v[((b * cache.capacity + t) * kv_heads + kvh) * d];
          for (int64_t i = 0; i < d; ++i) acc[i] += p * v[i];
        }
        for (int64_t i = 0; i < d; ++i) attn[h * d + i] = float(acc[i] / sum);
        if (lse) lse[row * heads + h] = float(max + std::log(sum));
      }
      linear(l.find("o_proj.weight"), l.find("o_proj.bias"), attn.data(), hidden, heads * d,
             out + row * hidden);
    }
  return ATTNLAB_OK;
}

void destroy_cache(void* cache) {
  delete static_cast<Cache*>(cache);
}
void destroy(void* state) {
  delete static_cast<Layer*>(state);
}

const attnlab_implementation kImplementations[] = {{kName, 1u << ATTNLAB_FORM_STANDARD,
                                                    1u << ATTNLAB_DTYPE_FP32, supports, create,
                                                    make_cache, forward, destroy_cache, destroy}};

}  // namespace

extern "C" uint32_t attnlab_plugin_abi_version(void) {
  return ATTNLAB_PLUGIN_ABI_VERSION;
}

extern "C" int attnlab_plugin_init(const attnlab_implementation** impls, int64_t* count,
                                   char* error, size_t error_size) {
  *impls = kImplementations;
  *count = 1;
  return ATTNLAB_OK;
}
