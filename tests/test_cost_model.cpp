// The step cost model (variants/cost_model.h) against counts taken independently of its
// formulas: the fp64 reference runs the same step with a WorkCounter alive
// (reference/work_counter.h), which counts the multiply-adds its contractions perform and the
// distinct cache elements its attention reads and its step writes; the weight elements the step
// reads are found by filling each in turn with NaN and seeing it reach the output or the LSE.
// Every (layer, form, phase) below must match exactly, on small layers where every dimension
// differs, so that a term with the wrong width, or left out, cannot match by accident.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/layer_config.h"
#include "core/presets.h"
#include "core/weights.h"
#include "reference/reference_attention.h"
#include "reference/work_counter.h"
#include "registry/driver.h"
#include "variants/cost_model.h"
#include "variants/mask.h"
#include "variants/variant_spec.h"

using namespace attnlab;
using attnlab::reference::WorkCounter;

namespace {

// GQA groups of 3 with every bias, MHA without RoPE, MQA with one bias, MLA with q_lora and
// every bias, MLA without q_lora or latent norms with the kv_b_proj bias only (absorb's key-bias
// score), MLA with q_lora and no bias, GQA with QK-norm (Gemma's weight offset) and attention
// sinks (their weights read, their elementwise work not counted).
const char* kLayers[] = {
    R"({"name": "gqa", "attention": "gqa", "hidden_size": 14, "n_heads": 6, "n_kv_heads": 2,
        "head_dim": 4, "rope": {"layout": "interleaved", "theta": 10000},
        "biases": ["q_proj", "k_proj", "v_proj", "o_proj"]})",
    R"({"name": "mha", "attention": "mha", "hidden_size": 9, "n_heads": 3, "head_dim": 5,
        "rope": {"layout": "none"}})",
    R"({"name": "mqa", "attention": "mqa", "hidden_size": 11, "n_heads": 4, "head_dim": 6,
        "rope": {"layout": "half_split", "theta": 500}, "biases": ["k_proj"]})",
    R"({"name": "mla-q-lora", "attention": "mla", "hidden_size": 19, "n_heads": 3,
        "q_lora_rank": 11, "kv_lora_rank": 7, "qk_nope_head_dim": 5, "qk_rope_head_dim": 4,
        "v_head_dim": 6, "rope": {"layout": "interleaved", "theta": 10000},
        "biases": ["q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj"]})",
    R"({"name": "mla-lite", "attention": "mla", "hidden_size": 13, "n_heads": 2,
        "q_lora_rank": 0, "kv_lora_rank": 9, "qk_nope_head_dim": 3, "qk_rope_head_dim": 8,
        "v_head_dim": 5, "latent_norms": false, "rope": {"layout": "half_split", "theta": 500},
        "biases": ["kv_b_proj"]})",
    R"({"name": "mla-plain", "attention": "mla", "hidden_size": 17, "n_heads": 5,
        "q_lora_rank": 10, "kv_lora_rank": 6, "qk_nope_head_dim": 4, "qk_rope_head_dim": 2,
        "v_head_dim": 7, "rope": {"layout": "interleaved", "theta": 10000}})",
    R"({"name": "gqa-norm-sinks", "attention": "gqa", "hidden_size": 10, "n_heads": 4,
        "n_kv_heads": 2, "head_dim": 6, "rope": {"layout": "half_split", "theta": 10000},
        "qk_norm": true, "qk_norm_weight_offset": 1, "attention_sinks": true,
        "biases": ["q_proj", "k_proj"]})",
};

struct Phase {
  const char* name;
  int64_t batch;
  int64_t context;  // tokens already in the cache
  int64_t new_tokens;
};
const Phase kPhases[] = {{"prefill", 2, 0, 4}, {"decode", 3, 5, 1}, {"chunked", 2, 3, 3}};

LayerConfig layer(const char* json_text) {
  const nlohmann::json j = nlohmann::json::parse(json_text);
  return parse_layer_config(j, "layer '" + j.at("name").get<std::string>() + "'");
}

// One step's inputs: a cache that `context` tokens went through, the new tokens and positions.
struct StepInputs {
  reference::Cache cache;
  Tensor<double> x;
  Tensor<int64_t> positions;
};

StepInputs prepare_step(const LayerConfig& config, const Weights& weights, ImplForm form,
                        int64_t batch, int64_t context, int64_t new_tokens) {
  const Tensor<double> tokens =
      random_activations(batch, context + new_tokens, config.hidden_size, 7);
  StepInputs step;
  if (context > 0)
    reference::forward(config, weights, form, token_slice(tokens, 0, context),
                       sequential_positions(batch, context), step.cache);
  step.x = token_slice(tokens, context, new_tokens);
  step.positions = sequential_positions(batch, new_tokens, context);
  return step;
}

struct CountedWork {
  int64_t multiply_adds = 0;
  int64_t cache_elements_read = 0;
  int64_t cache_elements_written = 0;
};

// What the reference does in the step alone (the cache is filled before the counter starts).
CountedWork count_step(const LayerConfig& config, const Weights& weights, ImplForm form,
                       int64_t batch, int64_t context, int64_t new_tokens) {
  StepInputs step = prepare_step(config, weights, form, batch, context, new_tokens);
  const WorkCounter counter;
  reference::forward(config, weights, form, step.x, step.positions, step.cache);
  return {counter.multiply_adds(), counter.cache_elements_read(), counter.cache_elements_written()};
}

bool has_nan(const Tensor<double>& t) {
  for (double v : t.data)
    if (std::isnan(v)) return true;
  return false;
}

// Weight elements the step reads: each element of each tensor in turn is NaN for the step
// alone (the cached tokens went through the clean weights); it was read when the NaN reaches the
// output or the LSE.
int64_t weight_elements_read(const LayerConfig& config, const Weights& weights, ImplForm form,
                             int64_t batch, int64_t context, int64_t new_tokens) {
  const StepInputs step = prepare_step(config, weights, form, batch, context, new_tokens);
  Weights poisoned = weights;
  int64_t read = 0;
  for (auto& entry : poisoned.tensors) {
    for (double& element : entry.second.data) {
      const double clean = element;
      element = std::numeric_limits<double>::quiet_NaN();
      reference::Cache cache = step.cache;
      const reference::Result r =
          reference::forward(config, poisoned, form, step.x, step.positions, cache);
      if (has_nan(r.out) || has_nan(r.lse)) ++read;
      element = clean;
    }
  }
  return read;
}

// Calls check(config, weights, form, phase) for every layer, form and phase, with them in INFO.
template <typename Check>
void for_every_step(Check check) {
  for (const char* json_text : kLayers) {
    const LayerConfig config = layer(json_text);
    const Weights weights = random_weights(config, 3);
    for (ImplForm form : impl_forms_for(config)) {
      for (const Phase& phase : kPhases) {
        INFO(config.name << ", " << to_string(form) << ", " << phase.name << " (batch "
                         << phase.batch << ", context " << phase.context << ", new tokens "
                         << phase.new_tokens << ")");
        check(config, weights, form, phase);
      }
    }
  }
}

}  // namespace

TEST_CASE("the work counter counts linear() as out x in multiply-adds; one per thread") {
  const Tensor<double> weight({3, 2}, std::vector<double>{1, 2, 3, 4, 5, 6});
  const Tensor<double> bias({3}, std::vector<double>{1, 1, 1});
  const WorkCounter counter;
  reference::linear({1, 1}, weight, &bias);
  CHECK(counter.multiply_adds() == 6);
  CHECK_THROWS_AS(WorkCounter(), std::logic_error);
}

TEST_CASE("step FLOPs are twice the multiply-adds the reference performs") {
  for_every_step([](const LayerConfig& config, const Weights& weights, ImplForm form,
                    const Phase& p) {
    const CountedWork counted = count_step(config, weights, form, p.batch, p.context, p.new_tokens);
    const StepCost cost = step_cost(config, form, p.batch, p.context, p.new_tokens, 4.0);
    CHECK(cost.flops() == 2.0 * double(counted.multiply_adds));
  });
}

TEST_CASE("attention FLOPs are the reference's work that grows with the (query, key) pairs") {
  // The step counted at two contexts gives the work per visible pair (pairs from the layer's
  // mask); attention = that times the step's pairs, projections = the rest.
  for_every_step(
      [](const LayerConfig& config, const Weights& weights, ImplForm form, const Phase& p) {
        const int64_t longer = p.context + 2;
        const int64_t at_context =
            count_step(config, weights, form, p.batch, p.context, p.new_tokens).multiply_adds;
        const int64_t at_longer =
            count_step(config, weights, form, p.batch, longer, p.new_tokens).multiply_adds;
        const MaskSpec mask = mask_spec(config);
        const int64_t pairs = p.batch * mask.visible_pairs(p.context, p.new_tokens);
        const int64_t more_pairs = p.batch * mask.visible_pairs(longer, p.new_tokens) - pairs;
        REQUIRE(more_pairs > 0);
        REQUIRE((at_longer - at_context) % more_pairs == 0);
        const int64_t attention = (at_longer - at_context) / more_pairs * pairs;
        const StepCost cost = step_cost(config, form, p.batch, p.context, p.new_tokens, 4.0);
        CHECK(cost.attention_flops == 2.0 * double(attention));
        CHECK(cost.projection_flops == 2.0 * double(at_context - attention));
      });
}

TEST_CASE("cache bytes are the elements the reference's attention reads and its step writes") {
  for_every_step([](const LayerConfig& config, const Weights& weights, ImplForm form,
                    const Phase& p) {
    const CountedWork counted = count_step(config, weights, form, p.batch, p.context, p.new_tokens);
    for (double element_bytes : {4.0, 2.0}) {
      INFO("cache element bytes " << element_bytes);
      const StepCost cost =
          step_cost(config, form, p.batch, p.context, p.new_tokens, element_bytes);
      CHECK(cost.cache_read_bytes == element_bytes * double(counted.cache_elements_read));
      CHECK(cost.cache_write_bytes == element_bytes * double(counted.cache_elements_written));
    }
  });
}

TEST_CASE("weight bytes are 4 x the weight elements whose value reaches the step's output") {
  for_every_step(
      [](const LayerConfig& config, const Weights& weights, ImplForm form, const Phase& p) {
        const int64_t read =
            weight_elements_read(config, weights, form, p.batch, p.context, p.new_tokens);
        const StepCost cost = step_cost(config, form, p.batch, p.context, p.new_tokens, 2.0);
        CHECK(cost.weight_bytes == 4.0 * double(read));
      });
}

// Decode intensity of the width2048 family (16 query heads of 128), by hand. Per cached token:
// MHA 2*16*128 = 4096 elements, GQA-4 1024, MQA 256, GTA-4 4*128 + 64 = 576, MLA absorb
// 512 + 64 = 576, GLA-2 absorb 2*(256 + 64) = 640, MLA naive 16*(192 + 128) = 5120. Multiply-adds
// per key over the 16 heads: 16*(128 + 128) = 4096 for MHA/GQA/MQA/GTA, 16*(576 + 512) = 17408
// MLA absorb, 16*(320 + 256) = 9216 GLA-2 absorb, 16*(192 + 128) = 5120 MLA naive.
TEST_CASE("decode core intensity of the width2048 presets, counted by hand") {
  struct Expected {
    const char* preset;
    ImplForm form;
    double macs_per_key, elements_per_token, paper;
  };
  const Expected expected[] = {
      {"width2048-mha", ImplForm::standard, 4096, 4096, 1},
      {"width2048-gqa4", ImplForm::standard, 4096, 1024, 4},
      {"width2048-mqa", ImplForm::standard, 4096, 256, 16},
      {"width2048-gta4", ImplForm::standard, 4096, 576, 8},
      {"width2048-mla", ImplForm::absorb, 17408, 576, 32},
      {"width2048-mla", ImplForm::naive, 5120, 5120, 1},
      {"width2048-gla2", ImplForm::absorb, 9216, 640, 16},
      {"width2048-gla2", ImplForm::naive, 5120, 5120, 1},
  };
  for (const Expected& e : expected) {
    INFO(e.preset << " " << to_string(e.form));
    const LayerConfig c = load_preset(e.preset);
    for (int64_t context : {511, 4095}) {
      // Decode: the new token sees context + 1 keys, all read once.
      const CoreIntensity d = core_intensity(c, e.form, context, 1);
      CHECK(d.multiply_adds == e.macs_per_key * double(context + 1));
      CHECK(d.cache_elements_read == e.elements_per_token * double(context + 1));
      CHECK(d.macs_per_cached_element() == Approx(e.macs_per_key / e.elements_per_token));
      CHECK(d.flops_per_cache_byte(2.0) == Approx(e.macs_per_key / e.elements_per_token));
      // Query and output of the core: 16 heads of the widths the multiply-adds run over.
      CHECK(d.io_elements == e.macs_per_key);
      CHECK(d.flops_per_byte(2.0) ==
            Approx(e.macs_per_key * double(context + 1) /
                   (e.elements_per_token * double(context + 1) + e.macs_per_key)));
      // Speculative (two query tokens, causal): 2 context + 3 pairs over context + 2 slots.
      const CoreIntensity s = core_intensity(c, e.form, context, 2);
      CHECK(s.multiply_adds == e.macs_per_key * double(2 * context + 3));
      CHECK(s.cache_elements_read == e.elements_per_token * double(context + 2));
      CHECK(s.io_elements == 2 * e.macs_per_key);
    }
    CHECK(paper_intensity(c, e.form) == e.paper);
  }
}

TEST_CASE("the paper's ratios: GTA up to 2x its GQA, MLA 2 h_q, GLA-2 h_q like MQA") {
  const auto exact = [](const char* preset, ImplForm form) {
    return core_intensity(load_preset(preset), form, 1 << 20, 1).macs_per_cached_element();
  };
  const auto paper = [](const char* preset, ImplForm form) {
    return paper_intensity(load_preset(preset), form);
  };
  const double h_q = 16;
  CHECK(paper("width2048-mla", ImplForm::absorb) == 2 * h_q);
  CHECK(paper("width2048-gla2", ImplForm::absorb) == h_q);
  CHECK(paper("width2048-mqa", ImplForm::standard) == h_q);
  CHECK(paper("width2048-gta4", ImplForm::standard) ==
        2 * paper("width2048-gqa4", ImplForm::standard));
  // Exact: GTA-4 16/2.25 = 7.11 against GQA-4's 4 (the rope key costs it the rest of the 2x);
  // MLA 17408/576 = 30.2 and GLA-2 9216/640 = 14.4, each below its asymptote by its rope share.
  CHECK(exact("width2048-gta4", ImplForm::standard) / exact("width2048-gqa4", ImplForm::standard) ==
        Approx(16.0 / 9.0));
  CHECK(exact("width2048-mla", ImplForm::absorb) == Approx(17408.0 / 576.0));
  CHECK(exact("width2048-gla2", ImplForm::absorb) == Approx(14.4));
  for (const char* p : {"width2048-mla", "width2048-gla2"})
    CHECK(exact(p, ImplForm::absorb) < paper(p, ImplForm::absorb));
  // Without a rope key the exact figure is the asymptote (MLA: (2 d_c)/d_c per head).
  LayerConfig no_rope = load_preset("width2048-gla2");
  no_rope.qk_rope_head_dim = 0;
  CHECK(core_intensity(no_rope, ImplForm::absorb, 1 << 20, 1).macs_per_cached_element() ==
        Approx(paper("width2048-gla2", ImplForm::absorb)));
}

TEST_CASE("GLA absorb counts each grouped key bias as one dot per query head of its group") {
  // width2048-gla2 biases W_ukv_1 and W_ukv_2: 16 heads x 128 multiply-adds more than without.
  const LayerConfig c = load_preset("width2048-gla2");
  LayerConfig one_bias = c;
  one_bias.biases.erase("W_ukv_2");
  LayerConfig no_bias = one_bias;
  no_bias.biases.erase("W_ukv_1");
  const auto projection = [](const LayerConfig& l) {
    return step_cost(l, ImplForm::absorb, 1, 0, 1, 2.0).projection_flops;
  };
  CHECK(projection(c) - projection(one_bias) == 2.0 * 8 * 128);
  CHECK(projection(one_bias) - projection(no_bias) == 2.0 * 8 * 128);
  // naive adds the bias to the up-projected key: no multiply-add.
  CHECK(step_cost(c, ImplForm::naive, 1, 0, 1, 2.0).projection_flops ==
        step_cost(no_bias, ImplForm::naive, 1, 0, 1, 2.0).projection_flops);
}
