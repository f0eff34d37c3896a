// Building blocks of the plain CPU backend ("cpu-plain", kernels/cpu/cpu_*.cpp), some also used
// by the fast one (Linear loading, to_float, RMSNorm, the cache checks): fp32 copies of linear
// layers converted once from the fp64 master weights, row-batched projections through Eigen,
// RMSNorm, one query's softmax attention over a key range, the Fault hooks, the KV-cache storage
// base class and the argument checks every forward() performs. Internal to kernels/cpu; not
// part of the public API.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/attention.h"
#include "core/layer_config.h"
#include "core/weights.h"
#include "kernels/cpu/cpu_plain_attention.h"
#include "variants/mask.h"
#include "variants/rope.h"

namespace attnlab::cpu {

// Element-wise fp64 -> fp32 copy of a master tensor.
std::vector<float> to_float(const Tensor<double>& tensor);

// One fp32 linear layer y = x W^T + b, W [out, in] row-major; bias empty when absent.
struct Linear {
  int64_t in_features = 0;
  int64_t out_features = 0;
  std::vector<float> weight;
  std::vector<float> bias;

  // Reads "<name>.weight" and, when config.has_bias(name), "<name>.bias".
  static Linear load(const LayerConfig& config, const Weights& weights, const std::string& name);
  // x [rows, in] -> y [rows, out], both row-major and dense; y must not alias x.
  void apply(const float* x, int64_t rows, float* y) const;
};

// RMSNorm in place over `rows` rows of width `dim` stored `stride` floats apart:
// x / sqrt(mean(x^2) + eps) * weight.
void rms_norm_rows(float* x, int64_t rows, int64_t dim, int64_t stride,
                   const std::vector<float>& weight, double eps);

// The weight a q/k norm multiplies by, in fp32: "<name>" (q_norm.weight or k_norm.weight) plus
// config.qk_norm_weight_offset (Gemma's 1 + w), added in fp64.
std::vector<float> qk_norm_weight(const LayerConfig& config, const Weights& weights,
                                  const std::string& name);

// Folds an attention sink into one head's finished attention, post hoc: with the head's output
// `out` (value_dim floats) and the LSE of its scores in *lse, lse' = log(exp(lse) + exp(sink))
// and out *= exp(lse - lse'); *lse becomes lse'. Computed with the larger of the two shifted out.
void fold_sink(float* out, int64_t value_dim, float* lse, float sink);

// The softmax part of one query's attention over n_keys keys of one head, shared by every form:
// scores[j] holds the scaled score of the j-th visible key on entry and the unnormalised weight
// exp(score - max) on return. Returns the normaliser sum; *lse (when non-null) gets
// max + log(sum).
float softmax_in_place(float* scores, int64_t n_keys, float* lse);

// The places where a Fault (cpu_plain_attention.h) changes the math; each returns the correct
// value for Fault::none.
float softmax_scale(const LayerConfig& config, Fault fault);
// rope_spec(config), with the other layout's pairs under Fault::rope_pairs.
RopeSpec rope_spec(const LayerConfig& config, Fault fault);
// Key slots [lo, hi) visible to new token s of a forward that appends `seq` tokens to `length`
// cached ones: mask.keys_for(length + s) (Fault::causal_off_by_one: hi + 1, clipped to the
// tokens written so far; Fault::window_ignored: lo = 0).
KeyRange visible_keys(const MaskSpec& mask, int64_t length, int64_t s, int64_t seq, Fault fault);
// Cache slot that new token s is written to.
int64_t write_slot(int64_t length, int64_t s, Fault fault);
// Head slot that head h's attention output is written to before o_proj.
int64_t output_head(int64_t h, int64_t n_heads, Fault fault);
// Latent head that query head h reads in MLA with n_latent_heads G (GLA and GTA lowered,
// variants/latent_lowering.h): h / (H / G), 0 when G = 1 (Fault::latent_group_swapped: the next
// one, (h / (H / G) + 1) % G).
int64_t latent_head(int64_t h, const LayerConfig& config, Fault fault);

// Dot product of two fp32 vectors of length n.
float dot(const float* a, const float* b, int64_t n);
// out += weight * x over n elements.
void add_scaled(float* out, const float* x, float weight, int64_t n);

// One query of one head attending over key slots [keys.lo, keys.hi): score_of(t) gives the
// scaled score of key t, value_of(t) points at its value vector (value_dim floats). Writes the
// softmax-weighted sum of values to out and, when lse is non-null, the log-sum-exp of the scores.
// `scores` is scratch space of at least keys.size() floats.
template <class ScoreOf, class ValueOf>
void attend_one_query(KeyRange keys, ScoreOf score_of, ValueOf value_of, int64_t value_dim,
                      float* scores, float* out, float* lse) {
  const int64_t n_keys = keys.size();
  for (int64_t j = 0; j < n_keys; ++j) scores[j] = score_of(keys.lo + j);
  const float sum = softmax_in_place(scores, n_keys, lse);
  std::fill(out, out + value_dim, 0.0f);
  for (int64_t j = 0; j < n_keys; ++j) add_scaled(out, value_of(keys.lo + j), scores[j], value_dim);
  const float inv_sum = 1.0f / sum;
  for (int64_t i = 0; i < value_dim; ++i) out[i] *= inv_sum;
}

// Cache storage for one form: named parts, each [batch, capacity, elements_per_token] fp32,
// allocated once and filled with NaN so that a read of a never-written slot poisons the output.
class PlainCache : public KvCache {
 public:
  // `owner` identifies the Attention type and shape that made the cache (checked in forward).
  PlainCache(int64_t batch, int64_t capacity, std::string owner,
             const std::vector<int64_t>& part_elements_per_token);

  size_t bytes_allocated() const override;
  // Uniform values in [-1, 1) in slots [0, tokens) of every part and sequence.
  void fill_synthetic(int64_t tokens, uint64_t seed) override;
  const std::string& owner() const { return owner_; }
  // Start of token slot `t` of sequence `b` in part `part`.
  const float* slot(size_t part, int64_t b, int64_t t) const;
  // The one store path of every form (and of write_part): `count` values at elements
  // [offset, offset + count) of slot `t` of sequence `b` in part `part`, kept as they are (fp32).
  void store(size_t part, int64_t b, int64_t t, int64_t offset, const float* values, int64_t count);

  // The KvCache test seam: part p is [batch, capacity, part_elements_per_token[p]].
  int part_count() const override { return static_cast<int>(parts_.size()); }
  std::vector<float> read_part(int part) const override;
  void write_part(int part, const std::vector<float>& values) override;

 private:
  std::string owner_;
  std::vector<int64_t> part_elements_;
  std::vector<std::vector<float>> parts_;
};

[[noreturn]] void throw_foreign_cache(const std::string& owner);

// Checks make_cache's arguments (batch >= 1, capacity >= 1); throws attnlab::Error otherwise.
void check_cache_request(int64_t batch, int64_t capacity);

// The checks of every forward() after the type check: the cache was made by an Attention of the
// same shape (`owner`), batch matches, seq >= 1 and the new tokens fit. Throws attnlab::Error
// with a one-line message.
void check_forward(const PlainCache& cache, const std::string& owner, int64_t batch, int64_t seq);

// The cache downcast to the form's own subclass, then check_forward; a cache made by another
// Attention type throws attnlab::Error.
template <class CacheT>
CacheT& checked_cache(KvCache& cache, const std::string& owner, int64_t batch, int64_t seq) {
  auto* own = dynamic_cast<CacheT*>(&cache);
  if (own == nullptr) throw_foreign_cache(owner);
  check_forward(*own, owner, batch, seq);
  return *own;
}

}  // namespace attnlab::cpu
