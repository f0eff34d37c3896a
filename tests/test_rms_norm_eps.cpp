// RMSNorm's eps placement, y = x * w / sqrt(mean(x^2) + eps), pinned where it matters: on
// latents so small (~1e-4, mean square ~1e-8) that eps = 1e-6 dominates the root, where
// sqrt(mean(x^2)) + eps, x / sqrt(mean(x^2)) + eps or sqrt(mean(x^2) + eps^2) are 3-10x off. The
// RMSNorm blocks of the reference, the CPU backends and the CUDA backend (on its CPU emulation)
// against a long-double formula; then every MLA implementation that can run here (the q_a /
// kv_a layernorms) against the fp64 reference on inputs of 1e-4, where the reference's own output
// is shown to hang on eps.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "core/presets.h"
#include "core/weights.h"
#include "kernels/cpu/cpu_common.h"
#include "reference/reference_attention.h"
#include "registry/driver.h"
#include "tests/implementations_under_test.h"
#include "verify/conformance.h"
#include "verify/tolerance.h"
#ifdef ATTNLAB_CUDA_EMULATION
#include "kernels/cuda/cuda_kernels.h"
#endif

using namespace attnlab;

namespace {

constexpr double kEps = 1e-6;

// Rows of width 6 at three magnitudes: eps dominates (1e-4), eps comparable (1e-3), eps
// negligible (1e4: squares of 1e8, far from fp32 overflow but 1e14 above eps).
const std::vector<std::vector<double>> kRows = {
    {1e-4, -3e-4, 2e-4, 5e-4, -1e-4, 0.5e-4},
    {1e-3, 2e-3, -0.5e-3, 0.7e-3, -1.5e-3, 1e-3},
    {1e4, -2e4, 0.5e4, 3e4, -1e4, 2.5e4},
};
const std::vector<double> kWeight = {1.0, 0.5, 2.0, -1.0, 1.5, 0.25};

// The definition, in long double: x * w / sqrt(mean(x^2) + eps).
std::vector<double> rms_norm_definition(const std::vector<double>& x) {
  long double mean_square = 0;
  for (double v : x) mean_square += static_cast<long double>(v) * v;
  mean_square /= x.size();
  const long double root = std::sqrt(mean_square + kEps);
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = static_cast<double>(x[i] * kWeight[i] / root);
  return y;
}

// max |a - e| / max |e| over a row.
double relative_error(const std::vector<double>& actual, const std::vector<double>& expected) {
  double worst = 0, largest = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    worst = std::max(worst, std::abs(actual[i] - expected[i]));
    largest = std::max(largest, std::abs(expected[i]));
  }
  return worst / largest;
}

// fp32 rows through an in-place float RMSNorm (the CPU or CUDA block).
template <class Norm>
std::vector<std::vector<double>> through_float(Norm norm) {
  const int64_t dim = static_cast<int64_t>(kWeight.size());
  std::vector<float> x;
  for (const auto& row : kRows)
    for (double v : row) x.push_back(static_cast<float>(v));
  const std::vector<float> w(kWeight.begin(), kWeight.end());
  norm(x.data(), static_cast<int64_t>(kRows.size()), dim, w);
  std::vector<std::vector<double>> y;
  for (size_t r = 0; r < kRows.size(); ++r)
    y.emplace_back(x.begin() + r * dim, x.begin() + (r + 1) * dim);
  return y;
}

}  // namespace

TEST_CASE("the definition used here tells eps placements apart on tiny rows", "[rms_norm]") {
  // Guard for the tests below: on the 1e-4 row the wrong placements are far off.
  const std::vector<double>& x = kRows[0];
  double mean_square = 0;
  for (double v : x) mean_square += v * v;
  mean_square /= x.size();
  const double right = std::sqrt(mean_square + kEps);
  CHECK(right / (std::sqrt(mean_square) + kEps) > 3);
  CHECK(right / std::sqrt(mean_square + kEps * kEps) > 3);
}

TEST_CASE("the reference's RMSNorm puts eps inside the root", "[rms_norm][reference]") {
  const Tensor<double> weight({static_cast<int64_t>(kWeight.size())}, kWeight);
  for (const auto& row : kRows) {
    INFO("row starting " << row[0]);
    CHECK(relative_error(reference::rms_norm(row, weight, kEps), rms_norm_definition(row)) <=
          1e-14);
  }
}

TEST_CASE("the CPU backends' RMSNorm puts eps inside the root", "[rms_norm][cpu]") {
  const auto y =
      through_float([](float* x, int64_t rows, int64_t dim, const std::vector<float>& w) {
        cpu::rms_norm_rows(x, rows, dim, dim, w, kEps);
      });
  for (size_t r = 0; r < kRows.size(); ++r) {
    INFO("row starting " << kRows[r][0]);
    CHECK(relative_error(y[r], rms_norm_definition(kRows[r])) <= 1e-6);  // fp32: a few ulps
  }
}

#ifdef ATTNLAB_CUDA_EMULATION
TEST_CASE("the CUDA backend's RMSNorm kernel (emulated) puts eps inside the root",
          "[rms_norm][cuda]") {
  const auto y = through_float([](float* x, int64_t rows, int64_t dim,
                                  const std::vector<float>& w) {
    cuda::rms_norm(x, rows, dim, dim, w.data(), static_cast<float>(kEps));  // host = device memory
  });
  for (size_t r = 0; r < kRows.size(); ++r) {
    INFO("row starting " << kRows[r][0]);
    CHECK(relative_error(y[r], rms_norm_definition(kRows[r])) <= 1e-6);
  }
}
#endif

TEST_CASE("every MLA implementation normalises its latents with eps inside the root",
          "[rms_norm][mla]") {
  for (const char* model : {"tiny-mla", "tiny-mla-lite"}) {
    LayerConfig config = load_preset(model);
    config.rms_norm_eps = kEps;
    // No bias before the norms: a bias of ~0.5 would lift the latents far above sqrt(eps).
    config.biases.erase("q_a_proj");
    config.biases.erase("kv_a_proj_with_mqa");
    INFO(model);
    const Weights weights = random_weights(config, 21);
    Tensor<double> x = random_activations(2, 6, config.hidden_size, 22);
    for (double& v : x.data) v *= 1e-4;
    const Tensor<int64_t> positions = sequential_positions(2, 6);
    const Implementation& reference = find_implementation("reference", ImplForm::naive);
    const RunOutput truth = reference.run(config, weights, x, positions, Phase::prefill);
    // eps dominates: a hundredfold smaller eps changes the reference's output by O(1).
    LayerConfig small_eps = config;
    small_eps.rms_norm_eps = kEps / 100;
    CaseResult sensitivity;
    judge(reference.run(small_eps, weights, x, positions, Phase::prefill), truth,
          tolerance_for(DType::bf16), sensitivity);
    CHECK(sensitivity.status == CaseStatus::fail);
    CHECK(sensitivity.nmse > 0.1);
    int ran = 0;
    for (const Implementation& impl : test::implementations_under_test()) {
      if (!impl.supports(config)) continue;
      for (Phase phase : {Phase::prefill, Phase::decode}) {
        CaseResult r;
        judge(impl.run(config, weights, x, positions, phase), truth, tolerance_for(impl.dtype), r);
        INFO(impl.id() << " " << to_string(phase) << ": " << r.detail << " (NMSE " << r.nmse
                       << ")");
        CHECK(r.status == CaseStatus::pass);
      }
      ++ran;
    }
    CHECK(ran >= 6);
  }
}
