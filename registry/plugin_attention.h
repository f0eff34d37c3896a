// PluginAttention: one implementation of a plugin (include/attnlab/plugin.h) behind attnlab's
// Attention / KvCache interface, so the driver, verify's checks and sweeps run it like a built-in
// backend. The layer is handed over as attnlab_layer plus fp32 weights by Hugging Face name; an
// error return of the plugin becomes an attnlab::Error naming the plugin and the function.
#pragma once

#include <memory>

#include "attnlab/plugin.h"
#include "core/attention.h"
#include "core/dtype.h"
#include "core/layer_config.h"
#include "core/weights.h"
#include "variants/variant_spec.h"

namespace attnlab {

// The plugin's view of a layer; the pointers in `layer` point into this object.
class PluginLayer {
 public:
  explicit PluginLayer(const LayerConfig& config);
  PluginLayer(const PluginLayer&) = delete;
  PluginLayer& operator=(const PluginLayer&) = delete;
  const attnlab_layer& get() const { return layer_; }

 private:
  std::vector<double> inv_freq_;
  std::string config_json_;
  attnlab_layer layer_{};
};

int32_t plugin_form(ImplForm form);
int32_t plugin_dtype(DType dtype);  // throws attnlab::Error for a type the ABI has no bit for

std::unique_ptr<Attention> make_plugin_attention(const attnlab_implementation& impl,
                                                 const LayerConfig& config, const Weights& weights,
                                                 ImplForm form, DType dtype);

}  // namespace attnlab
