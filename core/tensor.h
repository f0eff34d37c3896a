// Tensor<T>: a dense row-major array with a shape, the value type passed between attnlab's
// stages (weights, activations, outputs). Deliberately minimal: storage plus shape checks.
// Kernels take raw pointers into .data; the reference indexes with explicit strides.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace attnlab {

using Shape = std::vector<int64_t>;

inline int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

inline std::string shape_to_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

template <class T>
struct Tensor {
  Shape shape;
  std::vector<T> data;

  Tensor() = default;
  explicit Tensor(Shape s, T fill = T{}) : shape(std::move(s)), data(shape_numel(shape), fill) {}
  Tensor(Shape s, std::vector<T> values) : shape(std::move(s)), data(std::move(values)) {}

  int64_t numel() const { return static_cast<int64_t>(data.size()); }
  int64_t dim(size_t i) const { return shape.at(i); }
  T* ptr() { return data.data(); }
  const T* ptr() const { return data.data(); }
};

// Element-wise conversion between value types (e.g. the fp64 master copy to fp32).
template <class To, class From>
Tensor<To> tensor_cast(const Tensor<From>& src) {
  Tensor<To> dst;
  dst.shape = src.shape;
  dst.data.assign(src.data.begin(), src.data.end());
  return dst;
}

}  // namespace attnlab
