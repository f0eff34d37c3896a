// The store-rounding contract of every KV cache, through core/attention.h's test seam
// (KvCache::write_part / read_part): an fp32 value written into a bf16 or fp16 cache is stored
// as core/dtype.h's one policy converts it (round to nearest, ties to even; overflow to
// infinity; gradual underflow to subnormals; -0 and infinities kept; NaN stays NaN), and an
// fp32 cache keeps it bit for bit. The values are a table of edge cases per format (ties to even
// both ways, values just above and below ties, subnormals of the format, its largest finite
// value, overflow, -0, infinities, NaNs), pinned by hand and checked against core/dtype.h; each
// cache gets every value of both tables, written through the backend's own store path and read
// back through its own cache. Run over the registry by tests/test_store_rounding.cpp and over
// the CUDA entries by tests/cuda_common_tests.h (the emulation, and a device when there is one).
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "core/attention.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/presets.h"
#include "core/weights.h"
#include "registry/registry.h"
#include "tests/attention_contract.h"

namespace attnlab::store_rounding {

struct EdgeValue {
  uint32_t input;     // fp32 bits
  uint16_t expected;  // the 16 bits the table's format stores
  const char* what;
};

inline const EdgeValue kBf16Edges[] = {
    {0x3F808000u, 0x3F80, "tie 1 + 2^-8: to the even value below"},
    {0x3F818000u, 0x3F82, "tie 1 + 3 * 2^-8: to the even value above"},
    {0xBF808000u, 0xBF80, "negative tie: to the even value below"},
    {0xBF818000u, 0xBF82, "negative tie: to the even value above"},
    {0x3F808001u, 0x3F81, "just above a tie: up"},
    {0x3F807FFFu, 0x3F80, "just below a tie: down"},
    {0x3F817FFFu, 0x3F81, "just below a tie to even above: down"},
    {0x3F80FFFFu, 0x3F81, "just below the next value: up"},
    {0x00010000u, 0x0001, "smallest subnormal 2^-133, exact"},
    {0x00008000u, 0x0000, "half the smallest subnormal (a tie): +0"},
    {0x00008001u, 0x0001, "just above half the smallest subnormal: 2^-133"},
    {0x00018000u, 0x0002, "subnormal tie 1.5 * 2^-133: to the even value above"},
    {0x007F8000u, 0x0080, "tie between the largest subnormal and the smallest normal"},
    {0x807FFFFFu, 0x8080, "largest fp32 subnormal, negative: -(smallest normal)"},
    {0x00000001u, 0x0000, "fp32's smallest subnormal: +0"},
    {0x7F7F0000u, 0x7F7F, "largest finite value, exact"},
    {0x7F7F7FFFu, 0x7F7F, "just below the overflow tie: largest finite"},
    {0x7F7F8000u, 0x7F80, "the overflow tie: +inf"},
    {0x7F7FFFFFu, 0x7F80, "fp32's largest finite: +inf"},
    {0xFF7FFFFFu, 0xFF80, "fp32's most negative finite: -inf"},
    {0x00000000u, 0x0000, "+0"},
    {0x80000000u, 0x8000, "-0"},
    {0x7F800000u, 0x7F80, "+inf"},
    {0xFF800000u, 0xFF80, "-inf"},
    {0x7FC00000u, 0x7FC0, "quiet NaN"},
    {0xFFC00000u, 0xFFC0, "negative quiet NaN"},
    {0x7F800001u, 0x7FC0, "NaN whose payload lies in dropped bits only (not +inf)"},
};

inline const EdgeValue kFp16Edges[] = {
    {0x3F801000u, 0x3C00, "tie 1 + 2^-11: to the even value below"},
    {0x3F803000u, 0x3C02, "tie 1 + 3 * 2^-11: to the even value above"},
    {0xBF801000u, 0xBC00, "negative tie: to the even value below"},
    {0xBF803000u, 0xBC02, "negative tie: to the even value above"},
    {0x3F801001u, 0x3C01, "just above a tie: up"},
    {0x3F800FFFu, 0x3C00, "just below a tie: down"},
    {0x3F801FFFu, 0x3C01, "just below the next value: up"},
    {0x33800000u, 0x0001, "smallest subnormal 2^-24, exact"},
    {0x33000000u, 0x0000, "2^-25, half the smallest subnormal (a tie): +0"},
    {0x33000001u, 0x0001, "just above 2^-25: 2^-24"},
    {0x33C00000u, 0x0002, "subnormal tie 1.5 * 2^-24: to the even value above"},
    {0x34200000u, 0x0002, "subnormal tie 2.5 * 2^-24: to the even value below"},
    {0x387FC000u, 0x03FF, "largest subnormal 1023 * 2^-24, exact"},
    {0x387FE000u, 0x0400, "tie between the largest subnormal and the smallest normal"},
    {0x38800000u, 0x0400, "smallest normal 2^-14, exact"},
    {0x32800000u, 0x0000, "2^-26: +0"},
    {0x80000001u, 0x8000, "fp32's smallest subnormal, negative: -0"},
    {0x477FE000u, 0x7BFF, "65504, the largest finite value, exact"},
    {0x477FEFFFu, 0x7BFF, "just below the overflow tie: 65504"},
    {0x477FF000u, 0x7C00, "65520, the overflow tie: +inf"},
    {0xC77FF000u, 0xFC00, "-65520: -inf"},
    {0x7F7FFFFFu, 0x7C00, "fp32's largest finite: +inf"},
    {0x00000000u, 0x0000, "+0"},
    {0x80000000u, 0x8000, "-0"},
    {0x7F800000u, 0x7C00, "+inf"},
    {0xFF800000u, 0xFC00, "-inf"},
    {0x7FC00000u, 0x7E00, "quiet NaN"},
    {0xFFC00000u, 0xFE00, "negative quiet NaN"},
    {0x7F800001u, 0x7E00, "NaN whose payload lies in dropped bits only (not +inf)"},
};

// The one policy, core/dtype.h's: the fp32 value a cache of `dtype` must hold for `input`.
inline float stored_value(DType dtype, float input) {
  switch (dtype) {
    case DType::bf16:
      return bf16_to_float(float_to_bf16(input));
    case DType::fp16:
      return fp16_to_float(float_to_fp16(input));
    default:
      return input;
  }
}

// The hand-written tables agree with core/dtype.h's conversions.
inline void check_tables_against_policy() {
  for (const EdgeValue& e : kBf16Edges) {
    INFO("bf16: " << e.what);
    CHECK(float_to_bf16(bits_float(e.input)) == e.expected);
  }
  for (const EdgeValue& e : kFp16Edges) {
    INFO("fp16: " << e.what);
    CHECK(float_to_fp16(bits_float(e.input)) == e.expected);
  }
}

// The inputs of both tables, in table order.
inline std::vector<EdgeValue> all_edges() {
  std::vector<EdgeValue> edges(std::begin(kBf16Edges), std::end(kBf16Edges));
  edges.insert(edges.end(), std::begin(kFp16Edges), std::end(kFp16Edges));
  return edges;
}

inline std::string hex_bits(float value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08X", static_cast<unsigned>(float_bits(value)));
  return text;
}

// Element i of every part of a fresh cache gets edge i % edges; what each part then holds
// must be stored_value() of it, bit for bit (any NaN for a NaN). Returns the mismatches, each
// described in one line.
inline std::vector<std::string> store_mismatches(const Implementation& impl, KvCache& cache) {
  const std::vector<EdgeValue> edges = all_edges();
  std::vector<std::string> mismatches;
  for (int part = 0; part < cache.part_count(); ++part) {
    const size_t elements = cache.read_part(part).size();
    std::vector<float> values(elements);
    for (size_t i = 0; i < elements; ++i) values[i] = bits_float(edges[i % edges.size()].input);
    cache.write_part(part, values);
    const std::vector<float> stored = cache.read_part(part);
    REQUIRE(stored.size() == elements);
    for (size_t i = 0; i < elements; ++i) {
      const float want = stored_value(impl.dtype, values[i]);
      const bool same =
          std::isnan(want) ? std::isnan(stored[i]) : float_bits(stored[i]) == float_bits(want);
      if (!same)
        mismatches.push_back("part " + std::to_string(part) + " element " + std::to_string(i) +
                             ": " + hex_bits(values[i]) + " (" + edges[i % edges.size()].what +
                             ") stored as " + hex_bits(stored[i]) + ", expected " + hex_bits(want));
    }
  }
  return mismatches;
}

// The contract over every Attention-building entry of `impls`, on the first tiny preset its
// form applies to; returns how many entries it checked.
inline int check_store_rounding(const std::vector<Implementation>& impls) {
  check_tables_against_policy();
  const int64_t capacity = static_cast<int64_t>(all_edges().size());  // every edge in each part
  int checked = 0;
  for (const Implementation* impl : contract::attention_entries(impls)) {
    for (const char* preset : contract::kContractPresets) {
      const LayerConfig config = load_preset(preset);
      if (!impl->supports(config)) continue;
      INFO(impl->id() << " on " << preset);
      const auto attention = impl->make_attention(config, random_weights(config, 5));
      const auto cache = attention->make_cache(2, capacity);
      REQUIRE(cache->part_count() >= 1);
      const std::vector<std::string> mismatches = store_mismatches(*impl, *cache);
      std::string first_mismatches;  // the first few, one per line
      for (size_t i = 0; i < mismatches.size() && i < 8; ++i)
        first_mismatches += "\n  " + mismatches[i];
      INFO(mismatches.size() << " elements stored wrongly:" << first_mismatches);
      CHECK(mismatches.empty());
      CHECK(cache->length() == 0);
      // The seam's misuse: a part that does not exist, a size that is not the part's.
      CHECK_THROWS_AS(cache->read_part(cache->part_count()), Error);
      CHECK_THROWS_AS(cache->write_part(-1, {}), Error);
      CHECK_THROWS_AS(cache->write_part(0, std::vector<float>(3)), Error);
      ++checked;
      break;
    }
  }
  return checked;
}

}  // namespace attnlab::store_rounding
