// Model presets: configs/models/ (published configs) and configs/tiny/ (small shapes for tests),
// embedded in the binary (core/embedded_configs.h). A --model argument is a preset name or a
// path to a layer-config JSON file.
#pragma once

#include <string>
#include <vector>

#include "core/layer_config.h"

namespace attnlab {

// group "models", "tiny", or "" for both (published models first, each sorted by name).
std::vector<std::string> preset_names(const std::string& group);
LayerConfig load_preset(const std::string& name);  // throws attnlab::Error for unknown names
// A preset name, or else a path to a layer-config JSON file.
LayerConfig resolve_model(const std::string& preset_or_path);

}  // namespace attnlab
