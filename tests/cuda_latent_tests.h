// GTA and GLA on the CUDA backend (lowered to MLA with grouped latent heads by the factory),
// included by both CUDA test programs after tests/cuda_common_tests.h (cuda_under_test(): the
// device entries or the emulated ones):
//   - against the plain loop over their own equations (tests/cuda_plain_latent_attention.h),
//     through verify's prefill, decode, prompt_decode and chunked runs in every cache dtype, and
//     through a context long enough for two decode splits;
//   - against the CUDA backend's own MLA: GLA with one latent head is MLA with the weights
//     renamed; a GLA layer is the sum of h_c MLA layers, one per latent head (its query heads,
//     its latent slice of W_dKV plus the rope rows, its kv_norm and W_ukv, its o_proj columns;
//     the o_proj bias once);
//   - against the fp64 reference through run_conformance ([latent-reference]: needs the
//     reference's GTA and GLA).
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "tests/cuda_plain_latent_attention.h"

namespace attnlab::cuda_test {

inline const char* const kLatentModels[] = {"tiny-gta", "tiny-gla", "tiny-gla4"};

// The case's inputs with the plain loop's result as its truth (not the reference's).
inline CaseData plain_latent_case(const VerifyCase& spec) {
  CaseData data;
  data.spec = spec;
  data.config = resolve_model(spec.model);
  data.weights = random_weights(data.config, spec.seed);
  data.x = spec.activations(data.config.hidden_size);
  data.positions = spec.positions();
  data.truth = data.config.is_gta()
                   ? test::plain_gta_attention(data.config, data.weights, data.x, data.positions)
                   : test::plain_gla_attention(data.config, data.weights, data.x, data.positions);
  return data;
}

// Rows [first, first + count) of a [rows, cols] (or [rows]) tensor, appended to `to`.
inline void append_rows(Tensor<double>& to, const Tensor<double>& from, int64_t first,
                        int64_t count) {
  const int64_t width = from.shape.size() == 1 ? 1 : from.dim(1);
  to.data.insert(to.data.end(), from.data.begin() + first * width,
                 from.data.begin() + (first + count) * width);
  to.shape[0] += count;
}
inline Tensor<double> rows_of(const Tensor<double>& from, int64_t first, int64_t count) {
  Tensor<double> out(from.shape.size() == 1 ? Shape{0} : Shape{0, from.dim(1)});
  append_rows(out, from, first, count);
  return out;
}

// Latent head j of a GLA layer as an MLA layer of its H / h_c query heads (see the top).
inline Layer gla_group_as_mla(const LayerConfig& gla, const Weights& w, int64_t j) {
  const int64_t h_c = gla.n_latent_heads, group = gla.n_heads / h_c, d_c = gla.kv_lora_rank;
  const int64_t qk = gla.qk_head_dim(), dv = gla.v_head_dim, r = gla.qk_rope_head_dim;
  Layer m{gla, {}};
  m.config.attention = AttentionKind::mla;
  m.config.name = gla.name + "-group" + std::to_string(j);
  m.config.n_heads = group;
  m.config.n_latent_heads = 1;
  m.config.n_kv_heads = 0;
  m.config.head_dim = 0;
  m.config.softmax_scale = gla.scale();
  m.config.biases.clear();
  auto& t = m.weights.tensors;
  // name in MLA, name in GLA, rows of the GLA tensor that are this group's ({} = all).
  const auto take = [&](const std::string& to, const std::string& from,
                        const std::vector<std::pair<int64_t, int64_t>>& blocks, bool bias) {
    for (const char* suffix : {".weight", ".bias"}) {
      if (std::string(suffix) == ".bias" && !(bias && gla.has_bias(from))) continue;
      const Tensor<double>& src = w.get(from + suffix);
      if (blocks.empty()) {
        t[to + suffix] = src;
      } else {
        Tensor<double> out = rows_of(src, blocks[0].first, blocks[0].second);
        for (size_t b = 1; b < blocks.size(); ++b)
          append_rows(out, src, blocks[b].first, blocks[b].second);
        t[to + suffix] = out;
      }
      if (std::string(suffix) == ".bias") m.config.biases.insert(to);
    }
  };
  const std::string n = std::to_string(j + 1);
  take("q_a_proj", "W_dQ", {}, true);
  take("q_b_proj", "W_uQ_rope", {{j * group * qk, group * qk}}, true);
  take("kv_a_proj_with_mqa", "W_dKV", {{j * d_c, d_c}, {h_c * d_c, r}}, true);
  take("kv_b_proj", "W_ukv_" + n, {}, true);
  if (gla.latent_norms) {
    t["q_a_layernorm.weight"] = w.get("q_norm.weight");
    t["kv_a_layernorm.weight"] = w.get("kv_norm_" + n + ".weight");
  }
  // o_proj [hidden, H dv]: this group's columns; its bias in group 0 only.
  const Tensor<double>& o = w.get("o_proj.weight");
  Tensor<double> o_group({o.dim(0), group * dv});
  for (int64_t row = 0; row < o.dim(0); ++row)
    for (int64_t c = 0; c < group * dv; ++c)
      o_group.data[row * group * dv + c] = o.data[row * o.dim(1) + j * group * dv + c];
  t["o_proj.weight"] = o_group;
  if (j == 0 && gla.has_bias("o_proj")) {
    t["o_proj.bias"] = w.get("o_proj.bias");
    m.config.biases.insert("o_proj");
  }
  return m;
}

inline RunOutput run_cuda(const Layer& layer, ImplForm form, DType dtype, const Tensor<double>& x,
                          const Tensor<int64_t>& positions, const std::vector<int64_t>& chunks) {
  const auto attention = cuda::make_cuda_attention(layer.config, layer.weights, form, dtype);
  return run_through(*attention, layer.config, x, positions, chunks);
}

// max |a - b| over max(1, max |b|).
inline double relative_difference(const Tensor<double>& a, const Tensor<double>& b) {
  double worst = 0, size = 1;
  for (size_t i = 0; i < a.data.size(); ++i) {
    worst = std::max(worst, std::abs(a.data[i] - b.data[i]));
    size = std::max(size, std::abs(b.data[i]));
  }
  return worst / size;
}

// The chunkings of the equivalence tests over 9 tokens: one prefill; a prefill, a decode step
// (the split-KV kernel) and a prefill after the cached prefix.
inline const std::vector<std::vector<int64_t>> kLatentChunkings = {{9}, {3, 1, 5}};

}  // namespace attnlab::cuda_test

TEST_CASE("cuda: GTA and GLA match the plain loop over their equations in every cache dtype",
          "[conformance][latent]") {
  using namespace attnlab::cuda_test;
  int passes = 0;
  uint64_t seed = 81;
  for (const char* model : kLatentModels) {
    INFO(model);
    passes += check_case(plain_latent_case(feature_case(model, seed++, 9)), judged_against_truth);
  }
  // GTA: standard (lowered to absorb); each GLA: naive and absorb; 3 dtypes, 4 runs.
  CHECK(passes == (1 + 2 + 2) * 3 * 4);
}

TEST_CASE("cuda: GTA and GLA decode past one split of the context match the plain loop",
          "[conformance][latent]") {
  // 264 tokens: a 261-token prefill, then 3 decode steps whose keys span two splits.
  using namespace attnlab::cuda_test;
  REQUIRE(cuda::splits_for(262) == 2);
  int passes = 0;
  const auto prompt_decode = std::find_if(verify_checks().begin(), verify_checks().end(),
                                          [](const Check& c) { return c.name == "prompt_decode"; });
  REQUIRE(prompt_decode != verify_checks().end());
  for (const char* model : {"tiny-gta", "tiny-gla"}) {
    const CaseData data = plain_latent_case({model, 1, 264, 91, false});
    for (const Implementation& impl : cuda_under_test()) {
      if (!impl.supports(data.config) || impl.dtype != DType::fp32) continue;
      CaseResult r;
      run_and_judge(*prompt_decode, data, impl, r);
      INFO(model << " " << impl.id() << ": " << r.detail << " NMSE " << r.nmse);
      CHECK(r.status == CaseStatus::pass);
      passes += r.status == CaseStatus::pass;
    }
  }
  CHECK(passes == 1 + 2);
}

TEST_CASE("cuda: GLA with one latent head is the CUDA backend's MLA with the weights renamed",
          "[latent]") {
  using namespace attnlab::cuda_test;
  LayerConfig gla = resolve_model("tiny-gla");
  gla.n_latent_heads = 1;
  gla.biases = {"W_dQ", "W_uQ_rope", "W_dKV", "W_ukv_1", "o_proj"};
  const Weights weights = random_weights(gla, 5);
  const Layer mla = gla_group_as_mla(gla, weights, 0);
  const VerifyCase spec{"tiny-gla", 2, 9, 6, true};
  const Tensor<double> x = spec.activations(gla.hidden_size);
  const Tensor<int64_t> positions = spec.positions();
  for (ImplForm form : {ImplForm::naive, ImplForm::absorb})
    for (DType dtype : {DType::fp32, DType::bf16})
      for (const std::vector<int64_t>& chunks : kLatentChunkings) {
        INFO(to_string(form) << " " << to_string(dtype) << " " << chunks.size() << " chunks");
        const RunOutput want = run_cuda(mla, form, dtype, x, positions, chunks);
        const RunOutput got = run_cuda({gla, weights}, form, dtype, x, positions, chunks);
        CHECK(relative_difference(got.out, want.out) < 1e-6);
        CHECK(relative_difference(got.lse, want.lse) < 1e-6);
      }
}

TEST_CASE("cuda: GLA is the sum of one MLA layer per latent head on the CUDA backend", "[latent]") {
  using namespace attnlab::cuda_test;
  uint64_t seed = 101;
  for (const char* model : {"tiny-gla", "tiny-gla4"}) {
    const Layer gla = tiny(model, seed++);
    const int64_t h_c = gla.config.n_latent_heads, group = gla.config.n_heads / h_c;
    const VerifyCase spec{model, 2, 9, seed++, true};
    const Tensor<double> x = spec.activations(gla.config.hidden_size);
    const Tensor<int64_t> positions = spec.positions();
    for (ImplForm form : {ImplForm::naive, ImplForm::absorb})
      for (DType dtype : {DType::fp32, DType::bf16})
        for (const std::vector<int64_t>& chunks : kLatentChunkings) {
          INFO(model << " " << to_string(form) << " " << to_string(dtype) << " " << chunks.size()
                     << " chunks");
          const RunOutput got = run_cuda(gla, form, dtype, x, positions, chunks);
          RunOutput want{Tensor<double>(got.out.shape), Tensor<double>(got.lse.shape), 0};
          for (int64_t j = 0; j < h_c; ++j) {
            const RunOutput part = run_cuda(gla_group_as_mla(gla.config, gla.weights, j), form,
                                            dtype, x, positions, chunks);
            for (size_t i = 0; i < want.out.data.size(); ++i) want.out.data[i] += part.out.data[i];
            for (int64_t token = 0; token < x.dim(0) * x.dim(1); ++token)
              for (int64_t i = 0; i < group; ++i)
                want.lse.data[token * gla.config.n_heads + j * group + i] =
                    part.lse.data[token * group + i];
          }
          CHECK(relative_difference(got.out, want.out) < 1e-5);
          CHECK(relative_difference(got.lse, want.lse) < 1e-5);
        }
  }
}

TEST_CASE("cuda: GTA and GLA caches have the parts of their cache layouts", "[latent]") {
  // Per part [heads, width] as cache_layout(user's config, form) says: GTA's tied [G, d] and
  // one rope key [r]; GLA absorb's latents [h_c, d_c] and a rope key per latent head [h_c, r].
  using namespace attnlab::cuda_test;
  const FormCase forms[] = {{"tiny-gta", ImplForm::standard},
                            {"tiny-gla", ImplForm::naive},
                            {"tiny-gla", ImplForm::absorb},
                            {"tiny-gla4", ImplForm::absorb}};
  for (const FormCase& f : forms)
    for (DType dtype : kDTypes) {
      INFO(f.model << " " << to_string(f.form) << " " << to_string(dtype));
      const Layer layer = tiny(f.model);
      const auto attention = cuda::make_cuda_attention(layer.config, layer.weights, f.form, dtype);
      const auto cache = attention->make_cache(2, 12);
      const auto& own = dynamic_cast<const cuda::CudaCache&>(*cache);
      const std::vector<CachePart> layout = cache_layout(layer.config, f.form);
      REQUIRE(own.part_count() == static_cast<int>(layout.size()));
      for (int p = 0; p < own.part_count(); ++p) {
        const Shape& shape = layout[p].per_token_shape;
        INFO(layout[p].name);
        CHECK(own.part(p).heads == (shape.size() == 2 ? shape[0] : 1));
        CHECK(own.part(p).width == shape.back());
      }
      CHECK(cache->bytes_allocated() ==
            static_cast<size_t>(kv_elements_per_token_layer(layer.config, f.form) * 2 * 12) *
                bytes_per_element(dtype));
    }
}

TEST_CASE("cuda: a GTA or GLA form that does not apply names the user's kind and form",
          "[latent]") {
  using namespace attnlab::cuda_test;
  const Layer gta = tiny("tiny-gta"), gla = tiny("tiny-gla");
  CHECK_THROWS_WITH(
      cuda::make_cuda_attention(gta.config, gta.weights, ImplForm::absorb, DType::fp32),
      "impl 'absorb' does not apply to gta layer 'tiny-gta'");
  CHECK_THROWS_WITH(
      cuda::make_cuda_attention(gla.config, gla.weights, ImplForm::standard, DType::fp32),
      "impl 'standard' does not apply to gla layer 'tiny-gla'");
  Weights wrong = gla.weights;  // weights are checked against the user's config, by its names
  wrong.tensors.erase("W_ukv_2.weight");
  CHECK_THROWS_WITH(cuda::make_cuda_attention(gla.config, wrong, ImplForm::naive, DType::fp32),
                    Catch::Contains("W_ukv_2.weight"));
}

// The reference-based cases of GTA and GLA: the reference runs them from their own equations
// (reference/reference_gta.cpp, reference_gla.cpp), not through lower_to_mla.
TEST_CASE("cuda: GTA and GLA conform to the fp64 reference", "[conformance][latent-reference]") {
  using namespace attnlab::cuda_test;
  std::vector<VerifyCase> cases;
  uint64_t seed = 111;
  for (const char* model : kLatentModels) cases.push_back({model, 2, 9, seed++, true});
  cases.push_back({"tiny-gla4", 1, 13, seed++, false});
  check_conformance(run_conformance(cases, cuda_under_test()), 1);
}
