// The Attention / KvCache contract (core/attention.h), checked the same way for every
// implementation that can build an Attention: tests/test_attention_contract.cpp runs it over the
// registry (implementations()), tests/cuda_common_tests.h over the CUDA entries of its program
// (the emulated backend in cuda_emulation_tests, the device one in cuda_tests). Per entry, every
// tiny preset its form applies to:
//   - bytes_allocated() == kv_elements_per_token_layer * batch * slots * bytes(dtype), slots =
//     capacity, or cache_slots(config, capacity) for a ring cache (Implementation::ring_cache),
//     on the tiny presets and on tiny-window's sliding layer;
//   - never-written slots are NaN: a decode whose key range covers a slot the cache was advanced
//     past without writing (CacheWriter::advance) gives a non-finite output, and the same decode
//     after a real write gives a finite one;
//   - misuse throws attnlab::Error: a batch that is not the cache's, more tokens than free slots,
//     a cache made by another implementation, capacity or batch < 1, rewind outside [0, length];
//   - rewind repeats a step bit for bit; fill_synthetic sets the length, the next step attends
//     over the filled slots (finite, seed-dependent), and more tokens than capacity throw.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "core/attention.h"
#include "core/error.h"
#include "core/presets.h"
#include "core/weights.h"
#include "registry/registry.h"
#include "variants/variant_spec.h"

namespace attnlab::contract {

inline const char* const kContractPresets[] = {"tiny-mha", "tiny-gqa", "tiny-mqa", "tiny-mla",
                                               "tiny-mla-lite"};

// `seq` tokens of `batch` sequences at positions first_position.. in one forward.
inline std::vector<float> step(const Attention& attention, const LayerConfig& config,
                               KvCache& cache, int64_t batch, int64_t seq, int64_t first_position,
                               uint64_t seed) {
  const Tensor<double> x = random_activations(batch, seq, config.hidden_size, seed);
  const std::vector<float> xf(x.data.begin(), x.data.end());
  std::vector<int64_t> positions(batch * seq);
  for (int64_t i = 0; i < batch * seq; ++i) positions[i] = first_position + i % seq;
  std::vector<float> out(batch * seq * config.hidden_size);
  attention.forward(xf.data(), positions.data(), batch, seq, cache, out.data(), nullptr);
  return out;
}

inline bool all_finite(const std::vector<float>& v) {
  for (float f : v)
    if (!std::isfinite(f)) return false;
  return true;
}

inline bool none_finite(const std::vector<float>& v) {
  for (float f : v)
    if (std::isfinite(f)) return false;
  return true;
}

// The entries of `impls` that build an Attention (the reference and unavailable backends do not).
inline std::vector<const Implementation*> attention_entries(
    const std::vector<Implementation>& impls) {
  std::vector<const Implementation*> entries;
  for (const Implementation& impl : impls)
    if (impl.make_attention) entries.push_back(&impl);
  return entries;
}

inline void check_cache_size(const Implementation& impl, const Attention& attention,
                             const LayerConfig& config) {
  const int64_t per_token = kv_elements_per_token_layer(config, impl.form);
  for (int64_t batch : {1, 3})
    for (int64_t capacity : {1, 7, 300}) {
      INFO("batch " << batch << " capacity " << capacity);
      const int64_t slots = impl.ring_cache ? cache_slots(config, capacity) : capacity;
      CHECK(attention.make_cache(batch, capacity)->bytes_allocated() ==
            static_cast<size_t>(per_token * batch * slots) * bytes_per_element(impl.dtype));
    }
}

inline void check_never_written_slots(const Attention& attention, const LayerConfig& config) {
  // Slot 2 skipped (advanced over, never written): the query in slot 3 sees it.
  auto cache = attention.make_cache(2, 6);
  step(attention, config, *cache, 2, 2, 0, 3);
  CacheWriter::advance(*cache, 1);
  CHECK(none_finite(step(attention, config, *cache, 2, 1, 3, 4)));
  // The same decode after slot 2 was really written is finite.
  auto written = attention.make_cache(2, 6);
  step(attention, config, *written, 2, 3, 0, 3);
  CHECK(all_finite(step(attention, config, *written, 2, 1, 3, 4)));
}

inline void check_misuse(const Attention& attention, const LayerConfig& config,
                         const Attention* other) {
  auto cache = attention.make_cache(2, 4);
  CHECK_THROWS_AS(step(attention, config, *cache, 1, 1, 0, 1), Error);  // batch mismatch
  CHECK_THROWS_AS(step(attention, config, *cache, 2, 5, 0, 1), Error);  // more than free slots
  step(attention, config, *cache, 2, 3, 0, 1);
  CHECK_THROWS_AS(step(attention, config, *cache, 2, 2, 3, 1), Error);  // one slot left
  CHECK(cache->length() == 3);
  if (other) {  // a cache another implementation made
    auto foreign = other->make_cache(2, 4);
    CHECK_THROWS_AS(step(attention, config, *foreign, 2, 1, 0, 1), Error);
  }
  CHECK_THROWS_AS(attention.make_cache(1, 0), Error);
  CHECK_THROWS_AS(attention.make_cache(0, 4), Error);
  CHECK_THROWS_AS(cache->rewind(4), Error);
  CHECK_THROWS_AS(cache->rewind(-1), Error);
}

inline void check_rewind_and_fill(const Attention& attention, const LayerConfig& config) {
  {
    auto cache = attention.make_cache(1, 16);
    step(attention, config, *cache, 1, 5, 0, 1);
    const std::vector<float> first = step(attention, config, *cache, 1, 1, 5, 2);
    CHECK(cache->length() == 6);
    cache->rewind(5);
    CHECK(step(attention, config, *cache, 1, 1, 5, 2) == first);
  }
  auto cache = attention.make_cache(2, 40);
  cache->fill_synthetic(33, 7);
  CHECK(cache->length() == 33);
  const std::vector<float> out = step(attention, config, *cache, 2, 1, 33, 9);
  CHECK(all_finite(out));
  CHECK(cache->length() == 34);
  cache->rewind(33);
  CHECK(step(attention, config, *cache, 2, 1, 33, 9) == out);
  cache->rewind(20);  // a prefill over part of the synthetic context
  CHECK(all_finite(step(attention, config, *cache, 2, 7, 20, 4)));
  auto other = attention.make_cache(2, 40);
  other->fill_synthetic(33, 8);
  CHECK(step(attention, config, *other, 2, 1, 33, 9) != out);  // the filled slots are read
  CHECK_THROWS_AS(cache->fill_synthetic(41, 1), Error);
}

// The whole contract over every Attention-building entry of `impls`; returns how many
// (entry, preset) pairs it checked.
inline int check_contract(const std::vector<Implementation>& impls) {
  const std::vector<const Implementation*> entries = attention_entries(impls);
  int checked = 0;
  for (const char* preset : kContractPresets) {
    const LayerConfig config = load_preset(preset);
    const Weights weights = random_weights(config, 5);
    for (const Implementation* impl : entries) {
      if (!impl->supports(config)) continue;
      INFO(impl->id() << " on " << preset);
      const auto attention = impl->make_attention(config, weights);
      // Another entry for the same layer (a different backend, dtype or form): its cache is
      // foreign to this attention.
      std::unique_ptr<Attention> other;
      for (const Implementation* o : entries)
        if (o != impl && o->supports(config) &&
            (o->backend != impl->backend || o->dtype != impl->dtype)) {
          other = o->make_attention(config, weights);
          break;
        }
      check_cache_size(*impl, *attention, config);
      check_never_written_slots(*attention, config);
      check_misuse(*attention, config, other.get());
      check_rewind_and_fill(*attention, config);
      ++checked;
    }
  }
  // A sliding layer (window 4): capacity 300 is past a ring's slots (not counted in `checked`).
  const LayerConfig window = load_preset("tiny-window");
  for (const Implementation* impl : entries) {
    if (!impl->supports(window)) continue;
    INFO(impl->id() << " on tiny-window");
    check_cache_size(*impl, *impl->make_attention(window, random_weights(window, 5)), window);
  }
  return checked;
}

}  // namespace attnlab::contract
