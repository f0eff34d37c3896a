// The KV cache each rank holds when a layer's heads are split over N ranks (tensor
// parallelism, Megatron style: every rank computes n_heads / N query heads). What is cached per
// head splits with them; what every head shares cannot split and is duplicated on every rank:
//   MHA, GQA, GTA, the naive forms: n_kv / N K/V (or tied) heads per rank; when N > n_kv each
//     KV head is replicated on N / n_kv ranks (one per rank); MQA's one head is on every rank.
//   GTA: its one rope key (shared by all heads) on every rank besides.
//   MLA absorb: the whole latent + rope key on every rank (one latent head shared by all).
//   GLA absorb: h_c / N latent heads per rank, each with its own rope-key copy (replicated as
//     GQA's heads when N > h_c).
// Used by `attnlab kv --tp` and the report's KV section.
#pragma once

#include <cstdint>
#include <string>

#include "core/layer_config.h"
#include "variants/variant_spec.h"

namespace attnlab {

struct KvPerRank {
  int64_t tp = 1;
  int64_t elements_per_token_layer = 0;        // what one rank caches
  int64_t whole_elements_per_token_layer = 0;  // the layer's cache on one device (TP 1)
  int64_t heads_per_rank = 0;                  // K/V, tied or latent heads one rank caches
  int64_t heads = 0;                           // of that many in the layer
  // "split" (every rank a distinct share), "replicated" (N > heads: each head on N / heads
  // ranks) or "duplicated" (the whole cache on every rank).
  std::string split;
  std::string note;  // one phrase, e.g. "4 KV heads over 8 ranks: each on 2 ranks"
  // per-rank share of the whole: elements_per_token_layer / whole_elements_per_token_layer
  double fraction() const {
    return double(elements_per_token_layer) / double(whole_elements_per_token_layer);
  }
};

// Throws attnlab::Error, a line starting with `flag` (e.g. "--tp 3"), when tp < 1, when tp does
// not divide the query heads, or when it neither divides the cached heads nor is a multiple of
// them.
KvPerRank kv_per_rank(const LayerConfig& config, ImplForm form, int64_t tp,
                      const std::string& flag = "--tp");

}  // namespace attnlab
