// Internal pieces of the fp64 reference shared by its source files (reference_attention.cpp,
// reference_standard.cpp, reference_mla.cpp, reference_gta.cpp, reference_gla.cpp). Not part of the
// public API: only reference/*.cpp include it. Everything here is plain loops over Tensor<double>
// with explicit strides.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/layer_config.h"
#include "core/tensor.h"
#include "core/weights.h"
#include "reference/reference_attention.h"
#include "variants/mask.h"

namespace attnlab::reference::detail {

// The features of token s of sequence b: x[b, s, :] of a [B, S, hidden] tensor.
std::vector<double> token_row(const Tensor<double>& x, int64_t b, int64_t s);

// Elements [begin, begin + count) of v.
std::vector<double> slice(const std::vector<double>& v, int64_t begin, int64_t count);

// The bias tensor "<projection>.bias" when the config says the projection has one, else nullptr.
const Tensor<double>* optional_bias(const LayerConfig& config, const Weights& weights,
                                    const std::string& projection);

// y = linear(x, <projection>.weight, <projection>.bias if the config lists it).
std::vector<double> project(const LayerConfig& config, const Weights& weights,
                            const std::string& projection, const std::vector<double>& x);

// y = W[first_row, first_row + rows) x + b[first_row, first_row + rows): `rows` output rows of a
// weight [out, in] (and of its bias [out], when not nullptr), counted as rows x in multiply-adds.
std::vector<double> linear_rows(const std::vector<double>& x, const Tensor<double>& weight,
                                const Tensor<double>* bias, int64_t first_row, int64_t rows);

// sum_i a[i] * b[i], and y[i] += a * x[i]: the contractions that are not a whole linear(),
// counted by an active WorkCounter (reference/work_counter.h).
double dot(const double* a, const double* b, int64_t n);
void axpy(double a, const double* x, double* y, int64_t n);

// Address of the per-token data of sequence b, slot t in a cache part [B, T, ...], to write the
// whole slot (noted as written by an active WorkCounter).
double* cache_slot_to_write(Tensor<double>& part, int64_t b, int64_t t);
// Address of `count` elements from `offset` within that slot, to read them (noted as read).
const double* cache_elements_to_read(const Tensor<double>& part, int64_t b, int64_t t,
                                     int64_t offset, int64_t count);

// Softmax of a score vector, with the natural log of sum_j exp(score_j), both computed
// stably by subtracting the maximum score first.
struct Softmax {
  std::vector<double> weights;
  double lse = 0;
};
Softmax softmax_with_lse(const std::vector<double>& scores);

// One query head's attention result: the value mixture and the LSE of its scaled scores (and of
// the sink logit, when there is one).
struct HeadResult {
  std::vector<double> output;
  double lse = 0;
};

// Attention of one query vector q over cached per-head keys and values: k is [B, T, heads, d_k]
// (d_k == q.size()), v is [B, T, heads, d_v]; the query sees slots [keys.lo, keys.hi) of
// sequence b (mask_spec(config).keys_for(its slot)), kv head `kv_head`. score_t = (q . k_t) *
// scale. With a sink logit (attention sinks, gpt-oss), it joins the softmax as one more score
// whose value vector is zero: it takes a share of the weights and enters the LSE.
HeadResult attend_cached_kv(const std::vector<double>& q, const Tensor<double>& k,
                            const Tensor<double>& v, int64_t b, int64_t kv_head, KeyRange keys,
                            double scale, std::optional<double> sink_logit = std::nullopt);

// Stores the concatenated head outputs of token (b, s) through o_proj into result.out and the
// per-head LSEs into result.lse.
void write_token_result(const LayerConfig& config, const Weights& weights,
                        const std::vector<double>& concat_heads,
                        const std::vector<double>& head_lse, int64_t b, int64_t s, Result& result);

// The per-form algorithms. Each receives a cache whose parts already have room for the S new
// tokens (T == cache.length + S) while cache.length still counts the old tokens; it writes the
// new slots [cache.length, cache.length + S) and fills result.out and result.lse.
void forward_standard(const LayerConfig& config, const Weights& weights, const Tensor<double>& x,
                      const Tensor<int64_t>& positions, Cache& cache, Result& result);
void forward_mla_naive(const LayerConfig& config, const Weights& weights, const Tensor<double>& x,
                       const Tensor<int64_t>& positions, Cache& cache, Result& result);
void forward_mla_absorb(const LayerConfig& config, const Weights& weights, const Tensor<double>& x,
                        const Tensor<int64_t>& positions, Cache& cache, Result& result);
void forward_gta(const LayerConfig& config, const Weights& weights, const Tensor<double>& x,
                 const Tensor<int64_t>& positions, Cache& cache, Result& result);
void forward_gla_naive(const LayerConfig& config, const Weights& weights, const Tensor<double>& x,
                       const Tensor<int64_t>& positions, Cache& cache, Result& result);
void forward_gla_absorb(const LayerConfig& config, const Weights& weights, const Tensor<double>& x,
                        const Tensor<int64_t>& positions, Cache& cache, Result& result);

}  // namespace attnlab::reference::detail
