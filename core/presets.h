// Model presets: configs/models/ (published configs) and configs/tiny/ (small shapes for tests),
// embedded in the binary (core/embedded_configs.h). A --model argument is a preset name or a
// path to a layer-config JSON file, optionally with "@N" for its layer N.
#pragma once

#include <string>
#include <vector>

#include "core/layer_config.h"

namespace attnlab {

// group "models", "tiny", or "" for both (published models first, each sorted by name).
std::vector<std::string> preset_names(const std::string& group);
LayerConfig load_preset(const std::string& name);  // throws attnlab::Error for unknown names
// A preset name, or else a path to a layer-config JSON file; either may end in "@N" to pick
// layer N of a model that mixes layer types (layer_index; "gemma-3-12b@5" is a global layer).
LayerConfig resolve_model(const std::string& preset_or_path);

}  // namespace attnlab
