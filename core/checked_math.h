// Size arithmetic that cannot overflow silently: products and sums of int64 counts (elements,
// bytes, cases) that return nothing when the exact result does not fit in int64. Config readers
// use them to reject inputs whose derived sizes would overflow; size computations use them
// where a hand-built (unvalidated) config could reach them.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace attnlab {

inline std::optional<int64_t> checked_mul(int64_t a, int64_t b) {
  int64_t product = 0;
  if (__builtin_mul_overflow(a, b, &product)) return std::nullopt;
  return product;
}

inline std::optional<int64_t> checked_add(int64_t a, int64_t b) {
  int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) return std::nullopt;
  return sum;
}

// The product of all factors, or nothing when any partial product overflows.
inline std::optional<int64_t> checked_product(const std::vector<int64_t>& factors) {
  int64_t product = 1;
  for (int64_t f : factors) {
    const std::optional<int64_t> next = checked_mul(product, f);
    if (!next) return std::nullopt;
    product = *next;
  }
  return product;
}

}  // namespace attnlab
