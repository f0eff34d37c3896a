// Helpers shared by the reference's per-form algorithms (declared in reference_detail.h): token
// rows, biased projections (whole, or a block of rows), cache slot addressing, the stable softmax
// with its log-sum-exp, attention of one query head over cached K/V (with an optional sink logit),
// and the output projection.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "core/error.h"
#include "reference/reference_detail.h"
#include "reference/work_counter.h"

namespace attnlab::reference::detail {

std::vector<double> token_row(const Tensor<double>& x, int64_t b, int64_t s) {
  const int64_t seq = x.dim(1), hidden = x.dim(2);
  const double* row = x.ptr() + (b * seq + s) * hidden;
  return std::vector<double>(row, row + hidden);
}

std::vector<double> slice(const std::vector<double>& v, int64_t begin, int64_t count) {
  return std::vector<double>(v.begin() + begin, v.begin() + begin + count);
}

const Tensor<double>* optional_bias(const LayerConfig& config, const Weights& weights,
                                    const std::string& projection) {
  return config.has_bias(projection) ? &weights.get(projection + ".bias") : nullptr;
}

std::vector<double> project(const LayerConfig& config, const Weights& weights,
                            const std::string& projection, const std::vector<double>& x) {
  return linear(x, weights.get(projection + ".weight"), optional_bias(config, weights, projection));
}

std::vector<double> linear_rows(const std::vector<double>& x, const Tensor<double>& weight,
                                const Tensor<double>* bias, int64_t first_row, int64_t rows) {
  const int64_t in_features = weight.dim(1);
  if (static_cast<int64_t>(x.size()) != in_features || first_row < 0 ||
      first_row + rows > weight.dim(0))
    throw std::logic_error("linear_rows: rows or input width outside the weight");
  WorkCounter::add_multiply_adds(rows * in_features);
  std::vector<double> y(rows);
  for (int64_t o = 0; o < rows; ++o) {
    const double* row = weight.ptr() + (first_row + o) * in_features;
    double sum = bias ? bias->data[first_row + o] : 0.0;
    for (int64_t i = 0; i < in_features; ++i) sum += x[i] * row[i];
    y[o] = sum;
  }
  return y;
}

double dot(const double* a, const double* b, int64_t n) {
  WorkCounter::add_multiply_adds(n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

void axpy(double a, const double* x, double* y, int64_t n) {
  WorkCounter::add_multiply_adds(n);
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

namespace {

int64_t slot_elements(const Tensor<double>& part) {
  return shape_numel(Shape(part.shape.begin() + 2, part.shape.end()));
}

int64_t slot_offset(const Tensor<double>& part, int64_t b, int64_t t) {
  return (b * part.dim(1) + t) * slot_elements(part);
}

}  // namespace

double* cache_slot_to_write(Tensor<double>& part, int64_t b, int64_t t) {
  double* slot = part.ptr() + slot_offset(part, b, t);
  WorkCounter::note_cache_written(slot, slot_elements(part));
  return slot;
}

const double* cache_elements_to_read(const Tensor<double>& part, int64_t b, int64_t t,
                                     int64_t offset, int64_t count) {
  const double* first = part.ptr() + slot_offset(part, b, t) + offset;
  WorkCounter::note_cache_read(first, count);
  return first;
}

Softmax softmax_with_lse(const std::vector<double>& scores) {
  double max_score = -std::numeric_limits<double>::infinity();
  for (double s : scores) max_score = std::max(max_score, s);
  Softmax result;
  result.weights.resize(scores.size());
  double sum = 0;
  for (size_t j = 0; j < scores.size(); ++j) {
    result.weights[j] = std::exp(scores[j] - max_score);
    sum += result.weights[j];
  }
  for (double& w : result.weights) w /= sum;
  result.lse = max_score + std::log(sum);
  return result;
}

HeadResult attend_cached_kv(const std::vector<double>& q, const Tensor<double>& k,
                            const Tensor<double>& v, int64_t b, int64_t kv_head, KeyRange keys,
                            double scale, std::optional<double> sink_logit) {
  const int64_t d_k = k.dim(3), d_v = v.dim(3);
  if (static_cast<int64_t>(q.size()) != d_k)
    throw std::logic_error("attend_cached_kv: query and key widths differ");
  std::vector<double> scores(keys.size());
  for (int64_t t = keys.lo; t < keys.hi; ++t) {
    const double* key = cache_elements_to_read(k, b, t, kv_head * d_k, d_k);
    scores[t - keys.lo] = dot(q.data(), key, d_k) * scale;
  }
  // The sink is the last score; no value is mixed for it (its value vector is zero).
  if (sink_logit) scores.push_back(*sink_logit);
  const Softmax softmax = softmax_with_lse(scores);
  HeadResult head;
  head.output.assign(d_v, 0.0);
  for (int64_t t = keys.lo; t < keys.hi; ++t) {
    const double* value = cache_elements_to_read(v, b, t, kv_head * d_v, d_v);
    axpy(softmax.weights[t - keys.lo], value, head.output.data(), d_v);
  }
  head.lse = softmax.lse;
  return head;
}

void write_token_result(const LayerConfig& config, const Weights& weights,
                        const std::vector<double>& concat_heads,
                        const std::vector<double>& head_lse, int64_t b, int64_t s, Result& result) {
  const std::vector<double> out = project(config, weights, "o_proj", concat_heads);
  const int64_t seq = result.out.dim(1), hidden = result.out.dim(2), heads = result.lse.dim(2);
  for (int64_t i = 0; i < hidden; ++i) result.out.data[(b * seq + s) * hidden + i] = out[i];
  for (int64_t h = 0; h < heads; ++h) result.lse.data[(b * seq + s) * heads + h] = head_lse[h];
}

}  // namespace attnlab::reference::detail
