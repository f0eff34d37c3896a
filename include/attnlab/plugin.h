/* attnlab plugin ABI, version 1: how a shared library outside attnlab exposes attention
 * implementations that `attnlab verify --plugin lib.so` and sweeps (config "plugins") load with
 * dlopen and register next to the built-in ones. Plain C, no attnlab headers or libraries needed.
 *
 * The library exports two functions:
 *   uint32_t attnlab_plugin_abi_version(void);   returns ATTNLAB_PLUGIN_ABI_VERSION
 *   int attnlab_plugin_init(const attnlab_implementation** impls, int64_t* count,
 *                           char* error, size_t error_size);
 * attnlab_plugin_init points *impls at `count` entries that live as long as the library and
 * returns ATTNLAB_OK, or returns ATTNLAB_ERROR with a message in `error` (NUL-terminated, at most
 * error_size bytes). Each entry becomes one registry implementation per form in `forms` and
 * dtype in `dtypes`, with id "<name>/<form>/<dtype>".
 *
 * Conventions (the same as attnlab's own backends, docs/ARCHITECTURE.md):
 * - Weights are fp32 row-major tensors with Hugging Face names without prefix ("q_proj.weight"
 *   [out, in], "q_proj.bias" [out], "kv_a_layernorm.weight", "sinks" [n_heads], ...), copied
 *   for create(); the plugin copies what it keeps.
 * - forward() writes `seq` tokens into the cache after the `cache_length` tokens it holds and
 *   attends causally by slot order: new token s sees slots [lo, length + s + 1),
 *   lo = max(0, length + s + 1 - window) on a sliding layer
 *   (window > 0), else 0. positions[] feed RoPE only: pair i of a head at position p turns by
 *   p * rope_inv_freq[i] (pairs (2i, 2i+1) interleaved, (i, i + rotary_dim/2) half_split), cos
 *   and sin multiplied by rope_attention_factor. Scores are q.k * softmax_scale.
 * - x [batch, seq, hidden], positions [batch, seq], out [batch, seq, hidden]; lse [batch, seq,
 *   n_heads] is the natural log of each head's softmax denominator (sinks included), or NULL
 *   when the caller does not want it.
 * - Every function returning int returns ATTNLAB_OK or ATTNLAB_ERROR with a message in `error`;
 *   an error from create/make_cache/forward fails that verify row ("threw: ..."), an error from
 *   attnlab_plugin_init is a one-line error and exit 2.
 */
#ifndef ATTNLAB_PLUGIN_H
#define ATTNLAB_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ATTNLAB_PLUGIN_ABI_VERSION 1u

#define ATTNLAB_OK 0
#define ATTNLAB_ERROR 1

/* attnlab_layer.attention */
enum { ATTNLAB_MHA = 0, ATTNLAB_GQA = 1, ATTNLAB_MQA = 2, ATTNLAB_MLA = 3 };
/* forms: bit (1u << form) in attnlab_implementation.forms */
enum { ATTNLAB_FORM_STANDARD = 0, ATTNLAB_FORM_NAIVE = 1, ATTNLAB_FORM_ABSORB = 2 };
/* cache storage types: bit (1u << dtype) in attnlab_implementation.dtypes */
enum { ATTNLAB_DTYPE_FP32 = 0, ATTNLAB_DTYPE_BF16 = 1, ATTNLAB_DTYPE_FP16 = 2 };
/* attnlab_layer.rope_layout */
enum { ATTNLAB_ROPE_NONE = 0, ATTNLAB_ROPE_INTERLEAVED = 1, ATTNLAB_ROPE_HALF_SPLIT = 2 };

/* One layer's shape and resolved numerics (docs/CONFIG.md has every field's source). */
typedef struct attnlab_layer {
  int32_t attention;
  int64_t hidden_size;
  int64_t n_heads;
  int64_t n_kv_heads;  /* MHA/GQA/MQA */
  int64_t head_dim;    /* MHA/GQA/MQA */
  int64_t q_lora_rank; /* MLA: 0 = plain q_proj */
  int64_t kv_lora_rank;
  int64_t qk_nope_head_dim;
  int64_t qk_rope_head_dim;
  int64_t v_head_dim;
  int32_t latent_norms; /* MLA: q_a_layernorm / kv_a_layernorm present */
  double softmax_scale; /* resolved: YaRN's mscale^2 already applied */
  double rms_norm_eps;
  int32_t rope_layout;
  int64_t rotary_dim;           /* rotated elements per head (MLA: of the rope part) */
  const double* rope_inv_freq;  /* rotary_dim / 2 entries, scaling applied */
  double rope_attention_factor; /* cos and sin are multiplied by this */
  int64_t window;               /* this layer's sliding window; 0 = full attention */
  int32_t attention_sinks;      /* weight "sinks" [n_heads] */
  int32_t qk_norm;              /* weights "q_norm.weight", "k_norm.weight" [head_dim] */
  double qk_norm_weight_offset;
  const char* config_json; /* the whole layer config as JSON */
} attnlab_layer;

typedef struct attnlab_tensor {
  const char* name;
  int32_t ndim;
  const int64_t* shape;
  const float* data;
} attnlab_tensor;

typedef struct attnlab_implementation {
  const char* name; /* the backend name in the registry: letters, digits, '-', '_', '.' */
  uint32_t forms;   /* bits (1u << ATTNLAB_FORM_*) */
  uint32_t dtypes;  /* bits (1u << ATTNLAB_DTYPE_*): cache storage; compute is the plugin's */
  /* 1 when this (layer, form) runs, 0 when not (verify reports SKIP); NULL: every layer. */
  int (*supports)(const attnlab_layer* layer, int32_t form);
  int (*create)(const attnlab_layer* layer, int32_t form, int32_t dtype,
                const attnlab_tensor* weights, int64_t n_weights, void** state, char* error,
                size_t error_size);
  /* A cache for `batch` sequences of up to `capacity` tokens; *cache_bytes: its storage. */
  int (*make_cache)(void* state, int64_t batch, int64_t capacity, void** cache,
                    uint64_t* cache_bytes, char* error, size_t error_size);
  /* Writes the new tokens at slots [cache_length, cache_length + seq) of every sequence and
   * attends over slots up to each one's own. attnlab keeps the length (timing loops rewind it
   * to repeat a step), so the plugin must not track it itself. */
  int (*forward)(void* state, void* cache, int64_t cache_length, const float* x,
                 const int64_t* positions, int64_t batch, int64_t seq, float* out, float* lse,
                 char* error, size_t error_size);
  void (*destroy_cache)(void* cache);
  void (*destroy)(void* state);
} attnlab_implementation;

typedef uint32_t (*attnlab_plugin_abi_version_fn)(void);
typedef int (*attnlab_plugin_init_fn)(const attnlab_implementation** impls, int64_t* count,
                                      char* error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif /* ATTNLAB_PLUGIN_H */
