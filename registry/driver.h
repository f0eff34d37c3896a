// The one driver and token slicer every caller uses to push tokens through an implementation:
// the registry's entries, `attnlab verify`'s checks, the props, the backend tests and the CUDA
// emulation tests. Inputs and outputs are fp64 tensors (converted to fp32 at the Attention's
// edge); `chunks[i]` tokens go through one forward each against one fresh KV cache: {seq} is a
// prefill, all ones is a decode, anything between is chunked prefill.
//
// The cache gets kCacheSlack slots more than the run writes. They are never written, so the CPU
// and CUDA backends hold NaN there (the KvCache contract): a read past the valid length poisons
// the output and fails verification.
#pragma once

#include <cstdint>
#include <vector>

#include "core/attention.h"
#include "core/layer_config.h"
#include "core/tensor.h"
#include "core/weights.h"
#include "variants/variant_spec.h"

namespace attnlab {

struct RunOutput {
  Tensor<double> out;      // [B, S, hidden]
  Tensor<double> lse;      // [B, S, n_heads]
  size_t cache_bytes = 0;  // bytes the implementation allocated for its KV cache
};

// Cache slots beyond the tokens a run writes (never written: NaN in the CPU and CUDA caches).
constexpr int64_t kCacheSlack = 3;

// Tokens [begin, begin + count) of every sequence of a [B, S, ...] tensor, as [B, count, ...].
template <class T>
Tensor<T> token_slice(const Tensor<T>& t, int64_t begin, int64_t count);
// Sequences [begin, begin + count) of a [B, ...] tensor, as [count, ...].
template <class T>
Tensor<T> sequence_slice(const Tensor<T>& t, int64_t begin, int64_t count);
// Both slices of a run's outputs (cache_bytes kept).
RunOutput token_slice(const RunOutput& r, int64_t begin, int64_t count);
RunOutput sequence_slice(const RunOutput& r, int64_t begin, int64_t count);
// Writes part [B, count, W] (B and W those of `whole`) into tokens [begin, begin + count).
template <class Src>
void put_tokens(const Src* part, Tensor<double>& whole, int64_t begin, int64_t count);

// `tokens` split into chunks of `chunk` (the last one shorter).
std::vector<int64_t> even_chunks(int64_t tokens, int64_t chunk);

// Throws attnlab::Error unless x is [B >= 1, S >= 1, hidden] and positions [B, S].
void check_run_inputs(const LayerConfig& config, const Tensor<double>& x,
                      const Tensor<int64_t>& positions);

// Every token of x [B, S, hidden] at positions [B, S] through `attention` and one fresh cache of
// capacity S + slack, chunks[i] tokens per forward (the chunks must cover S). Throws
// attnlab::Error on bad inputs and whatever forward() throws.
RunOutput run_through(const Attention& attention, const LayerConfig& config,
                      const Tensor<double>& x, const Tensor<int64_t>& positions,
                      const std::vector<int64_t>& chunks, int64_t slack = kCacheSlack);
// The same with even_chunks(S, chunk).
RunOutput run_through(const Attention& attention, const LayerConfig& config,
                      const Tensor<double>& x, const Tensor<int64_t>& positions, int64_t chunk);
// The fp64 reference (reference/reference_attention.h) driven the same way through its own
// cache; cache_bytes counts its fp64 cache tensors.
RunOutput run_reference_through(const LayerConfig& config, const Weights& weights, ImplForm form,
                                const Tensor<double>& x, const Tensor<int64_t>& positions,
                                const std::vector<int64_t>& chunks);

}  // namespace attnlab
