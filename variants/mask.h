// Which keys a query may see, as one primitive. Every attention core in attnlab (reference,
// cpu-plain, the fast kernels' rows, lanes and prefill tiles, the CUDA kernels, the cost model)
// asks MaskSpec for a query's key range [lo, hi) of cache slots and attends over exactly those;
// none of them writes "the first n keys" itself. Slots are logical token indices (0 = the
// first token of the sequence), the order the cache was filled in; positions only feed RoPE.
//
// A full-attention layer is causal: the query in slot s sees [0, s + 1). A sliding layer with
// window W (LayerConfig::window()) sees the last W slots, [max(0, s + 1 - W), s + 1), as
// Mistral, Gemma 2/3 and gpt-oss define it (HF: key j visible to query i iff i - W < j <= i).
// keys_for() must stay monotone (lo and hi never decrease as the slot grows): the tiled
// kernels take the key range of a block of query slots as [keys_for(first).lo,
// keys_for(last).hi) and skip tiles outside it.
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/layer_config.h"

namespace attnlab {

struct KeyRange {
  int64_t lo = 0;  // first visible slot
  int64_t hi = 0;  // one past the last visible slot
  int64_t size() const { return std::max<int64_t>(0, hi - lo); }
  bool contains(int64_t slot) const { return slot >= lo && slot < hi; }
};

struct MaskSpec {
  int64_t window = 0;  // 0: no window (causal over every earlier slot)

  // The key slots visible to the query in cache slot `slot`.
  KeyRange keys_for(int64_t slot) const {
    return {window > 0 ? std::max<int64_t>(0, slot + 1 - window) : 0, slot + 1};
  }
  // The union of keys_for(s) over query slots first..last (inclusive), first <= last.
  KeyRange keys_for_block(int64_t first, int64_t last) const {
    return {keys_for(first).lo, keys_for(last).hi};
  }
  // Sum over the `seq` new query slots after `length` cached tokens of keys_for(slot).size():
  // the number of (query, key) pairs a step scores (the cost model's count).
  int64_t visible_pairs(int64_t length, int64_t seq) const {
    int64_t pairs = 0;
    for (int64_t s = 0; s < seq; ++s) pairs += keys_for(length + s).size();
    return pairs;
  }
};

// The mask of a layer: its sliding window, if it is a sliding layer.
inline MaskSpec mask_spec(const LayerConfig& config) {
  return MaskSpec{config.window().value_or(0)};
}

}  // namespace attnlab
