// The CUDA backend's own sources run on the CPU emulation of CUDA (kernels/cuda/emulation/):
// no device needed, so CI runs them. Every launch, GEMM and copy of the backend runs as it would
// on a device, in order; this checks its index math, masks, cache layout, cuBLAS arguments and
// error paths through the same tests as the device program (tests/cuda_common_tests.h), plus
// the row-major -> cuBLAS translation, the prefill's query chunking (also under the model
// features of tests/cuda_feature_tests.h), the attention kernels' key ranges that start past
// slot 0, the emulated out-of-memory path, and the emulation's own shuffled schedule (a missing
// barrier must show). What it cannot check: see kernels/cuda/emulation/cuda_emulation.h.
#include <algorithm>
#include <cmath>
#include <random>

#include "kernels/cuda/cuda_core.h"
#include "kernels/cuda/cuda_gemm.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/cuda_memory.h"
#include "tests/cuda_common_tests.h"
#include "tests/cuda_feature_tests.h"
#include "tests/cuda_latent_tests.h"
#include "tests/implementations_under_test.h"

namespace attnlab::cuda_test {

std::vector<Implementation> cuda_under_test() {
  return test::cuda_emulated_implementations();
}

}  // namespace attnlab::cuda_test

namespace {

// C = op(A) op(B) in plain row-major loops.
std::vector<float> naive_gemm(const cuda::RowMajorGemm& g, const std::vector<float>& a,
                              const std::vector<float>& b, int64_t c_size) {
  std::vector<float> c(c_size, 0.0f);
  for (int64_t p = 0; p < g.batch; ++p)
    for (int64_t i = 0; i < g.m; ++i)
      for (int64_t j = 0; j < g.n; ++j) {
        double acc = 0;
        for (int64_t l = 0; l < g.k; ++l) {
          const float av =
              g.trans_a ? a[p * g.stride_a + l * g.lda + i] : a[p * g.stride_a + i * g.lda + l];
          const float bv =
              g.trans_b ? b[p * g.stride_b + j * g.ldb + l] : b[p * g.stride_b + l * g.ldb + j];
          acc += double(av) * double(bv);
        }
        c[p * g.stride_c + i * g.ldc + j] = static_cast<float>(acc);
      }
  return c;
}

}  // namespace

namespace {

// One launch of `blocks` blocks of `threads` (<= 64) threads, each block summing
// (block + 1) * (thread + 1) over its threads through shared memory as cuda_device.cuh's
// block_sum does, every thread then reading the sum; without the second barrier, a thread that
// runs before thread 0 in the interval after the first barrier reads the sum slot before thread
// 0 has written it. Returns what every thread read, [block, thread].
std::vector<float> block_sums(bool second_barrier, unsigned blocks, unsigned threads) {
  static float scratch[64];
  static float sum;
  std::fill(std::begin(scratch), std::end(scratch), 0.0f);
  sum = 0.0f;
  std::vector<float> read(blocks * threads, NAN);
  cuda::emulated_launch(dim3(blocks), dim3(threads), [&] {
    const unsigned t = cuda::threadIdx.x, b = cuda::blockIdx.x;
    scratch[t] = float(b + 1) * float(t + 1);
    cuda::__syncthreads();
    if (t == 0) {
      float r = 0.0f;
      for (unsigned i = 0; i < cuda::blockDim.x; ++i) r += scratch[i];
      sum = r;
    }
    if (second_barrier) cuda::__syncthreads();
    read[b * threads + t] = sum;
  });
  return read;
}

// How many threads read a sum other than their block's.
int wrong_sums(const std::vector<float>& read, unsigned threads) {
  int wrong = 0;
  for (size_t i = 0; i < read.size(); ++i) {
    const float block = float(i / threads + 1);
    wrong += !(read[i] == block * float(threads * (threads + 1) / 2));
  }
  return wrong;
}

}  // namespace

TEST_CASE(
    "cuda emulation: a missing barrier shows under the shuffled schedule (not the sequential "
    "one)") {
  const uint64_t saved = cuda::emulated_schedule_seed();
  const unsigned blocks = 16, threads = 32;
  for (uint64_t seed : {cuda::kSequentialSchedule, uint64_t{1}, uint64_t{2}, uint64_t{3}}) {
    INFO("schedule seed " << seed);
    cuda::set_emulated_schedule_seed(seed);
    CHECK(wrong_sums(block_sums(true, blocks, threads), threads) == 0);
    cuda::set_emulated_schedule_seed(seed);
    const std::vector<float> racy = block_sums(false, blocks, threads);
    if (seed == cuda::kSequentialSchedule)
      CHECK(wrong_sums(racy, threads) == 0);  // thread 0 always runs first: the race is hidden
    else
      CHECK(wrong_sums(racy, threads) > 0);
    cuda::set_emulated_schedule_seed(seed);  // the same seed, the same thread orders
    CHECK(block_sums(false, blocks, threads) == racy);
  }
  cuda::set_emulated_schedule_seed(1);
  const std::vector<float> first = block_sums(false, blocks, threads);
  cuda::set_emulated_schedule_seed(2);
  CHECK(block_sums(false, blocks, threads) != first);
  cuda::set_emulated_schedule_seed(saved);
}

TEST_CASE("cuda emulation: row-major GEMMs reach cuBLAS with the right arguments") {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const cuda::Blas blas;
  for (bool trans_a : {false, true})
    for (bool trans_b : {false, true})
      for (int64_t batch : {1, 3}) {
        INFO("trans_a " << trans_a << " trans_b " << trans_b << " batch " << batch);
        cuda::RowMajorGemm g;
        g.m = 5;
        g.n = 7;
        g.k = 4;
        g.trans_a = trans_a;
        g.trans_b = trans_b;
        g.lda = (trans_a ? g.m : g.k) + 2;  // padded rows
        g.ldb = (trans_b ? g.k : g.n) + 1;
        g.ldc = g.n + 3;
        g.stride_a = (trans_a ? g.k : g.m) * g.lda + 5;
        g.stride_b = (trans_b ? g.n : g.k) * g.ldb + 1;
        g.stride_c = g.m * g.ldc + 2;
        g.batch = batch;
        std::vector<float> a(batch * g.stride_a), b(batch * g.stride_b);
        for (float& v : a) v = dist(rng);
        for (float& v : b) v = dist(rng);
        const int64_t c_size = batch * g.stride_c;
        cuda::DeviceBuffer da(a.size() * 4, "a"), db(b.size() * 4, "b"), dc(c_size * 4, "c");
        cuda::copy_to_device(da.get(), a.data(), a.size() * 4);
        cuda::copy_to_device(db.get(), b.data(), b.size() * 4);
        std::vector<float> zeros(c_size, 0.0f), c(c_size);
        cuda::copy_to_device(dc.get(), zeros.data(), c_size * 4);
        g.a = da.floats();
        g.b = db.floats();
        g.c = dc.floats();
        blas.gemm(g);
        cuda::copy_to_host(c.data(), dc.get(), c_size * 4);
        const std::vector<float> expected = naive_gemm(g, a, b, c_size);
        for (int64_t i = 0; i < c_size; ++i) REQUIRE(c[i] == Approx(expected[i]).margin(1e-5));
      }
}

TEST_CASE("cuda emulation: a bad leading dimension is a cuBLAS error, not a wrong result") {
  const cuda::Blas blas;
  cuda::DeviceBuffer buffer(64 * 4, "buffer");
  cuda::RowMajorGemm g;
  g.m = g.n = g.k = 4;
  g.a = g.b = buffer.floats();
  g.c = buffer.floats();
  g.lda = 4;
  g.ldb = 4;
  g.ldc = 3;  // < n
  CHECK_THROWS_WITH(blas.gemm(g), Catch::Contains("CUBLAS_STATUS_INVALID_VALUE"));
}

TEST_CASE("cuda emulation: prefill in chunks of queries (small score budget) conforms",
          "[conformance][schedules]") {
  const size_t saved = cuda::prefill_score_budget();
  cuda::set_prefill_score_budget(600);  // a few query rows per chunk
  const std::vector<CaseResult> results =
      run_conformance(load_verify_cases("ci"), cuda_test::cuda_under_test());
  cuda::set_prefill_score_budget(saved);
  check_conformance(results, 10);
}

TEST_CASE("cuda emulation: the model features in chunks of queries (small score budget) conform",
          "[conformance]") {
  // A few query rows per chunk: every chunk's key block starts at its first query's window.
  const size_t saved = cuda::prefill_score_budget();
  cuda::set_prefill_score_budget(600);
  const int plain_passes = cuda_test::check_features_against_plain_loop();
  const int reference_passes = cuda_test::check_features_against_reference();
  cuda::set_prefill_score_budget(saved);
  CHECK(plain_passes == 6 * 3 * 4);
  CHECK(reference_passes > 6 * 3 * 4 + 2 * 3 * 4);
}

TEST_CASE("cuda emulation: running out of device memory is an 'out of device memory' error") {
  const Layer layer = tiny("tiny-gqa");
  const auto attention =
      cuda::make_cuda_attention(layer.config, layer.weights, ImplForm::standard, DType::fp32);
  cuda::set_emulated_memory_limit(cuda::emulated_bytes_in_use() + 4096);
  CHECK_THROWS_WITH(attention->make_cache(1, 1000), Catch::Contains("out of device memory"));
  CHECK_THROWS_WITH(
      cuda::make_cuda_attention(layer.config, layer.weights, ImplForm::standard, DType::fp32),
      Catch::Contains("out of device memory"));
  cuda::set_emulated_memory_limit(0);
  CHECK(cuda::cudaGetLastError() == cuda::cudaSuccess);  // the error was cleared
  auto cache = attention->make_cache(1, 8);
  CHECK(all_finite(step(*attention, layer.config, *cache, 1, 3, 0, 1)));
}

namespace {

// q . k_t * scale over the slots [lo, hi): the softmax's max and sum in double, and its
// normalised output over `values` (rows of `dim`).
struct RangeSoftmax {
  double max = -INFINITY, sum = 0;
  std::vector<double> out;
};
RangeSoftmax range_softmax(const float* q, const std::vector<float>& keys,
                           const std::vector<float>& values, int64_t dim, int64_t lo, int64_t hi,
                           float scale) {
  RangeSoftmax r;
  std::vector<double> x(hi - lo);
  for (int64_t t = lo; t < hi; ++t) {
    double dot = 0;
    for (int64_t i = 0; i < dim; ++i) dot += double(q[i]) * double(keys[t * dim + i]);
    x[t - lo] = dot * scale;
    r.max = std::max(r.max, x[t - lo]);
  }
  r.out.assign(dim, 0.0);
  for (int64_t t = lo; t < hi; ++t) {
    const double e = std::exp(x[t - lo] - r.max);
    r.sum += e;
    for (int64_t i = 0; i < dim; ++i) r.out[i] += e * values[t * dim + i];
  }
  for (double& v : r.out) v /= r.sum;
  return r;
}

std::vector<float> download(const cuda::DeviceBuffer& buffer, size_t count) {
  std::vector<float> host(count);
  cuda::copy_to_host(host.data(), buffer.get(), count * sizeof(float));
  return host;
}

}  // namespace

// Today's mask is causal from slot 0, so the conformance suite never sees lo > 0. This feeds the
// kernels key ranges that start past 0 and differ per token (as a sliding window would), so a
// kernel that assumes [0, length + s + 1), or ignores lo, fails here.
TEST_CASE("cuda emulation: attention kernels attend over each token's key range (lo > 0) only",
          "[conformance]") {
  const int64_t capacity = 600, dim = 4, heads = 2, seq = 2;
  const std::vector<int64_t> ranges = {100, 399, 37, 600};  // token 0: [100, 399), 1: [37, 600)
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> keys(capacity * dim), values(capacity * dim), q(seq * heads * dim);
  for (auto* v : {&keys, &values, &q})
    for (float& x : *v) x = dist(rng);
  const cuda::DeviceBuffer device_keys = cuda::upload(keys, "keys");
  const cuda::DeviceBuffer device_values = cuda::upload(values, "values");
  const cuda::DeviceBuffer device_q = cuda::upload(q, "q");
  cuda::DeviceBuffer device_ranges(ranges.size() * sizeof(int64_t), "ranges");
  cuda::copy_to_device(device_ranges.get(), ranges.data(), ranges.size() * sizeof(int64_t));

  cuda::AttendShape shape;  // one sequence, one kv head shared by both query heads
  shape.batch = 1;
  shape.seq = seq;
  shape.heads = heads;
  shape.kv_heads = 1;
  shape.group = heads;
  shape.length = capacity - seq;
  shape.key_dim = shape.value_dim = dim;
  shape.scale = 0.5f;
  shape.key_ranges = static_cast<const int64_t*>(device_ranges.get());

  SECTION("split-KV decode and its combine") {
    cuda::KeyValueParts kv;
    kv.key[0] = {device_keys.get(), DType::fp32, 1, 1, capacity, dim};
    kv.key_parts = 1;
    kv.value = {device_values.get(), DType::fp32, 1, 1, capacity, dim};
    const int64_t splits = cuda::splits_for(600 - 37);
    REQUIRE(splits == 3);
    const int64_t query_heads = seq * heads;
    cuda::DeviceBuffer partials(query_heads * splits * dim * 4, "partials");
    cuda::DeviceBuffer stats(query_heads * splits * 2 * 4, "stats");
    cuda::DeviceBuffer out(query_heads * dim * 4, "out"), lse(query_heads * 4, "lse");
    cuda::split_attend(shape, device_q.floats(), nullptr, kv, splits, partials.floats(),
                       stats.floats());
    cuda::combine_splits(shape, splits, partials.floats(), stats.floats(), out.floats(),
                         lse.floats());
    const std::vector<float> got = download(out, query_heads * dim);
    const std::vector<float> got_lse = download(lse, query_heads);
    for (int64_t s = 0; s < seq; ++s)
      for (int64_t h = 0; h < heads; ++h) {
        const int64_t qh = s * heads + h;
        const RangeSoftmax want = range_softmax(&q[qh * dim], keys, values, dim, ranges[2 * s],
                                                ranges[2 * s + 1], shape.scale);
        CHECK(got_lse[qh] == Approx(want.max + std::log(want.sum)).margin(1e-5));
        for (int64_t i = 0; i < dim; ++i)
          CHECK(got[qh * dim + i] == Approx(want.out[i]).margin(1e-5));
      }
  }

  SECTION("prefill's masked softmax over a key block that starts past slot 0") {
    const int64_t first_key = 37, tokens = capacity - first_key, rows = seq * heads;
    std::vector<float> scores(rows * tokens);  // row r = s * group + h: raw q . k
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t t = 0; t < tokens; ++t) {
        float dot = 0.0f;
        for (int64_t i = 0; i < dim; ++i) dot += q[r * dim + i] * keys[(first_key + t) * dim + i];
        scores[r * tokens + t] = dot;
      }
    const cuda::DeviceBuffer device_scores = cuda::upload(scores, "scores");
    cuda::DeviceBuffer lse(rows * 4, "lse");
    cuda::masked_softmax(shape, device_scores.floats(), 0, seq, first_key, tokens, nullptr,
                         lse.floats());
    const std::vector<float> p = download(device_scores, rows * tokens);
    const std::vector<float> got_lse = download(lse, rows);
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t s = r / heads, lo = ranges[2 * s], hi = ranges[2 * s + 1];
      const RangeSoftmax want = range_softmax(&q[r * dim], keys, values, dim, lo, hi, shape.scale);
      CHECK(got_lse[r] == Approx(want.max + std::log(want.sum)).margin(1e-5));
      for (int64_t t = 0; t < tokens; ++t) {
        const int64_t slot = first_key + t;
        if (slot < lo || slot >= hi) {
          REQUIRE(p[r * tokens + t] == 0.0f);
        } else {
          const double x = double(scores[r * tokens + t]) * shape.scale;
          REQUIRE(p[r * tokens + t] == Approx(std::exp(x - want.max) / want.sum).margin(1e-6));
        }
      }
    }
  }
}
