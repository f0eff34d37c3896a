// make_fast_attention: checks the config, form and weights, lowers GLA and GTA layers to MLA with
// grouped latent heads (variants/latent_lowering.h: GLA's naive / absorb stay, GTA's standard
// becomes absorb), then builds the fast CPU form (fast_standard.cpp, fast_mla.cpp). See
// fast_attention.h.
#include "kernels/cpu/fast_attention.h"

#include "core/error.h"
#include "kernels/cpu/cpu_common.h"
#include "kernels/cpu/fast_forms.h"
#include "variants/latent_lowering.h"

namespace attnlab::cpu::fast {

std::unique_ptr<FastAttention> make_fast_attention(const LayerConfig& config,
                                                   const Weights& weights, ImplForm form,
                                                   DType dtype) {
  // The user's kind and form are checked (and named in errors) before lowering.
  check_form_applies(config, form);
  check_layer_weights(config, weights);
  if (config.is_gla() || config.is_gta()) {
    const LoweredLayer mla = lower_to_mla(config, weights, form);
    return make_fast_attention(mla.config, mla.weights, mla.form, dtype);
  }
  switch (form) {
    case ImplForm::standard:
      return make_fast_standard(config, weights, dtype);
    case ImplForm::naive:
      return make_fast_mla_naive(config, weights, dtype);
    case ImplForm::absorb:
      return make_fast_mla_absorb(config, weights, dtype);
  }
  throw Error("unknown impl form");
}

}  // namespace attnlab::cpu::fast
