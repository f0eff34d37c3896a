// make_fast_attention: checks the config, form and weights, then builds the fast CPU form
// (fast_standard.cpp, fast_mla.cpp); and the cache dtype names. See fast_attention.h.
#include "kernels/cpu/fast_attention.h"

#include "core/error.h"
#include "kernels/cpu/cpu_common.h"
#include "kernels/cpu/fast_forms.h"

namespace attnlab::cpu::fast {

std::unique_ptr<FastAttention> make_fast_attention(const LayerConfig& config,
                                                   const Weights& weights, ImplForm form,
                                                   DType dtype) {
  check_form_applies(config, form);
  check_layer_weights(config, weights);
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
