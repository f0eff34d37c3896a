// make_plain_attention: checks the config, form and weights, then builds the plain CPU form
// (kernels/cpu/cpu_standard.cpp, kernels/cpu/cpu_mla.cpp); see cpu_plain_attention.h.
#include "kernels/cpu/cpu_plain_attention.h"

#include <string>

#include "core/error.h"
#include "kernels/cpu/cpu_common.h"
#include "kernels/cpu/cpu_forms.h"

namespace attnlab::cpu {

std::unique_ptr<Attention> make_plain_attention(const LayerConfig& config, const Weights& weights,
                                                ImplForm form) {
  if (!form_supported(config, form))
    throw Error("impl '" + std::string(to_string(form)) + "' does not apply to " +
                to_string(config.attention) + " layer '" + config.name + "'");
  validate_layer_config(config, "layer '" + config.name + "'");
  check_weight_shapes(config, weights);
  switch (form) {
    case ImplForm::standard:
      return make_standard_attention(config, weights);
    case ImplForm::naive:
      return make_mla_naive_attention(config, weights);
    case ImplForm::absorb:
      return make_mla_absorb_attention(config, weights);
  }
  throw Error("unknown impl form");
}

}  // namespace attnlab::cpu
