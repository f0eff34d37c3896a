// make_fast_attention: checks the config, form and weights, then builds the fast CPU form
// (fast_standard.cpp, fast_mla.cpp); and the cache dtype names. See fast_attention.h.
#include "kernels/cpu/fast_attention.h"

#include "core/error.h"
#include "kernels/cpu/cpu_common.h"
#include "kernels/cpu/fast_forms.h"

namespace attnlab::cpu::fast {

const char* to_string(CacheDType dtype) {
  switch (dtype) {
    case CacheDType::fp32:
      return "fp32";
    case CacheDType::bf16:
      return "bf16";
    case CacheDType::fp16:
      return "fp16";
  }
  return "?";
}

CacheDType parse_cache_dtype(const std::string& text) {
  if (text == "fp32") return CacheDType::fp32;
  if (text == "bf16") return CacheDType::bf16;
  if (text == "fp16") return CacheDType::fp16;
  throw Error("cache dtype '" + text + "' is not one of fp32, bf16, fp16");
}

size_t bytes_per_element(CacheDType dtype) {
  return dtype == CacheDType::fp32 ? 4 : 2;
}

std::unique_ptr<FastAttention> make_fast_attention(const LayerConfig& config,
                                                   const Weights& weights, ImplForm form,
                                                   CacheDType dtype) {
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
