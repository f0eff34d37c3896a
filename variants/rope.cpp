// RopeSpec (variants/rope.h): the one place RoPE's inverse frequencies are computed, with the
// frequency scalings of Hugging Face's modeling_rope_utils (_compute_linear_scaling_parameters,
// _compute_yarn_parameters, _compute_llama3_parameters), in double precision.
#include "variants/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace attnlab {

namespace {

// YaRN: the (fractional) pair index whose wavelength makes `rotations` turns over the original
// context (HF find_correction_dim).
double yarn_correction_dim(double rotations, double dim, double base, double original) {
  return dim * std::log(original / (rotations * 2 * std::numbers::pi)) / (2 * std::log(base));
}

// YaRN's per-pair blend: 0 = keep the original frequency (extrapolate), 1 = divide it by factor
// (interpolate); HF linear_ramp_factor over find_correction_range(beta_fast, beta_slow).
double yarn_interpolation_weight(const RopeSpec& spec, int64_t i) {
  const RopeScaling& r = spec.scaling;
  const double dim = static_cast<double>(spec.rotary_dim);
  const double original = static_cast<double>(r.original_max_position_embeddings);
  double low = yarn_correction_dim(r.beta_fast, dim, spec.theta, original);
  double high = yarn_correction_dim(r.beta_slow, dim, spec.theta, original);
  if (r.truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, dim - 1);
  if (low == high) high += 0.001;
  return std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
}

// Llama 3.1: wavelengths longer than original / low_freq_factor are divided by factor, shorter
// than original / high_freq_factor kept, a smooth blend between.
double llama3_inv_freq(const RopeScaling& r, double inv_freq) {
  const double original = static_cast<double>(r.original_max_position_embeddings);
  const double wavelen = 2 * std::numbers::pi / inv_freq;
  if (wavelen < original / r.high_freq_factor) return inv_freq;
  if (wavelen > original / r.low_freq_factor) return inv_freq / r.factor;
  const double smooth =
      (original / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
  return (1 - smooth) * inv_freq / r.factor + smooth * inv_freq;
}

}  // namespace

double RopeSpec::inv_freq(int64_t i) const {
  const double base =
      std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(rotary_dim));
  switch (scaling.type) {
    case RopeScalingType::none:
      return base;
    case RopeScalingType::linear:
      return base / scaling.factor;
    case RopeScalingType::yarn: {
      const double w = yarn_interpolation_weight(*this, i);
      return base / scaling.factor * w + base * (1 - w);
    }
    case RopeScalingType::llama3:
      return llama3_inv_freq(scaling, base);
  }
  return base;
}

std::vector<double> RopeSpec::inv_freq_table() const {
  std::vector<double> table(pairs());
  for (int64_t i = 0; i < pairs(); ++i) table[i] = inv_freq(i);
  return table;
}

double RopeSpec::attention_factor() const {
  if (scaling.type != RopeScalingType::yarn) return 1.0;
  const RopeScaling& r = scaling;
  if (r.attention_factor) return *r.attention_factor;
  // HF: get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim) when both are set
  // (and non-zero), else get_mscale(factor).
  if (r.mscale && r.mscale_all_dim && *r.mscale != 0 && *r.mscale_all_dim != 0)
    return yarn_mscale(r.factor, *r.mscale) / yarn_mscale(r.factor, *r.mscale_all_dim);
  return yarn_mscale(r.factor, 1.0);
}

RopeSpec rope_spec(const LayerConfig& config) {
  RopeSpec spec;
  spec.layout = config.rope_layout;
  spec.theta = config.layer_rope_theta();
  spec.rotary_dim = config.rope_layout == RopeLayout::none ? 0 : config.rope_dim();
  spec.scaling = config.layer_rope_scaling();
  return spec;
}

}  // namespace attnlab
