// make_plain_attention: checks the config, form and weights, lowers GLA and GTA to MLA with
// grouped latent heads (variants/latent_lowering.h), then builds the plain CPU form
// (kernels/cpu/cpu_standard.cpp, kernels/cpu/cpu_mla.cpp); see cpu_plain_attention.h.
#include "kernels/cpu/cpu_plain_attention.h"

#include <string>

#include "core/error.h"
#include "kernels/cpu/cpu_common.h"
#include "kernels/cpu/cpu_forms.h"
#include "variants/latent_lowering.h"

namespace attnlab::cpu {

const char* to_string(Fault fault) {
  switch (fault) {
    case Fault::none:
      return "none";
    case Fault::softmax_scale:
      return "softmax_scale";
    case Fault::rope_pairs:
      return "rope_pairs";
    case Fault::rope_query_only:
      return "rope_query_only";
    case Fault::causal_off_by_one:
      return "causal_off_by_one";
    case Fault::value_bias_unfolded:
      return "value_bias_unfolded";
    case Fault::heads_permuted:
      return "heads_permuted";
    case Fault::cache_offset_ignored:
      return "cache_offset_ignored";
    case Fault::sink_ignored:
      return "sink_ignored";
    case Fault::qk_norm_skipped:
      return "qk_norm_skipped";
    case Fault::window_ignored:
      return "window_ignored";
    case Fault::latent_group_swapped:
      return "latent_group_swapped";
  }
  return "?";
}

std::vector<Fault> all_faults() {
  return {Fault::softmax_scale,        Fault::rope_pairs,          Fault::rope_query_only,
          Fault::causal_off_by_one,    Fault::value_bias_unfolded, Fault::heads_permuted,
          Fault::cache_offset_ignored, Fault::sink_ignored,        Fault::qk_norm_skipped,
          Fault::window_ignored,       Fault::latent_group_swapped};
}

namespace {

std::unique_ptr<Attention> make_form(const LayerConfig& config, const Weights& weights,
                                     ImplForm form, Fault fault) {
  switch (form) {
    case ImplForm::standard:
      return make_standard_attention(config, weights, fault);
    case ImplForm::naive:
      return make_mla_naive_attention(config, weights, fault);
    case ImplForm::absorb:
      return make_mla_absorb_attention(config, weights, fault);
  }
  throw Error("unknown impl form");
}

}  // namespace

std::unique_ptr<Attention> make_plain_attention(const LayerConfig& config, const Weights& weights,
                                                ImplForm form, Fault fault) {
  // The checks come first, on the user's config: a wrong form names its kind and form.
  check_form_applies(config, form);
  check_layer_weights(config, weights);
  if (config.is_gla() || config.is_gta()) {
    const LoweredLayer mla = lower_to_mla(config, weights, form);
    return make_form(mla.config, mla.weights, mla.form, fault);
  }
  return make_form(config, weights, form, fault);
}

}  // namespace attnlab::cpu
