// The one chunk driver and token slicer; see driver.h.
#include "registry/driver.h"

#include <algorithm>
#include <memory>
#include <string>

#include "core/error.h"
#include "reference/reference_attention.h"

namespace attnlab {

namespace {

// Elements per token of a [B, S, ...] tensor.
template <class T>
int64_t token_width(const Tensor<T>& t) {
  int64_t width = 1;
  for (size_t i = 2; i < t.shape.size(); ++i) width *= t.shape[i];
  return width;
}

void check_chunks(const std::vector<int64_t>& chunks, int64_t tokens) {
  int64_t sum = 0;
  for (int64_t n : chunks) {
    if (n < 1) throw Error("a chunk must hold at least one token");
    sum += n;
  }
  if (sum != tokens)
    throw Error("chunks cover " + std::to_string(sum) + " tokens, expected " +
                std::to_string(tokens));
}

}  // namespace

template <class T>
Tensor<T> token_slice(const Tensor<T>& t, int64_t begin, int64_t count) {
  const int64_t batch = t.dim(0), seq = t.dim(1), width = token_width(t);
  Shape shape = t.shape;
  shape[1] = count;
  Tensor<T> part(shape);
  for (int64_t b = 0; b < batch; ++b)
    std::copy_n(t.data.begin() + (b * seq + begin) * width, count * width,
                part.data.begin() + b * count * width);
  return part;
}

template <class T>
Tensor<T> sequence_slice(const Tensor<T>& t, int64_t begin, int64_t count) {
  Shape shape = t.shape;
  shape[0] = 1;
  const int64_t per_sequence = shape_numel(shape);
  shape[0] = count;
  return Tensor<T>(shape, std::vector<T>(t.data.begin() + begin * per_sequence,
                                         t.data.begin() + (begin + count) * per_sequence));
}

template Tensor<double> token_slice(const Tensor<double>&, int64_t, int64_t);
template Tensor<float> token_slice(const Tensor<float>&, int64_t, int64_t);
template Tensor<int64_t> token_slice(const Tensor<int64_t>&, int64_t, int64_t);
template Tensor<double> sequence_slice(const Tensor<double>&, int64_t, int64_t);
template Tensor<float> sequence_slice(const Tensor<float>&, int64_t, int64_t);
template Tensor<int64_t> sequence_slice(const Tensor<int64_t>&, int64_t, int64_t);

RunOutput token_slice(const RunOutput& r, int64_t begin, int64_t count) {
  return {token_slice(r.out, begin, count), token_slice(r.lse, begin, count), r.cache_bytes};
}

RunOutput sequence_slice(const RunOutput& r, int64_t begin, int64_t count) {
  return {sequence_slice(r.out, begin, count), sequence_slice(r.lse, begin, count), r.cache_bytes};
}

template <class Src>
void put_tokens(const Src* part, Tensor<double>& whole, int64_t begin, int64_t count) {
  const int64_t batch = whole.dim(0), seq = whole.dim(1), width = token_width(whole);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < count * width; ++i)
      whole.data[(b * seq + begin) * width + i] = static_cast<double>(part[b * count * width + i]);
}

template void put_tokens(const float*, Tensor<double>&, int64_t, int64_t);
template void put_tokens(const double*, Tensor<double>&, int64_t, int64_t);

std::vector<int64_t> even_chunks(int64_t tokens, int64_t chunk) {
  if (chunk < 1) throw Error("chunk must be >= 1, got " + std::to_string(chunk));
  std::vector<int64_t> chunks;
  for (int64_t first = 0; first < tokens; first += chunk)
    chunks.push_back(std::min(chunk, tokens - first));
  return chunks;
}

void check_run_inputs(const LayerConfig& config, const Tensor<double>& x,
                      const Tensor<int64_t>& positions) {
  if (x.shape.size() != 3 || x.shape[2] != config.hidden_size)
    throw Error("hidden_states has shape " + shape_to_string(x.shape) + ", expected [batch, seq, " +
                std::to_string(config.hidden_size) + "]");
  if (x.shape[0] < 1 || x.shape[1] < 1)
    throw Error("hidden_states has shape " + shape_to_string(x.shape) +
                ": batch and seq must be >= 1");
  if (positions.shape != Shape{x.shape[0], x.shape[1]})
    throw Error("position_ids has shape " + shape_to_string(positions.shape) + ", expected " +
                shape_to_string({x.shape[0], x.shape[1]}));
}

RunOutput run_through(const Attention& attention, const LayerConfig& config,
                      const Tensor<double>& x, const Tensor<int64_t>& positions,
                      const std::vector<int64_t>& chunks, int64_t slack) {
  check_run_inputs(config, x, positions);
  const int64_t batch = x.dim(0), seq = x.dim(1);
  check_chunks(chunks, seq);
  RunOutput r{Tensor<double>({batch, seq, config.hidden_size}),
              Tensor<double>({batch, seq, config.n_heads}), 0};
  const std::unique_ptr<KvCache> cache = attention.make_cache(batch, seq + slack);
  r.cache_bytes = cache->bytes_allocated();
  int64_t first = 0;
  for (int64_t n : chunks) {
    const Tensor<double> xs = token_slice(x, first, n);
    const std::vector<float> xf(xs.data.begin(), xs.data.end());
    const Tensor<int64_t> ps = token_slice(positions, first, n);
    std::vector<float> out(batch * n * config.hidden_size), lse(batch * n * config.n_heads);
    attention.forward(xf.data(), ps.ptr(), batch, n, *cache, out.data(), lse.data());
    put_tokens(out.data(), r.out, first, n);
    put_tokens(lse.data(), r.lse, first, n);
    first += n;
  }
  return r;
}

RunOutput run_through(const Attention& attention, const LayerConfig& config,
                      const Tensor<double>& x, const Tensor<int64_t>& positions, int64_t chunk) {
  check_run_inputs(config, x, positions);
  return run_through(attention, config, x, positions, even_chunks(x.dim(1), chunk));
}

RunOutput run_reference_through(const LayerConfig& config, const Weights& weights, ImplForm form,
                                const Tensor<double>& x, const Tensor<int64_t>& positions,
                                const std::vector<int64_t>& chunks) {
  check_run_inputs(config, x, positions);
  const int64_t batch = x.dim(0), seq = x.dim(1);
  check_chunks(chunks, seq);
  RunOutput r{Tensor<double>({batch, seq, config.hidden_size}),
              Tensor<double>({batch, seq, config.n_heads}), 0};
  reference::Cache cache;
  int64_t first = 0;
  for (int64_t n : chunks) {
    const reference::Result part = reference::forward(
        config, weights, form, token_slice(x, first, n), token_slice(positions, first, n), cache);
    put_tokens(part.out.ptr(), r.out, first, n);
    put_tokens(part.lse.ptr(), r.lse, first, n);
    first += n;
  }
  for (const Tensor<double>& part : cache.parts) r.cache_bytes += part.numel() * sizeof(double);
  return r;
}

}  // namespace attnlab
