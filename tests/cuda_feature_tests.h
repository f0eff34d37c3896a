// The model features on the CUDA backend (attention sinks, QK-norm, sliding windows, partial
// rotary, YaRN / Llama-3 / linear RoPE scaling, local theta), included by both CUDA test programs
// after tests/cuda_common_tests.h (cuda_under_test(): the device entries or the emulated ones).
//   - sinks and QK-norm against the plain-loop expectation of tests/plain_standard_attention.h
//     (the tiny models as configured), through verify's prefill, decode, prompt_decode and
//     chunked runs (the expectation is each run's truth);
//   - windows, scalings and partial rotary against the fp64 reference (the same models with
//     sinks and QK-norm off, and tiny-mla-yarn), through every verify check;
//   - the plain loop itself against the reference where both have the features.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "tests/plain_standard_attention.h"

namespace attnlab::cuda_test {

// The tiny models of the features: sinks + window 3 + YaRN + biases (layer 0) and its full layer;
// QK-norm with offset 1 + local theta + window 5 (layer 0) and its global layer with linear
// scaling; QK-norm after biased q/k + partial rotary 0.5 + llama3; a window on every layer.
inline const char* const kFeatureModels[] = {"tiny-gpt-oss", "tiny-gpt-oss@1", "tiny-gemma",
                                             "tiny-gemma@1", "tiny-qwen3",     "tiny-window"};

// The checks whose expected result is the case's truth (verify/checks.h).
inline bool judged_against_truth(const std::string& check) {
  return check == "prefill" || check == "decode" || check == "prompt_decode" || check == "chunked";
}

// Batch 2, 11 tokens at increasing positions with gaps (past the scalings' original lengths of
// 16 and 32), so every window (3, 4, 5) drops keys and every chunked step starts past slot 0.
inline VerifyCase feature_case(const std::string& model, uint64_t seed, int64_t seq = 11) {
  VerifyCase spec;
  spec.model = model;
  spec.batch = 2;
  spec.seq = seq;
  spec.seed = seed;
  spec.random_positions = true;
  return spec;
}

// The model without the features the reference on this branch does not have.
inline LayerConfig without_sinks_and_norm(LayerConfig config) {
  config.attention_sinks = false;
  config.qk_norm = false;
  return config;
}

inline double max_abs_difference(const Tensor<double>& a, const Tensor<double>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.data.size(); ++i)
    worst = std::max(worst, std::abs(a.data[i] - b.data[i]));
  return worst;
}

// Every check of verify_checks() that applies (and that `select` accepts) for every standard-form
// or MLA implementation of cuda_under_test(), judged under its dtype's tolerance, as
// run_conformance does; returns the number of passes and CHECKs that none fails.
template <class Select>
int check_case(const CaseData& data, Select select) {
  int passes = 0;
  for (const Implementation& impl : cuda_under_test()) {
    if (!impl.supports(data.config)) continue;
    for (const Check& check : verify_checks()) {
      if (!select(check.name) || !check.not_applicable(data, impl).empty()) continue;
      CaseResult r;
      run_and_judge(check, data, impl, r);
      INFO(data.spec.name() << " (" << data.config.name << ") " << check.name << " " << impl.id()
                            << ": " << r.detail << " (NMSE " << r.nmse << ", max abs "
                            << r.max_abs_error << ", lse " << r.lse_max_abs_error << ")");
      CHECK(r.status == CaseStatus::pass);
      passes += r.status == CaseStatus::pass;
    }
  }
  return passes;
}

// The tiny models with sinks and QK-norm as configured, each run's truth the plain loop. Also
// that each feature changes that truth (so a backend that skips it cannot pass).
inline int check_features_against_plain_loop() {
  int passes = 0;
  uint64_t seed = 21;
  for (const char* model : kFeatureModels) {
    INFO(model);
    const LayerConfig config = resolve_model(model);
    CaseData data = prepare_case(config, feature_case(model, seed++));
    data.truth = test::plain_standard_attention(config, data.weights, data.x, data.positions);
    // The plain loop with one feature switched off, to show the feature moves the truth.
    const auto without = [&](auto switch_off) {
      LayerConfig off = config;
      switch_off(off);
      return test::plain_standard_attention(off, data.weights, data.x, data.positions);
    };
    if (config.attention_sinks)
      CHECK(max_abs_difference(data.truth.lse, without([](LayerConfig& c) {
                                                 c.attention_sinks = false;
                                               }).lse) > 1e-2);
    if (config.qk_norm)
      CHECK(max_abs_difference(data.truth.out,
                               without([](LayerConfig& c) { c.qk_norm = false; }).out) > 1e-2);
    if (config.window())
      CHECK(max_abs_difference(data.truth.out, without([](LayerConfig& c) {
                                                 c.sliding_window.reset();
                                               }).out) > 1e-2);
    passes += check_case(data, judged_against_truth);
  }
  return passes;
}

// Windows, scalings, local theta and partial rotary against the fp64 reference: the feature
// models without sinks and QK-norm, and tiny-mla-yarn (MLA: naive and absorb), every check.
inline int check_features_against_reference() {
  int passes = 0;
  uint64_t seed = 41;
  for (const char* model : kFeatureModels) {
    INFO(model);
    passes += check_case(
        prepare_case(without_sinks_and_norm(resolve_model(model)), feature_case(model, seed++)),
        [](const std::string&) { return true; });
  }
  passes += check_case(prepare_case(feature_case("tiny-mla-yarn", seed)),
                       [](const std::string&) { return true; });
  return passes;
}

}  // namespace attnlab::cuda_test

TEST_CASE("plain-loop feature expectation equals the fp64 reference where both have the features") {
  uint64_t seed = 61;
  for (const char* model : attnlab::cuda_test::kFeatureModels) {
    INFO(model);
    const LayerConfig config = attnlab::cuda_test::without_sinks_and_norm(resolve_model(model));
    const CaseData data = prepare_case(config, attnlab::cuda_test::feature_case(model, seed++));
    const RunOutput plain =
        test::plain_standard_attention(config, data.weights, data.x, data.positions);
    CHECK(attnlab::cuda_test::max_abs_difference(plain.out, data.truth.out) < 1e-12);
    CHECK(attnlab::cuda_test::max_abs_difference(plain.lse, data.truth.lse) < 1e-12);
  }
}

TEST_CASE("cuda: sinks and QK-norm (with windows, scalings, partial rotary) match the plain loop",
          "[conformance]") {
  // 6 models x 3 dtypes x 4 runs.
  CHECK(attnlab::cuda_test::check_features_against_plain_loop() == 6 * 3 * 4);
}

TEST_CASE(
    "cuda: windows, YaRN, llama3, linear, local theta, partial rotary conform to the "
    "reference",
    "[conformance]") {
  CHECK(attnlab::cuda_test::check_features_against_reference() > 6 * 3 * 4 + 2 * 3 * 4);
}
