// Test cases shared by the two CUDA test programs, included once into each:
//   tests/cuda_tests.cpp            the CUDA backend on a device (attnlab_kernels_cuda, through
//                                   the registry); exits 77 "skipped: no CUDA device" without one;
//   tests/cuda_emulation_tests.cpp  the same backend sources built against the CPU emulation
//                                   (attnlab_kernels_cuda_emulated); runs everywhere.
// attnlab::cuda::X names the device build or the emulated build depending on which program
// includes this (ATTNLAB_CUDA_EMULATION). Each program defines cuda_under_test(): the nine
// Implementation entries (three forms x fp32, bf16, fp16) to check.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/presets.h"
#include "core/weights.h"
#include "kernels/cuda/cuda_attention.h"
#include "kernels/cuda/cuda_cache.h"
#include "registry/registry.h"
#include "tests/attention_contract.h"
#include "tests/store_rounding_contract.h"
#include "variants/variant_spec.h"
#include "verify/checks.h"
#include "verify/conformance.h"
#include "verify/tolerance.h"
#include "verify/verify_config.h"

namespace attnlab::cuda_test {

std::vector<Implementation> cuda_under_test();

struct FormCase {
  const char* model;
  ImplForm form;
};
inline const FormCase kForms[] = {
    {"tiny-mha", ImplForm::standard},    {"tiny-gqa", ImplForm::standard},
    {"tiny-mqa", ImplForm::standard},    {"tiny-mla", ImplForm::naive},
    {"tiny-mla", ImplForm::absorb},      {"tiny-mla-lite", ImplForm::naive},
    {"tiny-mla-lite", ImplForm::absorb}, {"tiny-gta", ImplForm::standard},
    {"tiny-gla", ImplForm::naive},       {"tiny-gla", ImplForm::absorb},
    {"tiny-gla4", ImplForm::absorb}};
inline const DType kDTypes[] = {DType::fp32, DType::bf16, DType::fp16};

// Every row PASS or SKIP, and every implementation passes at least `min_passes` rows.
inline void check_conformance(const std::vector<CaseResult>& results, int min_passes) {
  for (const CaseResult& r : results) {
    INFO(r.case_name << " " << r.check << " " << r.impl << ": " << r.detail << " (NMSE " << r.nmse
                     << ", max abs " << r.max_abs_error << ", lse " << r.lse_max_abs_error << ")");
    CHECK(r.status != CaseStatus::fail);
  }
  for (const Implementation& impl : cuda_under_test()) {
    int passed = 0;
    for (const CaseResult& r : results)
      passed += r.impl == impl.id() && r.status == CaseStatus::pass;
    INFO(impl.id());
    CHECK(passed >= min_passes);
  }
}

struct Layer {
  LayerConfig config;
  Weights weights;
};
inline Layer tiny(const char* model, uint64_t seed = 7) {
  const LayerConfig config = load_preset(model);
  return {config, random_weights(config, seed)};
}

// One forward of `seq` tokens of `batch` sequences, and the finiteness test: the contract's.
using contract::all_finite;
using contract::step;

}  // namespace attnlab::cuda_test

using namespace attnlab;
using namespace attnlab::cuda_test;

// The cases tagged [schedules] are also run under several emulation schedule seeds
// (tests/CMakeLists.txt).
TEST_CASE("cuda: every form and cache dtype conforms to the fp64 reference on the ci cases",
          "[conformance][schedules]") {
  check_conformance(run_conformance(load_verify_cases("ci"), cuda_under_test()), 10);
}

TEST_CASE("cuda: every form and cache dtype conforms on the default verify cases",
          "[conformance]") {
  check_conformance(run_conformance(load_verify_cases("default"), cuda_under_test()), 30);
}

TEST_CASE("cuda: decode past one split of the context (split-KV combine) matches the reference",
          "[conformance]") {
  // 300 tokens one at a time: from token 257 on, a query's keys span two splits.
  for (const char* model : {"tiny-gqa", "tiny-mla"}) {
    const VerifyCase spec{model, 1, 300, 11, false};
    const CaseData data = prepare_case(spec);
    for (const Implementation& impl : cuda_under_test()) {
      if (!impl.supports(data.config) || impl.dtype != DType::fp32) continue;
      CaseResult r;
      judge(impl.run(data.config, data.weights, data.x, data.positions, Phase::decode), data.truth,
            tolerance_for(impl.dtype), r);
      INFO(model << " " << impl.id() << ": " << r.detail << " NMSE " << r.nmse);
      CHECK(r.status == CaseStatus::pass);
    }
  }
}

TEST_CASE("cuda: every form and cache dtype keeps the Attention / KvCache contract") {
  // tests/attention_contract.h, the checks every registry entry goes through: cache size, NaN
  // in never-written slots, misuse errors, rewind and fill_synthetic.
  CHECK(contract::check_contract(cuda_under_test()) == 7 * 3);
}

TEST_CASE("cuda: every cache dtype stores fp32 values as core/dtype.h rounds them") {
  // tests/store_rounding_contract.h: ties to even, subnormals, overflow, -0, inf and NaN,
  // written through store_tokens (forward()'s store kernel) and read back from the cache.
  CHECK(store_rounding::check_store_rounding(cuda_under_test()) == 3 * 3);
}

TEST_CASE("cuda: never-written cache slots are NaN, written ones finite") {
  for (const FormCase& f : kForms)
    for (DType dtype : kDTypes) {
      INFO(f.model << " " << to_string(f.form) << " " << to_string(dtype));
      const Layer layer = tiny(f.model);
      const auto attention = cuda::make_cuda_attention(layer.config, layer.weights, f.form, dtype);
      const int64_t batch = 2, capacity = 12, seq = 5;
      auto cache = attention->make_cache(batch, capacity);
      auto& own = dynamic_cast<cuda::CudaCache&>(*cache);
      for (int p = 0; p < own.part_count(); ++p)
        for (float v : own.read_part(p)) REQUIRE(std::isnan(v));
      const std::vector<float> out = step(*attention, layer.config, *cache, batch, seq, 0, 3);
      CHECK(all_finite(out));
      CHECK(cache->length() == seq);
      for (int p = 0; p < own.part_count(); ++p) {
        const cuda::CachePartView view = own.part(p);
        const std::vector<float> values = own.read_part(p);
        for (int64_t stream = 0; stream < view.batch * view.heads; ++stream)
          for (int64_t t = 0; t < capacity; ++t)
            for (int64_t i = 0; i < view.width; ++i) {
              const float v = values[(stream * capacity + t) * view.width + i];
              INFO("part " << p << " stream " << stream << " slot " << t << " element " << i);
              REQUIRE((t < seq ? std::isfinite(v) : std::isnan(v)));
            }
      }
    }
}

TEST_CASE("cuda: fill_synthetic writes bounded values into the filled slots only") {
  // Length, rewind and the next step over the filled slots: the contract test.
  for (const FormCase& f : kForms)
    for (DType dtype : kDTypes) {
      INFO(f.model << " " << to_string(f.form) << " " << to_string(dtype));
      const Layer layer = tiny(f.model);
      const auto attention = cuda::make_cuda_attention(layer.config, layer.weights, f.form, dtype);
      auto cache = attention->make_cache(2, 40);
      cache->fill_synthetic(33, 5);
      CHECK(cache->length() == 33);
      auto& own = dynamic_cast<cuda::CudaCache&>(*cache);
      for (int p = 0; p < own.part_count(); ++p) {
        const cuda::CachePartView view = own.part(p);
        const std::vector<float> values = own.read_part(p);
        for (int64_t stream = 0; stream < view.batch * view.heads; ++stream)
          for (int64_t t = 0; t < 40; ++t)
            for (int64_t i = 0; i < view.width; ++i) {
              const float v = values[(stream * 40 + t) * view.width + i];
              REQUIRE((t < 33 ? std::abs(v) <= 1.75f : std::isnan(v)));
            }
      }
    }
}

TEST_CASE("cuda: forward names a foreign cache, another batch and a full cache") {
  // That they throw is the contract's; these are the CUDA backend's messages.
  const Layer layer = tiny("tiny-gqa");
  const auto fp32 =
      cuda::make_cuda_attention(layer.config, layer.weights, ImplForm::standard, DType::fp32);
  const auto bf16 =
      cuda::make_cuda_attention(layer.config, layer.weights, ImplForm::standard, DType::bf16);
  auto cache = fp32->make_cache(2, 4);
  CHECK_THROWS_WITH(step(*bf16, layer.config, *cache, 2, 1, 0, 1),
                    Catch::Contains("made by another attention"));
  CHECK_THROWS_WITH(step(*fp32, layer.config, *cache, 1, 1, 0, 1),
                    Catch::Contains("does not match the KV cache's batch"));
  CHECK_THROWS_WITH(step(*fp32, layer.config, *cache, 2, 5, 0, 1),
                    Catch::Contains("KV cache full"));
  CHECK_THROWS_WITH(
      cuda::make_cuda_attention(layer.config, layer.weights, ImplForm::absorb, DType::fp32),
      Catch::Contains("does not apply"));
}

TEST_CASE("cuda: the device timer runs the same step as forward()") {
  for (const FormCase& f : kForms) {
    INFO(f.model << " " << to_string(f.form));
    const Layer layer = tiny(f.model);
    const auto attention =
        cuda::make_cuda_attention(layer.config, layer.weights, f.form, DType::bf16);
    REQUIRE(attention->has_device_timer());
    auto cache = attention->make_cache(2, 24);
    cache->fill_synthetic(16, 2);
    const Tensor<double> x = random_activations(2, 4, layer.config.hidden_size, 5);
    const std::vector<float> xf(x.data.begin(), x.data.end());
    const std::vector<int64_t> positions = {16, 17, 18, 19, 16, 17, 18, 19};
    std::vector<float> expected(xf.size()), timed(xf.size());
    attention->forward(xf.data(), positions.data(), 2, 4, *cache, expected.data(), nullptr);
    cache->rewind(16);
    const double seconds =
        attention->device_forward_seconds(xf.data(), positions.data(), 2, 4, *cache, timed.data());
    CHECK(seconds >= 0.0);
    CHECK(seconds < 10.0);
    CHECK(cache->length() == 20);
    CHECK(timed == expected);
  }
}
