// The CUDA backend's entry points: dtype names, whether a device is there, and the factory that
// checks config, form and weights before building a form (cuda_standard.cpp, cuda_mla.cpp). GLA
// and GTA layers run as MLA with grouped latent heads (variants/latent_lowering.h): lowered
// here, after the form is checked against the user's kind.
#include "kernels/cuda/cuda_attention.h"

#include "core/error.h"
#include "kernels/cuda/cuda_forms.h"
#include "variants/latent_lowering.h"

#ifndef ATTNLAB_CUDA_EMULATION
#include "kernels/cuda/device_probe.h"
#endif

ATTNLAB_CUDA_BEGIN

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

namespace {

// The form's constructor for a checked mha / gqa / mqa / mla layer.
std::unique_ptr<Attention> make_form(const LayerConfig& config, const Weights& weights,
                                     ImplForm form, DType dtype) {
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

}  // namespace

std::unique_ptr<Attention> make_cuda_attention(const LayerConfig& config, const Weights& weights,
                                               ImplForm form, DType dtype) {
  attnlab::check_form_applies(config, form);  // names the user's kind and form
  if (!unavailable_reason().empty())
    throw Error("CUDA backend unavailable: " + unavailable_reason());
  if (config.is_gla() || config.is_gta()) {  // checks the weights against the user's config
    const LoweredLayer lowered = lower_to_mla(config, weights, form);
    return make_form(lowered.config, lowered.weights, lowered.form, dtype);
  }
  attnlab::check_layer_weights(config, weights);
  return make_form(config, weights, form, dtype);
}

ATTNLAB_CUDA_END
