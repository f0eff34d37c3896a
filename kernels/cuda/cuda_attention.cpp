// The CUDA backend's entry points: dtype names, whether a device is there, and the factory that
// checks config, form and weights before building a form (cuda_standard.cpp, cuda_mla.cpp).
#include "kernels/cuda/cuda_attention.h"

#include "core/error.h"
#include "kernels/cuda/cuda_forms.h"

#ifndef ATTNLAB_CUDA_EMULATION
#include "kernels/cuda/device_probe.h"
#endif

ATTNLAB_CUDA_BEGIN

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
  throw Error("CUDA cache dtype '" + text + "' is not one of fp32, bf16, fp16");
}

size_t bytes_per_element(CacheDType dtype) {
  return dtype == CacheDType::fp32 ? 4 : 2;
}

const std::string& unavailable_reason() {
#ifdef ATTNLAB_CUDA_EMULATION
  static const std::string reason;
#else
  static const std::string reason = [] {
    const DeviceProbe probe = probe_devices();
    return probe.device_count > 0 ? std::string() : probe.status;
  }();
#endif
  return reason;
}

std::unique_ptr<Attention> make_cuda_attention(const LayerConfig& config, const Weights& weights,
                                               ImplForm form, CacheDType dtype) {
  attnlab::check_form_applies(config, form);
  if (!unavailable_reason().empty())
    throw Error("CUDA backend unavailable: " + unavailable_reason());
  attnlab::check_layer_weights(config, weights);
  switch (form) {
    case ImplForm::standard:
      return make_standard_attention(config, weights, dtype);
    case ImplForm::naive:
      return make_mla_naive_attention(config, weights, dtype);
    case ImplForm::absorb:
      return make_mla_absorb_attention(config, weights, dtype);
  }
  throw Error("unknown impl form");
}

ATTNLAB_CUDA_END
