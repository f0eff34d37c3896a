// Properties of GTA and GLA (props/gta_gla_properties.h), on the fp64 reference and on every
// registered backend that gta_gla_backends() lists: (a) a GLA with one latent head is the MLA
// gla_from_mla() renamed, (b) GLA absorb == naive, (c) GTA == the GQA of gta_as_gqa() (both RoPE
// layouts, biases), (d) a GLA sharded over 2 or 4 ranks sums to the unsharded layer. Then each
// property once more with a deliberate bug (a wrong conversion, a wrong sharding, a backend that
// swaps two latent groups): rapidcheck must find a counterexample, or the property is toothless.
#include <catch2/catch.hpp>

#include <algorithm>

#include "props/generators.h"
#include "props/gta_gla_properties.h"

using namespace attnlab;
using namespace attnlab::props;
namespace gen = rc::gen;

namespace {

constexpr int kBugCases = 200;  // a search for a counterexample stops at the first one

ConfigOptions roped_with_every_bias() {
  ConfigOptions options;
  options.rope_layouts = {RopeLayout::interleaved, RopeLayout::half_split};
  options.required_biases = {"q_proj", "kv_proj", "W_rope_k", "o_proj"};
  return options;
}

ConfigOptions sharded_gla() {
  ConfigOptions options;
  options.latent_heads = {2, 4};
  return options;
}

// The world sizes of {2, 4} that divide h_c.
std::vector<int64_t> gla_world_sizes(const LayerConfig& config) {
  std::vector<int64_t> sizes;
  for (int64_t w : {2, 4})
    if (config.n_latent_heads % w == 0) sizes.push_back(w);
  return sizes;
}

const GtaGlaBackend& reference_backend() {
  static const GtaGlaBackend reference = gta_gla_backends_under_test().front();
  return reference;
}

// Rows [a, a + n) and [b, b + n) of a [rows, ...] tensor exchanged.
void swap_rows(Tensor<double>& t, int64_t a, int64_t b, int64_t n) {
  const int64_t width = t.shape.size() == 2 ? t.dim(1) : 1;
  std::swap_ranges(t.data.begin() + a * width, t.data.begin() + (a + n) * width,
                   t.data.begin() + b * width);
}

// The bug "query heads of group 1 read latent head 2 and vice versa" in a backend's absorb form:
// the layer it runs has W_dKV's first two latent slices (and kv_norm_1 / kv_norm_2) exchanged.
GtaGlaBackend swapping_latent_groups(const GtaGlaBackend& inner) {
  GtaGlaBackend backend = inner;
  backend.name += " swapping latent groups 1 and 2 in absorb";
  backend.run = [inner](const Layer& layer, ImplForm form, const Tensor<double>& x,
                        const Tensor<int64_t>& positions, const std::vector<int64_t>& chunks) {
    if (form != ImplForm::absorb || !layer.config.is_gla() || layer.config.n_latent_heads < 2)
      return inner.run(layer, form, x, positions, chunks);
    Layer swapped = layer;
    const int64_t d_c = layer.config.kv_lora_rank;
    swap_rows(swapped.weights.tensors.at("W_dKV.weight"), 0, d_c, d_c);
    if (layer.config.has_bias("W_dKV"))
      swap_rows(swapped.weights.tensors.at("W_dKV.bias"), 0, d_c, d_c);
    if (layer.config.latent_norms)
      std::swap(swapped.weights.tensors.at("kv_norm_1.weight"),
                swapped.weights.tensors.at("kv_norm_2.weight"));
    return inner.run(swapped, form, x, positions, chunks);
  };
  return backend;
}

// gla_from_mla that forgets kv_a_layernorm (kv_norm_1 all ones).
Layer gla_from_mla_without_kv_norm(const Layer& mla) {
  Layer gla = gla_from_mla(mla);
  if (gla.config.latent_norms)
    for (double& w : gla.weights.tensors.at("kv_norm_1.weight").data) w = 1.0;
  return gla;
}

// gta_as_gqa that leaves each head's rope part last, as GTA has it: GQA then rotates the first
// r elements, the wrong ones.
Layer gta_as_gqa_rope_part_last(const Layer& gta) {
  Layer gqa = gta_as_gqa(gta);
  const int64_t d = gta.config.head_dim, r = gta.config.qk_rope_head_dim;
  for (const char* name : {"q_proj", "k_proj"}) {
    const int64_t heads =
        std::string(name) == "q_proj" ? gqa.config.n_heads : gqa.config.n_kv_heads;
    for (const std::string suffix : {".weight", ".bias"}) {
      if (!gqa.weights.has(name + suffix)) continue;
      Tensor<double>& t = gqa.weights.tensors.at(name + suffix);
      const int64_t width = t.shape.size() == 2 ? t.dim(1) : 1;
      for (int64_t h = 0; h < heads; ++h)
        std::rotate(t.data.begin() + h * d * width, t.data.begin() + (h * d + r) * width,
                    t.data.begin() + (h + 1) * d * width);
    }
  }
  return gqa;
}

// shard_heads where every rank reads latent head 1's slice of W_dKV (rank 0's), norms included.
std::vector<Layer> shard_reading_first_latent(const Layer& gla, int64_t world) {
  std::vector<Layer> ranks = shard_heads(gla, world);
  for (Layer& rank : ranks) {
    rank.weights.tensors.at("W_dKV.weight") = ranks[0].weights.get("W_dKV.weight");
    if (rank.config.has_bias("W_dKV"))
      rank.weights.tensors.at("W_dKV.bias") = ranks[0].weights.get("W_dKV.bias");
  }
  return ranks;
}

}  // namespace

TEST_CASE("(a) GLA with one latent head equals the MLA it renames", "[props][gla]") {
  ConfigOptions options;
  options.q_lora = true;
  CHECK(check_for_each_gta_gla_backend("gla_from_mla(mla) == mla, naive and absorb", 100,
                                       [options](const GtaGlaBackend& backend) {
                                         const LayerConfig config = *gen_mla_config(options);
                                         const Case c = *gen_case();
                                         gla_equals_mla(config, c, backend, gla_from_mla);
                                       }));
}

TEST_CASE("(b) GLA absorb equals naive", "[props][gla]") {
  CHECK(check_for_each_gta_gla_backend("gla absorb == naive, prefill and decode", 150,
                                       [](const GtaGlaBackend& backend) {
                                         const LayerConfig config = *gen_gla_config();
                                         const Case c = *gen_case();
                                         gla_absorb_equals_naive(config, c, backend);
                                       }));
  ConfigOptions windowed;
  windowed.model_features = true;  // windows and RoPE scalings
  CHECK(check_for_each_gta_gla_backend("gla absorb == naive with model features", 75,
                                       [windowed](const GtaGlaBackend& backend) {
                                         const LayerConfig config = *gen_gla_config(windowed);
                                         const Case c = *gen_case();
                                         gla_absorb_equals_naive(config, c, backend);
                                       }));
}

TEST_CASE("(c) GTA equals the GQA of gta_as_gqa", "[props][gta]") {
  CHECK(check_for_each_gta_gla_backend("gta == gta_as_gqa(gta), any RoPE, random biases", 150,
                                       [](const GtaGlaBackend& backend) {
                                         const LayerConfig config = *gen_gta_config();
                                         const Case c = *gen_case();
                                         gta_equals_gqa(config, c, backend, gta_as_gqa);
                                       }));
  CHECK(check_for_each_gta_gla_backend(
      "gta == gta_as_gqa(gta), both RoPE layouts, every bias, model features", 100,
      [](const GtaGlaBackend& backend) {
        ConfigOptions options = roped_with_every_bias();
        options.model_features = true;
        const LayerConfig config = *gen_gta_config(options);
        const Case c = *gen_case();
        gta_equals_gqa(config, c, backend, gta_as_gqa);
      }));
}

TEST_CASE("(d) a GLA sharded over 2 or 4 ranks sums to the layer", "[props][gla][shard]") {
  CHECK(check_for_each_gta_gla_backend(
      "sum over ranks of shard_heads(gla) == gla", 100, [](const GtaGlaBackend& backend) {
        const LayerConfig config = *gen_gla_config(sharded_gla());
        const int64_t world = *gen::elementOf(gla_world_sizes(config));
        const Case c = *gen_case();
        gla_sharded_sum(config, c, world, backend, shard_heads);
      }));
}

TEST_CASE("(a) catches a conversion that drops kv_a_layernorm", "[props][gla][bugs]") {
  ConfigOptions options;
  options.q_lora = true;
  CHECK_FALSE(
      check_property("gla_from_mla == mla, conversion without kv_norm_1", kBugCases, [options] {
        const LayerConfig config = *gen_mla_config(options);
        const Case c = *gen_case();
        gla_equals_mla(config, c, reference_backend(), gla_from_mla_without_kv_norm);
      }));
}

TEST_CASE("(b) catches a backend whose absorb swaps two latent groups", "[props][gla][bugs]") {
  ConfigOptions options;
  options.latent_heads = {2, 3, 4};
  const GtaGlaBackend buggy = swapping_latent_groups(reference_backend());
  CHECK_FALSE(check_property("gla absorb == naive, " + buggy.name, kBugCases, [options, buggy] {
    const LayerConfig config = *gen_gla_config(options);
    const Case c = *gen_case();
    gla_absorb_equals_naive(config, c, buggy);
  }));
}

TEST_CASE("(c) catches a conversion that leaves the rope part last", "[props][gta][bugs]") {
  CHECK_FALSE(check_property("gta == gta_as_gqa, rope part left last", kBugCases, [] {
    const LayerConfig config = *gen_gta_config(roped_with_every_bias());
    const Case c = *gen_case();
    gta_equals_gqa(config, c, reference_backend(), gta_as_gqa_rope_part_last);
  }));
}

TEST_CASE("(d) catches a wrong sharding and a backend that swaps latent groups",
          "[props][gla][shard][bugs]") {
  CHECK_FALSE(check_property("gla shards sum, every rank reading latent head 1", kBugCases, [] {
    const LayerConfig config = *gen_gla_config(sharded_gla());
    const int64_t world = *gen::elementOf(gla_world_sizes(config));
    const Case c = *gen_case();
    gla_sharded_sum(config, c, world, reference_backend(), shard_reading_first_latent);
  }));
  const GtaGlaBackend buggy = swapping_latent_groups(reference_backend());
  CHECK_FALSE(check_property("gla shards sum, " + buggy.name, kBugCases, [buggy] {
    const LayerConfig config = *gen_gla_config(sharded_gla());
    const int64_t world = *gen::elementOf(gla_world_sizes(config));
    const Case c = *gen_case();
    gla_sharded_sum(config, c, world, buggy, shard_heads);
  }));
}
