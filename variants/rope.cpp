// RopeSpec (variants/rope.h): the one place RoPE's inverse frequencies are computed.
#include "variants/rope.h"

#include <cmath>

namespace attnlab {

double RopeSpec::inv_freq(int64_t i) const {
  return std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(rotary_dim));
}

std::vector<double> RopeSpec::inv_freq_table() const {
  std::vector<double> table(pairs());
  for (int64_t i = 0; i < pairs(); ++i) table[i] = inv_freq(i);
  return table;
}

double RopeSpec::attention_factor() const {
  return 1.0;
}

RopeSpec rope_spec(const LayerConfig& config) {
  RopeSpec spec;
  spec.layout = config.rope_layout;
  spec.theta = config.rope_theta;
  spec.rotary_dim = config.rope_layout == RopeLayout::none ? 0 : config.rope_dim();
  return spec;
}

}  // namespace attnlab
