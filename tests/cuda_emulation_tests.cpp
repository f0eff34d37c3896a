// The CUDA backend's own sources run on the CPU emulation of CUDA (kernels/cuda/emulation/):
// no device needed, so CI runs them. Every launch, GEMM and copy of the backend runs as it would
// on a device, in order; this checks its index math, masks, cache layout, cuBLAS arguments and
// error paths through the same tests as the device program (tests/cuda_common_tests.h), plus
// the row-major -> cuBLAS translation, the prefill's query chunking and the emulated
// out-of-memory path. What it cannot check: see kernels/cuda/emulation/cuda_emulation.h.
#include <random>

#include "kernels/cuda/cuda_core.h"
#include "kernels/cuda/cuda_gemm.h"
#include "tests/cuda_common_tests.h"

namespace attnlab::cuda_test {

std::vector<Implementation> cuda_under_test() {
  std::vector<Implementation> impls;
  for (ImplForm form : {ImplForm::standard, ImplForm::naive, ImplForm::absorb})
    for (DType dtype : kDTypes) {
      Implementation impl;
      impl.backend = "cuda-emulated";
      impl.form = form;
      impl.dtype = dtype;
      impl.supports = [form](const LayerConfig& c) { return form_supported(c, form); };
      impl.make_attention = [form, dtype](const LayerConfig& c, const Weights& w) {
        return cuda::make_cuda_attention(c, w, form, dtype);
      };
      impl.run_chunks = [make = impl.make_attention](const LayerConfig& c, const Weights& w,
                                                     const Tensor<double>& x,
                                                     const Tensor<int64_t>& p, int64_t chunk) {
        return run_through(*make(c, w), c, x, p, chunk);  // the registry's driver
      };
      impls.push_back(impl);
    }
  return impls;
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

TEST_CASE("cuda emulation: prefill in chunks of queries (small score budget) conforms") {
  const size_t saved = cuda::prefill_score_budget();
  cuda::set_prefill_score_budget(600);  // a few query rows per chunk
  const std::vector<CaseResult> results =
      run_conformance(load_verify_cases("ci"), cuda_test::cuda_under_test());
  cuda::set_prefill_score_budget(saved);
  check_conformance(results, 10);
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
