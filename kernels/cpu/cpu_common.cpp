// Building blocks of the plain CPU backend; see cpu_common.h.
#include "kernels/cpu/cpu_common.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <Eigen/Dense>

#include "core/error.h"
#include "variants/variant_spec.h"

namespace attnlab::cpu {

namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

}  // namespace

std::vector<float> to_float(const Tensor<double>& tensor) {
  return std::vector<float>(tensor.data.begin(), tensor.data.end());
}

Linear Linear::load(const LayerConfig& config, const Weights& weights, const std::string& name) {
  Linear linear;
  const Tensor<double>& weight = weights.get(name + ".weight");
  linear.out_features = weight.dim(0);
  linear.in_features = weight.dim(1);
  linear.weight = to_float(weight);
  if (config.has_bias(name)) linear.bias = to_float(weights.get(name + ".bias"));
  return linear;
}

void Linear::apply(const float* x, int64_t rows, float* y) const {
  Eigen::Map<const RowMatrix> input(x, rows, in_features);
  Eigen::Map<const RowMatrix> w(weight.data(), out_features, in_features);
  Eigen::Map<RowMatrix> output(y, rows, out_features);
  output.noalias() = input * w.transpose();
  if (!bias.empty())
    output.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(bias.data(), out_features);
}

void rms_norm_rows(float* x, int64_t rows, int64_t dim, int64_t stride,
                   const std::vector<float>& weight, double eps) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * stride;
    float sum_squares = 0;
    for (int64_t i = 0; i < dim; ++i) sum_squares += row[i] * row[i];
    const float inv_rms =
        1.0f / std::sqrt(sum_squares / static_cast<float>(dim) + static_cast<float>(eps));
    for (int64_t i = 0; i < dim; ++i) row[i] = row[i] * inv_rms * weight[i];
  }
}

std::vector<float> qk_norm_weight(const LayerConfig& config, const Weights& weights,
                                  const std::string& name) {
  const Tensor<double>& weight = weights.get(name);
  std::vector<float> effective(weight.data.size());
  for (size_t i = 0; i < effective.size(); ++i)
    effective[i] = static_cast<float>(weight.data[i] + config.qk_norm_weight_offset);
  return effective;
}

void fold_sink(float* out, int64_t value_dim, float* lse, float sink) {
  const float shift = std::max(*lse, sink);
  const float folded = shift + std::log(std::exp(*lse - shift) + std::exp(sink - shift));
  const float keep = std::exp(*lse - folded);
  for (int64_t i = 0; i < value_dim; ++i) out[i] *= keep;
  *lse = folded;
}

float softmax_in_place(float* scores, int64_t n_keys, float* lse) {
  float max_score = -std::numeric_limits<float>::infinity();
  for (int64_t t = 0; t < n_keys; ++t) max_score = std::max(max_score, scores[t]);
  float sum = 0;
  for (int64_t t = 0; t < n_keys; ++t) {
    scores[t] = std::exp(scores[t] - max_score);
    sum += scores[t];
  }
  if (lse != nullptr) *lse = max_score + std::log(sum);
  return sum;
}

float dot(const float* a, const float* b, int64_t n) {
  return Eigen::Map<const Eigen::VectorXf>(a, n).dot(Eigen::Map<const Eigen::VectorXf>(b, n));
}

void add_scaled(float* out, const float* x, float weight, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] += weight * x[i];
}

PlainCache::PlainCache(int64_t batch, int64_t capacity, std::string owner,
                       const std::vector<int64_t>& part_elements_per_token)
    : KvCache(batch, capacity), owner_(std::move(owner)), part_elements_(part_elements_per_token) {
  const float poison = std::numeric_limits<float>::quiet_NaN();
  for (int64_t elements : part_elements_)
    parts_.emplace_back(static_cast<size_t>(batch * capacity * elements), poison);
}

size_t PlainCache::bytes_allocated() const {
  size_t bytes = 0;
  for (const std::vector<float>& part : parts_) bytes += part.size() * sizeof(float);
  return bytes;
}

void PlainCache::fill_synthetic(int64_t tokens, uint64_t seed) {
  if (tokens < 0 || tokens > capacity())
    throw Error("cannot fill " + std::to_string(tokens) + " tokens into a KV cache of capacity " +
                std::to_string(capacity()));
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t part = 0; part < parts_.size(); ++part)
    for (int64_t b = 0; b < batch(); ++b) {
      float* first = parts_[part].data() + b * capacity() * part_elements_[part];
      for (int64_t i = 0; i < tokens * part_elements_[part]; ++i) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;  // LCG: fast, enough here
        first[i] = static_cast<float>(static_cast<int64_t>(state >> 40) - (1 << 23)) * 0x1p-23f;
      }
    }
  rewind(0);
  CacheWriter::advance(*this, tokens);
}

const float* PlainCache::slot(size_t part, int64_t b, int64_t t) const {
  return parts_[part].data() + (b * capacity() + t) * part_elements_[part];
}

void PlainCache::store(size_t part, int64_t b, int64_t t, int64_t offset, const float* values,
                       int64_t count) {
  float* first = parts_[part].data() + (b * capacity() + t) * part_elements_[part] + offset;
  std::copy_n(values, count, first);
}

std::vector<float> PlainCache::read_part(int part) const {
  check_part(part);
  return parts_[part];
}

void PlainCache::write_part(int part, const std::vector<float>& values) {
  check_part(part);
  check_part_values(part, parts_[part].size(), values.size());
  const int64_t width = part_elements_[part];
  for (int64_t b = 0; b < batch(); ++b)
    for (int64_t t = 0; t < capacity(); ++t)
      store(part, b, t, 0, values.data() + (b * capacity() + t) * width, width);
}

void throw_foreign_cache(const std::string& owner) {
  throw Error("KV cache was not made by this attention (" + owner +
              "): use this attention's make_cache()");
}

void check_cache_request(int64_t batch, int64_t capacity) {
  if (batch < 1) throw Error("KV cache batch must be >= 1, got " + std::to_string(batch));
  if (capacity < 1) throw Error("KV cache capacity must be >= 1, got " + std::to_string(capacity));
}

void check_forward(const PlainCache& cache, const std::string& owner, int64_t batch, int64_t seq) {
  if (cache.owner() != owner)
    throw Error("KV cache was made by another attention (" + cache.owner() + "), not by " + owner);
  if (batch != cache.batch())
    throw Error("batch " + std::to_string(batch) + " does not match the KV cache's batch " +
                std::to_string(cache.batch()));
  if (seq < 1) throw Error("forward needs at least 1 new token, got " + std::to_string(seq));
  if (cache.length() + seq > cache.capacity())
    throw Error("KV cache full: " + std::to_string(cache.length()) + " cached + " +
                std::to_string(seq) + " new > capacity " + std::to_string(cache.capacity()));
}

float softmax_scale(const LayerConfig& config, Fault fault) {
  if (fault == Fault::softmax_scale) return 1.0f / static_cast<float>(config.qk_head_dim());
  return static_cast<float>(config.scale());
}

RopeSpec rope_spec(const LayerConfig& config, Fault fault) {
  RopeSpec spec = attnlab::rope_spec(config);
  if (fault == Fault::rope_pairs && spec.layout != RopeLayout::none)
    spec.layout =
        spec.layout == RopeLayout::interleaved ? RopeLayout::half_split : RopeLayout::interleaved;
  return spec;
}

KeyRange visible_keys(const MaskSpec& mask, int64_t length, int64_t s, int64_t seq, Fault fault) {
  KeyRange keys = mask.keys_for(length + s);
  if (fault == Fault::window_ignored) keys.lo = 0;
  if (fault == Fault::causal_off_by_one) keys.hi = std::min(keys.hi + 1, length + seq);
  return keys;
}

int64_t write_slot(int64_t length, int64_t s, Fault fault) {
  return fault == Fault::cache_offset_ignored ? s : length + s;
}

int64_t output_head(int64_t h, int64_t n_heads, Fault fault) {
  return fault == Fault::heads_permuted ? (h + 1) % n_heads : h;
}

int64_t latent_head(int64_t h, const LayerConfig& config, Fault fault) {
  const int64_t groups = config.n_latent_heads, group = h / (config.n_heads / groups);
  return fault == Fault::latent_group_swapped ? (group + 1) % groups : group;
}

}  // namespace attnlab::cpu
