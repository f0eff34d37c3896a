// The fp64 reference's public entry points (see reference_attention.h): the building blocks
// linear / rms_norm / apply_rope, and forward(), which validates its inputs, grows a copy of the
// cache by the new tokens, runs the form's algorithm for the layer's kind (reference_standard.cpp,
// reference_mla.cpp, reference_gta.cpp, reference_gla.cpp) and commits the cache only when
// everything succeeded.
#include "reference/reference_attention.h"

#include <cmath>
#include <string>

#include "core/error.h"
#include "reference/reference_detail.h"
#include "reference/work_counter.h"

namespace attnlab::reference {

std::vector<double> linear(const std::vector<double>& x, const Tensor<double>& weight,
                           const Tensor<double>* bias) {
  if (weight.shape.size() != 2)
    throw Error("linear: weight must be 2-D [out, in], got " + shape_to_string(weight.shape));
  const int64_t out_features = weight.dim(0), in_features = weight.dim(1);
  if (static_cast<int64_t>(x.size()) != in_features)
    throw Error("linear: input has " + std::to_string(x.size()) + " features but weight is " +
                shape_to_string(weight.shape));
  if (bias && bias->shape != Shape{out_features})
    throw Error("linear: bias is " + shape_to_string(bias->shape) + " but weight is " +
                shape_to_string(weight.shape));
  WorkCounter::add_multiply_adds(out_features * in_features);
  std::vector<double> y(out_features);
  for (int64_t o = 0; o < out_features; ++o) {
    double sum = bias ? bias->data[o] : 0.0;
    for (int64_t i = 0; i < in_features; ++i) sum += x[i] * weight.data[o * in_features + i];
    y[o] = sum;
  }
  return y;
}

std::vector<double> rms_norm(const std::vector<double>& x, const Tensor<double>& weight,
                             double eps) {
  const int64_t n = static_cast<int64_t>(x.size());
  if (weight.shape != Shape{n})
    throw Error("rms_norm: weight is " + shape_to_string(weight.shape) + " but the input has " +
                std::to_string(n) + " elements");
  double sum_squares = 0;
  for (double v : x) sum_squares += v * v;
  const double inv_rms = 1.0 / std::sqrt(sum_squares / static_cast<double>(n) + eps);
  std::vector<double> y(n);
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * inv_rms * weight.data[i];
  return y;
}

void apply_rope(double* v, const RopeSpec& spec, int64_t position) {
  if (!spec.rotates()) return;
  if (spec.rotary_dim % 2 != 0)
    throw Error("apply_rope: rotary dimension " + std::to_string(spec.rotary_dim) +
                " must be even");
  const double factor = spec.attention_factor();
  for (int64_t i = 0; i < spec.pairs(); ++i) {
    const double angle = static_cast<double>(position) * spec.inv_freq(i);
    const double c = std::cos(angle) * factor, s = std::sin(angle) * factor;
    const auto [ia, ib] = spec.pair(i);
    const double a0 = v[ia], b0 = v[ib];
    v[ia] = a0 * c - b0 * s;
    v[ib] = a0 * s + b0 * c;
  }
}

namespace {

void check_inputs(const LayerConfig& config, ImplForm form, const Tensor<double>& x,
                  const Tensor<int64_t>& positions) {
  if (!form_supported(config, form))
    throw Error(std::string("reference: form '") + to_string(form) +
                "' is not supported by attention '" + to_string(config.attention) + "'");
  if (x.shape.size() != 3)
    throw Error("reference: x must be [batch, seq, hidden], got " + shape_to_string(x.shape));
  if (x.dim(2) != config.hidden_size)
    throw Error("reference: x has hidden size " + std::to_string(x.dim(2)) + " but config '" +
                config.name + "' has hidden_size " + std::to_string(config.hidden_size));
  if (x.numel() != shape_numel(x.shape))
    throw Error("reference: x holds " + std::to_string(x.numel()) + " values for shape " +
                shape_to_string(x.shape));
  if (positions.shape != Shape{x.dim(0), x.dim(1)} || positions.numel() != x.dim(0) * x.dim(1))
    throw Error(
        "reference: positions must be [batch, seq] = " + shape_to_string({x.dim(0), x.dim(1)}) +
        ", got " + shape_to_string(positions.shape));
}

// Every tensor weight_specs(config) names must be present with exactly its shape, so the
// algorithms below can index weights without further checks.
void check_weights(const LayerConfig& config, const Weights& weights) {
  for (const WeightSpec& spec : weight_specs(config)) {
    const Tensor<double>& tensor = weights.get(spec.name);
    if (tensor.shape != spec.shape || tensor.numel() != shape_numel(spec.shape))
      throw Error("reference: weight '" + spec.name + "' is " + shape_to_string(tensor.shape) +
                  ", config '" + config.name + "' needs " + shape_to_string(spec.shape));
  }
}

// Creates the cache's parts (T = 0) on first use, else checks they fit this config, form and batch.
void prepare_cache(const LayerConfig& config, ImplForm form, int64_t batch, Cache& cache) {
  const std::vector<CachePart> layout = cache_layout(config, form);
  if (cache.parts.empty()) {
    if (cache.length != 0) throw Error("reference: cache has length but no parts");
    for (const CachePart& part : layout) {
      Shape shape{batch, 0};
      shape.insert(shape.end(), part.per_token_shape.begin(), part.per_token_shape.end());
      cache.parts.emplace_back(shape);
    }
    return;
  }
  if (cache.parts.size() != layout.size())
    throw Error("reference: cache has " + std::to_string(cache.parts.size()) + " parts, form '" +
                to_string(form) + "' needs " + std::to_string(layout.size()));
  for (size_t i = 0; i < layout.size(); ++i) {
    Shape expected{batch, cache.length};
    expected.insert(expected.end(), layout[i].per_token_shape.begin(),
                    layout[i].per_token_shape.end());
    if (cache.parts[i].shape != expected || cache.parts[i].numel() != shape_numel(expected))
      throw Error("reference: cache part '" + layout[i].name + "' is " +
                  shape_to_string(cache.parts[i].shape) + ", expected " +
                  shape_to_string(expected) + " (batch or form changed between calls?)");
  }
}

// A copy of the cache whose parts have room for `new_tokens` more slots per sequence; the old
// slots keep their values, the new ones are zero. cache.length is unchanged.
Cache grown_copy(const Cache& cache, int64_t new_tokens) {
  Cache grown;
  grown.length = cache.length;
  for (const Tensor<double>& part : cache.parts) {
    const int64_t batch = part.dim(0), old_t = part.dim(1), new_t = old_t + new_tokens;
    const int64_t token_elements = shape_numel(Shape(part.shape.begin() + 2, part.shape.end()));
    Shape shape = part.shape;
    shape[1] = new_t;
    Tensor<double> bigger(shape);
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t t = 0; t < old_t; ++t)
        for (int64_t e = 0; e < token_elements; ++e)
          bigger.data[(b * new_t + t) * token_elements + e] =
              part.data[(b * old_t + t) * token_elements + e];
    grown.parts.push_back(std::move(bigger));
  }
  return grown;
}

}  // namespace

Result forward(const LayerConfig& config, const Weights& weights, ImplForm form,
               const Tensor<double>& x, const Tensor<int64_t>& positions, Cache& cache) {
  check_inputs(config, form, x, positions);
  check_weights(config, weights);
  const int64_t batch = x.dim(0), seq = x.dim(1);
  Cache work = cache;
  prepare_cache(config, form, batch, work);
  work = grown_copy(work, seq);

  Result result;
  result.out = Tensor<double>({batch, seq, config.hidden_size});
  result.lse = Tensor<double>({batch, seq, config.n_heads});
  // check_inputs has checked that the form applies to the kind: standard to mha/gqa/mqa/gta,
  // naive and absorb to mla/gla.
  switch (form) {
    case ImplForm::standard:
      if (config.is_gta())
        detail::forward_gta(config, weights, x, positions, work, result);
      else
        detail::forward_standard(config, weights, x, positions, work, result);
      break;
    case ImplForm::naive:
      if (config.is_gla())
        detail::forward_gla_naive(config, weights, x, positions, work, result);
      else
        detail::forward_mla_naive(config, weights, x, positions, work, result);
      break;
    case ImplForm::absorb:
      if (config.is_gla())
        detail::forward_gla_absorb(config, weights, x, positions, work, result);
      else
        detail::forward_mla_absorb(config, weights, x, positions, work, result);
      break;
  }
  work.length += seq;
  cache = std::move(work);
  return result;
}

}  // namespace attnlab::reference
