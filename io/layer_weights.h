// Loading and saving one attention layer's weights from/to safetensors with Hugging Face names
// and an optional prefix (e.g. "model.layers.3.self_attn."), so a layer of a real checkpoint
// loads as is. Tensors outside the prefix are ignored; under it, every tensor of
// weight_specs(config) must be present with its exact shape, and no other may be.
#pragma once

#include <string>

#include "core/layer_config.h"
#include "core/weights.h"
#include "io/safetensors.h"

namespace attnlab {

// Throws attnlab::Error naming the file and tensor: missing, unexpected (under the prefix),
// misshaped ("q_proj.weight has shape [8, 4], expected [32, 32]"), non-float dtype, or non-finite.
Weights load_layer_weights(const LayerConfig& config, const std::string& path,
                           const std::string& prefix);
void save_layer_weights(const LayerConfig& config, const Weights& weights, const std::string& path,
                        const std::string& prefix, DType dtype);

}  // namespace attnlab
