// KvCache::rewind and fill_synthetic, the cache controls that timing loops use: a rewound cache
// repeats a step exactly, and a synthetically filled cache has the requested length and
// finite contents that the next step attends over.
#include <catch2/catch.hpp>
#include <cmath>

#include "core/error.h"
#include "core/presets.h"
#include "registry/registry.h"

using namespace attnlab;

namespace {

std::vector<float> step(const Attention& attention, KvCache& cache, const LayerConfig& config,
                        int64_t position) {
  std::vector<float> x(config.hidden_size, 0.5f), out(config.hidden_size);
  attention.forward(x.data(), &position, 1, 1, cache, out.data(), nullptr);
  return out;
}

}  // namespace

TEST_CASE("rewind repeats a decode step bit for bit") {
  for (const char* model : {"tiny-gqa", "tiny-mla"}) {
    const LayerConfig config = load_preset(model);
    const Weights weights = random_weights(config, 1);
    const Implementation& impl = find_implementation("cpu", default_form(config));
    const auto attention = impl.make_attention(config, weights);
    auto cache = attention->make_cache(1, 16);
    for (int64_t p = 0; p < 5; ++p) step(*attention, *cache, config, p);
    const std::vector<float> first = step(*attention, *cache, config, 5);
    CHECK(cache->length() == 6);
    cache->rewind(5);
    CHECK(step(*attention, *cache, config, 5) == first);
    CHECK_THROWS_AS(cache->rewind(7), Error);
    CHECK_THROWS_AS(cache->rewind(-1), Error);
  }
}

TEST_CASE("fill_synthetic sets the length and gives finite attention over the filled slots") {
  const LayerConfig config = load_preset("tiny-mha");
  const Weights weights = random_weights(config, 2);
  const auto attention =
      find_implementation("cpu", ImplForm::standard).make_attention(config, weights);
  auto cache = attention->make_cache(1, 40);
  cache->fill_synthetic(39, 7);
  CHECK(cache->length() == 39);
  const std::vector<float> out = step(*attention, *cache, config, 39);
  for (float v : out) CHECK(std::isfinite(v));
  // Different contents give different outputs: the filled slots are really attended over.
  auto other = attention->make_cache(1, 40);
  other->fill_synthetic(39, 8);
  CHECK(step(*attention, *other, config, 39) != out);
  CHECK_THROWS_AS(cache->fill_synthetic(41, 1), Error);
}
