// Weights: the named tensors of one attention layer, keyed by Hugging Face names without a
// prefix ("q_proj.weight", "kv_a_layernorm.weight", ...), held as an fp64 master copy. Every
// implementation converts from it once, at construction. Weights come from a safetensors file
// (io/layer_weights.h) or from random_weights() (variants/variant_spec.h: it needs the
// variant's weight specs).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/layer_config.h"
#include "core/tensor.h"

namespace attnlab {

struct Weights {
  std::map<std::string, Tensor<double>> tensors;

  bool has(const std::string& name) const { return tensors.count(name) != 0; }
  // Throws attnlab::Error naming the tensor when it is absent.
  const Tensor<double>& get(const std::string& name) const;
};

// Deterministic N(0, stddev^2) samples, the same on every platform for a given seed.
class NormalSampler {
 public:
  explicit NormalSampler(uint64_t seed);
  double next(double stddev = 1.0);

 private:
  uint64_t state_[4];
  bool has_spare_ = false;
  double spare_ = 0;
  uint64_t next_u64();
};

// Random activations [batch, seq, hidden] ~ N(0, 1), and positions 0..seq-1 per sequence
// shifted by `start`.
Tensor<double> random_activations(int64_t batch, int64_t seq, int64_t hidden, uint64_t seed);
Tensor<int64_t> sequential_positions(int64_t batch, int64_t seq, int64_t start = 0);

}  // namespace attnlab
