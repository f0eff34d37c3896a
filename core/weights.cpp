// Weights lookup and the deterministic sampler, activations and positions; see weights.h.
#include "core/weights.h"

#include <cmath>

#include "core/error.h"

namespace attnlab {

const Tensor<double>& Weights::get(const std::string& name) const {
  auto it = tensors.find(name);
  if (it == tensors.end()) throw Error("missing weight tensor '" + name + "'");
  return it->second;
}

// xoshiro256** seeded through splitmix64: small, fast and identical everywhere.
NormalSampler::NormalSampler(uint64_t seed) {
  for (uint64_t& s : state_) {
    seed += 0x9E3779B97F4A7C15ull;
    uint64_t z = seed;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    s = z ^ (z >> 31);
  }
}

uint64_t NormalSampler::next_u64() {
  auto rotl = [](uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
  const uint64_t result = rotl(state_[1] * 5, 7) * 9;
  const uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], 45);
  return result;
}

double NormalSampler::next(double stddev) {
  if (has_spare_) {
    has_spare_ = false;
    return spare_ * stddev;
  }
  // Box-Muller on two uniforms in (0, 1].
  const double u1 = (static_cast<double>(next_u64() >> 11) + 1.0) * 0x1.0p-53;
  const double u2 = static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double angle = 2.0 * M_PI * u2;
  spare_ = r * std::sin(angle);
  has_spare_ = true;
  return r * std::cos(angle) * stddev;
}

Tensor<double> random_activations(int64_t batch, int64_t seq, int64_t hidden, uint64_t seed) {
  Tensor<double> x({batch, seq, hidden});
  NormalSampler sampler(seed);
  for (double& v : x.data) v = sampler.next();
  return x;
}

Tensor<int64_t> sequential_positions(int64_t batch, int64_t seq, int64_t start) {
  Tensor<int64_t> positions({batch, seq});
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t s = 0; s < seq; ++s) positions.data[b * seq + s] = start + s;
  return positions;
}

}  // namespace attnlab
