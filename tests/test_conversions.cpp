// Tests of the layer conversions (variants/conversions.h): every conversion's result computes the
// same function as its source through the fp64 reference (outputs and LSE within 1e-10 relative,
// i.e. reassociation only), the result's config validates and its weights are exactly
// weight_specs(new config), and every precondition violation throws attnlab::Error naming it.
// GTA and GLA (gla_from_mla, gta_as_gqa, their RoPE swaps and shards) are run through the
// reference's own GTA/GLA code (reference/reference_gta.cpp, reference_gla.cpp).
// The randomised versions of these checks live in props/prop_equivalence.cpp.
#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/presets.h"
#include "core/weights.h"
#include "reference/reference_attention.h"
#include "tests/test_support.h"
#include "variants/conversions.h"
#include "variants/variant_spec.h"

using namespace attnlab;
using Catch::Matchers::Contains;

namespace {

LayerConfig standard_config(AttentionKind kind, int64_t hidden, int64_t heads, int64_t kv_heads,
                            int64_t head_dim, RopeLayout rope, std::set<std::string> biases) {
  LayerConfig c;
  c.name = "std";
  c.attention = kind;
  c.hidden_size = hidden;
  c.n_heads = heads;
  c.n_kv_heads = kv_heads;
  c.head_dim = head_dim;
  c.rope_layout = rope;
  c.rope_theta = 500.0;
  c.biases = std::move(biases);
  validate_layer_config(c, "test config");
  return c;
}

LayerConfig mla_config(int64_t hidden, int64_t heads, int64_t q_lora, int64_t kv_lora, int64_t nope,
                       int64_t rope_dim, int64_t v, bool norms, RopeLayout rope,
                       std::set<std::string> biases) {
  LayerConfig c;
  c.name = "mla";
  c.attention = AttentionKind::mla;
  c.hidden_size = hidden;
  c.n_heads = heads;
  c.q_lora_rank = q_lora;
  c.kv_lora_rank = kv_lora;
  c.qk_nope_head_dim = nope;
  c.qk_rope_head_dim = rope_dim;
  c.v_head_dim = v;
  c.latent_norms = norms;
  c.rope_layout = rope;
  c.rope_theta = 300.0;
  c.biases = std::move(biases);
  validate_layer_config(c, "test config");
  return c;
}

Layer make_layer(const LayerConfig& config, uint64_t seed) {
  return {config, random_weights(config, seed)};
}

// The form that defines a variant's math: standard, or naive for MLA and GLA.
ImplForm defining_form(const LayerConfig& c) {
  return c.has_latent() ? ImplForm::naive : ImplForm::standard;
}

// Two sequences, a prefill of 5 tokens after 2 tokens of context, positions with gaps.
reference::Result run(const Layer& layer) {
  const int64_t batch = 2;
  reference::Cache cache;
  const Tensor<double> context = random_activations(batch, 2, layer.config.hidden_size, 11);
  Tensor<int64_t> context_positions({batch, 2}, std::vector<int64_t>{3, 4, 50, 52});
  reference::forward(layer.config, layer.weights, defining_form(layer.config), context,
                     context_positions, cache);
  const Tensor<double> x = random_activations(batch, 5, layer.config.hidden_size, 12);
  Tensor<int64_t> positions({batch, 5}, std::vector<int64_t>{7, 8, 9, 20, 21, 60, 61, 64, 90, 91});
  return reference::forward(layer.config, layer.weights, defining_form(layer.config), x, positions,
                            cache);
}

void require_close(const Tensor<double>& actual, const Tensor<double>& expected) {
  REQUIRE(actual.shape == expected.shape);
  const test::Comparison c = test::compare(actual, expected);
  INFO("max abs error " << c.max_abs_error << ", max |ref| " << c.max_ref);
  REQUIRE(c.max_abs_error <= 1e-10 * std::max(1.0, c.max_ref));
}

void require_well_formed(const Layer& layer) {
  REQUIRE_NOTHROW(validate_layer_config(layer.config, "converted"));
  const std::vector<WeightSpec> specs = weight_specs(layer.config);
  REQUIRE(layer.weights.tensors.size() == specs.size());
  for (const WeightSpec& spec : specs) {
    INFO(spec.name);
    REQUIRE(layer.weights.has(spec.name));
    REQUIRE(layer.weights.get(spec.name).shape == spec.shape);
  }
}

void require_same_function(const Layer& converted, const Layer& original) {
  require_well_formed(converted);
  const reference::Result a = run(converted), b = run(original);
  require_close(a.out, b.out);
  require_close(a.lse, b.lse);
}

}  // namespace

TEST_CASE("gqa_as_mha repeats each kv head for its query group", "[conversions]") {
  const Layer gqa =
      make_layer(standard_config(AttentionKind::gqa, 12, 6, 2, 4, RopeLayout::half_split,
                                 {"q_proj", "k_proj", "v_proj", "o_proj"}),
                 1);
  const Layer mha = gqa_as_mha(gqa);
  CHECK(mha.config.attention == AttentionKind::mha);
  CHECK(mha.config.n_kv_heads == 6);
  require_same_function(mha, gqa);

  const Layer mqa = make_layer(
      standard_config(AttentionKind::mqa, 10, 3, 1, 2, RopeLayout::interleaved, {"v_proj"}), 2);
  require_same_function(gqa_as_mha(mqa), mqa);
}

TEST_CASE("gqa_as_mla (TransMLA) computes the GQA layer", "[conversions]") {
  SECTION("gqa with every bias") {
    const Layer gqa = make_layer(standard_config(AttentionKind::gqa, 12, 6, 2, 4, RopeLayout::none,
                                                 {"q_proj", "k_proj", "v_proj", "o_proj"}),
                                 3);
    const Layer mla = gqa_as_mla(gqa);
    CHECK(mla.config.kv_lora_rank == 16);
    CHECK(mla.config.q_lora_rank == 0);
    CHECK_FALSE(mla.config.latent_norms);
    CHECK(mla.config.scale() == Approx(gqa.config.scale()).epsilon(1e-15));
    require_same_function(mla, gqa);
  }
  SECTION("mqa with a key bias only (the value half of the latent bias is zero)") {
    const Layer mqa = make_layer(
        standard_config(AttentionKind::mqa, 8, 4, 1, 2, RopeLayout::none, {"k_proj"}), 4);
    require_same_function(gqa_as_mla(mqa), mqa);
  }
  SECTION("mha without biases") {
    const Layer mha =
        make_layer(standard_config(AttentionKind::mha, 6, 3, 3, 2, RopeLayout::none, {}), 5);
    require_same_function(gqa_as_mla(mha), mha);
  }
}

TEST_CASE("mla_as_mha materialises the low-rank products", "[conversions]") {
  SECTION("plain q_proj, kv biases") {
    const Layer mla = make_layer(mla_config(12, 3, 0, 5, 4, 0, 4, false, RopeLayout::none,
                                            {"q_proj", "kv_a_proj_with_mqa", "kv_b_proj"}),
                                 6);
    const Layer mha = mla_as_mha(mla);
    CHECK(mha.config.attention == AttentionKind::mha);
    CHECK(mha.config.head_dim == 4);
    require_same_function(mha, mla);
  }
  SECTION("q_lora with biases on both query factors, o_proj bias, a rope layout with rope dim 0") {
    const Layer mla = make_layer(mla_config(10, 2, 6, 3, 2, 0, 2, false, RopeLayout::interleaved,
                                            {"q_a_proj", "q_b_proj", "kv_b_proj", "o_proj"}),
                                 7);
    const Layer mha = mla_as_mha(mla);
    CHECK(mha.config.rope_layout == RopeLayout::none);
    require_same_function(mha, mla);
  }
  SECTION("q_lora, only the q_a bias") {
    const Layer mla =
        make_layer(mla_config(8, 4, 3, 7, 2, 0, 2, false, RopeLayout::none, {"q_a_proj"}), 8);
    require_same_function(mla_as_mha(mla), mla);
  }
}

TEST_CASE("swap_rope_layout keeps every score", "[conversions]") {
  SECTION("gqa, interleaved -> half_split -> interleaved") {
    const Layer gqa = make_layer(standard_config(AttentionKind::gqa, 12, 4, 2, 6,
                                                 RopeLayout::interleaved, {"q_proj", "k_proj"}),
                                 9);
    const Layer half = swap_rope_layout(gqa);
    CHECK(half.config.rope_layout == RopeLayout::half_split);
    require_same_function(half, gqa);
    const Layer back = swap_rope_layout(half);
    CHECK(back.config.rope_layout == RopeLayout::interleaved);
    for (const auto& [name, tensor] : gqa.weights.tensors)
      CHECK(back.weights.get(name).data == tensor.data);
  }
  SECTION("mha, half_split") {
    const Layer mha =
        make_layer(standard_config(AttentionKind::mha, 8, 2, 2, 4, RopeLayout::half_split, {}), 10);
    require_same_function(swap_rope_layout(mha), mha);
  }
  SECTION("mla with q_lora, norms and biases") {
    const Layer mla = make_layer(
        mla_config(12, 3, 5, 6, 2, 4, 3, true, RopeLayout::interleaved,
                   {"q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj"}),
        11);
    require_same_function(swap_rope_layout(mla), mla);
  }
  SECTION("mla with plain q_proj, half_split") {
    const Layer mla =
        make_layer(mla_config(8, 2, 0, 4, 3, 6, 2, false, RopeLayout::half_split, {"q_proj"}), 12);
    require_same_function(swap_rope_layout(mla), mla);
  }
}

namespace {

// The sum over ranks of the shards' outputs, compared with the unsharded output.
void require_shards_sum(const Layer& layer, int64_t world) {
  const std::vector<Layer> shards = shard_heads(layer, world);
  REQUIRE(static_cast<int64_t>(shards.size()) == world);
  const reference::Result whole = run(layer);
  Tensor<double> sum(whole.out.shape);
  for (const Layer& shard : shards) {
    require_well_formed(shard);
    CHECK(shard.config.n_heads == layer.config.n_heads / world);
    const reference::Result part = run(shard);
    for (int64_t i = 0; i < sum.numel(); ++i) sum.data[i] += part.out.data[i];
  }
  require_close(sum, whole.out);
}

}  // namespace

TEST_CASE("shard_heads: the ranks' outputs sum to the layer's", "[conversions]") {
  const std::set<std::string> all = {"q_proj", "k_proj", "v_proj", "o_proj"};
  SECTION("gqa 6/2 over 2 ranks") {
    require_shards_sum(
        make_layer(standard_config(AttentionKind::gqa, 12, 6, 2, 4, RopeLayout::half_split, all),
                   13),
        2);
  }
  SECTION("mqa 6/1 over 3 ranks keeps the kv head everywhere") {
    const Layer mqa = make_layer(
        standard_config(AttentionKind::mqa, 12, 6, 1, 2, RopeLayout::interleaved, all), 14);
    require_shards_sum(mqa, 3);
    for (const Layer& shard : shard_heads(mqa, 3)) CHECK(shard.config.n_kv_heads == 1);
  }
  SECTION("mha 4 heads over 4 ranks stays mha; o_proj bias on rank 0 only") {
    const Layer mha =
        make_layer(standard_config(AttentionKind::mha, 8, 4, 4, 2, RopeLayout::none, all), 15);
    require_shards_sum(mha, 4);
    const std::vector<Layer> shards = shard_heads(mha, 4);
    CHECK(shards[0].config.has_bias("o_proj"));
    for (size_t r = 1; r < shards.size(); ++r) {
      CHECK(shards[r].config.attention == AttentionKind::mha);
      CHECK_FALSE(shards[r].config.has_bias("o_proj"));
    }
  }
  SECTION("mla with q_lora and norms over 2 ranks, plain q_proj over 3") {
    require_shards_sum(make_layer(mla_config(12, 4, 5, 6, 2, 4, 3, true, RopeLayout::interleaved,
                                             {"q_a_proj", "q_b_proj", "kv_a_proj_with_mqa",
                                              "kv_b_proj", "o_proj"}),
                                  16),
                       2);
    require_shards_sum(make_layer(mla_config(10, 3, 0, 4, 2, 2, 2, false, RopeLayout::half_split,
                                             {"q_proj", "o_proj"}),
                                  17),
                       3);
  }
  SECTION("world size 1 is the layer itself") {
    const Layer gqa =
        make_layer(standard_config(AttentionKind::gqa, 12, 6, 3, 2, RopeLayout::none, all), 18);
    const std::vector<Layer> one = shard_heads(gqa, 1);
    for (const auto& [name, tensor] : gqa.weights.tensors)
      CHECK(one[0].weights.get(name).data == tensor.data);
  }
}

namespace {

LayerConfig gta_config(int64_t hidden, int64_t heads, int64_t kv_heads, int64_t head_dim,
                       int64_t rope_dim, RopeLayout rope, std::set<std::string> biases) {
  LayerConfig c;
  c.name = "gta";
  c.attention = AttentionKind::gta;
  c.hidden_size = hidden;
  c.n_heads = heads;
  c.n_kv_heads = kv_heads;
  c.head_dim = head_dim;
  c.qk_rope_head_dim = rope_dim;
  c.rope_layout = rope;
  c.rope_theta = 700.0;
  c.biases = std::move(biases);
  validate_layer_config(c, "test config");
  return c;
}

}  // namespace

TEST_CASE("gla_from_mla: an MLA with q_lora is a GLA with one latent head", "[conversions][gla]") {
  SECTION("norms and every bias: the same tensors under the paper's names") {
    const Layer mla = make_layer(
        mla_config(12, 3, 5, 6, 2, 4, 3, true, RopeLayout::interleaved,
                   {"q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj"}),
        30);
    const Layer gla = gla_from_mla(mla);
    CHECK(gla.config.attention == AttentionKind::gla);
    CHECK(gla.config.n_latent_heads == 1);
    CHECK(gla.config.biases ==
          std::set<std::string>{"W_dQ", "W_uQ_rope", "W_dKV", "W_ukv_1", "o_proj"});
    CHECK(gla.weights.get("W_ukv_1.weight").data == mla.weights.get("kv_b_proj.weight").data);
    CHECK(gla.weights.get("kv_norm_1.weight").data ==
          mla.weights.get("kv_a_layernorm.weight").data);
    require_same_function(gla, mla);
    // Absorb too: GLA's absorb with h_c = 1 is MLA's.
    const Tensor<double> x = random_activations(1, 4, 12, 31);
    reference::Cache a, b;
    const reference::Result via_gla = reference::forward(gla.config, gla.weights, ImplForm::absorb,
                                                         x, sequential_positions(1, 4), a);
    const reference::Result via_mla = reference::forward(mla.config, mla.weights, ImplForm::absorb,
                                                         x, sequential_positions(1, 4), b);
    require_close(via_gla.out, via_mla.out);
  }
  SECTION("no norms, half_split, one bias") {
    const Layer mla = make_layer(
        mla_config(8, 4, 3, 5, 2, 2, 2, false, RopeLayout::half_split, {"kv_b_proj"}), 32);
    require_same_function(gla_from_mla(mla), mla);
  }
}

TEST_CASE("gta_as_gqa moves the rope part to the front of every head", "[conversions][gta]") {
  SECTION("tiny-gta: half_split, every bias") {
    const Layer gta = make_layer(resolve_model("tiny-gta"), 33);
    const Layer gqa = gta_as_gqa(gta);
    CHECK(gqa.config.attention == AttentionKind::gqa);
    CHECK(gqa.config.rope_dim() == gta.config.qk_rope_head_dim);
    CHECK(gqa.config.biases == std::set<std::string>{"q_proj", "k_proj", "v_proj", "o_proj"});
    require_same_function(gqa, gta);
  }
  SECTION("interleaved, a bias on W_rope_k only; n_kv == n_heads gives MHA") {
    const Layer gta =
        make_layer(gta_config(10, 3, 3, 6, 4, RopeLayout::interleaved, {"W_rope_k", "o_proj"}), 34);
    const Layer mha = gta_as_gqa(gta);
    CHECK(mha.config.attention == AttentionKind::mha);
    require_same_function(mha, gta);
  }
  SECTION("no RoPE, a bias on kv_proj only, one tied head") {
    const Layer gta = make_layer(gta_config(9, 4, 1, 5, 3, RopeLayout::none, {"kv_proj"}), 35);
    require_same_function(gta_as_gqa(gta), gta);
  }
  SECTION("every head width up to 64 and even rope width finds its partial_rotary_factor") {
    for (int64_t d = 3; d <= 64; ++d)
      for (int64_t r = 2; r < d; r += 2) {
        INFO("d " << d << ", r " << r);
        const LayerConfig c = gta_config(4, 1, 1, d, r, RopeLayout::half_split, {});
        REQUIRE(gta_as_gqa(make_layer(c, 36)).config.rope_dim() == r);
      }
  }
}

TEST_CASE("swap_rope_layout keeps every score of GTA and GLA", "[conversions][gta][gla]") {
  SECTION("tiny-gta, half_split -> interleaved -> half_split") {
    const Layer gta = make_layer(resolve_model("tiny-gta"), 37);
    const Layer swapped = swap_rope_layout(gta);
    CHECK(swapped.config.rope_layout == RopeLayout::interleaved);
    require_same_function(swapped, gta);
    const Layer back = swap_rope_layout(swapped);
    for (const auto& [name, tensor] : gta.weights.tensors)
      CHECK(back.weights.get(name).data == tensor.data);
  }
  for (const char* name : {"tiny-gla", "tiny-gla4"}) {
    SECTION(std::string(name) + " in both forms") {
      const Layer gla = make_layer(resolve_model(name), 38);
      const Layer swapped = swap_rope_layout(gla);
      require_same_function(swapped, gla);
      const Tensor<double> x = random_activations(2, 5, gla.config.hidden_size, 39);
      const Tensor<int64_t> pos = sequential_positions(2, 5, 100);
      reference::Cache a, b;
      require_close(
          reference::forward(swapped.config, swapped.weights, ImplForm::absorb, x, pos, a).out,
          reference::forward(gla.config, gla.weights, ImplForm::absorb, x, pos, b).out);
    }
  }
}

TEST_CASE("shard_heads splits GTA's tied heads and GLA's latent heads", "[conversions][shard]") {
  SECTION("tiny-gta over 2 ranks: W_rope_k on every rank, o_proj bias on rank 0") {
    const Layer gta = make_layer(resolve_model("tiny-gta"), 40);
    require_shards_sum(gta, 2);
    const std::vector<Layer> shards = shard_heads(gta, 2);
    for (const Layer& shard : shards) {
      CHECK(shard.config.n_kv_heads == 1);
      CHECK(shard.weights.get("W_rope_k.weight").data == gta.weights.get("W_rope_k.weight").data);
    }
    CHECK_FALSE(shards[1].config.has_bias("o_proj"));
  }
  SECTION("gta with one tied head over 3 ranks keeps it everywhere") {
    require_shards_sum(
        make_layer(gta_config(8, 6, 1, 4, 2, RopeLayout::interleaved, {"kv_proj", "o_proj"}), 41),
        3);
  }
  SECTION("tiny-gla over 2 ranks: one latent head each, W_ukv renumbered from 1") {
    const Layer gla = make_layer(resolve_model("tiny-gla"), 42);
    require_shards_sum(gla, 2);
    const std::vector<Layer> shards = shard_heads(gla, 2);
    CHECK(shards[1].config.n_latent_heads == 1);
    CHECK(shards[1].weights.get("W_ukv_1.weight").data == gla.weights.get("W_ukv_2.weight").data);
    CHECK(shards[1].weights.get("kv_norm_1.weight").data ==
          gla.weights.get("kv_norm_2.weight").data);
    CHECK(shards[1].config.has_bias("W_ukv_1"));
    CHECK_FALSE(shards[1].config.has_bias("o_proj"));
  }
  SECTION("tiny-gla4 over 2 and 4 ranks: only the rank holding W_ukv_3 has its bias") {
    const Layer gla = make_layer(resolve_model("tiny-gla4"), 43);
    require_shards_sum(gla, 2);
    require_shards_sum(gla, 4);
    const std::vector<Layer> four = shard_heads(gla, 4);
    for (int64_t r = 0; r < 4; ++r) CHECK(four[r].config.has_bias("W_ukv_1") == (r == 2));
    const std::vector<Layer> two = shard_heads(gla, 2);
    CHECK(two[1].config.biases == std::set<std::string>{"W_ukv_1"});
  }
}

TEST_CASE("conversions name their failed preconditions", "[conversions][errors]") {
  const Layer roped =
      make_layer(standard_config(AttentionKind::gqa, 12, 6, 2, 4, RopeLayout::interleaved, {}), 20);
  const Layer unroped =
      make_layer(standard_config(AttentionKind::gqa, 12, 6, 2, 4, RopeLayout::none, {}), 21);
  const Layer mla = make_layer(mla_config(12, 3, 0, 5, 4, 0, 4, false, RopeLayout::none, {}), 22);

  CHECK_THROWS_WITH(gqa_as_mla(roped), Contains("rope layout 'none'"));
  CHECK_THROWS_WITH(gqa_as_mla(mla), Contains("got 'mla'"));
  CHECK_THROWS_WITH(gqa_as_mha(mla), Contains("got 'mla'"));
  CHECK_THROWS_WITH(mla_as_mha(unroped), Contains("needs attention 'mla'"));
  CHECK_THROWS_WITH(
      mla_as_mha(make_layer(mla_config(12, 3, 0, 5, 4, 0, 4, true, RopeLayout::none, {}), 23)),
      Contains("latent_norms false"));
  CHECK_THROWS_WITH(mla_as_mha(make_layer(
                        mla_config(12, 3, 0, 5, 4, 2, 4, false, RopeLayout::half_split, {}), 24)),
                    Contains("qk_rope_head_dim 0"));
  CHECK_THROWS_WITH(
      mla_as_mha(make_layer(mla_config(12, 3, 0, 5, 4, 0, 2, false, RopeLayout::none, {}), 25)),
      Contains("qk_nope_head_dim (4) == v_head_dim (2)"));
  CHECK_THROWS_WITH(swap_rope_layout(unroped), Contains("got 'none'"));
  CHECK_THROWS_WITH(shard_heads(unroped, 4), Contains("n_heads (6) must be divisible"));
  CHECK_THROWS_WITH(shard_heads(unroped, 3), Contains("n_kv_heads (2) must be 1 or divisible"));
  CHECK_THROWS_WITH(shard_heads(unroped, 0), Contains("world_size must be >= 1"));
  CHECK_THROWS_WITH(shard_heads(mla, 2), Contains("n_heads (3) must be divisible"));

  const Layer gta = make_layer(resolve_model("tiny-gta"), 26);
  const Layer gla = make_layer(resolve_model("tiny-gla"), 27);
  CHECK_THROWS_WITH(gqa_as_mha(gta), Contains("needs attention mha, gqa or mqa, got 'gta'"));
  CHECK_THROWS_WITH(gqa_as_mla(gla), Contains("needs attention mha, gqa or mqa, got 'gla'"));
  CHECK_THROWS_WITH(gla_from_mla(gla), Contains("needs attention 'mla', got 'gla'"));
  CHECK_THROWS_WITH(gla_from_mla(mla), Contains("needs q_lora_rank > 0"));
  CHECK_THROWS_WITH(gta_as_gqa(unroped), Contains("needs attention 'gta', got 'gqa'"));
  CHECK_THROWS_WITH(shard_heads(gta, 4), Contains("n_heads (6) must be divisible"));
  CHECK_THROWS_WITH(shard_heads(make_layer(gta_config(8, 6, 3, 4, 2, RopeLayout::none, {}), 28), 2),
                    Contains("n_kv_heads (3) must be 1 or divisible"));
  CHECK_THROWS_WITH(shard_heads(make_layer(resolve_model("tiny-gla4"), 29), 8),
                    Contains("n_latent_heads (4) must be divisible by world_size (8)"));
  CHECK_THROWS_WITH(shard_heads(gla, 4), Contains("n_latent_heads (2) must be divisible"));

  Layer broken = unroped;
  broken.weights.tensors.erase("k_proj.weight");
  CHECK_THROWS_WITH(gqa_as_mha(broken), Contains("missing weight tensor 'k_proj.weight'"));
  broken = unroped;
  broken.weights.tensors["k_proj.weight"] = Tensor<double>({3, 12});
  CHECK_THROWS_WITH(shard_heads(broken, 2), Contains("'k_proj.weight' is [3, 12]"));
  broken = unroped;
  broken.config.n_kv_heads = 4;  // 6 % 4 != 0: the config itself is invalid
  CHECK_THROWS_AS(gqa_as_mha(broken), Error);
}
