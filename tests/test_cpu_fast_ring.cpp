// Tests of the fast CPU backend's sliding-window ring cache (kernels/cpu/fast_cache.h,
// variants/variant_spec.h cache_slots): a sliding layer's cache holds R = min(capacity,
// W + kRingStepTokens - 1) slots per sequence, bytes_allocated() says so; decode, prefill and
// chunked prefill over 3x the window (the ring wrapping several times, key ranges crossing its
// end, forwards longer than one ring step, key splits over threads) equal the same run through
// cpu-plain's full cache within the dtype's tolerance; rewind inside the resident window repeats
// a step bit for bit and past it throws; fill_synthetic and attend_core keep working.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/error.h"
#include "core/presets.h"
#include "core/weights.h"
#include "kernels/cpu/fast_attention.h"
#include "kernels/cpu/fast_kernels.h"
#include "registry/driver.h"
#include "registry/registry.h"
#include "tests/test_support.h"
#include "variants/variant_spec.h"
#include "verify/tolerance.h"

namespace {

using namespace attnlab;

const DType kDtypes[] = {DType::fp32, DType::bf16, DType::fp16};

// tiny-window (GQA 6 x 2 heads of 8, every layer sliding) with window w.
LayerConfig window_config(int64_t w) {
  LayerConfig c = load_preset("tiny-window");
  c.sliding_window = w;
  validate_layer_config(c, "ring test");
  return c;
}

// fp32 results against cpu-plain's (fp32, full cache) with the dtype's row of the tolerance
// table: the ring must change nothing but where the keys live.
void check_close(const RunOutput& actual, const RunOutput& plain, DType dtype,
                 const std::string& what) {
  const Tolerance& tol = tolerance_for(dtype);
  const test::Comparison o = test::compare(actual.out, plain.out);
  const test::Comparison l = test::compare(actual.lse, plain.lse);
  double worst_excess = -1;
  for (size_t i = 0; i < actual.out.data.size(); ++i) {
    const double err = std::abs(actual.out.data[i] - plain.out.data[i]);
    worst_excess =
        std::max(worst_excess, err - (tol.atol + std::abs(plain.out.data[i]) * tol.rtol));
  }
  INFO(what << " [" << to_string(dtype) << "]: out NMSE " << o.nmse << ", max abs "
            << o.max_abs_error << ", lse max abs " << l.max_abs_error);
  CHECK(o.max_ref > 0.01);
  CHECK(o.nmse <= tol.nmse_bound);
  CHECK(worst_excess <= 0);
  CHECK(l.max_abs_error <= tol.lse_atol);
}

std::vector<float> step(const Attention& attention, const LayerConfig& config, KvCache& cache,
                        int64_t seq, int64_t first_position, uint64_t seed) {
  const Tensor<double> x = random_activations(1, seq, config.hidden_size, seed);
  const std::vector<float> xf(x.data.begin(), x.data.end());
  std::vector<int64_t> positions(seq);
  for (int64_t i = 0; i < seq; ++i) positions[i] = first_position + i;
  std::vector<float> out(seq * config.hidden_size);
  attention.forward(xf.data(), positions.data(), 1, seq, cache, out.data(), nullptr);
  return out;
}

bool all_finite(const std::vector<float>& v) {
  return std::all_of(v.begin(), v.end(), [](float f) { return std::isfinite(f); });
}

}  // namespace

TEST_CASE("fast ring: a sliding layer's cache holds min(capacity, W + H - 1) slots",
          "[fast][ring]") {
  const LayerConfig config = window_config(4);
  REQUIRE(kRingStepTokens == 256);
  CHECK(cache_slots(config, 1000) == 4 + 256 - 1);
  CHECK(cache_slots(config, 100) == 100);
  CHECK(cache_slots(resolve_model("tiny-gpt-oss@1"), 1000) == 1000);  // its full layer
  CHECK(cache_slots(resolve_model("tiny-gpt-oss"), 1000) == 3 + 255);
  const Weights weights = random_weights(config, 1);
  const int64_t per_token = kv_elements_per_token_layer(config, ImplForm::standard);
  for (DType dtype : kDtypes) {
    const auto attention =
        cpu::fast::make_fast_attention(config, weights, ImplForm::standard, dtype);
    for (int64_t capacity : {7, 259, 260, 5000}) {
      INFO(to_string(dtype) << " capacity " << capacity);
      const int64_t slots = std::min<int64_t>(capacity, 259);
      CHECK(attention->make_cache(2, capacity)->bytes_allocated() ==
            static_cast<size_t>(2 * per_token * slots) * bytes_per_element(dtype));
      CHECK(attention->make_cache(2, capacity)->read_part(0).size() ==
            static_cast<size_t>(2 * config.n_kv_heads * slots * config.head_dim));
    }
  }
}

TEST_CASE("fast ring: decode, prefill and chunks over 3x the window equal cpu-plain's full cache",
          "[fast][ring]") {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(4);  // decode key ranges of 1100 keys split over threads
  struct Case {
    int64_t window, tokens;
    std::vector<int64_t> chunks;  // a chunked prefill: pieces past one ring step and single tokens
  };
  const std::vector<Case> cases = {{4, 600, {1, 300, 1, 1, 297}},
                                   {1100, 3300, {700, 1, 1800, 1, 798}}};
  for (const Case& c : cases) {
    const LayerConfig config = window_config(c.window);
    const int64_t slots = cache_slots(config, c.tokens + kCacheSlack);
    REQUIRE(slots < c.tokens);  // the ring wraps
    if (c.window > 1024) CHECK(cpu::fast::choose_splits(c.window, config.n_kv_heads, 4) > 1);
    const Weights weights = random_weights(config, 2);
    const Tensor<double> x = tensor_cast<double>(
        tensor_cast<float>(random_activations(1, c.tokens, config.hidden_size, 3)));
    const Tensor<int64_t> positions = sequential_positions(1, c.tokens, 0);
    const auto plain = find_implementation("cpu-plain", ImplForm::standard, DType::fp32)
                           .make_attention(config, weights);
    const RunOutput truth = run_through(*plain, config, x, positions, c.tokens);
    for (DType dtype : kDtypes) {
      const auto fast = cpu::fast::make_fast_attention(config, weights, ImplForm::standard, dtype);
      const std::string what = "window " + std::to_string(c.window) + " ring " +
                               std::to_string(slots) + " of " + std::to_string(c.tokens);
      check_close(run_through(*fast, config, x, positions, 1), truth, dtype, what + " decode");
      check_close(run_through(*fast, config, x, positions, c.tokens), truth, dtype,
                  what + " prefill");
      check_close(run_through(*fast, config, x, positions, c.chunks), truth, dtype,
                  what + " chunked");
    }
  }
  omp_set_num_threads(saved);
}

TEST_CASE("fast ring: rewind inside the resident window repeats a step, past it throws",
          "[fast][ring]") {
  const LayerConfig config = window_config(4);  // ring of 259 slots in a cache of 1000
  const Weights weights = random_weights(config, 4);
  for (DType dtype : kDtypes) {
    INFO(to_string(dtype));
    const auto attention =
        cpu::fast::make_fast_attention(config, weights, ImplForm::standard, dtype);
    auto cache = attention->make_cache(1, 1000);
    step(*attention, config, *cache, 600, 0, 5);
    const std::vector<float> next = step(*attention, config, *cache, 1, 600, 6);  // [342, 601)
    cache->rewind(600);
    CHECK(step(*attention, config, *cache, 1, 600, 6) == next);
    // Slot 345 sees [342, 346): still held; slot 344 would need 341, overwritten.
    cache->rewind(345);
    const std::vector<float> at_345 = step(*attention, config, *cache, 3, 345, 7);
    CHECK(all_finite(at_345));
    CHECK_THROWS_AS(cache->rewind(344), Error);
    CHECK(cache->length() == 348);
    CHECK_THROWS_AS(cache->rewind(100), Error);
    cache->rewind(345);
    CHECK(step(*attention, config, *cache, 3, 345, 7) == at_345);
    // rewind(0) starts afresh: a prefill from slot 0 equals one on a new cache.
    cache->rewind(0);
    auto fresh = attention->make_cache(1, 1000);
    CHECK(step(*attention, config, *cache, 300, 0, 8) ==
          step(*attention, config, *fresh, 300, 0, 8));
    // attend_core over the last 256 tokens (one ring step: slot 44 sees [41, 45), held since
    // 300 - 259 = 41), and over 257, whose first token would need slot 40.
    std::vector<float> q(257 * config.n_heads * config.head_dim, 0.5f), out(q.size()),
        lse(257 * config.n_heads);
    attention->attend_core(q.data(), 256, *cache, out.data(), lse.data());
    CHECK(all_finite(
        std::vector<float>(out.begin(), out.begin() + 256 * config.n_heads * config.head_dim)));
    CHECK_THROWS_AS(attention->attend_core(q.data(), 257, *cache, out.data(), lse.data()), Error);
    // fill_synthetic past the ring: the next step reads the filled slots, rewinds as above.
    cache->fill_synthetic(900, 9);
    CHECK(cache->length() == 900);
    const std::vector<float> filled = step(*attention, config, *cache, 1, 900, 10);
    CHECK(all_finite(filled));
    cache->rewind(900);
    CHECK(step(*attention, config, *cache, 1, 900, 10) == filled);
    CHECK_THROWS_AS(cache->rewind(500), Error);
    auto other = attention->make_cache(1, 1000);
    other->fill_synthetic(900, 11);
    CHECK(step(*attention, config, *other, 1, 900, 10) != filled);
    CHECK_THROWS_AS(cache->fill_synthetic(1001, 1), Error);
  }
}
